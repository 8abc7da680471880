using Pilot.MLNet.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.MLNet.Tests.Models;

/// <summary>
/// <see cref="StandardizedLinear"/>, the head over PretrainedResNet18's layer3 + layer4 averages, and the ResNet that
/// feeds it; no pretrained weights needed (those runs are in PretrainedTrainingTests and PretrainedResNet18Tests).
/// </summary>
[TestClass]
[DoNotParallelize] // builds networks from TorchSharp's default generator
public sealed class StandardizedLinearTests
{
    [TestMethod]
    public void StartsAtZeroWeightsAndTheIdentityStandardisation()
    {
        using var head = new StandardizedLinear(5, 3);
        Assert.AreEqual(0f, head.Weight.abs().max().item<float>());
        Assert.AreEqual(0f, head.Bias.abs().max().item<float>());
        CollectionAssert.AreEqual(new float[5], head.FeatureMean.data<float>().ToArray());
        CollectionAssert.AreEqual(Enumerable.Repeat(1f, 5).ToArray(), head.FeatureScale.data<float>().ToArray());
        CollectionAssert.AreEquivalent(new[] { "weight", "bias", "feature_mean", "feature_scale" }, head.state_dict().Keys.ToArray());
    }

    [TestMethod]
    public void Fit_SetsEachFeaturesMeanAndScale_WithAFloorForConstantFeatures()
    {
        using var scope = NewDisposeScope();
        using var head = new StandardizedLinear(3, 2);
        // Feature 0: 1, 3 (mean 2, deviation 1); feature 1: 10, 30 (mean 20, deviation 10); feature 2: constant 7.
        var features = tensor(new float[] { 1, 10, 7, 3, 30, 7 }, [2, 3]);
        head.Fit(features);
        CollectionAssert.AreEqual(new float[] { 2, 20, 7 }, head.FeatureMean.data<float>().ToArray());
        // Scales: the deviations over FeatureDeviation, so the standardised features have that deviation.
        double d = StandardizedLinear.FeatureDeviation;
        float floor = (float)((1 + 10 + 0) / 3.0 * StandardizedLinear.MinScaleFraction / d);
        var scale = head.FeatureScale.data<float>().ToArray();
        Assert.AreEqual((float)(1 / d), scale[0], 1e-6f);
        Assert.AreEqual((float)(10 / d), scale[1], 1e-5f);
        Assert.AreEqual(floor, scale[2], 1e-7f, "a constant feature is divided by the floor, not by 0");
        using var standardised = (features - head.FeatureMean) / head.FeatureScale;
        Assert.AreEqual(d, standardised[TensorIndex.Colon, 0].std(unbiased: false).item<float>(), 1e-6);
    }

    [TestMethod]
    public void Forward_IsTheLinearLayerOfTheStandardisedFeatures()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        torch.random.manual_seed(1);
        using var head = new StandardizedLinear(4, 3);
        var train = torch.randn(20, 4) * tensor(new float[] { 1, 5, 0.1f, 30 }) + tensor(new float[] { 0, -2, 7, 100 });
        head.Fit(train);
        head.Weight.copy_(torch.randn(3, 4));
        head.Bias.copy_(torch.randn(3));
        var x = torch.randn(6, 4);
        var expected = (x - head.FeatureMean) / head.FeatureScale;
        expected = expected.matmul(head.Weight.t()) + head.Bias;
        Assert.IsTrue(head.forward(x).allclose(expected, rtol: 1e-5, atol: 1e-5));
    }

    [TestMethod]
    public void Fit_RejectsFeaturesOfTheWrongShapeOrNotFinite()
    {
        using var scope = NewDisposeScope();
        using var head = new StandardizedLinear(3, 2);
        Assert.ThrowsExactly<ArgumentException>(() => head.Fit(torch.zeros(4, 2)));
        Assert.ThrowsExactly<ArgumentException>(() => head.Fit(torch.zeros(0, 3)));
        Assert.ThrowsExactly<ArgumentException>(() => head.Fit(tensor(new float[] { 1, float.NaN, 2 }, [1, 3])));
    }

    [TestMethod]
    [DataRow(3, 64, 64)]
    [DataRow(1, 45, 70)] // sides that are not multiples of 32
    public void Layer3AndLayer4Features_AreLayer3sAveragesThenLayer4s_AndForwardIsTheHeadOnThem(int c, int h, int w)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var shape = new ImageShape(c, h, w);
        torch.random.manual_seed(2);
        using var both = (ResNet)Backbones.Create(PilotArchitecture.PretrainedResNet18, shape, 3, HeadInput.Layer3AndLayer4);
        using var only4 = (ResNet)Backbones.Create(PilotArchitecture.PretrainedResNet18, shape, 3);
        var trunk = both.state_dict();
        foreach (var (name, value) in only4.state_dict().Where(kv => !kv.Key.StartsWith("fc.", StringComparison.Ordinal)))
            value.copy_(trunk[name]); // the same trunk
        both.eval();
        only4.eval();
        Assert.IsInstanceOfType<StandardizedLinear>(both.Head);
        Assert.AreEqual(768, both.FeatureCount);
        Assert.AreEqual(512, only4.FeatureCount);

        var x = torch.rand(2, c, h, w) * 255;
        var features = both.Features(x);
        CollectionAssert.AreEqual(new long[] { 2, 768 }, features.shape);
        var layer3 = both.EarlyStages(x).mean([2, 3]);
        Assert.IsTrue(features.narrow(1, 0, 256).allclose(layer3, rtol: 1e-5, atol: 1e-5), "the first 256 are layer3's averages");
        Assert.IsTrue(features.narrow(1, 256, 512).allclose(only4.Features(x), rtol: 0, atol: 0), "the last 512 are layer4's, as the plain head reads them");

        ((StandardizedLinear)both.Head).Fit(features);
        ((StandardizedLinear)both.Head).Weight.copy_(torch.randn(3, 768));
        var headed = (IHeadedNetwork)both;
        Assert.IsTrue(both.forward(x).allclose(both.Head.forward(features), rtol: 0, atol: 0));
        Assert.IsTrue(headed.LastStage.forward(both.EarlyStages(x)).allclose(both.forward(x), rtol: 0, atol: 0));
    }

    [TestMethod]
    public void OnlyThePretrainedNetworkHasTheLayer3AndLayer4Head()
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(3, 32, 32), 3, HeadInput.Layer3AndLayer4));
        Assert.AreEqual("headInput", e.ParamName);
        Assert.AreEqual(HeadInput.Layer3AndLayer4, Backbones.HeadInputFor(PilotArchitecture.PretrainedResNet18, PilotFineTuning.Head));
        Assert.AreEqual(HeadInput.Layer4, Backbones.HeadInputFor(PilotArchitecture.PretrainedResNet18, PilotFineTuning.LastStage));
        Assert.AreEqual(HeadInput.Layer4, Backbones.HeadInputFor(PilotArchitecture.PretrainedResNet18, PilotFineTuning.Full));
        Assert.AreEqual(HeadInput.Layer4, Backbones.HeadInputFor(PilotArchitecture.ResNet18, PilotFineTuning.Full));
    }
}

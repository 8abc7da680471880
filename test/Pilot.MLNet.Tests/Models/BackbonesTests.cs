using Pilot.MLNet.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.MLNet.Tests.Models;

[TestClass]
public sealed class BackbonesTests
{
    private static long CountParameters(nn.Module module) => module.parameters().Sum(p => p.numel());

    private static long[] OutputShape(PilotArchitecture architecture, ImageShape shape, int classes, int batch = 2)
    {
        using var scope = NewDisposeScope();
        using var net = Backbones.Create(architecture, shape, classes);
        net.eval();
        using var noGrad = no_grad();
        var x = randn(batch, shape.Channels, shape.Height, shape.Width);
        return net.forward(x).shape;
    }

    [TestMethod]
    [DataRow(1, 28, 28, 10)]
    [DataRow(3, 32, 32, 10)]
    [DataRow(3, 96, 96, 7)]
    [DataRow(1, 30, 17, 3)] // sides not divisible by 4: the max-pools floor
    [DataRow(3, 4, 4, 2)]   // the smallest input SmallCnn accepts
    public void SmallCnnMapsBatchToLogits(int c, int h, int w, int classes)
    {
        CollectionAssert.AreEqual(new long[] { 2, classes }, OutputShape(PilotArchitecture.SmallCnn, new ImageShape(c, h, w), classes));
    }

    [TestMethod]
    [DataRow(PilotArchitecture.ResNet18, 1, 28, 28, 10)]
    [DataRow(PilotArchitecture.ResNet18, 3, 32, 32, 10)]
    [DataRow(PilotArchitecture.ResNet18, 3, 96, 96, 5)]
    [DataRow(PilotArchitecture.ResNet34, 1, 28, 28, 10)]
    [DataRow(PilotArchitecture.ResNet34, 3, 8, 8, 2)] // the smallest input the small-image stem accepts
    public void ResNetMapsBatchToLogits(PilotArchitecture architecture, int c, int h, int w, int classes)
    {
        CollectionAssert.AreEqual(new long[] { 2, classes }, OutputShape(architecture, new ImageShape(c, h, w), classes));
    }

    [TestMethod]
    public void SmallCnnParameterCountOnFashionMnist()
    {
        // conv1 1·32·9 + 32 = 320; bn1 2·32 = 64; conv2 32·64·9 + 64 = 18,496; bn2 2·64 = 128;
        // fc1 (64·7·7)·128 + 128 = 401,536; fc2 128·10 + 10 = 1,290; total 421,834.
        using var net = Backbones.Create(PilotArchitecture.SmallCnn, new ImageShape(1, 28, 28), 10);
        Assert.AreEqual(421_834L, CountParameters(net));
    }

    [TestMethod]
    public void SmallCnnParameterCountOnCifar()
    {
        // conv1 3·32·9 + 32 = 896; bn1 64; conv2 18,496; bn2 128; fc1 (64·8·8)·128 + 128 = 524,416; fc2 1,290; total 545,290.
        using var net = Backbones.Create(PilotArchitecture.SmallCnn, new ImageShape(3, 32, 32), 10);
        Assert.AreEqual(545_290L, CountParameters(net));
    }

    [TestMethod]
    public void SmallCnnChildrenAreTheForwardChain()
    {
        using var net = Backbones.Create(PilotArchitecture.SmallCnn, new ImageShape(1, 28, 28), 10);
        Assert.IsTrue(net.training, "a new network starts in training mode");
        CollectionAssert.AreEqual(
            new[] { "conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "flatten", "fc1", "relu3", "dropout", "fc2" },
            net.named_children().Select(c => c.name).ToArray());
        CollectionAssert.AreEqual(
            new[] { "conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "conv2.bias", "bn2.weight", "bn2.bias",
                    "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" },
            net.named_parameters().Select(p => p.name).ToArray());
        Assert.AreEqual(0.25, ((Dropout)net.named_children().Single(c => c.name == "dropout").module).p);
    }

    [TestMethod]
    public void SmallCnnDropoutIsActiveOnlyInTraining()
    {
        using var scope = NewDisposeScope();
        using var net = Backbones.Create(PilotArchitecture.SmallCnn, new ImageShape(1, 12, 12), 4);
        using var noGrad = no_grad();
        var x = randn(8, 1, 12, 12);
        net.train();
        Assert.IsFalse(net.forward(x).equal(net.forward(x)).all().item<bool>(), "two training forwards should differ by their dropout masks");
        net.eval();
        Assert.IsTrue(net.forward(x).equal(net.forward(x)).all().item<bool>(), "evaluation must be deterministic");
    }

    [TestMethod]
    public void ResNetParameterCounts()
    {
        // torchvision's published counts with the 7×7 stem and 1,000 classes: resnet18 11,689,512, resnet34 21,797,672.
        // Small-image stem: conv1 3·64·3·3 = 1,728 instead of 3·64·7·7 = 9,408 (−7,680); 10 classes: fc 512·10 + 10 = 5,130
        // instead of 513,000 (−507,870).
        using (var net = Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(3, 224, 224), 1000))
            Assert.AreEqual(11_689_512L, CountParameters(net));
        using (var net = Backbones.Create(PilotArchitecture.ResNet34, new ImageShape(3, 224, 224), 1000))
            Assert.AreEqual(21_797_672L, CountParameters(net));
        using (var net = Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(3, 32, 32), 10))
            Assert.AreEqual(11_689_512L - 7_680 - 507_870, CountParameters(net)); // 11,173,962
        using (var net = Backbones.Create(PilotArchitecture.ResNet34, new ImageShape(3, 32, 32), 10))
            Assert.AreEqual(21_797_672L - 7_680 - 507_870, CountParameters(net)); // 21,282,122
        // Gray input: conv1 1·64·3·3 = 576.
        using (var net = Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(1, 28, 28), 10))
            Assert.AreEqual(11_173_962L - 1_728 + 576, CountParameters(net));
    }

    [TestMethod]
    [DataRow(3, 32, 32, true)]
    [DataRow(1, 64, 64, true)]   // the largest side that still gets the small-image stem
    [DataRow(3, 65, 65, false)]
    [DataRow(3, 40, 100, false)] // the larger side decides
    [DataRow(3, 96, 96, false)]
    public void ResNetStemDependsOnImageSize(int c, int h, int w, bool small)
    {
        using var net = (ResNet)Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(c, h, w), 10);
        Assert.AreEqual(small, net.SmallImageStem);
        var conv1 = (Conv2d)net.named_children().Single(m => m.name == "conv1").module;
        long k = small ? 3 : 7;
        CollectionAssert.AreEqual(new long[] { 64, c, k, k }, conv1.weight!.shape);
        CollectionAssert.AreEqual(small ? new long[] { 1, 1 } : new long[] { 2, 2 }, conv1.stride);
        Assert.AreEqual(!small, net.named_children().Any(m => m.name == "maxpool"));
    }

    [TestMethod]
    public void ResNetNamesFollowTorchvision()
    {
        using var net = Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(3, 32, 32), 10);
        var parameters = net.named_parameters().Select(p => p.name).ToList();
        var buffers = net.named_buffers().Select(b => b.name).ToList();

        // conv1 1 + bn1 2 + 8 blocks × (conv1, bn1 ×2, conv2, bn2 ×2) + 3 downsamples × (conv, bn ×2) + fc 2 = 62 (as torchvision).
        Assert.AreEqual(62, parameters.Count);
        foreach (var name in new[] { "conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer1.1.bn2.bias",
                                     "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight", "layer4.1.conv2.weight",
                                     "fc.weight", "fc.bias" })
            CollectionAssert.Contains(parameters, name);
        CollectionAssert.Contains(buffers, "layer3.0.downsample.1.running_mean");
        CollectionAssert.Contains(buffers, "bn1.running_var");
        Assert.IsFalse(parameters.Any(p => p.StartsWith("layer1.0.downsample", StringComparison.Ordinal)), "layer1 keeps width and resolution: identity shortcut");
        Assert.IsFalse(parameters.Any(p => p.EndsWith("conv1.bias", StringComparison.Ordinal)), "ResNet convolutions have no bias");

        using var resnet34 = Backbones.Create(PilotArchitecture.ResNet34, new ImageShape(3, 32, 32), 10);
        var stages = resnet34.named_children().Where(c => c.name.StartsWith("layer", StringComparison.Ordinal))
                                               .Select(c => c.module.named_children().Count()).ToArray();
        CollectionAssert.AreEqual(new[] { 3, 4, 6, 3 }, stages);
    }

    [TestMethod]
    public void ResNetInitialisationFollowsTorchvision()
    {
        using var net = Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(3, 32, 32), 10);
        var modules = net.named_modules().ToDictionary(m => m.name, m => m.module);

        // Kaiming normal, fan-out, ReLU gain: std = sqrt(2 / (out_channels · k · k)). For layer4's 512→512 3×3 convolution
        // that is sqrt(2 / 4608) ≈ 0.0208 over 2.4 M samples; TorchSharp's default (Kaiming uniform, a = √5) would give ≈ 0.0085.
        var conv = (Conv2d)modules["layer4.1.conv2"];
        double expected = Math.Sqrt(2.0 / (512 * 3 * 3));
        Assert.AreEqual(expected, conv.weight!.std().item<float>(), expected * 0.01);
        Assert.AreEqual(0.0, conv.weight!.mean().item<float>(), expected * 0.01);

        var down = (Conv2d)modules["layer2.0.downsample.0"];
        double expectedDown = Math.Sqrt(2.0 / 128); // 1×1 kernel, 128 outputs
        Assert.AreEqual(expectedDown, down.weight!.std().item<float>(), expectedDown * 0.05);

        foreach (var bn in net.modules().OfType<BatchNorm2d>())
        {
            Assert.IsTrue(bn.weight!.eq(1).all().item<bool>());
            Assert.IsTrue(bn.bias!.eq(0).all().item<bool>());
        }
    }

    [TestMethod]
    [DataRow(PilotArchitecture.SmallCnn, 1, 28, 28)]
    [DataRow(PilotArchitecture.ResNet18, 3, 32, 32)]
    [DataRow(PilotArchitecture.ResNet34, 1, 16, 16)]
    public void ForwardAndBackwardGiveGradientsForEveryParameter(PilotArchitecture architecture, int c, int h, int w)
    {
        using var scope = NewDisposeScope();
        using var net = Backbones.Create(architecture, new ImageShape(c, h, w), 10);
        net.train();
        var x = randn(2, c, h, w);
        var y = tensor(new long[] { 3, 7 });
        var loss = nn.functional.cross_entropy(net.forward(x), y);
        Assert.IsTrue(float.IsFinite(loss.item<float>()));
        loss.backward();
        foreach (var (name, p) in net.named_parameters())
        {
            Assert.IsNotNull(p.grad, $"no gradient for {name}");
            Assert.IsTrue(p.grad.isfinite().all().item<bool>(), $"non-finite gradient for {name}");
        }
        Assert.IsTrue(net.parameters().Any(p => p.grad!.abs().sum().item<float>() > 0));
    }

    [TestMethod]
    [DataRow(PilotArchitecture.SmallCnn, 1, 28, 28, 1, "numClasses")]
    [DataRow(PilotArchitecture.ResNet18, 3, 32, 32, 0, "numClasses")]
    [DataRow(PilotArchitecture.SmallCnn, 2, 28, 28, 10, "input")]   // channels must be 1 or 3
    [DataRow(PilotArchitecture.SmallCnn, 1, 0, 28, 10, "input")]
    [DataRow(PilotArchitecture.SmallCnn, 1, 3, 28, 10, "input")]    // SmallCnn needs sides ≥ 4
    [DataRow(PilotArchitecture.SmallCnn, 1, 28, 3, 10, "input")]
    [DataRow(PilotArchitecture.ResNet18, 3, 7, 32, 10, "input")]    // small-image stem needs sides ≥ 8
    [DataRow(PilotArchitecture.ResNet34, 3, 100, 20, 10, "input")]  // standard stem needs sides ≥ 32
    [DataRow((PilotArchitecture)42, 3, 32, 32, 10, "architecture")]
    public void BadArgumentsAreRejected(PilotArchitecture architecture, int c, int h, int w, int classes, string parameter)
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Backbones.Create(architecture, new ImageShape(c, h, w), classes));
        Assert.AreEqual(parameter, e.ParamName);
        StringAssert.Contains(e.Message, parameter);
    }
}

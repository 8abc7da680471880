using Microsoft.ML.OnnxRuntime;
using static Pilot.MLNet.Tests.Onnx.OnnxTestSupport;

namespace Pilot.MLNet.Tests.Onnx;

/// <summary>ONNX Runtime on the exported model gives TorchSharp's evaluation-mode probabilities, on FashionMNIST test images.</summary>
[TestClass]
public sealed class OnnxExportParityTests
{
    /// <summary>Absolute tolerance on each probability (the bound).</summary>
    private const float Tolerance = 1e-4f;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow(PilotArchitecture.SmallCnn, 1, 28, 28, 10, 8)]
    [DataRow(PilotArchitecture.SmallCnn, 3, 30, 17, 4, 3)]   // colour, sides not divisible by 4 (the pools floor)
    [DataRow(PilotArchitecture.ResNet18, 3, 32, 32, 10, 4)]  // small-image stem
    [DataRow(PilotArchitecture.ResNet18, 3, 72, 72, 5, 2)]   // standard stem: 7×7 stride-2 convolution and max-pool
    [DataRow(PilotArchitecture.ResNet34, 3, 32, 32, 10, 4)]
    [DataRow(PilotArchitecture.ResNet34, 1, 16, 16, 10, 4)]  // gray
    public void OnnxRuntimeMatchesTorchSharp(PilotArchitecture architecture, int c, int h, int w, int classes, int batch)
    {
        var shape = new ImageShape(c, h, w);
        var description = Describe(architecture, shape, ClassNames(classes));
        using var net = CreateTrainedStatistics(architecture, shape, classes, seed: 17);
        var pixels = RealImages(shape, batch);

        float[] expected = TorchProbabilities(net, description, pixels, batch);
        using var session = new InferenceSession(ExportToBytes(net, description));
        var (actual, outputShape) = OrtProbabilities(session, shape, pixels, batch);

        CollectionAssert.AreEqual(new long[] { batch, classes }, outputShape);
        float maxDifference = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        TestContext.WriteLine($"{architecture} {shape}: max |ONNX Runtime − TorchSharp| = {maxDifference:E2} over {expected.Length} probabilities");
        Assert.IsLessThanOrEqualTo(Tolerance, maxDifference, $"{architecture} {shape}");
        CollectionAssert.AreEqual(ArgMaxRows(expected, classes), ArgMaxRows(actual, classes));

        // A comparison of near-uniform outputs would prove little: the network must separate the images.
        Assert.IsGreaterThan(0.05f, expected.Max(p => Math.Abs(p - 1f / classes)), "the reference probabilities are all near uniform");
    }

    [TestMethod]
    public void BatchDimensionIsDynamic()
    {
        var shape = new ImageShape(1, 12, 12);
        var description = Describe(PilotArchitecture.SmallCnn, shape, ClassNames(3));
        using var net = CreateTrainedStatistics(PilotArchitecture.SmallCnn, shape, 3, seed: 3);
        using var session = new InferenceSession(ExportToBytes(net, description));
        var pixels = RealImages(shape, 5);

        var (all, allShape) = OrtProbabilities(session, shape, pixels, 5);
        CollectionAssert.AreEqual(new long[] { 5, 3 }, allShape);
        for (int i = 0; i < 5; i++)
        {
            var (one, oneShape) = OrtProbabilities(session, shape, pixels.AsSpan(i * shape.Size, shape.Size).ToArray(), 1);
            CollectionAssert.AreEqual(new long[] { 1, 3 }, oneShape);
            for (int k = 0; k < 3; k++)
                Assert.AreEqual(all[i * 3 + k], one[k], 1e-6f, $"image {i}, class {k}: batch of 5 vs batch of 1");
        }
    }
}

using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Pilot.MLNet.Models;
using Pilot.MLNet.Onnx;
using Pilot.MLNet.Onnx.Proto;
using TorchSharp;
using TorchSharp.Modules;
using static Pilot.MLNet.Tests.Onnx.OnnxTestSupport;
using static TorchSharp.torch;

namespace Pilot.MLNet.Tests.Onnx;

/// <summary>The written file: graph contents, names, shapes, metadata, and the errors for what cannot be exported.</summary>
[TestClass]
public sealed class OnnxExportFormatTests
{
    private static readonly string[] FashionClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private static ModelProto ExportAndParse(nn.Module<Tensor, Tensor> net, OnnxExportDescription d) =>
        ModelProto.Parser.ParseFrom(ExportToBytes(net, d));

    [TestMethod]
    [DataRow(PilotArchitecture.SmallCnn, 1, 28, 28, 2, 0)]   // conv1+bn1, conv2+bn2; two max-pools
    [DataRow(PilotArchitecture.ResNet18, 3, 32, 32, 20, 0)]  // stem 1 + 8 blocks × 2 + 3 downsamples
    [DataRow(PilotArchitecture.ResNet18, 3, 72, 72, 20, 1)]  // standard stem adds the max-pool
    [DataRow(PilotArchitecture.ResNet34, 1, 16, 16, 36, 0)]  // stem 1 + 16 blocks × 2 + 3 downsamples
    public void GraphHasFoldedBatchNormAndNoDropout(PilotArchitecture architecture, int c, int h, int w, int convolutions, int resNetMaxPools)
    {
        var shape = new ImageShape(c, h, w);
        using var net = CreateTrainedStatistics(architecture, shape, 10, seed: 1);
        var model = ExportAndParse(net, Describe(architecture, shape, ClassNames(10)));
        var ops = model.Graph.Node.Select(n => n.OpType).ToList();

        Assert.AreEqual(convolutions, net.modules().OfType<Conv2d>().Count(), "test data: Conv2d count");
        Assert.AreEqual(convolutions, ops.Count(o => o == "Conv"));
        Assert.IsFalse(ops.Contains("BatchNormalization"), "batch norm must be folded into the convolutions");
        Assert.IsFalse(ops.Contains("Dropout"), "dropout is the identity in evaluation mode");
        CollectionAssert.IsSubsetOf(ops.Distinct().ToList(),
            new[] { "Sub", "Div", "Conv", "Relu", "MaxPool", "GlobalAveragePool", "Flatten", "Gemm", "Add", "Softmax" });
        Assert.AreEqual(architecture == PilotArchitecture.SmallCnn ? 2 : resNetMaxPools, ops.Count(o => o == "MaxPool"));
        Assert.AreEqual(architecture == PilotArchitecture.SmallCnn ? 2 : 1, ops.Count(o => o == "Gemm"));
        Assert.AreEqual(architecture == PilotArchitecture.SmallCnn ? 0 : 1, ops.Count(o => o == "GlobalAveragePool"));

        // Normalisation first, softmax last.
        CollectionAssert.AreEqual(new[] { "Sub", "Div" }, ops.Take(2).ToArray());
        Assert.AreEqual(PilotOnnxModel.InputName, model.Graph.Node[0].Input[0]);
        Assert.AreEqual("Softmax", ops[^1]);
        Assert.AreEqual(PilotOnnxModel.OutputName, model.Graph.Node[^1].Output.Single());

        // Every node input is the graph input, an initializer or an earlier node's output (topological order).
        var known = new HashSet<string>(model.Graph.Initializer.Select(i => i.Name)) { PilotOnnxModel.InputName };
        foreach (var node in model.Graph.Node)
        {
            foreach (string input in node.Input)
                Assert.Contains(input, known, $"node {node.Name} ({node.OpType}) reads '{input}' before it is defined");
            Assert.IsTrue(known.Add(node.Output.Single()), $"output name {node.Output[0]} is not unique");
        }
    }

    [TestMethod]
    public void HeaderShapesAndMetadata()
    {
        var shape = new ImageShape(1, 28, 28);
        var d = new OnnxExportDescription(PilotArchitecture.SmallCnn, shape, GrayMean, GrayStd, FashionClasses);
        using var net = CreateTrainedStatistics(PilotArchitecture.SmallCnn, shape, 10, seed: 2);
        var model = ExportAndParse(net, d);

        Assert.AreEqual(PilotOnnxModel.IrVersion, model.IrVersion);
        Assert.AreEqual(8, PilotOnnxModel.IrVersion);
        var opset = model.OpsetImport.Single();
        Assert.AreEqual("", opset.Domain);
        Assert.IsGreaterThanOrEqualTo(17L, opset.Version);
        Assert.AreEqual("Pilot.MLNet", model.ProducerName);

        var input = model.Graph.Input.Single();
        Assert.AreEqual(PilotOnnxModel.InputName, input.Name);
        Assert.AreEqual((int)TensorProto.Types.DataType.Float, input.Type.TensorType.ElemType);
        var dims = input.Type.TensorType.Shape.Dim;
        Assert.AreEqual(PilotOnnxModel.BatchDimension, dims[0].DimParam);
        CollectionAssert.AreEqual(new long[] { 1, 28, 28 }, dims.Skip(1).Select(x => x.DimValue).ToArray());
        var output = model.Graph.Output.Single();
        Assert.AreEqual(PilotOnnxModel.OutputName, output.Name);
        Assert.AreEqual(PilotOnnxModel.BatchDimension, output.Type.TensorType.Shape.Dim[0].DimParam);
        Assert.AreEqual(10, output.Type.TensorType.Shape.Dim[1].DimValue);

        var metadata = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        CollectionAssert.AreEqual(FashionClasses, JsonSerializer.Deserialize<string[]>(metadata[PilotOnnxModel.MetadataKeys.ClassNames]));
        Assert.AreEqual("SmallCnn", metadata[PilotOnnxModel.MetadataKeys.Architecture]);
        Assert.AreEqual("1x28x28", metadata[PilotOnnxModel.MetadataKeys.InputShape]);
        Assert.AreEqual("0-255", metadata[PilotOnnxModel.MetadataKeys.PixelRange]);
        CollectionAssert.AreEqual(GrayMean, JsonSerializer.Deserialize<float[]>(metadata[PilotOnnxModel.MetadataKeys.NormalizationMean]));
        CollectionAssert.AreEqual(GrayStd, JsonSerializer.Deserialize<float[]>(metadata[PilotOnnxModel.MetadataKeys.NormalizationStd]));
        foreach (string name in FashionClasses)
        {
            StringAssert.Contains(model.DocString, name);
            StringAssert.Contains(output.DocString, name);
        }
        StringAssert.Contains(input.DocString, "0 to 255");

        // ONNX Runtime reads the same metadata back.
        using var session = new InferenceSession(model.ToByteArray());
        CollectionAssert.AreEqual(FashionClasses,
            JsonSerializer.Deserialize<string[]>(session.ModelMetadata.CustomMetadataMap[PilotOnnxModel.MetadataKeys.ClassNames]));
        Assert.AreEqual("Pilot.MLNet", session.ModelMetadata.ProducerName);
    }

    [TestMethod]
    public void NormalisationIsTheModelsOwnStatistics()
    {
        // (x − mean) / std per channel, in input pixel units, exactly the stored statistics.
        var shape = new ImageShape(3, 32, 32);
        using var net = CreateTrainedStatistics(PilotArchitecture.SmallCnn, shape, 4, seed: 4);
        var model = ExportAndParse(net, Describe(PilotArchitecture.SmallCnn, shape, ClassNames(4)));
        var sub = model.Graph.Node[0];
        var div = model.Graph.Node[1];
        Assert.AreEqual(sub.Output[0], div.Input[0]);
        TensorProto mean = model.Graph.Initializer.Single(i => i.Name == sub.Input[1]), std = model.Graph.Initializer.Single(i => i.Name == div.Input[1]);
        CollectionAssert.AreEqual(new long[] { 1, 3, 1, 1 }, mean.Dims.ToArray());
        CollectionAssert.AreEqual(new long[] { 1, 3, 1, 1 }, std.Dims.ToArray());
        CollectionAssert.AreEqual(ColorMean, Floats(mean));
        CollectionAssert.AreEqual(ColorStd, Floats(std));
    }

    [TestMethod]
    [DataRow(true, "0-255")]
    [DataRow(false, "float")]
    public void PixelRangeIsRecorded(bool bytePixels, string expected)
    {
        var shape = new ImageShape(1, 12, 12);
        using var net = CreateTrainedStatistics(PilotArchitecture.SmallCnn, shape, 3, seed: 5);
        var d = Describe(PilotArchitecture.SmallCnn, shape, ClassNames(3)) with { BytePixels = bytePixels };
        var model = ExportAndParse(net, d);
        Assert.AreEqual(expected, model.MetadataProps.Single(p => p.Key == PilotOnnxModel.MetadataKeys.PixelRange).Value);
        StringAssert.Contains(model.Graph.Input[0].DocString, bytePixels ? "0 to 255" : "float");
    }

    [TestMethod]
    public void ExportDoesNotChangeTheNetwork()
    {
        var shape = new ImageShape(1, 12, 12);
        using var net = CreateTrainedStatistics(PilotArchitecture.SmallCnn, shape, 3, seed: 6);
        net.train();
        var before = net.state_dict().ToDictionary(p => p.Key, p => p.Value.clone());
        ExportToBytes(net, Describe(PilotArchitecture.SmallCnn, shape, ClassNames(3)));
        Assert.IsTrue(net.training, "the training flag must be left as it was");
        foreach (var (name, value) in net.state_dict())
            Assert.IsTrue(before[name].equal(value).all().item<bool>(), $"{name} changed");
    }

    [TestMethod]
    public void ExportToFileWritesAModelOnlyOnSuccess()
    {
        var shape = new ImageShape(1, 12, 12);
        using var net = CreateTrainedStatistics(PilotArchitecture.SmallCnn, shape, 3, seed: 8);
        string folder = Directory.CreateTempSubdirectory("pilot-onnx-").FullName;
        try
        {
            string good = Path.Combine(folder, "model.onnx");
            OnnxExporter.Export(net, Describe(PilotArchitecture.SmallCnn, shape, ClassNames(3)), good);
            using (var session = new InferenceSession(good))
                Assert.AreEqual(PilotOnnxModel.InputName, session.InputMetadata.Keys.Single());

            string bad = Path.Combine(folder, "bad.onnx");
            Assert.ThrowsExactly<ArgumentException>(() => OnnxExporter.Export(net, Describe(PilotArchitecture.SmallCnn, shape, ClassNames(4)), bad));
            Assert.IsFalse(File.Exists(bad), "a failed export must not leave a file behind");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void UnknownArchitectureIsNamed()
    {
        var shape = new ImageShape(1, 12, 12);
        using var net = Backbones.Create(PilotArchitecture.SmallCnn, shape, 3);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            ExportToBytes(net, new OnnxExportDescription((PilotArchitecture)42, shape, GrayMean, GrayStd, ClassNames(3))));
        Assert.AreEqual("description", e.ParamName);
        StringAssert.Contains(e.Message, "42");
        StringAssert.Contains(e.Message, "ResNet18");
    }

    [TestMethod]
    public void UnknownLayerIsNamed()
    {
        var shape = new ImageShape(1, 8, 8);
        using var net = nn.Sequential(
            ("features", nn.Conv2d(1, 4, 3, padding: 1)),
            ("act", nn.GELU()),
            ("flatten", nn.Flatten()),
            ("head", nn.Linear(4 * 8 * 8, 3)));
        var e = Assert.ThrowsExactly<NotSupportedException>(() => ExportToBytes(net, Describe(PilotArchitecture.SmallCnn, shape, ClassNames(3))));
        StringAssert.Contains(e.Message, "'act'");
        StringAssert.Contains(e.Message, "GELU");
        StringAssert.Contains(e.Message, "ReLU"); // lists what is supported
    }

    [TestMethod]
    public void NetworkOfAnotherArchitectureIsRejectedNamingBoth()
    {
        var shape = new ImageShape(1, 28, 28);
        using var smallCnn = Backbones.Create(PilotArchitecture.SmallCnn, shape, 10);
        var e = Assert.ThrowsExactly<NotSupportedException>(() => ExportToBytes(smallCnn, Describe(PilotArchitecture.ResNet18, shape, ClassNames(10))));
        StringAssert.Contains(e.Message, "ResNet18");
        StringAssert.Contains(e.Message, nameof(SmallCnn));

        using var resNet = Backbones.Create(PilotArchitecture.ResNet18, shape, 10);
        var e2 = Assert.ThrowsExactly<NotSupportedException>(() => ExportToBytes(resNet, Describe(PilotArchitecture.SmallCnn, shape, ClassNames(10))));
        StringAssert.Contains(e2.Message, "SmallCnn");
        StringAssert.Contains(e2.Message, "ResNet");

        // The ImageNet input preparation belongs to PretrainedResNet18 only, both ways.
        var color = new ImageShape(3, 32, 32);
        using var pretrained = Backbones.Create(PilotArchitecture.PretrainedResNet18, color, 10);
        var e3 = Assert.ThrowsExactly<NotSupportedException>(() => ExportToBytes(pretrained, Describe(PilotArchitecture.ResNet18, color, ClassNames(10))));
        StringAssert.Contains(e3.Message, "ImageNet");
        StringAssert.Contains(e3.Message, "ResNet18");
        using var plain = Backbones.Create(PilotArchitecture.ResNet18, color, 10);
        var e4 = Assert.ThrowsExactly<NotSupportedException>(() => ExportToBytes(plain, Describe(PilotArchitecture.PretrainedResNet18, color, ClassNames(10))));
        StringAssert.Contains(e4.Message, "ImageNet");
    }

    [TestMethod]
    public void BatchNormWithoutRunningStatisticsIsNamed()
    {
        var shape = new ImageShape(1, 8, 8);
        using var net = nn.Sequential(
            ("conv", nn.Conv2d(1, 4, 3, padding: 1)),
            ("norm", nn.BatchNorm2d(4, track_running_stats: false)),
            ("flatten", nn.Flatten()),
            ("head", nn.Linear(4 * 8 * 8, 3)));
        var e = Assert.ThrowsExactly<NotSupportedException>(() => ExportToBytes(net, Describe(PilotArchitecture.SmallCnn, shape, ClassNames(3))));
        StringAssert.Contains(e.Message, "'norm'");
        StringAssert.Contains(e.Message, "running statistics");
    }

    [TestMethod]
    [DataRow(3, 28, 28, 10, "channels")]  // the network was built for gray input
    [DataRow(1, 32, 32, 10, "fc1")]       // …and for 28×28: fc1 expects 64·7·7 inputs
    [DataRow(1, 28, 28, 9, "9 names")]    // 10 outputs
    public void DescriptionThatDoesNotFitTheNetworkIsRejected(int c, int h, int w, int classes, string expectedInMessage)
    {
        using var net = Backbones.Create(PilotArchitecture.SmallCnn, new ImageShape(1, 28, 28), 10);
        var d = Describe(PilotArchitecture.SmallCnn, new ImageShape(c, h, w), ClassNames(classes));
        var e = Assert.ThrowsExactly<ArgumentException>(() => ExportToBytes(net, d));
        Assert.AreEqual("description", e.ParamName);
        StringAssert.Contains(e.Message, expectedInMessage);
    }

    [TestMethod]
    [DataRow(new[] { 0.5f, 0.5f }, new[] { 0.25f }, "Mean")]      // one value per channel
    [DataRow(new[] { 0.5f }, new[] { 0f }, "Std")]                // must be > 0
    [DataRow(new[] { float.NaN }, new[] { 0.25f }, "Mean")]
    public void BadNormalisationIsRejected(float[] mean, float[] std, string member)
    {
        using var net = Backbones.Create(PilotArchitecture.SmallCnn, new ImageShape(1, 12, 12), 3);
        var d = new OnnxExportDescription(PilotArchitecture.SmallCnn, new ImageShape(1, 12, 12), mean, std, ClassNames(3));
        var e = Assert.Throws<ArgumentException>(() => ExportToBytes(net, d));
        Assert.AreEqual("description", e.ParamName);
        StringAssert.Contains(e.Message, member);
    }

    private static float[] Floats(TensorProto t)
    {
        Assert.AreEqual((int)TensorProto.Types.DataType.Float, t.DataType);
        var values = new float[t.RawData.Length / sizeof(float)];
        Buffer.BlockCopy(t.RawData.ToByteArray(), 0, values, 0, t.RawData.Length);
        return values;
    }
}

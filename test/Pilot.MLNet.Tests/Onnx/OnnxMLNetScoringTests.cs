using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Data;
using Pilot.MLNet.Onnx;
using static Pilot.MLNet.Tests.Onnx.OnnxTestSupport;

namespace Pilot.MLNet.Tests.Onnx;

/// <summary>
/// Scoring the exported model with ML.NET alone (<c>ApplyOnnxModel</c>, no TorchSharp in the pipeline) gives the
/// TorchSharp model's predicted labels on the embedded FashionMNIST test set; a broken file gives a clear error.
/// </summary>
[TestClass]
public sealed class OnnxMLNetScoringTests
{
    /// <summary>Two classes whose probabilities differ by less than this may swap between runtimes: a tie, not an export error.</summary>
    private const float TieMargin = 1e-5f;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void ApplyOnnxModelPredictsTheTorchSharpLabels()
    {
        var mlContext = new MLContext(seed: 1);
        var test = PilotDatasets.EmbeddedFashionMnist(mlContext, train: false);
        var description = new OnnxExportDescription(PilotArchitecture.SmallCnn, test.Shape, GrayMean, GrayStd, test.ClassNames);
        using var net = TrainFashionSmallCnn(description, images: 2000, epochs: 2, seed: 7);
        var (pixels, labels) = FashionMnistTest;
        int classes = test.ClassNames.Count;
        float[] torchProbabilities = TorchProbabilities(net, description, pixels, labels.Length);
        int[] torchLabels = ArgMaxRows(torchProbabilities, classes);

        string folder = Directory.CreateTempSubdirectory("pilot-onnx-").FullName;
        try
        {
            string path = Path.Combine(folder, "model.onnx");
            OnnxExporter.Export(net, description, path);

            // The ML.NET side: bytes to float (the graph takes raw 0–255 pixels), then the ONNX model. No TorchSharp.
            var toFloat = mlContext.Transforms.Conversion.ConvertType(PilotOnnxModel.InputName, PilotDatasets.ImageColumnName, DataKind.Single);
            var floats = toFloat.Fit(test.Data).Transform(test.Data);
            var onnx = OnnxScoring.LoadTransformer(mlContext, path, floats, PilotOnnxModel.InputName, PilotOnnxModel.OutputName);
            var scored = onnx.Transform(floats);
            var rows = scored.GetColumn<float[]>(PilotOnnxModel.OutputName).ToArray();

            Assert.HasCount(labels.Length, rows);
            int agree = 0, correct = 0;
            float maxDifference = 0;
            for (int i = 0; i < rows.Length; i++)
            {
                Assert.HasCount(classes, rows[i]);
                int onnxLabel = ArgMax(rows[i]);
                for (int k = 0; k < classes; k++)
                    maxDifference = Math.Max(maxDifference, Math.Abs(rows[i][k] - torchProbabilities[i * classes + k]));
                if (onnxLabel == torchLabels[i])
                    agree++;
                else
                    Assert.IsLessThan(TieMargin, Math.Abs(torchProbabilities[i * classes + onnxLabel] - torchProbabilities[i * classes + torchLabels[i]]),
                        $"image {i}: ML.NET + ONNX predicts {test.ClassNames[onnxLabel]}, TorchSharp {test.ClassNames[torchLabels[i]]}");
                if (onnxLabel == labels[i])
                    correct++;
            }
            TestContext.WriteLine($"ApplyOnnxModel vs TorchSharp on {rows.Length} embedded test images: labels agree on {agree}, " +
                                  $"max |Δp| = {maxDifference:E2}; ONNX accuracy {correct / (double)rows.Length:P1}");
            Assert.IsLessThanOrEqualTo(1e-4f, maxDifference);
            Assert.IsGreaterThan(0.6, correct / (double)rows.Length, "the briefly trained model should be well above chance (10 %)");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void CorruptModelFileGivesOnnxRuntimeMessageWithThePath()
    {
        var mlContext = new MLContext(seed: 1);
        string folder = Directory.CreateTempSubdirectory("pilot-onnx-").FullName;
        try
        {
            string path = Path.Combine(folder, "corrupt.onnx");
            File.WriteAllBytes(path, [0x08, 0x07, 0x12, 0xFF, 0xFF, 0x01, 0x02]); // a protobuf that ends inside a string

            var session = Assert.ThrowsExactly<InvalidDataException>(() => OnnxScoring.OpenSession(path));
            StringAssert.Contains(session.Message, path);
            Assert.IsInstanceOfType<Microsoft.ML.OnnxRuntime.OnnxRuntimeException>(session.InnerException);
            StringAssert.Contains(session.Message, session.InnerException!.Message);

            var data = mlContext.Data.LoadFromEnumerable([new Row { image = new float[4] }]);
            var mlnet = Assert.ThrowsExactly<InvalidDataException>(() =>
                OnnxScoring.LoadTransformer(mlContext, path, data, PilotOnnxModel.InputName, PilotOnnxModel.OutputName));
            StringAssert.Contains(mlnet.Message, path);
            Assert.IsInstanceOfType<Microsoft.ML.OnnxRuntime.OnnxRuntimeException>(mlnet.InnerException);
            TestContext.WriteLine(mlnet.Message);

            string missing = Path.Combine(folder, "missing.onnx");
            var notFound = Assert.ThrowsExactly<FileNotFoundException>(() => OnnxScoring.OpenSession(missing));
            StringAssert.Contains(notFound.Message, missing);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private sealed class Row
    {
        [VectorType(4)]
        public float[] image { get; set; } = [];
    }
}

using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Data;
using Pilot.MLNet.Tests.Reliability;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;

namespace Pilot.MLNet.Tests;

/// <summary>
/// The ML.NET pipelines of issue 3 on the embedded FashionMNIST sample: a SmallCnn trained with PILOT for 2 epochs on the
/// first 2,000 training images, evaluated on the 1,000 test images. One model is trained for the class and shared by its tests.
/// </summary>
[TestClass]
public sealed class FashionMnistPipelineTests
{
    private const int TrainImages = 2000;
    private static MLContext _ml = null!;
    private static LabeledImages _trainImages = null!, _testImages = null!;
    private static ITransformer _model = null!;

    public sealed class FashionInput
    {
        public string Label { get; set; } = "";

        [VectorType(1, 28, 28)]
        public byte[] Image { get; set; } = [];
    }

    public sealed class FashionPrediction
    {
        public string PredictedClass { get; set; } = "";
        public float[] Score { get; set; } = [];
    }

    /// <summary>SmallCnn, PILOT, 2 epochs; batch 64 (about 63 steps on 2,000 images) for a comfortable margin over 75%.</summary>
    internal static Options SmallCnnOptions() => new()
    {
        Architecture = PilotArchitecture.SmallCnn,
        Epochs = 2,
        BatchSize = 64,
        Seed = 1,
    };

    [ClassInitialize]
    public static void TrainOnce(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _trainImages = PilotDatasets.EmbeddedFashionMnist(_ml, train: true);
        _testImages = PilotDatasets.EmbeddedFashionMnist(_ml, train: false);
        var pipeline = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.Pilot.ImageClassification(SmallCnnOptions()))
            .Append(_ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"));
        _model = pipeline.Fit(_ml.Data.TakeRows(_trainImages.Data, TrainImages));
    }

    [ClassCleanup]
    public static void Cleanup() => (_model as IDisposable)?.Dispose();

    private static PilotImageClassificationTransformer Trained =>
        ((IEnumerable<ITransformer>)_model).OfType<PilotImageClassificationTransformer>().Single();

    [TestMethod]
    public void PixelVectorPipelineReaches75PercentTestAccuracy()
    {
        var metrics = _ml.MulticlassClassification.Evaluate(_model.Transform(_testImages.Data));
        Console.WriteLine($"(a) pixel vectors, SmallCnn, 2 epochs on {TrainImages}: test accuracy {metrics.MicroAccuracy:P2} (macro {metrics.MacroAccuracy:P2}), log loss {metrics.LogLoss:F4}");
        Assert.IsGreaterThanOrEqualTo(0.75, metrics.MicroAccuracy);
        Assert.AreEqual(new ImageShape(1, 28, 28), Trained.InputShape);
        Assert.AreEqual(PilotArchitecture.SmallCnn, Trained.Architecture);
        Assert.HasCount(2, Trained.TrainingHistory);
        CollectionAssert.AreEquivalent(PilotDatasets.FashionMnistClassNames.ToArray(), Trained.ClassNames.ToArray());
    }

    [TestMethod]
    public void EvaluateGivesConsistentMetrics()
    {
        var scored = _model.Transform(_testImages.Data);
        var metrics = _ml.MulticlassClassification.Evaluate(scored);

        // Recount accuracy and log loss from the columns themselves.
        var labels = scored.GetColumn<uint>("Label").ToArray();
        var predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        Assert.HasCount(PilotDatasets.EmbeddedTestCount, labels);
        double accuracy = labels.Zip(predicted).Count(p => p.First == p.Second) / (double)labels.Length;
        double logLoss = labels.Select((l, i) => -Math.Log(Math.Max(scores[i][l - 1], 1e-15))).Average();
        Assert.AreEqual(accuracy, metrics.MicroAccuracy, 1e-12);
        Assert.AreEqual(logLoss, metrics.LogLoss, 1e-4);
        Assert.IsTrue(scores.All(s => s.Length == 10 && Math.Abs(s.Sum() - 1) < 1e-4 && s.All(v => v >= 0)), "scores are probabilities");
        Assert.IsTrue(predicted.Select((p, i) => scores[i][p - 1] == scores[i].Max()).All(b => b), "PredictedLabel is the arg-max of Score");

        Assert.IsLessThan(Math.Log(10), metrics.LogLoss, "better than uniform guessing");
        Assert.IsGreaterThan(0.0, metrics.LogLossReduction);
        Assert.AreEqual(10, metrics.PerClassLogLoss.Count);
        Assert.AreEqual(labels.Length, metrics.ConfusionMatrix.Counts.Sum(row => row.Sum()));
        Assert.IsTrue(metrics.MacroAccuracy > 0.5 && metrics.MacroAccuracy <= 1);
    }

    [TestMethod]
    public void SavedPipelineScoresIdenticallyInAFreshProcess()
    {
        using var folder = new TestFolder();
        var (modelPath, output) = ScoringHost.AssertScoresIdenticallyInAFreshProcess(_ml, _model, _trainImages.Data.Schema, _testImages.Data, folder);
        Console.WriteLine($"model file: {new FileInfo(modelPath).Length:N0} bytes (SmallCnn, 1×28×28, 10 classes)");
        StringAssert.Contains(output, $"scored {PilotDatasets.EmbeddedTestCount} rows");
    }

    [TestMethod]
    public void LoadedModelWorksWithAPredictionEngine()
    {
        using var folder = new TestFolder();
        string modelPath = folder.File("model.zip");
        _ml.Model.Save(_model, _trainImages.Data.Schema, modelPath);
        var fresh = new MLContext(seed: 2);
        var loaded = fresh.Model.Load(modelPath, out var inputSchema);
        try
        {
            Assert.AreEqual("Image", inputSchema["Image"].Name);
            var loadedTrainer = ((IEnumerable<ITransformer>)loaded).OfType<PilotImageClassificationTransformer>().Single();
            Assert.AreEqual(Trained.InputShape, loadedTrainer.InputShape);
            CollectionAssert.AreEqual(Trained.ClassNames.ToArray(), loadedTrainer.ClassNames.ToArray());
            CollectionAssert.AreEqual(Trained.TrainingHistory.ToArray(), loadedTrainer.TrainingHistory.ToArray());

            var engine = fresh.Model.CreatePredictionEngine<FashionInput, FashionPrediction>(loaded);
            var rows = _ml.Data.CreateEnumerable<FashionInput>(_testImages.Data, reuseRowObject: false).Take(20).ToArray();
            var expected = _ml.Data.CreateEnumerable<FashionPrediction>(_model.Transform(_ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false).ToArray();
            for (int i = 0; i < rows.Length; i++)
            {
                var prediction = engine.Predict(rows[i]);
                Assert.AreEqual(expected[i].PredictedClass, prediction.PredictedClass, $"row {i}");
                // Transform scores a batch of images at once, the engine one: libtorch may round them differently.
                Assert.HasCount(expected[i].Score.Length, prediction.Score, $"row {i}");
                for (int k = 0; k < prediction.Score.Length; k++)
                    Assert.AreEqual(expected[i].Score[k], prediction.Score[k], 1e-6f, $"row {i}, class {k}");
            }
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    public void DamagedModelFilesGiveClearErrors()
    {
        using var folder = new TestFolder();
        string modelPath = folder.File("model.zip");
        _ml.Model.Save(Trained, _trainImages.Data.Schema, modelPath);

        // Truncate the weights stream.
        string truncated = folder.File("truncated.zip");
        File.Copy(modelPath, truncated);
        using (var zip = ZipFile.Open(truncated, ZipArchiveMode.Update))
        {
            var entry = zip.Entries.Single(e => e.FullName.EndsWith("TorchSharpWeights", StringComparison.Ordinal));
            byte[] bytes;
            using (var s = entry.Open()) { using var m = new MemoryStream(); s.CopyTo(m); bytes = m.ToArray(); }
            string name = entry.FullName;
            entry.Delete();
            using var s2 = zip.CreateEntry(name).Open();
            s2.Write(bytes, 0, bytes.Length / 2);
        }
        var e = Assert.Throws<Exception>(() => new MLContext().Model.Load(truncated, out _));
        Console.WriteLine($"truncated weights: {e.GetType().Name}: {e.Message}");
        Assert.IsInstanceOfType<InvalidDataException>(Innermost(e, typeof(InvalidDataException)));

        // Claim an impossible number of classes in the header.
        string corrupt = folder.File("corrupt.zip");
        File.Copy(modelPath, corrupt);
        // Our data: 4 string ids, architecture, head input byte, input shape (3 ints), units byte, vector flag, vector shape, then the class count.
        PatchModelStream(corrupt, offset: ReliabilityFixture.ClassCountOffset - ReliabilityFixture.ModelDataOffset, value: -5);
        e = Assert.Throws<Exception>(() => new MLContext().Model.Load(corrupt, out _));
        Console.WriteLine($"corrupt header: {e.GetType().Name}: {e.Message}");
        StringAssert.Contains(Innermost(e, typeof(InvalidDataException)).Message, "-5 classes");

        // A model written by a newer, incompatible version (ModelHeader.ModelVerWritten and ModelVerReadable at 0x48, 0x4C).
        string newer = folder.File("newer.zip");
        File.Copy(modelPath, newer);
        PatchModelStream(newer, offset: -0x48, value: 0x00020001);
        PatchModelStream(newer, offset: -0x4C, value: 0x00020001);
        e = Assert.Throws<Exception>(() => new MLContext().Model.Load(newer, out _));
        Console.WriteLine($"newer version: {e.GetType().Name}: {e.Message}");
        StringAssert.Contains(Innermost(e, typeof(FormatException)).Message, "too new");
    }

    /// <summary>The first exception of <paramref name="type"/> in the chain of inner exceptions (ML.NET may wrap loader errors).</summary>
    private static Exception Innermost(Exception e, Type type)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (type.IsInstanceOfType(x))
                return x;
        Assert.Fail($"No {type.Name} in {e}");
        return e;
    }

    /// <summary>
    /// Writes <paramref name="value"/> into the transformer's Model.key: at <paramref name="offset"/> into its own data (after
    /// ML.NET's header), or for a negative offset at −offset into ML.NET's header.
    /// </summary>
    private static void PatchModelStream(string zipPath, int offset, int value)
    {
        using var zip = ZipFile.Open(zipPath, ZipArchiveMode.Update);
        var entry = zip.Entries.Single(e => e.FullName.EndsWith("Model.key", StringComparison.Ordinal) && Contains(e, "PILOTIMG"));
        byte[] bytes;
        using (var s = entry.Open()) { using var m = new MemoryStream(); s.CopyTo(m); bytes = m.ToArray(); }
        long modelStart = offset < 0 ? 0 : BitConverter.ToInt64(bytes, 16); // ModelHeader.FpModel, after signature and two versions
        BitConverter.TryWriteBytes(bytes.AsSpan((int)modelStart + Math.Abs(offset)), value);
        string name = entry.FullName;
        entry.Delete();
        using var s2 = zip.CreateEntry(name).Open();
        s2.Write(bytes);
    }

    private static bool Contains(ZipArchiveEntry entry, string ascii)
    {
        using var s = entry.Open();
        using var m = new MemoryStream();
        s.CopyTo(m);
        return System.Text.Encoding.ASCII.GetString(m.ToArray()).Contains(ascii);
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Data;
using Pilot.MLNet.Onnx;
using static Pilot.MLNet.Tests.Onnx.OnnxTestSupport;

namespace Pilot.MLNet.Tests.Onnx;

/// <summary>
/// The trainer's model, exported with <see cref="PilotImageClassificationTransformer.ExportToOnnx(string)"/> and scored by an
/// ML.NET pipeline with only <c>ApplyOnnxModel</c>, predicts what the model itself predicts on the embedded test set.
/// </summary>
[TestClass]
public sealed class TransformerOnnxExportTests
{
    public TestContext TestContext { get; set; } = null!;

    private static readonly Lazy<(MLContext MLContext, PilotImageClassificationTransformer Model, IDataView Test)> Trained = new(() =>
    {
        var mlContext = new MLContext(seed: 1);
        var train = PilotDatasets.EmbeddedFashionMnist(mlContext, train: true);
        var test = PilotDatasets.EmbeddedFashionMnist(mlContext, train: false);
        var toKey = mlContext.Transforms.Conversion.MapValueToKey(PilotDatasets.LabelColumnName).Fit(train.Data);
        var options = new PilotImageClassificationTrainer.Options
        {
            Architecture = PilotArchitecture.SmallCnn,
            Epochs = 2,
            BatchSize = 64,
            LearningRate = 3e-3,
            Seed = 3,
        };
        var model = mlContext.Pilot.ImageClassification(options).Fit(toKey.Transform(mlContext.Data.TakeRows(train.Data, 2000)));
        return (mlContext, model, toKey.Transform(test.Data));
    });

    [TestMethod]
    public void ApplyOnnxModelOnTheExportGivesTheTransformersScores()
    {
        var (mlContext, model, test) = Trained.Value;
        using var folder = new TestFolder();
        string path = folder.File("model.onnx");
        model.ExportToOnnx(path);

        var scored = model.Transform(test);
        var score = scored.GetColumn<float[]>(model.ScoreColumnName).ToArray();
        var predicted = scored.GetColumn<uint>(model.PredictedLabelColumnName).ToArray(); // keys: class index + 1

        var floats = mlContext.Transforms.Conversion.ConvertType(PilotOnnxModel.InputName, PilotDatasets.ImageColumnName, DataKind.Single)
            .Fit(test).Transform(test);
        var onnx = OnnxScoring.LoadTransformer(mlContext, path, floats, PilotOnnxModel.InputName, PilotOnnxModel.OutputName);
        var probabilities = onnx.Transform(floats).GetColumn<float[]>(PilotOnnxModel.OutputName).ToArray();

        Assert.HasCount(score.Length, probabilities);
        int agree = 0;
        float maxDifference = 0;
        for (int i = 0; i < score.Length; i++)
        {
            for (int k = 0; k < score[i].Length; k++)
                maxDifference = Math.Max(maxDifference, Math.Abs(score[i][k] - probabilities[i][k]));
            if (ArgMax(probabilities[i]) + 1 == predicted[i])
                agree++;
        }
        TestContext.WriteLine($"Trainer model vs its ONNX export (ApplyOnnxModel) on {score.Length} embedded test images: " +
                              $"labels agree on {agree}, max |Δp| = {maxDifference:E2}");
        Assert.IsLessThanOrEqualTo(1e-4f, maxDifference);
        Assert.AreEqual(score.Length, agree);
    }

    [TestMethod]
    public void ExportAfterSaveAndLoadIsTheSameFile()
    {
        // The path of `pilot export onnx --model model.zip`: a model loaded from its zip exports the same bytes.
        var (mlContext, model, test) = Trained.Value;
        using var folder = new TestFolder();
        using var direct = new MemoryStream();
        model.ExportToOnnx(direct);

        mlContext.Model.Save(model, test.Schema, folder.File("model.zip"));
        using var loaded = (PilotImageClassificationTransformer)mlContext.Model.Load(folder.File("model.zip"), out _);
        loaded.ExportToOnnx(folder.File("reloaded.onnx"));

        CollectionAssert.AreEqual(direct.ToArray(), File.ReadAllBytes(folder.File("reloaded.onnx")));
        var metadata = Pilot.MLNet.Onnx.Proto.ModelProto.Parser.ParseFrom(direct.ToArray()).MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        StringAssert.Contains(metadata[PilotOnnxModel.MetadataKeys.ClassNames], "Ankle boot");
        Assert.AreEqual(PilotOnnxModel.BytePixelRange, metadata[PilotOnnxModel.MetadataKeys.PixelRange]);
    }

    [TestMethod]
    public void ExportModelFileFindsTheClassifierInAChain()
    {
        // What `pilot export onnx --model model.zip --out model.onnx` calls; pipelines are usually saved as chains.
        var (mlContext, model, test) = Trained.Value;
        using var folder = new TestFolder();
        using var direct = new MemoryStream();
        model.ExportToOnnx(direct);

        var copy = mlContext.Transforms.CopyColumns("ImageCopy", PilotDatasets.ImageColumnName).Fit(test);
        mlContext.Model.Save(new TransformerChain<ITransformer>(copy, model), test.Schema, folder.File("chain.zip"));
        var description = OnnxExport.ExportModelFile(mlContext, folder.File("chain.zip"), folder.File("chain.onnx"));

        CollectionAssert.AreEqual(direct.ToArray(), File.ReadAllBytes(folder.File("chain.onnx")));
        Assert.AreEqual(PilotArchitecture.SmallCnn, description.Architecture);
        CollectionAssert.AreEqual(model.ClassNames.ToArray(), description.ClassNames.ToArray());

        mlContext.Model.Save(copy, test.Schema, folder.File("other.zip"));
        var e = Assert.ThrowsExactly<InvalidDataException>(() => OnnxExport.ExportModelFile(mlContext, folder.File("other.zip"), folder.File("other.onnx")));
        StringAssert.Contains(e.Message, folder.File("other.zip"));
        Assert.IsFalse(File.Exists(folder.File("other.onnx")));

        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => OnnxExport.ExportModelFile(mlContext, folder.File("none.zip"), folder.File("none.onnx")));
        StringAssert.Contains(missing.Message, folder.File("none.zip"));
    }

    [TestMethod]
    public void ExportArgumentErrors()
    {
        var (_, model, _) = Trained.Value;
        using var folder = new TestFolder();
        string missingFolder = Path.Combine(folder.Path, "no-such-folder", "model.onnx");
        var e = Assert.ThrowsExactly<DirectoryNotFoundException>(() => model.ExportToOnnx(missingFolder));
        StringAssert.Contains(e.Message, Path.Combine(folder.Path, "no-such-folder"));
        Assert.ThrowsExactly<ArgumentException>(() => model.ExportToOnnx(" "));
        Assert.ThrowsExactly<ArgumentNullException>(() => model.ExportToOnnx((Stream)null!));
        using var readOnly = new MemoryStream([], writable: false);
        Assert.ThrowsExactly<ArgumentException>(() => model.ExportToOnnx(readOnly));
    }

    [TestMethod]
    public void DisposedTransformerCannotExport()
    {
        var mlContext = new MLContext(seed: 2);
        var data = PilotDatasets.EmbeddedFashionMnist(mlContext, train: false);
        var keyed = mlContext.Transforms.Conversion.MapValueToKey(PilotDatasets.LabelColumnName).Fit(data.Data).Transform(data.Data);
        var options = new PilotImageClassificationTrainer.Options { Architecture = PilotArchitecture.SmallCnn, Epochs = 1, Seed = 1 };
        var model = mlContext.Pilot.ImageClassification(options).Fit(mlContext.Data.TakeRows(keyed, 64));
        model.Dispose();
        Assert.ThrowsExactly<ObjectDisposedException>(() => model.ExportToOnnx(new MemoryStream()));
    }
}

using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Pilot.MLNet.Tests.ModelFile;

[TestClass]
public sealed class SaveLoadTests
{
    [TestMethod]
    public void SavedModelLoadsInAFreshProcessWithIdenticalScores()
    {
        using var folder = new TestFolder();
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(300, seed: 1));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 1)));
        var model = pipeline.Fit(rows);
        var test = ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(40, seed: 2));
        string modelPath = folder.File("model.zip"), dataPath = folder.File("data.idv"), scoresPath = folder.File("scores.bin");
        ml.Model.Save(model, rows.Schema, modelPath);
        using (var stream = File.Create(dataPath))
            ml.Data.SaveAsBinary(test, stream);

        var expected = ScoreRows(model.Transform(test));
        var (exitCode, output) = ScoringHost.Run(modelPath, dataPath, scoresPath);
        Assert.AreEqual(0, exitCode, output);
        var actual = ScoringHost.ReadScores(scoresPath);

        Assert.HasCount(expected.Count, actual);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.AreEqual(expected[i].Predicted, actual[i].Predicted, $"row {i}");
            CollectionAssert.AreEqual(expected[i].Score, actual[i].Score, $"row {i}: scores differ");
        }
    }

    [TestMethod]
    [DataRow(null)] // Head, the default
    [DataRow(PilotFineTuning.LastStage)]
    public void PretrainedModelLoadsInAFreshProcessWithIdenticalScoresAndOnlyItsWeightsInTheFile(PilotFineTuning? fineTuning)
    {
        using var folder = new TestFolder();
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(48, seed: 1));
        var options = TrainerTestData.FastOptions(epochs: 1);
        options.Architecture = PilotArchitecture.PretrainedResNet18;
        options.FineTuning = fineTuning;
        options.ImageHeight = options.ImageWidth = 32; // the smallest input it takes: a fast test
        options.BatchSize = 16;
        options.LearningRate = 1e-4;
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Pilot.ImageClassification(options)).Fit(rows);
        var test = ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(12, seed: 2));
        string modelPath = folder.File("model.zip"), dataPath = folder.File("data.idv"), scoresPath = folder.File("scores.bin");
        ml.Model.Save(model, rows.Schema, modelPath);
        using (var stream = File.Create(dataPath))
            ml.Data.SaveAsBinary(test, stream);

        // The file holds the network's weights once (float32 parameters and batch-norm statistics) and little else.
        var network = model.LastTransformer.Model.Network;
        long weightBytes = sizeof(float) * (network.parameters().Sum(p => p.numel()) + network.buffers().Where(b => b.dtype == global::TorchSharp.torch.ScalarType.Float32).Sum(b => b.numel()));
        long fileBytes = new FileInfo(modelPath).Length;
        Assert.IsLessThanOrEqualTo(weightBytes + (1L << 20), fileBytes, $"model.zip has {fileBytes} bytes; the weights {weightBytes}");

        var expected = ScoreRows(model.Transform(test));
        var (exitCode, output) = ScoringHost.Run(modelPath, dataPath, scoresPath);
        Assert.AreEqual(0, exitCode, output);
        var actual = ScoringHost.ReadScores(scoresPath);
        Assert.HasCount(expected.Count, actual);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.AreEqual(expected[i].Predicted, actual[i].Predicted, $"row {i}");
            CollectionAssert.AreEqual(expected[i].Score, actual[i].Score, $"row {i}: scores differ");
        }
    }

    internal static List<(uint Predicted, float[] Score)> ScoreRows(IDataView scored)
    {
        var result = new List<(uint, float[])>();
        using var cursor = scored.GetRowCursor(scored.Schema);
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var getPredicted = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
        VBuffer<float> score = default;
        uint predicted = 0;
        while (cursor.MoveNext())
        {
            getScore(ref score);
            getPredicted(ref predicted);
            result.Add((predicted, score.DenseValues().ToArray()));
        }
        return result;
    }
}

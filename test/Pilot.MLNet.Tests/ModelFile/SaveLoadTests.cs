using Microsoft.ML;

namespace Pilot.MLNet.Tests.ModelFile;

/// <summary>A saved model scores the same in a fresh process, whose only link to the training one is the file.</summary>
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
        ScoringHost.AssertScoresIdenticallyInAFreshProcess(ml, model, rows.Schema, test, folder);
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
        var (modelPath, _) = ScoringHost.AssertScoresIdenticallyInAFreshProcess(ml, model, rows.Schema, test, folder);

        // The file holds the network's weights once (float32 parameters and batch-norm statistics) and little else.
        var network = model.LastTransformer.Model.Network;
        long weightBytes = sizeof(float) * (network.parameters().Sum(p => p.numel()) + network.buffers().Where(b => b.dtype == global::TorchSharp.torch.ScalarType.Float32).Sum(b => b.numel()));
        long fileBytes = new FileInfo(modelPath).Length;
        Assert.IsLessThanOrEqualTo(weightBytes + (1L << 20), fileBytes, $"model.zip has {fileBytes} bytes; the weights {weightBytes}");
    }
}

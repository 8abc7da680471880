using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Models;
using Pilot.MLNet.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;

namespace Pilot.MLNet.Tests.Models;

/// <summary>
/// Both fine-tuning modes of <see cref="PilotArchitecture.PretrainedResNet18"/>, kept fast: 12×12 synthetic images resized to
/// the network's smallest input (32×32), a few dozen rows.
/// </summary>
[TestClass]
[DoNotParallelize] // training draws from TorchSharp's default generator; these tests compare runs bit for bit
public sealed class PretrainedTrainingTests
{
    private static Options Pretrained(PilotFineTuning? fineTuning, int epochs)
    {
        var o = TrainerTestData.FastOptions(epochs);
        o.Architecture = PilotArchitecture.PretrainedResNet18;
        o.FineTuning = fineTuning;
        o.ImageHeight = o.ImageWidth = 32;
        o.BatchSize = 16;
        return o;
    }

    /// <summary>
    /// The network training starts from (ImageNet trunk, head initialised from the seed of <see cref="Pretrained"/>'s
    /// options, as the training loop does), to compare trained weights against.
    /// </summary>
    private static Dictionary<string, Tensor> Initial(PilotFineTuning mode)
    {
        using var network = new DefaultGeneratorSession(TrainerTestData.FastOptions().Seed!.Value).Use(() =>
            Backbones.CreateForTraining(PilotArchitecture.PretrainedResNet18, new ImageShape(1, 32, 32), 3, mode, null));
        return network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
    }

    /// <summary>
    /// The reports of the pass that fills the cache (Head's features, LastStage's early-stage activations), checked: they
    /// come before any training batch, one per batch of <see cref="PilotImageClassificationDefaults.ScoringBatchSize"/>
    /// images numbered from 1, in epoch 0, without a loss.
    /// </summary>
    private static List<PilotBatchProgress> CachePassReportedFirst(List<PilotBatchProgress> batches, int images)
    {
        int count = (images + PilotImageClassificationDefaults.ScoringBatchSize - 1) / PilotImageClassificationDefaults.ScoringBatchSize;
        var pass = batches.TakeWhile(b => b.Stage == PilotTrainingStage.FeaturePass).ToList();
        Assert.HasCount(count, pass);
        CollectionAssert.AreEqual(Enumerable.Range(1, count).ToArray(), pass.Select(b => b.Batch).ToArray());
        Assert.IsTrue(pass.All(b => b.Epoch == 0 && b.BatchCount == count && double.IsNaN(b.RunningLoss)));
        return pass;
    }

    private static bool Same(Tensor a, Tensor b) => a.cpu().allclose(b.cpu(), rtol: 0, atol: 0);

    [TestMethod]
    public void DefaultFineTuningOfThePretrainedNetworkIsHead()
    {
        Assert.AreEqual(PilotImageClassificationDefaults.PretrainedFineTuning, Backbones.ResolveFineTuning(PilotArchitecture.PretrainedResNet18, null));
        Assert.AreEqual(PilotFineTuning.Head, Backbones.ResolveFineTuning(PilotArchitecture.PretrainedResNet18, null), "Head, as documented");
    }

    [TestMethod]
    public void ModeDefaults_AreTheOnesTrainedAndRecorded()
    {
        var ml = new MLContext(seed: 1);
        var train = TrainerTestData.SyntheticKeyed(ml, 9, seed: 1);
        var head = Pretrained(PilotFineTuning.Head, 1);
        head.Epochs = null;
        using (var model = ml.Pilot.ImageClassification(head).Fit(train))
        {
            Assert.HasCount(PilotImageClassificationDefaults.HeadEpochs, model.TrainingHistory, "Head without Epochs: the head's 100 epochs");
            Assert.AreEqual(PilotImageClassificationDefaults.HeadEpochs, model.TrainingOptions!.Epochs, "the model records the epochs it trained");
            Assert.IsNull(model.TrainingOptions.BackboneLearningRateScale, "Head trains no backbone layer: no factor recorded");
        }
        var lastStage = Pretrained(PilotFineTuning.LastStage, 1);
        using (var model = ml.Pilot.ImageClassification(lastStage).Fit(train))
            Assert.AreEqual(PilotImageClassificationDefaults.LastStageBackboneLearningRateScale, model.TrainingOptions!.BackboneLearningRateScale);
        var full = Pretrained(PilotFineTuning.Full, 1);
        using (var model = ml.Pilot.ImageClassification(full).Fit(train))
            Assert.AreEqual(PilotImageClassificationDefaults.FullBackboneLearningRateScale, model.TrainingOptions!.BackboneLearningRateScale);
        full.BackboneLearningRateScale = 0.5;
        using (var model = ml.Pilot.ImageClassification(full).Fit(train))
            Assert.AreEqual(0.5, model.TrainingOptions!.BackboneLearningRateScale, "a factor that was set wins");
    }

    [TestMethod]
    public void PixelVectorsAreResizedToThePretrainedDefaultSide()
    {
        var ml = new MLContext(seed: 1);
        var o = Pretrained(null, 1);
        o.ImageHeight = o.ImageWidth = null;
        using var model = ml.Pilot.ImageClassification(o).Fit(TrainerTestData.SyntheticKeyed(ml, 9, seed: 1));
        Assert.AreEqual(new ImageShape(1, PilotImageClassificationDefaults.PretrainedImageSide, PilotImageClassificationDefaults.PretrainedImageSide),
            model.Model.InputShape, "12×12 pixel vectors go to the pretrained network at its default side");
    }

    [TestMethod]
    public void HeadWithAugment_IsRejectedNamingAugment()
    {
        var o = Pretrained(null, 1);
        o.Augment = true;
        var e = Assert.ThrowsExactly<ArgumentException>(() => new MLContext(1).Pilot.ImageClassification(o));
        Assert.AreEqual(nameof(Options.Augment), e.ParamName);
        o.FineTuning = PilotFineTuning.Full;
        new MLContext(1).Pilot.ImageClassification(o); // Full augments
    }

    [TestMethod]
    public void Head_TrainsOnlyTheHead_ReportsTheFeaturePassFirst_AndLearns()
    {
        var ml = new MLContext(seed: 1);
        var train = TrainerTestData.SyntheticKeyed(ml, 60, seed: 1);
        var batches = new List<PilotBatchProgress>();
        var o = Pretrained(PilotFineTuning.Head, epochs: 30);
        o.BatchProgressCallback = batches.Add;
        using var model = ml.Pilot.ImageClassification(o).Fit(train);

        // Feature pass: 60 images in batches of ScoringBatchSize, all reported before the first training batch.
        var features = CachePassReportedFirst(batches, images: 60);
        Assert.IsTrue(batches.Skip(features.Count).All(b => b.Stage == PilotTrainingStage.Training));
        Assert.HasCount(30 * 4, batches.Skip(features.Count).ToList()); // 60 rows / batch 16 = 4 steps per epoch

        // The trunk is the ImageNet trunk, bit for bit; the head moved.
        var initial = Initial(PilotFineTuning.Head);
        var trained = model.Model.Network.state_dict();
        foreach (var (name, value) in trained)
        {
            if (name.StartsWith("fc.", StringComparison.Ordinal))
                Assert.IsFalse(Same(initial[name], value), $"{name} should have trained");
            else
                Assert.IsTrue(Same(initial[name], value), $"{name} is part of the frozen backbone and changed");
        }
        foreach (var t in initial.Values)
            t.Dispose();

        // The easy synthetic classes are learnt from ImageNet features by a linear head.
        Assert.IsGreaterThan(0.9, model.TrainingHistory[^1].TrainAccuracy, $"train accuracy {model.TrainingHistory[^1].TrainAccuracy}");
        Assert.IsLessThan(model.TrainingHistory[0].TrainLoss, model.TrainingHistory[^1].TrainLoss);
    }

    [TestMethod]
    public void Full_TrainsEveryLayer_AndKeepsThePretrainedBatchNormStatistics()
    {
        var ml = new MLContext(seed: 1);
        var train = TrainerTestData.SyntheticKeyed(ml, 32, seed: 1);
        using var model = ml.Pilot.ImageClassification(Pretrained(PilotFineTuning.Full, epochs: 1)).Fit(train);
        var initial = Initial(PilotFineTuning.Full);
        var trained = model.Model.Network.state_dict();
        Assert.IsFalse(Same(initial["conv1.weight"], trained["conv1.weight"]), "the backbone trains in Full");
        Assert.IsFalse(Same(initial["layer4.2.conv2.weight"], trained["layer4.2.conv2.weight"]));
        Assert.IsFalse(Same(initial["fc.weight"], trained["fc.weight"]));
        foreach (var name in trained.Keys.Where(k => k.EndsWith("running_mean", StringComparison.Ordinal) || k.EndsWith("running_var", StringComparison.Ordinal)))
            Assert.IsTrue(Same(initial[name], trained[name]), $"{name}: Full keeps the pretrained batch-norm statistics");
        foreach (var t in initial.Values)
            t.Dispose();
    }

    [TestMethod]
    public void Full_BackboneStepsAreSmallerByTheScale()
    {
        // One step of AdamW from the same start: its update is lr × (about ±1) per weight, so the backbone's largest change
        // is about BackboneLearningRateScale times the head's learning rate.
        var ml = new MLContext(seed: 1);
        var train = TrainerTestData.SyntheticKeyed(ml, 16, seed: 1);
        var o = Pretrained(PilotFineTuning.Full, epochs: 1);
        o.Optimizer = PilotOptimizerKind.AdamW;
        o.WeightDecay = 0;
        o.LearningRate = 1e-3;
        o.BackboneLearningRateScale = 0.1;
        using var model = ml.Pilot.ImageClassification(o).Fit(train);
        var initial = Initial(PilotFineTuning.Full);
        var trained = model.Model.Network.state_dict();
        double Change(string name) => (trained[name].cpu() - initial[name]).abs().max().item<float>();
        Assert.AreEqual(1e-3, Change("fc.weight"), 1e-4, "head: one AdamW step of lr 1e-3");
        Assert.AreEqual(1e-4, Change("layer4.2.conv2.weight"), 1e-5, "backbone: one AdamW step of lr 1e-4");
        foreach (var t in initial.Values)
            t.Dispose();
    }

    [TestMethod]
    public void LastStage_TrainsOnlyLayer4AndTheHead_ReportsTheCachePassFirst_AndLearns()
    {
        var ml = new MLContext(seed: 1);
        var train = TrainerTestData.SyntheticKeyed(ml, 60, seed: 1);
        var batches = new List<PilotBatchProgress>();
        var o = Pretrained(PilotFineTuning.LastStage, epochs: 15);
        o.BatchProgressCallback = batches.Add;
        using var model = ml.Pilot.ImageClassification(o).Fit(train);

        // The cache pass: every image once through the frozen early stages, reported before the first training batch.
        var cache = CachePassReportedFirst(batches, images: 60);
        Assert.HasCount(15 * 4, batches.Skip(cache.Count).ToList());

        // Stem to layer3 are the ImageNet weights and statistics, bit for bit; layer4's weights and fc moved; layer4 keeps
        // its pretrained batch-norm statistics (the default, see docs/transfer.md).
        var initial = Initial(PilotFineTuning.LastStage);
        var trained = model.Model.Network.state_dict();
        foreach (var (name, value) in trained)
        {
            bool statistics = name.EndsWith("running_mean", StringComparison.Ordinal) || name.EndsWith("running_var", StringComparison.Ordinal)
                || name.EndsWith("num_batches_tracked", StringComparison.Ordinal);
            bool trains = (name.StartsWith("layer4.", StringComparison.Ordinal) || name.StartsWith("fc.", StringComparison.Ordinal)) && !statistics;
            if (trains)
                Assert.IsFalse(Same(initial[name], value), $"{name} should have trained");
            else
                Assert.IsTrue(Same(initial[name], value), $"{name} is frozen in LastStage and changed");
        }
        foreach (var t in initial.Values)
            t.Dispose();
        Assert.IsGreaterThan(0.9, model.TrainingHistory[^1].TrainAccuracy, $"train accuracy {model.TrainingHistory[^1].TrainAccuracy}");
    }

    [TestMethod]
    [DataRow(0.1)]
    [DataRow(0.5)]
    public void LastStage_Layer4StepsAreSmallerByTheBackboneScale(double scale)
    {
        var ml = new MLContext(seed: 1);
        var train = TrainerTestData.SyntheticKeyed(ml, 16, seed: 1);
        var o = Pretrained(PilotFineTuning.LastStage, epochs: 1);
        o.Optimizer = PilotOptimizerKind.AdamW;
        o.WeightDecay = 0;
        o.LearningRate = 1e-3;
        o.BackboneLearningRateScale = scale;
        using var model = ml.Pilot.ImageClassification(o).Fit(train);
        var initial = Initial(PilotFineTuning.LastStage);
        var trained = model.Model.Network.state_dict();
        double Change(string name) => (trained[name].cpu() - initial[name]).abs().max().item<float>();
        Assert.AreEqual(1e-3, Change("fc.weight"), 1e-4, "head: one AdamW step of lr 1e-3");
        double expected = 1e-3 * scale;
        Assert.AreEqual(expected, Change("layer4.2.conv2.weight"), expected / 10, "last stage: one AdamW step of lr 1e-3 × BackboneLearningRateScale");
        Assert.AreEqual(0, Change("layer3.1.conv2.weight"), "layer3 is frozen");
        foreach (var t in initial.Values)
            t.Dispose();
    }

    [TestMethod]
    [DataRow(PilotFineTuning.Head)]
    [DataRow(PilotFineTuning.LastStage)]
    public void ResumingFromACheckpointRecomputesTheCacheAndGivesTheUninterruptedModel(PilotFineTuning mode)
    {
        using var folder = new TestFolder();
        var ml = new MLContext(seed: 1);
        var train = TrainerTestData.SyntheticKeyed(ml, 40, seed: 1);
        using var reference = ml.Pilot.ImageClassification(Pretrained(mode, epochs: 4)).Fit(train);

        string directory = folder.File("checkpoints");
        var interrupted = Pretrained(mode, epochs: 4);
        interrupted.CheckpointDirectory = directory;
        interrupted.ProgressCallback = r => { if (r.Epoch == 2) throw new OperationCanceledException("stop after epoch 2"); };
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.Pilot.ImageClassification(interrupted).Fit(train));
        // The checkpoint holds what trains (Head: fc; LastStage: layer4 and fc), with the optimizer's state of it, not the
        // frozen layers: less than 4.5 values per trained weight (the whole network's 15.9 M weights with the same state, 4
        // values each, would take 4.8 values per LastStage weight), plus 64 KB for the history and the generators' states.
        long trainedBytes = sizeof(float) * reference.Model.Network.named_parameters()
            .Where(p => p.name.StartsWith("fc.", StringComparison.Ordinal) || (mode == PilotFineTuning.LastStage && p.name.StartsWith("layer4.", StringComparison.Ordinal)))
            .Sum(p => p.parameter.numel());
        long checkpointBytes = new FileInfo(Path.Combine(directory, Checkpoint.FileName)).Length;
        Assert.IsLessThan(4.5 * trainedBytes + (64 << 10), checkpointBytes);

        var resumed = Pretrained(mode, epochs: 4);
        resumed.CheckpointDirectory = directory;
        var batches = new List<PilotBatchProgress>();
        resumed.BatchProgressCallback = batches.Add;
        var reports = new List<PilotEpochReport>();
        resumed.ProgressCallback = reports.Add;
        using var model = ml.Pilot.ImageClassification(resumed).Fit(train);
        Assert.AreEqual(PilotTrainingStage.FeaturePass, batches[0].Stage, "resuming recomputes the cache first");
        CollectionAssert.AreEqual(new[] { 3, 4 }, reports.Select(r => r.Epoch).ToArray());
        foreach (var (name, value) in reference.Model.Network.state_dict())
            Assert.IsTrue(Same(value, model.Model.Network.state_dict()[name]), name);
    }

    [TestMethod]
    public void LastStage_EarlyStoppingKeepsTheBestEpochsWeights()
    {
        var ml = new MLContext(seed: 1);
        var train = TrainerTestData.SyntheticKeyed(ml, 30, seed: 1);
        var validation = TrainerTestData.SyntheticKeyed(ml, 30, seed: 2);
        var o = Pretrained(PilotFineTuning.LastStage, epochs: 30);
        o.LearningRate = 0.05;
        // A large rate, so the validation loss turns up within a few epochs; layer4 at 0.1 of it keeps the losses small
        // enough that the scores' float probabilities give them back (at LastStage's default 0.3 they reach the hundreds).
        o.BackboneLearningRateScale = 0.1;
        o.EarlyStoppingPatience = 2;
        using var model = ml.Pilot.ImageClassification(o).Fit(train, validation);
        var history = model.TrainingHistory;
        Assert.IsLessThan(30, history.Count, "the patience ran out");
        double best = history.Min(r => r.ValidationLoss!.Value);
        var scored = model.Transform(validation);
        var labels = ml.Data.CreateEnumerable<KeyAndScore>(scored, reuseRowObject: false).ToList();
        double loss = labels.Average(r => -Math.Log(r.Score[r.Label - 1]));
        Assert.AreEqual(best, loss, 1e-4, $"history: {string.Join(", ", history.Select(r => r.ValidationLoss))}");
    }

    [TestMethod]
    public void LastStageWithAugment_IsRejectedNamingAugment()
    {
        var o = Pretrained(PilotFineTuning.LastStage, 1);
        o.Augment = true;
        var e = Assert.ThrowsExactly<ArgumentException>(() => new MLContext(1).Pilot.ImageClassification(o));
        Assert.AreEqual(nameof(Options.Augment), e.ParamName);
        Assert.Contains("FineTuning LastStage", e.Message);
    }

    [TestMethod]
    public void ActivationCache_TooLargeForMemory_IsRefusedWithTheRule()
    {
        // 100,000 images at 1024×1024: 256 × 64 × 64 values each, 390.6 GiB of activations.
        var e = Assert.ThrowsExactly<InvalidOperationException>(() =>
            TrainingLoop.CheckActivationCache(PilotFineTuning.LastStage, ResNetValuesPerImage(1024, 1024), 100_000, 1024, 1024, available: 16L << 30, _ => { }));
        StringAssert.Contains(e.Message, "FineTuning LastStage caches 390.6 GiB");
        StringAssert.Contains(e.Message, "half of the 16.0 GiB");
        StringAssert.Contains(e.Message, "ImageWidth");

        // 20,000 images at 128×128: 64 KiB each, 1.2 GiB: allowed with a warning.
        var warnings = new List<string>();
        TrainingLoop.CheckActivationCache(PilotFineTuning.LastStage, ResNetValuesPerImage(128, 128), 20_000, 128, 128, available: 16L << 30, warnings.Add);
        Assert.HasCount(1, warnings);
        StringAssert.Contains(warnings[0], "1.2 GiB");
        warnings.Clear();
        TrainingLoop.CheckActivationCache(PilotFineTuning.LastStage, ResNetValuesPerImage(64, 64), 20_000, 64, 64, available: 16L << 30, warnings.Add);
        Assert.IsEmpty(warnings, "313 MiB: no warning");
    }

    private static long ResNetValuesPerImage(int height, int width)
    {
        using var network = Backbones.CreateForTraining(PilotArchitecture.PretrainedResNet18, new ImageShape(3, 32, 32), 3, PilotFineTuning.LastStage, null);
        return ((IHeadedNetwork)network).EarlyStagesValuesPerImage(height, width);
    }

    [TestMethod]
    public void Head_EarlyStoppingKeepsTheBestEpochsHead()
    {
        var ml = new MLContext(seed: 1);
        var train = TrainerTestData.SyntheticKeyed(ml, 30, seed: 1);
        var validation = TrainerTestData.SyntheticKeyed(ml, 30, seed: 2);
        var o = Pretrained(PilotFineTuning.Head, epochs: 40);
        o.LearningRate = 0.05; // large enough that validation loss stops falling and the patience runs out
        o.EarlyStoppingPatience = 2;
        using var model = ml.Pilot.ImageClassification(o).Fit(train, validation);
        var history = model.TrainingHistory;
        double best = history.Min(r => r.ValidationLoss!.Value);

        // The returned model's validation loss is the best epoch's, computed here from its scores.
        var scored = model.Transform(validation);
        var labels = ml.Data.CreateEnumerable<KeyAndScore>(scored, reuseRowObject: false).ToList();
        double loss = labels.Average(r => -Math.Log(r.Score[r.Label - 1]));
        Assert.AreEqual(best, loss, 1e-4, $"history: {string.Join(", ", history.Select(r => r.ValidationLoss))}");
    }

    [TestMethod]
    [DataRow(null)]
    [DataRow(PilotFineTuning.LastStage)]
    public void BatchedTransformAndPredictionEngineAgree(PilotFineTuning? fineTuning)
    {
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(40, seed: 1));
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Pilot.ImageClassification(Pretrained(fineTuning, 3))).Fit(rows);
        var test = TrainerTestData.Synthetic(10, seed: 3);
        var batched = ScoredRows.Read(model.Transform(ml.Data.LoadFromEnumerable(test)));
        using var engine = ml.Model.CreatePredictionEngine<SyntheticRow, ScoreOnly>(model);
        for (int i = 0; i < test.Length; i++)
        {
            var single = engine.Predict(test[i]).Score;
            for (int k = 0; k < single.Length; k++)
                Assert.AreEqual(batched[i].Score[k], single[k], 1e-6, $"row {i} class {k}");
        }
        model.LastTransformer.Dispose();
    }

    private sealed class KeyAndScore
    {
        [KeyType(3)]
        public uint Label { get; set; }

        public float[] Score { get; set; } = [];
    }

    private sealed class ScoreOnly
    {
        public float[] Score { get; set; } = [];
    }
}

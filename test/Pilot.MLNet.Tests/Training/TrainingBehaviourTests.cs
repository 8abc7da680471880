using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Images;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;
using Network = TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>;

namespace Pilot.MLNet.Tests.Training;

// Not in parallel with other classes: weight initialisation and dropout draw from TorchSharp's process-wide default
// generator, which other test classes (e.g. the backbone tests) use too; runs of this trainer only coordinate among
// themselves (DefaultGeneratorSession), and these tests compare runs bit for bit.
[TestClass]
[DoNotParallelize]
public sealed class TrainingBehaviourTests
{
    private static float[][] Scores(PilotImageClassificationTransformer model, IDataView data) =>
        ScoredRows.Read(model.Transform(data)).Select(r => r.Score).ToArray();

    private static void AssertSameScores(float[][] expected, float[][] actual, string what)
    {
        Assert.HasCount(expected.Length, actual);
        for (int i = 0; i < expected.Length; i++)
            CollectionAssert.AreEqual(expected[i], actual[i], $"{what}: row {i}");
    }

    [TestMethod]
    public void SameSeedGivesTheSameModelOnTheCpu()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainerTestData.SyntheticKeyed(ml, 120, seed: 1);
        Options Make(int seed) { var o = TrainerTestData.FastOptions(epochs: 2, seed: seed); o.Augment = true; return o; }
        using var a = ml.Pilot.ImageClassification(Make(11)).Fit(data);
        using var b = ml.Pilot.ImageClassification(Make(11)).Fit(data);
        using var c = ml.Pilot.ImageClassification(Make(12)).Fit(data);
        AssertSameScores(Scores(a, data), Scores(b, data), "same seed");
        Assert.AreEqual(a.TrainingHistory[^1].TrainLoss, b.TrainingHistory[^1].TrainLoss);
        Assert.AreNotEqual(a.TrainingHistory[^1].TrainLoss, c.TrainingHistory[^1].TrainLoss, "a different seed should give a different run");
    }

    [TestMethod]
    public void ConcurrentRunsDoNotDisturbEachOther()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainerTestData.SyntheticKeyed(ml, 120, seed: 1);
        PilotImageClassificationTransformer Train(int seed) => ml.Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 2, seed: seed)).Fit(data);
        using var a = Train(21);
        using var b = Train(22);
        var parallel = Task.WhenAll(Task.Run(() => Train(21)), Task.Run(() => Train(22))).GetAwaiter().GetResult();
        using var a2 = parallel[0];
        using var b2 = parallel[1];
        AssertSameScores(Scores(a, data), Scores(a2, data), "seed 21, alone vs concurrent");
        AssertSameScores(Scores(b, data), Scores(b2, data), "seed 22, alone vs concurrent");
    }

    /// <summary>Records what <see cref="Pilot.MLNet.Training.ITrainingObserver"/> is told.</summary>
    private sealed class RecordingObserver : Pilot.MLNet.Training.ITrainingObserver
    {
        public long TotalSteps = -1;
        public int StartImages;
        public readonly List<long> Steps = [];
        public readonly List<float> FirstWeight = [];

        private static float First(Network network)
            => network.parameters().First().flatten()[0].item<float>();

        public void OnStart(Network network, InMemoryImageSet train, long totalSteps)
        {
            TotalSteps = totalSteps;
            StartImages = train.Count;
            FirstWeight.Add(First(network));
        }

        public void OnStep(long step, Network network)
        {
            Steps.Add(step);
            FirstWeight.Add(First(network));
        }
    }

    [TestMethod]
    public void Observer_SeesTheStartAndEveryStep_AndChangesNothing()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainerTestData.SyntheticKeyed(ml, 70, seed: 1); // 70 rows, batch 32: 3 steps per epoch
        var observer = new RecordingObserver();
        var watched = TrainerTestData.FastOptions(epochs: 2, seed: 31);
        watched.Observer = observer;
        using var a = ml.Pilot.ImageClassification(watched).Fit(data);
        using var b = ml.Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 2, seed: 31)).Fit(data);

        Assert.AreEqual(6L, observer.TotalSteps);
        Assert.AreEqual(70, observer.StartImages);
        CollectionAssert.AreEqual(new long[] { 1, 2, 3, 4, 5, 6 }, observer.Steps);
        Assert.AreNotEqual(observer.FirstWeight[0], observer.FirstWeight[1], "the network it is shown after a step has been updated");
        AssertSameScores(Scores(b, data), Scores(a, data), "with and without an observer");
    }

    [TestMethod]
    public void SeedDefaultsToTheMLContextSeed()
    {
        var data = TrainerTestData.SyntheticKeyed(new MLContext(seed: 1), 60, seed: 1);
        PilotImageClassificationTransformer Train(int contextSeed)
        {
            var o = TrainerTestData.FastOptions(epochs: 1);
            o.Seed = null;
            return new MLContext(seed: contextSeed).Pilot.ImageClassification(o).Fit(data);
        }
        using var a = Train(5);
        using var b = Train(5);
        using var c = Train(6);
        Assert.AreEqual(a.TrainingHistory[0].TrainLoss, b.TrainingHistory[0].TrainLoss);
        Assert.AreNotEqual(a.TrainingHistory[0].TrainLoss, c.TrainingHistory[0].TrainLoss);
    }

    [TestMethod]
    public void ValidationMetricsCoverTheWholeValidationSet()
    {
        var ml = new MLContext(seed: 1);
        var train = TrainerTestData.SyntheticKeyed(ml, 90, seed: 1);
        var validation = TrainerTestData.SyntheticKeyed(ml, 50, seed: 2); // 50 = one batch of 32 and one of 18
        var reports = new List<PilotEpochReport>();
        var options = TrainerTestData.FastOptions(epochs: 2);
        options.ProgressCallback = reports.Add;
        using var model = ml.Pilot.ImageClassification(options).Fit(train, validation);

        CollectionAssert.AreEqual(model.TrainingHistory.ToArray(), reports.ToArray());
        Assert.AreEqual(2, reports.Count);
        var last = reports[^1];
        // The last epoch's validation metrics are those of the final model on all 50 rows.
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(validation));
        Assert.AreEqual(metrics.MicroAccuracy, last.ValidationAccuracy!.Value, 1e-9);
        Assert.AreEqual(metrics.LogLoss, last.ValidationLoss!.Value, 1e-4);
        Assert.AreEqual(Math.Round(last.ValidationAccuracy.Value * 50), last.ValidationAccuracy.Value * 50, 1e-9, "accuracy is a count over 50 rows");
        Assert.AreEqual(Math.Round(last.TrainAccuracy * 90), last.TrainAccuracy * 90, 1e-9, "train accuracy is a count over 90 rows");
        Assert.IsTrue(last.Seconds > 0 && last.ImagesPerSecond > 0);
    }

    [TestMethod]
    public void BatchProgressIsReportedForEveryBatch()
    {
        var ml = new MLContext(seed: 1);
        var batches = new List<PilotBatchProgress>();
        var options = TrainerTestData.FastOptions(epochs: 2);
        options.BatchProgressCallback = batches.Add;
        using var model = ml.Pilot.ImageClassification(options).Fit(TrainerTestData.SyntheticKeyed(ml, 70, seed: 1)); // 3 batches of 32
        CollectionAssert.AreEqual(new[] { (1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3) }, batches.Select(b => (b.Epoch, b.Batch)).ToArray());
        Assert.IsTrue(batches.All(b => b.BatchCount == 3 && b.Epochs == 2 && double.IsFinite(b.RunningLoss) && b.RunningLoss > 0));
        Assert.AreEqual(model.TrainingHistory[0].TrainLoss, batches[2].RunningLoss, 1e-12, "the last running loss of an epoch is its mean loss");
    }

    [TestMethod]
    public void EarlyStoppingStopsAnOverfittingRunAndKeepsTheBestWeights()
    {
        // Random labels: the network can only memorise the training rows, so validation loss rises after the first epochs.
        var ml = new MLContext(seed: 1);
        var random = new Random(3);
        SyntheticRow[] Shuffled(int n, int seed) => TrainerTestData.Synthetic(n, seed).Select(r => new SyntheticRow
        {
            Image = r.Image, Label = ((char)('a' + random.Next(4))).ToString(),
        }).ToArray();
        var map = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(Shuffled(200, 1)));
        var train = map.Transform(ml.Data.LoadFromEnumerable(Shuffled(64, 1)));
        var validation = map.Transform(ml.Data.LoadFromEnumerable(Shuffled(64, 2)));
        var options = TrainerTestData.FastOptions(epochs: 40);
        options.LearningRate = 1e-2;
        options.EarlyStoppingPatience = 3;
        using var model = ml.Pilot.ImageClassification(options).Fit(train, validation);

        var history = model.TrainingHistory;
        Assert.IsLessThan(40, history.Count, "early stopping should end the run before 40 epochs");
        int best = Enumerable.Range(0, history.Count).MinBy(i => history[i].ValidationLoss!.Value);
        Assert.AreEqual(history.Count - 1 - 3, best, "the run stops 3 epochs after the best one");
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(validation));
        Assert.AreEqual(history[best].ValidationLoss!.Value, metrics.LogLoss, 1e-4, "the model keeps the best epoch's weights");
    }

    [TestMethod]
    [DynamicData(nameof(TrainerTestData.EveryOptimizer), typeof(TrainerTestData))]
    public void CheckpointResumeContinuesAndMatchesAnUninterruptedRun(PilotOptimizerKind optimizer)
    {
        var ml = new MLContext(seed: 1);
        var train = TrainerTestData.SyntheticKeyed(ml, 100, seed: 1);
        var validation = TrainerTestData.SyntheticKeyed(ml, 30, seed: 2);
        Options Make(string? directory)
        {
            var o = TrainerTestData.FastOptions(epochs: 3);
            o.Optimizer = optimizer;
            o.Augment = true;          // the augmentation generator must resume too
            o.WarmupEpochs = 1;
            o.CheckpointDirectory = directory;
            return o;
        }
        using var uninterrupted = ml.Pilot.ImageClassification(Make(null)).Fit(train, validation);

        using var folder = new TestFolder();
        var interrupted = Make(folder.Path);
        interrupted.ProgressCallback = r => { if (r.Epoch == 1) throw new OperationCanceledException("stop after epoch 1"); };
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.Pilot.ImageClassification(interrupted).Fit(train, validation));
        Assert.IsTrue(File.Exists(Path.Combine(folder.Path, "pilot-checkpoint.bin")));

        var resumedEpochs = new List<int>();
        var resume = Make(folder.Path);
        resume.ProgressCallback = r => resumedEpochs.Add(r.Epoch);
        using var resumed = ml.Pilot.ImageClassification(resume).Fit(train, validation);

        CollectionAssert.AreEqual(new[] { 2, 3 }, resumedEpochs, "the resumed run trains epochs 2 and 3 only");
        Assert.HasCount(3, resumed.TrainingHistory);
        for (int i = 0; i < 3; i++)
        {
            Assert.AreEqual(uninterrupted.TrainingHistory[i].TrainLoss, resumed.TrainingHistory[i].TrainLoss, $"epoch {i + 1} train loss");
            Assert.AreEqual(uninterrupted.TrainingHistory[i].ValidationLoss, resumed.TrainingHistory[i].ValidationLoss, $"epoch {i + 1} validation loss");
        }
        AssertSameScores(Scores(uninterrupted, validation), Scores(resumed, validation), "resumed vs uninterrupted");
        Assert.AreEqual(uninterrupted.Policy, resumed.Policy, "the PILOT policy resumes too");

        // A finished checkpoint gives the final model back without training.
        var again = Make(folder.Path);
        again.ProgressCallback = r => Assert.Fail("nothing should be trained");
        using var reloaded = ml.Pilot.ImageClassification(again).Fit(train, validation);
        AssertSameScores(Scores(uninterrupted, validation), Scores(reloaded, validation), "finished checkpoint");
    }

    [TestMethod]
    public void CheckpointOfAnotherSetUpIsNotResumed()
    {
        var ml = new MLContext(seed: 1);
        var train = TrainerTestData.SyntheticKeyed(ml, 40, seed: 1);
        using var folder = new TestFolder();
        var first = TrainerTestData.FastOptions(epochs: 1);
        first.CheckpointDirectory = folder.Path;
        ml.Pilot.ImageClassification(first).Fit(train).Dispose();

        var second = TrainerTestData.FastOptions(epochs: 1);
        second.CheckpointDirectory = folder.Path;
        second.BatchSize = 16;
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Pilot.ImageClassification(second).Fit(train));
        StringAssert.Contains(e.Message, "BatchSize was 32, now 16");
    }
}

using Microsoft.ML;
using Pilot.TorchSharp;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;

namespace Pilot.MLNet.Tests.Training;

[TestClass]
public sealed class OptimizerChoiceTests
{
    [TestMethod]
    [DynamicData(nameof(TrainerTestData.EveryOptimizer), typeof(TrainerTestData))]
    public void EveryOptimizerTrains(PilotOptimizerKind optimizer)
    {
        var ml = new MLContext(seed: 1);
        var options = TrainerTestData.FastOptions(epochs: 3);
        options.Optimizer = optimizer;
        if (optimizer == PilotOptimizerKind.Lion)
            options.LearningRate = 3e-4; // Lion's sign updates want a smaller step
        using var model = ml.Pilot.ImageClassification(options).Fit(TrainerTestData.SyntheticKeyed(ml, 150, seed: 1));
        var history = model.TrainingHistory;
        Assert.IsLessThan(history[0].TrainLoss, history[^1].TrainLoss, $"{optimizer}: the training loss should fall");
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(TrainerTestData.SyntheticKeyed(ml, 60, seed: 2)));
        Assert.IsGreaterThan(0.8, metrics.MicroAccuracy, $"{optimizer}");

        bool pilot = optimizer == PilotOptimizerKind.Pilot;
        Assert.AreEqual(pilot, model.Policy is not null, "only PILOT learns a policy");
        foreach (var r in history)
        {
            Assert.AreEqual(pilot, r.MeanPm.HasValue && r.MeanPv.HasValue && r.MeanPs.HasValue && r.Rho.HasValue, $"epoch {r.Epoch} knobs");
            if (pilot)
            {
                Assert.IsTrue(r.MeanPm is > 0 and < 1 && r.MeanPv is > 0 and < 0.5 && r.MeanPs is > 0 and < 1 && r.Rho is >= -1 and <= 1, r.ToString());
            }
        }
    }

    [TestMethod]
    public void FrozenInitialPolicyIsKeptAndSavedWithTheModel()
    {
        var ml = new MLContext(seed: 1);
        var initial = new PilotPolicy(1, [0.5, 1.0, -0.25, 2.5, 0.0, -1.5]);
        var options = TrainerTestData.FastOptions(epochs: 2);
        options.InitialPolicy = initial;
        options.FreezePolicy = true;
        options.PolicyDegree = 3; // ignored: the initial policy's degree wins
        var data = TrainerTestData.SyntheticKeyed(ml, 60, seed: 1);
        using var model = ml.Pilot.ImageClassification(options).Fit(data);
        Assert.AreEqual(initial, model.Policy, "a frozen policy does not change");
        var (pm, pv, ps) = initial.Evaluate(model.TrainingHistory[^1].Rho!.Value);
        Assert.AreEqual(pm, model.TrainingHistory[^1].MeanPm!.Value, 0.05, "the knobs follow the frozen policy");

        using var folder = new TestFolder();
        ml.Model.Save(model, data.Schema, folder.File("model.zip"));
        var loaded = (PilotImageClassificationTransformer)new MLContext().Model.Load(folder.File("model.zip"), out _);
        using (loaded)
            Assert.AreEqual(initial, loaded.Policy);
    }

    [TestMethod]
    public void LearnedPolicyMovesWhenNotFrozen()
    {
        var ml = new MLContext(seed: 1);
        using var model = ml.Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 2)).Fit(TrainerTestData.SyntheticKeyed(ml, 90, seed: 1));
        Assert.IsNotNull(model.Policy);
        Assert.AreEqual(PilotImageClassificationDefaults.PolicyDegree, model.Policy.Degree);
        Assert.AreNotEqual(PilotPolicy.Default(), model.Policy, "η_φ > 0: the policy learns");
    }

    [TestMethod]
    public void SophiaRefreshesItsHessianEveryTenStepsThroughTheStepHook()
    {
        // 100 images in batches of 8: 13 steps per epoch, 26 in two epochs; k = 10 gives refreshes after steps 10 and 20
        // (the second one in the middle of epoch 2: the step count runs over epochs).
        Assert.AreEqual(10, SophiaDefaults.HessianInterval);
        var ml = new MLContext(seed: 1);
        var refreshes = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("Hessian estimate refreshed")) lock (refreshes) refreshes.Add(e.Message); };
        var options = TrainerTestData.FastOptions(epochs: 2);
        options.Optimizer = PilotOptimizerKind.Sophia;
        options.BatchSize = 8;
        ml.Pilot.ImageClassification(options).Fit(TrainerTestData.SyntheticKeyed(ml, 100, seed: 1)).Dispose();
        CollectionAssert.AreEqual(new[] { "after step 10.", "after step 20." }, refreshes.Select(m => m[m.IndexOf("after", StringComparison.Ordinal)..]).ToArray(),
            string.Join(" | ", refreshes));

        // Other optimizers have no step hook.
        refreshes.Clear();
        options.Optimizer = PilotOptimizerKind.AdamW;
        ml.Pilot.ImageClassification(options).Fit(TrainerTestData.SyntheticKeyed(ml, 100, seed: 1)).Dispose();
        Assert.IsEmpty(refreshes);
    }
}

using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;

namespace Pilot.MLNet.Tests;

[TestClass]
public sealed class CatalogAndOptionsTests
{
    private static readonly FieldInfo[] OptionFields = typeof(Options).GetFields(BindingFlags.Public | BindingFlags.Instance);

    private static void AssertSameOptions(Options expected, Options actual)
    {
        foreach (var field in OptionFields)
            Assert.AreEqual(field.GetValue(expected), field.GetValue(actual), $"Options.{field.Name}");
    }

    [TestMethod]
    public void NoArgumentOverloadEqualsDefaultOptions()
    {
        var ml = new MLContext(seed: 1);
        AssertSameOptions(new Options(), ml.Pilot.ImageClassification().GetOptions());
        AssertSameOptions(new Options(), ml.Pilot.ImageClassification(new Options()).GetOptions());
    }

    [TestMethod]
    public void SimpleOverloadPassesEveryArgument()
    {
        var ml = new MLContext(seed: 1);
        var validation = ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(3, seed: 1));
        var options = ml.Pilot.ImageClassification("L", "I", "S", "P", validation).GetOptions();
        AssertSameOptions(new Options
        {
            LabelColumnName = "L", ImageColumnName = "I", ScoreColumnName = "S", PredictedLabelColumnName = "P", ValidationSet = validation,
        }, options);
    }

    [TestMethod]
    public void DefaultsAreTheDocumentedOnes()
    {
        // The values the issue and docs/usage.md promise.
        var o = new Options();
        Assert.AreEqual("Label", o.LabelColumnName);
        Assert.AreEqual("Image", o.ImageColumnName);
        Assert.AreEqual("Score", o.ScoreColumnName);
        Assert.AreEqual("PredictedLabel", o.PredictedLabelColumnName);
        Assert.AreEqual(PilotArchitecture.ResNet18, o.Architecture);
        Assert.IsNull(o.Epochs, "epochs: the fine-tuning mode's");
        Assert.AreEqual(30, o.EpochsToTrain, "30 for a network trained from scratch");
        Assert.AreEqual(100, new Options { Architecture = PilotArchitecture.PretrainedResNet18 }.EpochsToTrain, "100 when only the head trains");
        Assert.AreEqual(30, new Options { Architecture = PilotArchitecture.PretrainedResNet18, FineTuning = PilotFineTuning.LastStage }.EpochsToTrain);
        Assert.IsNull(o.BackboneLearningRateScale, "the backbone's learning-rate factor: the fine-tuning mode's");
        Assert.AreEqual(0.1, PilotImageClassificationDefaults.BackboneLearningRateScaleFor(PilotFineTuning.Full));
        Assert.AreEqual(0.3, PilotImageClassificationDefaults.BackboneLearningRateScaleFor(PilotFineTuning.LastStage));
        Assert.AreEqual(128, o.BatchSize);
        Assert.AreEqual(1e-3, o.LearningRate);
        Assert.AreEqual(1e-4, o.WeightDecay);
        Assert.AreEqual(PilotOptimizerKind.Pilot, o.Optimizer);
        Assert.IsNull(o.Beta1, "β1: each optimizer's own default");
        Assert.IsNull(o.Beta2, "β2: each optimizer's own default");
        Assert.AreEqual(0.95, o.Gamma);
        Assert.AreEqual(0.01, o.EtaPhi);
        Assert.AreEqual(2, o.PolicyDegree);
        Assert.IsNull(o.InitialPolicy);
        Assert.IsFalse(o.FreezePolicy);
        Assert.AreEqual(0, o.WarmupEpochs);
        Assert.IsFalse(o.Augment);
        Assert.IsNull(o.ImageWidth);
        Assert.IsNull(o.ImageHeight);
        Assert.IsNull(o.ImageShape);
        Assert.IsNull(o.ValidationSet);
        Assert.IsNull(o.EarlyStoppingPatience);
        Assert.IsNull(o.Seed);
        Assert.IsNull(o.ProgressCallback);
        Assert.IsNull(o.BatchProgressCallback);
        Assert.IsNull(o.CheckpointDirectory);
    }

    [TestMethod]
    public void EveryOptionHasHelpText()
    {
        foreach (var field in OptionFields)
        {
            var attribute = field.GetCustomAttribute<PilotOptionAttribute>();
            Assert.IsNotNull(attribute, $"Options.{field.Name} lacks [PilotOption]");
            Assert.IsFalse(string.IsNullOrWhiteSpace(attribute.HelpText), $"Options.{field.Name} has empty help text");
        }
    }

    [TestMethod]
    public void TrainerCopiesOptionsAndNeverWritesThem()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainerTestData.SyntheticKeyed(ml, 60, seed: 1);
        var options = TrainerTestData.FastOptions(epochs: 1);
        options.ValidationSet = data;
        var before = (Options)typeof(Options).GetMethod("MemberwiseClone", BindingFlags.NonPublic | BindingFlags.Instance)!.Invoke(options, null)!;

        var trainer = ml.Pilot.ImageClassification(options);
        options.Epochs = 5;           // a later change by the caller ...
        options.ScoreColumnName = "Other";
        Assert.AreEqual(1, trainer.GetOptions().Epochs); // ... does not reach the trainer
        using var model = trainer.Fit(data);
        Assert.HasCount(1, model.TrainingHistory);
        Assert.AreEqual("Score", model.ScoreColumnName);

        options.Epochs = before.Epochs;
        options.ScoreColumnName = before.ScoreColumnName;
        AssertSameOptions(before, options); // Fit wrote nothing into the caller's object
    }

    public static IEnumerable<object[]> BadOptions =>
    [
        [nameof(Options.Epochs), 0, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.Epochs), 100_001, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.BatchSize), 0, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.LearningRate), 0.0, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.LearningRate), double.NaN, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.WeightDecay), -1e-3, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.Beta1), 1.0, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.Beta2), -0.1, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.Gamma), 1.5, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.EtaPhi), double.PositiveInfinity, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.PolicyDegree), 0, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.WarmupEpochs), 31, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.ImageWidth), 0, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.ImageHeight), 5000, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.ImageShape), new ImageShape(2, 8, 8), typeof(ArgumentOutOfRangeException)],
        [nameof(Options.EarlyStoppingPatience), 0, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.Architecture), (PilotArchitecture)42, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.Optimizer), (PilotOptimizerKind)42, typeof(ArgumentOutOfRangeException)],
        [nameof(Options.LabelColumnName), null!, typeof(ArgumentNullException)],
        [nameof(Options.ImageColumnName), " ", typeof(ArgumentException)],
        [nameof(Options.CheckpointDirectory), "", typeof(ArgumentException)],
    ];

    [TestMethod]
    [DynamicData(nameof(BadOptions))]
    public void BadOptionThrowsNamingIt(string option, object value, Type exceptionType)
    {
        var options = new Options();
        typeof(Options).GetField(option)!.SetValue(options, value);
        var ml = new MLContext(seed: 1);
        var e = Assert.Throws<ArgumentException>(() => ml.Pilot.ImageClassification(options));
        Assert.AreEqual(exceptionType, e.GetType(), e.Message);
        Assert.AreEqual(option, e.ParamName);
        StringAssert.Contains(e.Message, option);
    }

    [TestMethod]
    public void SameNameForScoreAndPredictedLabelIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            new MLContext().Pilot.ImageClassification(new Options { ScoreColumnName = "X", PredictedLabelColumnName = "X" }));
        Assert.AreEqual(nameof(Options.PredictedLabelColumnName), e.ParamName);
    }
}

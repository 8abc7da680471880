using System.Globalization;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet;
using Pilot.MLNet.Data;
using Pilot.MLNet.ModelFile;
using Pilot.MLNet.Tests.Fixtures;
using Pilot.TorchSharp;

namespace Pilot.MLNet.Tests.ModelFile;

/// <summary>The training options a model records (<see cref="PilotImageClassificationTransformer.TrainingOptions"/>), which codegen spells out.</summary>
[TestClass]
public sealed class TrainingOptionsRecordTests
{
    private static TestFolder? _folder;
    private static string _pixelModel = "";

    /// <summary>The options <see cref="_pixelModel"/> was trained with: the <c>pilot train</c> shape, with non-default values.</summary>
    private static readonly PilotImageClassificationTrainer.Options PixelModelOptions = SmallPixelModel.Options();

    /// <summary>Trains <see cref="SmallPixelModel"/> once for the class.</summary>
    [ClassInitialize]
    public static void TrainOnce(TestContext _)
    {
        _folder = new TestFolder();
        _pixelModel = _folder.File("pixel-model.zip");
        SmallPixelModel.TrainAndSave(PixelModelOptions, _pixelModel);
    }

    [ClassCleanup]
    public static void Cleanup() => _folder?.Dispose();

    [TestMethod]
    public void SavedModel_RecordsEveryValueOption_AndItsColumns()
    {
        var recorded = Classifier(_pixelModel).TrainingOptions;
        Assert.IsNotNull(recorded);
        var given = PixelModelOptions;
        foreach (var field in TrainingOptionsFormat.RecordedFields)
            Assert.AreEqual(Describe(field.GetValue(given)), Describe(field.GetValue(recorded)), field.Name);
        Assert.AreEqual("Label", recorded.LabelColumnName);
        Assert.AreEqual("Image", recorded.ImageColumnName);
        Assert.IsNull(recorded.ValidationSet);
        Assert.IsNull(recorded.ProgressCallback);
        Assert.IsNull(recorded.CheckpointDirectory);
    }

    [TestMethod]
    public void WithoutASeedOption_TheMLContextSeedIsRecorded()
    {
        var ml = new MLContext(seed: 4242);
        var sample = PilotDatasets.EmbeddedFashionMnist(ml, train: false);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(sample.Data).Transform(ml.Data.TakeRows(sample.Data, 20));
        using var model = ml.Pilot.ImageClassification(new PilotImageClassificationTrainer.Options
        {
            Architecture = PilotArchitecture.SmallCnn, Epochs = 1, BatchSize = 10, ImageShape = sample.Shape,
        }).Fit(data);
        Assert.AreEqual(4242, model.TrainingOptions!.Seed);
    }

    [TestMethod]
    public void TrainingOptions_IsACopy()
    {
        var classifier = Classifier(_pixelModel);
        classifier.TrainingOptions!.Epochs = 999;
        Assert.AreEqual(PixelModelOptions.Epochs, classifier.TrainingOptions!.Epochs);
    }

    [TestMethod]
    public void Format_RoundTripsNonDefaultValuesOfEveryRecordedOption()
    {
        var options = new PilotImageClassificationTrainer.Options
        {
            Architecture = PilotArchitecture.ResNet34, FineTuning = PilotFineTuning.Full, BackboneLearningRateScale = 0.5,
            Epochs = 3, BatchSize = 5, LearningRate = 1.5e-5, WeightDecay = 0.25,
            Optimizer = PilotOptimizerKind.AdaBelief, Beta1 = 0.5, Beta2 = 0.75, Gamma = 0.125, EtaPhi = 0.0625, PolicyDegree = 3,
            InitialPolicy = PilotPolicy.Default(3), FreezePolicy = true, WarmupEpochs = 2, Augment = true, ImageWidth = 40,
            ImageHeight = 24, ImageShape = new ImageShape(3, 24, 40), EarlyStoppingPatience = 4, Seed = -17,
        };
        var read = TrainingOptionsFormat.Read(TrainingOptionsFormat.Write(options));
        var defaults = new PilotImageClassificationTrainer.Options();
        foreach (var field in TrainingOptionsFormat.RecordedFields)
        {
            Assert.AreNotEqual(Describe(field.GetValue(defaults)), Describe(field.GetValue(options)), $"the test must set {field.Name} to a non-default value");
            Assert.AreEqual(Describe(field.GetValue(options)), Describe(field.GetValue(read)), field.Name);
        }
    }

    [TestMethod]
    public void Format_RecordsEveryOptionExceptColumnsDataCallbacksAndPaths()
    {
        var all = typeof(PilotImageClassificationTrainer.Options).GetFields(BindingFlags.Public | BindingFlags.Instance).Select(f => f.Name);
        var columns = new[] { "LabelColumnName", "ImageColumnName", "ScoreColumnName", "PredictedLabelColumnName" };
        CollectionAssert.AreEquivalent(all.Except(columns).Except(TrainingOptionsFormat.Unrecorded).ToArray(),
            TrainingOptionsFormat.RecordedFields.Select(f => f.Name).ToArray());
        // Every recorded option can be written (a new option of a new type fails here, not when a user saves a model).
        TrainingOptionsFormat.Write(new PilotImageClassificationTrainer.Options());
    }

    [TestMethod]
    public void Format_MissingPropertiesKeepDefaults_UnknownOnesAreIgnored()
    {
        var read = TrainingOptionsFormat.Read("""{ "Epochs": 7, "SomeFutureOption": [1, 2] }""");
        Assert.AreEqual(7, read.Epochs);
        Assert.AreEqual(PilotImageClassificationDefaults.BatchSize, read.BatchSize);
    }

    [TestMethod]
    [DataRow("""[1, 2]""", "not a JSON object")]
    [DataRow("""{ "Architecture": "ResNet99" }""", "ResNet99")]
    [DataRow("""{ "Epochs": "many" }""", "TrainingOptions.json")]
    [DataRow("""{ "BatchSize": null }""", "BatchSize is null")]
    [DataRow("""{ "Epochs": 1""", "TrainingOptions.json")]
    public void Format_InvalidText_ThrowsInvalidDataNamingTheStream(string json, string expected)
    {
        var e = Assert.ThrowsExactly<InvalidDataException>(() => TrainingOptionsFormat.Read(json));
        StringAssert.Contains(e.Message, expected);
    }

    private static PilotImageClassificationTransformer Classifier(string modelPath)
    {
        var model = new MLContext().Model.Load(modelPath, out _);
        return ((IEnumerable<ITransformer>)model).OfType<PilotImageClassificationTransformer>().Single();
    }

    private static string Describe(object? value) => value switch
    {
        null => "null",
        PilotPolicy policy => policy.ToJson(),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}

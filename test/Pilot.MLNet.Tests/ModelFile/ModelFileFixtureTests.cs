using System.Globalization;
using Microsoft.ML;
using Pilot.MLNet.Data;

namespace Pilot.MLNet.Tests.ModelFile;

/// <summary>
/// Format stability of the model file: <c>Fixtures/smallcnn-pilot-v00010002.zip</c> was written by the model format version
/// 0x00010002 (the transformer's <c>verWrittenCur</c> when it was committed) and must keep loading and scoring as it did.
/// <c>Fixtures/smallcnn-pilot-v00010002.scores.txt</c> holds the scores the writing process computed before saving.
/// Regenerate both (only when the model format changes, keeping the old files and adding new ones under the new version's
/// name) with <c>PILOT_WRITE_FIXTURES=test/Pilot.MLNet.Tests/Fixtures dotnet test test/Pilot.MLNet.Tests -c Release
/// --filter ModelFileFixtureTests</c>.
/// </summary>
[TestClass]
public sealed class ModelFileFixtureTests
{
    private const string ModelName = "smallcnn-pilot-v00010002.zip";
    private const string ScoresName = "smallcnn-pilot-v00010002.scores.txt";

    /// <summary>Training rows of the fixture: the first 64 images of the embedded FashionMNIST training subset.</summary>
    private const int TrainRows = 64;

    /// <summary>Scored rows: the first 12 images of the embedded FashionMNIST test subset.</summary>
    private const int ScoredRowCount = 12;

    /// <summary>
    /// Scores of another process or CPU may differ in the last bits (libtorch picks kernels by instruction set); a format
    /// change (a weight read into the wrong place, a lost normalisation) moves them by far more.
    /// </summary>
    private const float ScoreTolerance = 1e-5f;

    /// <summary>
    /// The run that produced the fixture: SmallCnn at 8×8 (a small file: about 52,000 parameters), PILOT, one epoch of two
    /// batches, seed 5, through the usual pipeline (<c>MapValueToKey</c>, then the trainer), so that the file holds label key
    /// values, a training history, a learned policy and the recorded training options.
    /// </summary>
    private static (ITransformer Model, IDataView TrainData) Train(MLContext ml)
    {
        var train = PilotDatasets.EmbeddedFashionMnist(ml, train: true);
        var rows = ml.Data.TakeRows(train.Data, TrainRows);
        var options = new PilotImageClassificationTrainer.Options
        {
            Architecture = PilotArchitecture.SmallCnn,
            Epochs = 1,
            BatchSize = TrainRows / 2,
            LearningRate = 3e-3,
            ImageShape = train.Shape,
            ImageWidth = 8,
            ImageHeight = 8,
            Seed = 5,
        };
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Pilot.ImageClassification(options));
        return (pipeline.Fit(rows), rows);
    }

    private static IDataView ScoredData(MLContext ml)
        => ml.Data.TakeRows(PilotDatasets.EmbeddedFashionMnist(ml, train: false).Data, ScoredRowCount);

    [TestMethod]
    public void TodaysModelFileLoadsAndScoresAsWhenItWasWritten()
    {
        if (Environment.GetEnvironmentVariable("PILOT_WRITE_FIXTURES") is { Length: > 0 } dir)
            WriteFixture(dir);

        var ml = new MLContext(seed: 1) { GpuDeviceId = -1, FallbackToCpu = true };
        string folder = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        var expected = ReadScores(Path.Combine(folder, ScoresName));
        var model = ml.Model.Load(Path.Combine(folder, ModelName), out var inputSchema);
        try
        {
            Assert.IsNotNull(inputSchema.GetColumnOrNull("Image"), "the file keeps the schema it was trained on");
            var classifier = ((IEnumerable<ITransformer>)model).OfType<PilotImageClassificationTransformer>().Single();
            Assert.AreEqual(PilotArchitecture.SmallCnn, classifier.Architecture);
            Assert.AreEqual(new ImageShape(1, 8, 8), classifier.InputShape);
            CollectionAssert.AreEquivalent(PilotDatasets.FashionMnistClassNames.ToArray(), classifier.ClassNames.ToArray(), "key values, in the order MapValueToKey met them");
            Assert.HasCount(1, classifier.TrainingHistory);
            Assert.IsNotNull(classifier.Policy, "trained with PILOT: the learned policy is in the file");
            Assert.IsNotNull(classifier.TrainingOptions, "the file records its training options");
            Assert.AreEqual(5, classifier.TrainingOptions.Seed);
            Assert.AreEqual(TrainRows / 2, classifier.TrainingOptions.BatchSize);

            var actual = ScoredRows.Read(model.Transform(ScoredData(ml)));
            Assert.HasCount(expected.Count, actual);
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.AreEqual(expected[i].Predicted, actual[i].Predicted, $"row {i}: predicted class");
                Assert.HasCount(expected[i].Score.Length, actual[i].Score, $"row {i}");
                for (int c = 0; c < expected[i].Score.Length; c++)
                    Assert.AreEqual(expected[i].Score[c], actual[i].Score[c], ScoreTolerance, $"row {i}, class {c}");
            }
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>Trains the fixture's model, saves it and the scores it computes (before saving) into <paramref name="dir"/>.</summary>
    private static void WriteFixture(string dir)
    {
        var ml = new MLContext(seed: 1) { GpuDeviceId = -1, FallbackToCpu = true };
        var (model, trainData) = Train(ml);
        try
        {
            var scores = ScoredRows.Read(model.Transform(ScoredData(ml)));
            Directory.CreateDirectory(dir);
            ml.Model.Save(model, trainData.Schema, Path.Combine(dir, ModelName));
            var lines = new List<string>
            {
                "# Scores of Fixtures/" + ModelName + " on the first " + ScoredRowCount + " embedded FashionMNIST test images, computed by the",
                "# process that trained it, before saving (ModelFileFixtureTests). One row per line: predicted key, then the scores.",
            };
            lines.AddRange(scores.Select(s => s.Predicted.ToString(CultureInfo.InvariantCulture) + " "
                + string.Join(" ", s.Score.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
            File.WriteAllLines(Path.Combine(dir, ScoresName), lines);
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    private static List<(uint Predicted, float[] Score)> ReadScores(string path)
        => File.ReadAllLines(path).Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split(' '))
            .Select(p => (uint.Parse(p[0], CultureInfo.InvariantCulture), p.Skip(1).Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()))
            .ToList();
}

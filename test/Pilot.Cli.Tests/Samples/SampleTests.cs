using System.Globalization;
using Microsoft.ML;
using Pilot.Cli.Tests.Codegen;
using Pilot.TorchSharp;

namespace Pilot.Cli.Tests.Samples;

/// <summary>
/// Runs the file-based apps in <c>samples/</c> as a user would (<c>dotnet run samples/x.cs</c> from the repository root), with
/// small settings through their environment variables. The first run also builds Pilot.MLNet in Debug (about a minute on two
/// cores); later runs reuse it. One at a time, like the codegen round trip, because they share that build output.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class SampleTests
{
    [TestMethod]
    [Timeout(900_000, CooperativeCancellation = true)]
    public void TrainFolder_ThenScore_WriteModelAndCsvOfTheModelsPredictions()
    {
        string output = CodegenFixtures.NewFolder();
        var environment = new Dictionary<string, string>
        {
            ["PILOT_SAMPLE_OUTPUT"] = output,
            ["PILOT_SAMPLE_EPOCHS"] = "1",
            ["PILOT_SAMPLE_IMAGES_PER_CLASS"] = "10",
        };
        var train = RunSample("train-folder.cs", environment);
        Assert.AreEqual(0, train.ExitCode, train.Output);
        string model = Path.Combine(output, "model.zip");
        Assert.IsTrue(File.Exists(model), $"train-folder.cs wrote no {model}:\n{train.Output}");
        StringAssert.Contains(train.Output, "Wrote 100 FashionMNIST images (10 per class)");
        StringAssert.Contains(train.Output, "features of every image computed");
        StringAssert.Contains(train.Output, "epoch 1/1: loss");
        StringAssert.Contains(train.Output, "macro-F1");
        StringAssert.Contains(train.Output, "Confusion table");

        environment["PILOT_SAMPLE_IMAGES_PER_CLASS"] = "3";
        environment["PILOT_SAMPLE_BATCH_SIZE"] = "7"; // several batches, the last one short
        var score = RunSample("score.cs", environment);
        Assert.AreEqual(0, score.ExitCode, score.Output);
        StringAssert.Contains(score.Output, "Scored 30 images");

        // The CSV: a header, then per image its path, the predicted label and the top 3 labels with their probabilities,
        // which are the model's own (scored here, in this process).
        string images = Path.Combine(output, "test-images");
        var rows = File.ReadAllLines(Path.Combine(output, "predictions.csv"));
        Assert.AreEqual("path,predicted_label,label_1,probability_1,label_2,probability_2,label_3,probability_3", rows[0]);
        Assert.AreEqual(31, rows.Length);
        var expected = ScoreFiles(model, images, rows.Skip(1).Select(r => r.Split(',')[0]).ToArray());
        foreach (var row in rows.Skip(1))
        {
            var fields = row.Split(',');
            Assert.AreEqual(8, fields.Length, row);
            var (label, probabilities) = expected[fields[0]];
            Assert.AreEqual(label, fields[1], row);
            Assert.AreEqual(label, fields[2], $"the top label is the predicted one: {row}");
            var top = probabilities.OrderByDescending(p => p.Value).Take(3).ToArray();
            for (int k = 0; k < 3; k++)
            {
                Assert.AreEqual(top[k].Key, fields[2 + 2 * k], row);
                Assert.AreEqual(top[k].Value, double.Parse(fields[3 + 2 * k], CultureInfo.InvariantCulture), 5e-5, row);
            }
        }

        // With arguments: another model, another folder, another CSV.
        string csv = Path.Combine(output, "other.csv");
        var withArguments = RunSample("score.cs", new Dictionary<string, string> { ["PILOT_SAMPLE_OUTPUT"] = output },
            CodegenFixtures.FolderModel, CodegenFixtures.ImageFolder, csv);
        Assert.AreEqual(0, withArguments.ExitCode, withArguments.Output);
        int imageCount = Directory.EnumerateFiles(CodegenFixtures.ImageFolder, "*.png", SearchOption.AllDirectories).Count();
        StringAssert.Contains(withArguments.Output, $"Scored {imageCount} images from {CodegenFixtures.ImageFolder}");
        Assert.AreEqual(imageCount + 1, File.ReadAllLines(csv).Length);

        // A model shaped as `pilot train` writes it (MapValueToKey, then the classifier: PredictedLabel is a key).
        var pixelModel = RunSample("score.cs", new Dictionary<string, string> { ["PILOT_SAMPLE_OUTPUT"] = output },
            CodegenFixtures.PixelModel, CodegenFixtures.ImageFolder, csv);
        Assert.AreEqual(0, pixelModel.ExitCode, pixelModel.Output);
        Assert.AreEqual(imageCount + 1, File.ReadAllLines(csv).Length);
    }

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void Score_WithoutAModel_ExitsWithOneAndSaysWhatToRun()
    {
        string output = CodegenFixtures.NewFolder();
        var score = RunSample("score.cs", new Dictionary<string, string> { ["PILOT_SAMPLE_OUTPUT"] = output });
        Assert.AreEqual(1, score.ExitCode, score.Output);
        StringAssert.Contains(score.Output, $"No model at {Path.Combine(output, "model.zip")}: run 'dotnet run samples/train-folder.cs' first");
    }

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void OptimizerOnly_TrainsWithPilotAndACosineSchedule_AndExportsThePolicy()
    {
        string output = CodegenFixtures.NewFolder();
        var run = RunSample("optimizer-only.cs", new Dictionary<string, string>
        {
            ["PILOT_SAMPLE_OUTPUT"] = output,
            ["PILOT_SAMPLE_EPOCHS"] = "3",
            ["PILOT_SAMPLE_POINTS"] = "100",
        });
        Assert.AreEqual(0, run.ExitCode, run.Output);
        // 300 points in batches of 64: 5 steps per epoch.
        StringAssert.Contains(run.Output, "300 points, 3 classes, 3 epochs of 5 steps");
        StringAssert.Contains(run.Output, "policy after 15 steps");
        var epochLines = run.Output.Split('\n').Where(l => l.Contains('|') && char.IsDigit(l.TrimStart().FirstOrDefault())).ToList();
        Assert.AreEqual(3, epochLines.Count, run.Output);
        // The cosine schedule ends at 0 after the last step.
        StringAssert.Contains(epochLines[^1], " 0.00000 ");
        var policy = PilotPolicy.FromJson(File.ReadAllText(Path.Combine(output, "policy.json")));
        Assert.AreEqual(PilotDefaults.Degree, policy.Degree);
        Assert.AreNotEqual(PilotPolicy.Default(), policy, "15 steps with η_φ > 0 change the policy");
    }

    private static (int ExitCode, string Output) RunSample(string file, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        string root = CodegenFixtures.RepositoryRoot();
        string[] command = ["run", Path.Combine("samples", file), .. arguments.Length > 0 ? ["--", .. arguments] : Array.Empty<string>()];
        var (exitCode, output, elapsed) = DotnetProcess.Run(root, command, environment, TimeSpan.FromMinutes(10));
        Console.WriteLine($"dotnet run samples/{file}: exit code {exitCode}, {elapsed.TotalSeconds:F1} s");
        return (exitCode, output);
    }

    /// <summary>Predicted label and class probabilities of each file, scored by the model in this process.</summary>
    private static Dictionary<string, (string Label, Dictionary<string, float> Probabilities)> ScoreFiles(string modelPath, string folder, string[] relativePaths)
    {
        var ml = new MLContext();
        var model = ml.Model.Load(modelPath, out _);
        try
        {
            var classifier = ((IEnumerable<ITransformer>)model).OfType<Pilot.MLNet.PilotImageClassificationTransformer>().Single();
            var rows = relativePaths.Select(p => new ImageRow { Path = p, Image = File.ReadAllBytes(System.IO.Path.Combine(folder, p)) });
            return ml.Data.CreateEnumerable<ScoredRow>(model.Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false)
                .ToDictionary(r => r.Path, r => (r.PredictedLabel,
                    r.Score.Select((p, k) => (classifier.ClassNames[k], p)).ToDictionary(x => x.Item1, x => x.p)));
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    private sealed class ImageRow
    {
        public string Path { get; set; } = "";
        public byte[] Image { get; set; } = [];
    }

    private sealed class ScoredRow
    {
        public string Path { get; set; } = "";
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }
}

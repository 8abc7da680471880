using System.Text.Json;
using Microsoft.ML;
using Pilot.Cli.Reporting;
using Pilot.Cli.Training;
using Pilot.TorchSharp;

namespace Pilot.Cli.Tests;

/// <summary>
/// The CLI end to end on a tiny Model Builder style folder (60 PNG files, 3 classes): train one epoch through the entry
/// point, then evaluate, predict and export the policy with the model it wrote.
/// </summary>
[TestClass]
public sealed class EndToEndTests
{
    private static TempFolder s_folder = null!;
    private static CliResult s_train = null!;

    private static string Images => s_folder["images"];
    private static string ModelPath => s_folder["out/model.zip"];
    private static string Plots => s_folder["out/plots"];

    [ClassInitialize]
    public static void TrainOnce(TestContext _)
    {
        s_folder = new TempFolder();
        TinyImageFolder.Write(Images);
        s_train = CliRunner.Run("train", "--data", Images, "--arch", "SmallCnn", "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--seed", "1",
            "--out", ModelPath, "--plots", Plots, "--test-fraction", "0.25");
    }

    [ClassCleanup]
    public static void Cleanup() => s_folder.Dispose();

    [TestMethod]
    public void Train_WritesModelPlotsAndHistory_AndPrintsPlainMetrics()
    {
        Assert.AreEqual(0, s_train.ExitCode, s_train.ToString());
        Assert.IsTrue(File.Exists(ModelPath), s_train.ToString());
        foreach (var file in new[] { TrainingPlots.LossFile, TrainingPlots.AccuracyFile, CliDefaults.HistoryFileName })
            Assert.IsTrue(File.Exists(Path.Combine(Plots, file)), $"{file} missing\n{s_train}");

        Assert.DoesNotMatchRegex(CliRunner.Escape(), s_train.Out, "redirected output is plain text");
        foreach (var text in new[] { "epoch 1/1  train loss", "accuracy", "macro-F1", "log-loss", "precision", "recall", "0 Bag", "2 Trouser", "actual \\ predicted" })
            Assert.Contains(text, s_train.Out);

        var history = TrainingHistory.Load(Path.Combine(Plots, CliDefaults.HistoryFileName));
        Assert.HasCount(1, history.Epochs);
        Assert.AreEqual("SmallCnn", history.Model);
        Assert.AreEqual("Pilot", history.Optimizer);
        Assert.IsNotNull(history.Epochs[0].ValidationAccuracy, "the test rows are validated on after each epoch");
        Assert.IsNotNull(history.Test);
        Assert.IsTrue(history.Test.Rows is > 0 and < 60, $"test rows {history.Test.Rows}");
    }

    [TestMethod]
    public void Evaluate_PrintsMetricsOfEveryImage_AndAgreesWithMLNet()
    {
        Assert.AreEqual(0, s_train.ExitCode, s_train.ToString());
        var result = CliRunner.Run("evaluate", "--model", ModelPath, "--data", Images);
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.Contains("60 images (every image of the folder)", result.Out);
        Assert.Contains("macro-F1", result.Out);
        Assert.DoesNotMatchRegex(CliRunner.Escape(), result.Out);

        // The report's accuracy and per-class recall/precision equal ML.NET's own figures: the confusion matrix is read the right way round.
        var runner = new TrainingRunner(0);
        using var model = runner.Load(ModelPath, "--model");
        var rows = runner.LoadForEvaluation(DataChoice.Resolve(Images, s_folder["none"]));
        var report = runner.Evaluate(model.Model, rows.Data);
        var ml = new MLContext(0);
        var metrics = ml.MulticlassClassification.Evaluate(model.Model.Transform(rows.Data));
        Assert.AreEqual(metrics.MicroAccuracy, report.Accuracy, 1e-9);
        Assert.AreEqual(metrics.LogLoss, report.LogLoss, 1e-9);
        for (int c = 0; c < 3; c++)
        {
            Assert.AreEqual(metrics.ConfusionMatrix.PerClassRecall[c], report.PerClass[c].Recall, 1e-9, $"recall of {report.ClassNames[c]}");
            Assert.AreEqual(metrics.ConfusionMatrix.PerClassPrecision[c], report.PerClass[c].Precision, 1e-9, $"precision of {report.ClassNames[c]}");
        }
        CollectionAssert.AreEqual(TinyImageFolder.Classes, report.ClassNames.ToArray());
    }

    [TestMethod]
    public void Predict_PrintsTopLabelsWithProbabilities()
    {
        Assert.AreEqual(0, s_train.ExitCode, s_train.ToString());
        string bag = Directory.GetFiles(Path.Combine(Images, "Bag"))[0];
        string trouser = Directory.GetFiles(Path.Combine(Images, "Trouser"))[0];
        var result = CliRunner.Run("predict", "--model", ModelPath, bag, trouser);
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.DoesNotMatchRegex(CliRunner.Escape(), result.Out);
        foreach (var image in new[] { bag, trouser })
        {
            string line = result.Out.Split('\n').Single(l => l.Contains(Path.GetFileName(image), StringComparison.Ordinal));
            var probabilities = System.Text.RegularExpressions.Regex.Matches(line, @"(Bag|Sneaker|Trouser) (\d+\.\d)%")
                .Select(m => double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.HasCount(3, probabilities, line);
            Assert.AreEqual(100, probabilities.Sum(), 0.2, $"the three classes' probabilities add up to 100%: {line}");
            CollectionAssert.AreEqual(probabilities.OrderDescending().ToList(), probabilities, $"most probable first: {line}");
        }

        var top1 = CliRunner.Run("predict", "--model", ModelPath, "--top", "1", bag);
        Assert.AreEqual(0, top1.ExitCode, top1.ToString());

        string notAnImage = s_folder["not-an-image.png"];
        File.WriteAllText(notAnImage, "hello");
        var bad = CliRunner.Run("predict", "--model", ModelPath, notAnImage);
        Assert.AreEqual(2, bad.ExitCode, bad.ToString());
        Assert.Contains(notAnImage, bad.Error);
    }

    [TestMethod]
    public void PolicyExport_WritesAPolicyThatTrainAccepts()
    {
        Assert.AreEqual(0, s_train.ExitCode, s_train.ToString());
        string policy = s_folder["policy.json"];
        var export = CliRunner.Run("policy", "export", "--model", ModelPath, "--out", policy);
        Assert.AreEqual(0, export.ExitCode, export.ToString());
        var parsed = PilotPolicy.FromJson(File.ReadAllText(policy));
        Assert.AreEqual(PilotPolicy.CoefficientCount(parsed.Degree), parsed.Phi.Length);

        var frozen = CliRunner.Run("train", "--data", Images, "--arch", "SmallCnn", "--epochs", "1", "--batch-size", "16", "--device", "cpu",
            "--out", s_folder["frozen/model.zip"], "--policy", policy, "--freeze-policy");
        Assert.AreEqual(0, frozen.ExitCode, frozen.ToString());
        Assert.IsTrue(File.Exists(s_folder["frozen/model.zip"]));
        Assert.IsTrue(File.Exists(s_folder["frozen/pilot-output/history.json"]), "plots go next to the model by default");
    }

    [TestMethod]
    public void PolicyExport_OfAnAdamWModel_ExitsWith2()
    {
        string model = s_folder["adamw/model.zip"];
        var train = CliRunner.Run("train", "--data", Images, "--arch", "SmallCnn", "--epochs", "1", "--batch-size", "16", "--device", "cpu",
            "--optimizer", "AdamW", "--out", model);
        Assert.AreEqual(0, train.ExitCode, train.ToString());
        Assert.DoesNotContain("ρ", train.Out, "no PILOT figures for AdamW");
        var export = CliRunner.Run("policy", "export", "--model", model, "--out", s_folder["adamw/policy.json"]);
        Assert.AreEqual(2, export.ExitCode, export.ToString());
        Assert.Contains("--optimizer Pilot", export.Error);
    }

    [TestMethod]
    public void ExportOnnx_WritesTheNetwork()
    {
        Assert.AreEqual(0, s_train.ExitCode, s_train.ToString());
        string onnx = s_folder["export/model.onnx"];
        var result = CliRunner.Run("export", "onnx", "--model", ModelPath, "--out", onnx);
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.Contains("SmallCnn, input 1x32x32, 3 classes", result.Out);
        Assert.IsGreaterThan(100_000, new FileInfo(onnx).Length, "SmallCnn's weights are in the file");
    }

    [TestMethod]
    public void Model_NotAModelFile_ExitsWith2()
    {
        string fake = s_folder["fake.zip"];
        File.WriteAllText(fake, "not a zip");
        var result = CliRunner.Run("evaluate", "--model", fake, "--data", Images);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.Contains(fake, result.Error);
    }
}

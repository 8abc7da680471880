using Pilot.Cli.Reporting;

namespace Pilot.Cli.Tests;

/// <summary>
/// <c>pilot train --arch PretrainedResNet18</c> in both fine-tuning modes on a tiny folder (60 PNGs, 3 classes, resized to
/// the network's smallest input, 32×32), then evaluate, predict, export onnx and codegen with the model it wrote.
/// </summary>
[TestClass]
public sealed class PretrainedEndToEndTests
{
    private static TempFolder s_folder = null!;
    private static CliResult s_head = null!;

    private static string Images => s_folder["images"];
    private static string HeadModel => s_folder["head/model.zip"];

    [ClassInitialize]
    public static void TrainOnce(TestContext _)
    {
        s_folder = new TempFolder();
        TinyImageFolder.Write(Images);
        // No --fine-tuning: Head is the pretrained network's default.
        s_head = CliRunner.Run("train", "--data", Images, "--arch", "PretrainedResNet18", "--image-size", "32", "--epochs", "3",
            "--batch-size", "8", "--device", "cpu", "--seed", "1", "--out", HeadModel, "--plots", s_folder["head/plots"], "--test-fraction", "0.25");
    }

    [ClassCleanup]
    public static void Cleanup() => s_folder.Dispose();

    [TestMethod]
    public void TrainHead_ShowsTheFeaturePass_AndWritesTheModel()
    {
        Assert.AreEqual(0, s_head.ExitCode, s_head.ToString());
        Assert.IsTrue(File.Exists(HeadModel));
        Assert.Contains("features ", s_head.Out);
        Assert.Contains("done", s_head.Out);
        Assert.Contains("epoch 3/3  train loss", s_head.Out);
        Assert.IsLessThan(s_head.Out.IndexOf("epoch 1/3", StringComparison.Ordinal), s_head.Out.IndexOf("features ", StringComparison.Ordinal),
            "the feature pass comes before the first epoch");
        var history = TrainingHistory.Load(Path.Combine(s_folder["head/plots"], CliDefaults.HistoryFileName));
        Assert.AreEqual("PretrainedResNet18", history.Model);
    }

    [TestMethod]
    public void EvaluatePredictExportAndCodegen_WorkWithThePretrainedModel()
    {
        Assert.AreEqual(0, s_head.ExitCode, s_head.ToString());
        var evaluate = CliRunner.Run("evaluate", "--model", HeadModel, "--data", Images);
        Assert.AreEqual(0, evaluate.ExitCode, evaluate.ToString());
        Assert.Contains("macro-F1", evaluate.Out);

        string bag = Directory.EnumerateFiles(Path.Combine(Images, "Bag")).First();
        var predict = CliRunner.Run("predict", "--model", HeadModel, bag);
        Assert.AreEqual(0, predict.ExitCode, predict.ToString());
        Assert.Contains("Bag", predict.Out);

        string onnx = s_folder["head/model.onnx"];
        var export = CliRunner.Run("export", "onnx", "--model", HeadModel, "--out", onnx);
        Assert.AreEqual(0, export.ExitCode, export.ToString());
        Assert.IsTrue(new FileInfo(onnx).Length > 40_000_000, "the ONNX file holds the 16 M weights of the backbone");

        var codegen = CliRunner.Run("codegen", "--model", HeadModel, "--out", s_folder["head/code"]);
        Assert.AreEqual(0, codegen.ExitCode, codegen.ToString());
        string training = string.Join("\n", Directory.EnumerateFiles(s_folder["head/code"], "*.cs", SearchOption.AllDirectories).Select(File.ReadAllText));
        Assert.Contains("Architecture = PilotArchitecture.PretrainedResNet18", training);
        Assert.Contains("FineTuning = null", training);
    }

    [TestMethod]
    public void TrainFull_TrainsEveryLayer()
    {
        string model = s_folder["full/model.zip"];
        var full = CliRunner.Run("train", "--data", Images, "--arch", "PretrainedResNet18", "--fine-tuning", "Full", "--image-size", "32",
            "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--seed", "1", "--out", model, "--plots", s_folder["full/plots"], "--test-fraction", "0.25");
        Assert.AreEqual(0, full.ExitCode, full.ToString());
        Assert.DoesNotContain("features ", full.Out, "Full has no feature pass");
        Assert.Contains("epoch 1/1  train loss", full.Out);
    }

    [TestMethod]
    public void TrainLastStage_ShowsTheCachePass_ThenExportAndCodegenWork()
    {
        string model = s_folder["last/model.zip"];
        var last = CliRunner.Run("train", "--data", Images, "--arch", "PretrainedResNet18", "--fine-tuning", "LastStage", "--image-size", "32",
            "--epochs", "2", "--batch-size", "16", "--device", "cpu", "--seed", "1", "--out", model, "--plots", s_folder["last/plots"], "--test-fraction", "0.25");
        Assert.AreEqual(0, last.ExitCode, last.ToString());
        Assert.Contains("features ", last.Out, "the early stages' outputs are computed once, with a progress bar");
        Assert.IsLessThan(last.Out.IndexOf("epoch 1/2", StringComparison.Ordinal), last.Out.IndexOf("features ", StringComparison.Ordinal));
        Assert.Contains("epoch 2/2  train loss", last.Out);

        var evaluate = CliRunner.Run("evaluate", "--model", model, "--data", Images);
        Assert.AreEqual(0, evaluate.ExitCode, evaluate.ToString());
        Assert.Contains("macro-F1", evaluate.Out);

        string onnx = s_folder["last/model.onnx"];
        var export = CliRunner.Run("export", "onnx", "--model", model, "--out", onnx);
        Assert.AreEqual(0, export.ExitCode, export.ToString());
        Assert.IsTrue(new FileInfo(onnx).Length > 40_000_000, "the ONNX file holds the whole network");

        var codegen = CliRunner.Run("codegen", "--model", model, "--out", s_folder["last/code"]);
        Assert.AreEqual(0, codegen.ExitCode, codegen.ToString());
        string training = string.Join("\n", Directory.EnumerateFiles(s_folder["last/code"], "*.cs", SearchOption.AllDirectories).Select(File.ReadAllText));
        Assert.Contains("FineTuning = PilotFineTuning.LastStage", training);
    }

    [TestMethod]
    public void HeadWithAScratchNetwork_IsABadArgument()
    {
        var result = CliRunner.Run("train", "--data", Images, "--arch", "SmallCnn", "--fine-tuning", "Head", "--epochs", "1", "--out", s_folder["bad/model.zip"]);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.Contains("FineTuning Head", result.Error);
    }
}

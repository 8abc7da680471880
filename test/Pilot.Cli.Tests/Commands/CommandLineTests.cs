using System.CommandLine;
using System.Globalization;
using System.Reflection;
using Pilot.Cli.Commands;
using Pilot.MLNet;

namespace Pilot.Cli.Tests;

[TestClass]
public sealed class CommandLineTests
{
    /// <summary>The command's own settings: every property of <see cref="TrainSettings"/> but the trainer's options (see <see cref="TrainerFlagsTests"/>).</summary>
    private static IEnumerable<PropertyInfo> CommandProperties()
        => typeof(TrainSettings).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.Name != nameof(TrainSettings.Trainer) && p.Name != nameof(TrainSettings.GivenTrainerFlags));

    private static string FlagOf(string property)
        => "--" + string.Concat(property.Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    [TestMethod]
    public void Train_OnAnImageFolder_DefaultsToThePretrainedNetworkAndTheLibrarysEpochs_FlagsThatWereGivenWin()
    {
        var command = new TrainCommand();
        var root = new RootCommand { command.Create(_ => 0) };
        PilotImageClassificationTrainer.Options For(bool imageFolder, params string[] args)
        {
            var s = command.Bind(root.Parse(["train", .. args]));
            return CliDefaults.ForData(s.Trainer, imageFolder, s.GivenTrainerFlags);
        }

        var photos = For(imageFolder: true);
        Assert.AreEqual(CliDefaults.ImageFolderArchitecture, photos.Architecture);
        Assert.IsNull(photos.Epochs, "Head over cached features: the library's epochs for it");
        Assert.AreEqual(PilotImageClassificationDefaults.HeadEpochs, photos.EpochsToTrain);

        var idx = For(imageFolder: false);
        Assert.AreEqual(CliDefaults.Architecture, idx.Architecture);
        Assert.AreEqual(CliDefaults.Epochs, idx.Epochs);

        Assert.AreEqual(PilotArchitecture.SmallCnn, For(true, "--arch", "SmallCnn").Architecture);
        Assert.AreEqual(CliDefaults.Epochs, For(true, "--arch", "SmallCnn").Epochs);
        Assert.AreEqual(5, For(true, "--epochs", "5").Epochs);
        Assert.AreEqual(CliDefaults.Epochs, For(true, "--fine-tuning", "Full").Epochs, "Full is not cheap: the CLI's epochs");
        Assert.AreEqual(PilotImageClassificationDefaults.HeadEpochs, For(false, "--arch", "PretrainedResNet18").EpochsToTrain);

        var help = CliRunner.Run("train", "--help");
        StringAssert.Contains(help.Out, $"folder of images (one sub-folder per class): {CliDefaults.ImageFolderArchitecture}");
    }

    [TestMethod]
    public void Train_EveryCommandSettingHasAFlagAndParsesToTheDocumentedDefault()
    {
        var command = new TrainCommand();
        var root = new RootCommand { command.Create(_ => 0) };
        var parsed = command.Bind(root.Parse(["train"]));
        var defaults = new TrainSettings();

        foreach (var property in CommandProperties())
        {
            string flag = FlagOf(property.Name);
            Assert.IsTrue(command.All.Any(o => o.Name == flag), $"{property.Name} has no {flag} option.");
            Assert.AreEqual(property.GetValue(defaults), property.GetValue(parsed), $"{flag} does not default to TrainSettings.{property.Name}.");
        }
        Assert.HasCount(CommandProperties().Count() + command.Trainer.All.Count, command.All, "an option is neither a TrainSettings property nor a trainer flag");

        // The documented defaults are the CliDefaults constants.
        Assert.AreEqual(CliDefaults.Device, parsed.Device);
        Assert.AreEqual(CliDefaults.Seed, parsed.Seed);
        Assert.AreEqual(CliDefaults.ModelPath, parsed.Out);
        Assert.AreEqual(CliDefaults.ValidationFraction, parsed.ValidationFraction);
        Assert.AreEqual(CliDefaults.TestFraction, parsed.TestFraction);
        Assert.IsNull(parsed.Data);
        Assert.IsNull(parsed.Plots);
        Assert.IsNull(parsed.ImageSize);
    }

    [TestMethod]
    [DataRow("Head", PilotFineTuning.Head)]
    [DataRow("Full", PilotFineTuning.Full)]
    [DataRow("LastStage", PilotFineTuning.LastStage)]
    public void Train_FineTuningFlagParses(string value, PilotFineTuning expected)
    {
        var command = new TrainCommand();
        var root = new RootCommand { command.Create(_ => 0) };
        var parsed = command.Bind(root.Parse(["train", "--arch", "PretrainedResNet18", "--fine-tuning", value])).Trainer;
        Assert.AreEqual(PilotArchitecture.PretrainedResNet18, parsed.Architecture);
        Assert.AreEqual(expected, parsed.FineTuning);
    }

    [TestMethod]
    public void Train_HelpStatesEveryDefault()
    {
        var result = CliRunner.Run("train", "--help");
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        var inv = CultureInfo.InvariantCulture;
        string[] expected =
        [
            $"--arch <PretrainedResNet18|ResNet18|ResNet34|SmallCnn>", $"[default: {CliDefaults.Architecture}]", "--fine-tuning",
            $"[default: {PilotImageClassificationDefaults.Optimizer}]",
            $"[default: {CliDefaults.Epochs}]", $"[default: {PilotImageClassificationDefaults.BatchSize}]",
            $"[default: {PilotImageClassificationDefaults.LearningRate.ToString(inv)}]", $"[default: {CliDefaults.Device}]",
            $"[default: {CliDefaults.ModelPath}]", $"[default: {CliDefaults.TestFraction.ToString(inv)}]",
            $"[default: {CliDefaults.OutputFolderName}/ next to the model]", CliDefaults.SystemFashionMnistFolder, "embedded FashionMNIST subset",
        ];
        foreach (var text in expected)
            Assert.Contains(text, result.Out);
        // Every option line carries a default.
        foreach (var line in result.Out.Split('\n').Where(l => l.TrimStart().StartsWith("--", StringComparison.Ordinal)))
            Assert.Contains("[default:", line, $"option line without its default: {line}");
    }

    [TestMethod]
    [DataRow("evaluate")]
    [DataRow("predict")]
    [DataRow("policy export")]
    [DataRow("export onnx")]
    [DataRow("bench optimizer")]
    [DataRow("bench train")]
    [DataRow("bench paper")]
    public void OtherCommands_HelpStatesEveryDefault(string command)
    {
        var result = CliRunner.Run([.. command.Split(' '), "--help"]);
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        foreach (var line in result.Out.Split('\n').Where(l => l.TrimStart().StartsWith("--", StringComparison.Ordinal)))
            Assert.Contains("[default:", line, $"option line without its default: {line}");
        if (command == "bench paper")
        {
            // Lists are shown the way they are typed.
            Assert.Contains($"[default: {string.Join(",", BenchDefaults.PaperOptimizers)}]", result.Out);
            Assert.Contains($"[default: {string.Join(",", BenchDefaults.PaperSeeds)}]", result.Out);
        }
    }

    public static IEnumerable<object[]> TrainOverrides =>
    [
        [new[] { "--data", "imgs" }, nameof(TrainSettings.Data), "imgs"],
        [new[] { "--device", "cpu" }, nameof(TrainSettings.Device), DeviceChoice.Cpu],
        [new[] { "--seed", "42" }, nameof(TrainSettings.Seed), 42],
        [new[] { "--out", "m.zip" }, nameof(TrainSettings.Out), "m.zip"],
        [new[] { "--validation-fraction", "0.1" }, nameof(TrainSettings.ValidationFraction), 0.1],
        [new[] { "--test-fraction", "0.3" }, nameof(TrainSettings.TestFraction), 0.3],
        [new[] { "--image-size", "64" }, nameof(TrainSettings.ImageSize), 64],
        [new[] { "--plots", "p" }, nameof(TrainSettings.Plots), "p"],
    ];

    [TestMethod]
    [DynamicData(nameof(TrainOverrides))]
    public void Train_EachFlagSetsOnlyItsProperty(string[] args, string property, object expected)
    {
        var command = new TrainCommand();
        var root = new RootCommand { command.Create(_ => 0) };
        var parse = root.Parse(["train", .. args]);
        Assert.IsEmpty(parse.Errors, string.Join("; ", parse.Errors.Select(e => e.Message)));
        var parsed = command.Bind(parse);
        var defaults = new TrainSettings();
        foreach (var p in CommandProperties())
        {
            if (p.Name == property)
                Assert.AreEqual(expected, p.GetValue(parsed), p.Name);
            else
                Assert.AreEqual(p.GetValue(defaults), p.GetValue(parsed), $"{string.Join(' ', args)} changed {p.Name}");
        }
    }

    [TestMethod]
    public void OtherCommands_ParseToTheirDocumentedDefaults()
    {
        var evaluate = new EvaluateCommand();
        var predict = new PredictCommand();
        var policy = new PolicyExportCommand();
        var bench = new BenchCommands();
        var onnx = new ExportOnnxCommand();
        var root = new RootCommand
        {
            evaluate.Create(_ => 0), predict.Create(_ => 0), policy.Create(_ => 0), bench.Create(_ => 0, _ => 0, _ => 0, _ => 0, _ => 0), onnx.Create(_ => 0),
        };
        Assert.AreEqual(new ExportOnnxSettings(), onnx.Bind(root.Parse(["export", "onnx"])));
        Assert.AreEqual(CliDefaults.OnnxPath, onnx.Bind(root.Parse(["export", "onnx"])).Out);
        Assert.AreEqual(new EvaluateSettings(), evaluate.Bind(root.Parse(["evaluate"])));
        Assert.AreEqual(CliDefaults.ModelPath, evaluate.Bind(root.Parse(["evaluate"])).Model);
        var p = predict.Bind(root.Parse(["predict", "a.png", "b.png"]));
        Assert.AreEqual(CliDefaults.ModelPath, p.Model);
        Assert.AreEqual(CliDefaults.TopK, p.Top);
        CollectionAssert.AreEqual(new[] { "a.png", "b.png" }, p.Images.ToArray());
        Assert.AreEqual(new PolicyExportSettings(), policy.Bind(root.Parse(["policy", "export"])));
        Assert.AreEqual(CliDefaults.PolicyPath, policy.Bind(root.Parse(["policy", "export"])).Out);

        var optimizer = bench.BindOptimizer(root.Parse(["bench", "optimizer"]));
        CollectionAssert.AreEqual(new[] { BenchDefaults.Model }, optimizer.Models.ToArray());
        Assert.AreEqual(BenchDefaults.OptimizerSteps, optimizer.Steps);
        Assert.AreEqual(BenchDefaults.OptimizerDevice, optimizer.Device);
        Assert.IsNull(optimizer.Json);
        Assert.IsNull(optimizer.Plot);
        var train = bench.BindTrain(root.Parse(["bench", "train"]));
        CollectionAssert.AreEqual(BenchDefaults.TrainOptimizers, train.Optimizers.ToArray());
        Assert.AreEqual(BenchDefaults.Model, train.Model);
        Assert.AreEqual(BenchDefaults.TrainRounds, train.Rounds);
        Assert.AreEqual(new BenchReportSettings(), bench.BindReport(root.Parse(["bench", "report"])));
        Assert.AreEqual(BenchDefaults.PaperResults, bench.BindReport(root.Parse(["bench", "report"])).In);
        Assert.AreEqual(Path.GetFullPath("results"), bench.BindReport(root.Parse(["bench", "report", "--in", "results/r.json"])).OutFolder,
            "the report goes beside its results file");
        Assert.AreEqual(Path.GetFullPath("elsewhere"), bench.BindReport(root.Parse(["bench", "report", "--out", "elsewhere"])).OutFolder);
        var paper = bench.BindPaper(root.Parse(["bench", "paper"]));
        CollectionAssert.AreEqual(BenchDefaults.PaperModels, paper.Models.ToArray());
        CollectionAssert.AreEqual(BenchDefaults.PaperOptimizers, paper.Optimizers.ToArray());
        CollectionAssert.AreEqual(BenchDefaults.PaperSeeds, paper.Seeds.ToArray());
        Assert.AreEqual(BenchDefaults.PaperEpochs, paper.Epochs);
        Assert.AreEqual(BenchDefaults.PaperResults, paper.Out);
        Assert.AreEqual(30, paper.Epochs);
        var landscape = bench.BindLandscape(root.Parse(["bench", "landscape"]));
        CollectionAssert.AreEqual(Enum.GetValues<PilotOptimizerKind>(), landscape.Optimizers.ToArray(), "every optimizer the trainer knows");
        Assert.AreEqual(new BenchLandscapeSettings() with { Optimizers = landscape.Optimizers }, landscape);
        Assert.AreEqual(BenchDefaults.LandscapeOut, landscape.Out);
        Assert.IsNull(landscape.TrainImages);
        Assert.IsNull(landscape.Data);
    }

    [TestMethod]
    public void BenchPaper_ParsesCommaSeparatedLists()
    {
        var bench = new BenchCommands();
        var root = new RootCommand { bench.Create(_ => 0, _ => 0, _ => 0, _ => 0, _ => 0) };
        var parse = root.Parse(["bench", "paper", "--models", "SmallCnn,ResNet18", "--optimizers", "pilot, lion", "--seeds", "3,1", "--epochs", "2"]);
        Assert.IsEmpty(parse.Errors, string.Join("; ", parse.Errors.Select(e => e.Message)));
        var s = bench.BindPaper(parse);
        CollectionAssert.AreEqual(new[] { PilotArchitecture.SmallCnn, PilotArchitecture.ResNet18 }, s.Models.ToArray());
        CollectionAssert.AreEqual(new[] { PilotOptimizerKind.Pilot, PilotOptimizerKind.Lion }, s.Optimizers.ToArray());
        CollectionAssert.AreEqual(new[] { 3, 1 }, s.Seeds.ToArray());
        Assert.AreEqual(2, s.Epochs);
    }

    [TestMethod]
    [DataRow("--epochs", "0", "train")]
    [DataRow("--batch-size", "-1", "train")]
    [DataRow("--lr", "0", "train")]
    [DataRow("--lr", "NaN", "train")]
    [DataRow("--validation-fraction", "1", "train")]
    [DataRow("--validation-fraction", "-0.1", "train")]
    [DataRow("--test-fraction", "0", "train")]
    [DataRow("--arch", "VGG", "train")]
    [DataRow("--optimizer", "SGD", "train")]
    [DataRow("--device", "tpu", "train")]
    [DataRow("--seed", "-3", "train")]
    [DataRow("--image-size", "4", "train")]
    [DataRow("--seeds", "0,x", "bench paper")]
    [DataRow("--seeds", "-1", "bench paper")]
    [DataRow("--optimizers", "Pilot,SGD", "bench paper")]
    [DataRow("--steps", "0", "bench optimizer")]
    [DataRow("--grid", "2", "bench landscape")]
    [DataRow("--points", "0", "bench landscape")]
    [DataRow("--subset", "0", "bench landscape")]
    [DataRow("--epochs", "0", "bench landscape")]
    [DataRow("--seed", "-1", "bench landscape")]
    [DataRow("--optimizers", "Pilot,SGD", "bench landscape")]
    [DataRow("--top", "0", "predict a.png")]
    public void BadOptionValue_ExitsWith2_NamingTheOption(string option, string value, string command)
    {
        var result = CliRunner.Run([.. command.Split(' '), option, value]);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.Contains(option, result.Error, result.ToString());
    }

    [TestMethod]
    public void MissingOrUnknownCommand_ExitsWith2()
    {
        Assert.AreEqual(2, CliRunner.Run().ExitCode);
        var unknown = CliRunner.Run("trian");
        Assert.AreEqual(2, unknown.ExitCode);
        Assert.Contains("trian", unknown.Error);
        Assert.AreEqual(2, CliRunner.Run("predict").ExitCode, "predict needs at least one IMAGE");
    }

    [TestMethod]
    public void BadDataPath_ExitsWith2_NamingThePath()
    {
        string missing = Path.Combine(Path.GetTempPath(), "pilot-no-such-folder-" + Guid.NewGuid().ToString("N"));
        foreach (var command in new[] { "train", "evaluate" })
        {
            var result = CliRunner.Run(command, "--data", missing);
            Assert.AreEqual(2, result.ExitCode, result.ToString());
            Assert.Contains("--data", result.Error);
            Assert.Contains(missing, result.Error);
            Assert.Contains("does not exist", result.Error);
            Assert.IsEmpty(result.Out.Trim(), "nothing is trained or printed before the data is found");
        }
    }

    [TestMethod]
    public void PolicyWithAnotherOptimizer_ExitsWith2()
    {
        var result = CliRunner.Run("train", "--optimizer", "AdamW", "--freeze-policy");
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.Contains("--freeze-policy", result.Error);
        var missing = CliRunner.Run("train", "--policy", "no-such-policy.json");
        Assert.AreEqual(2, missing.ExitCode, missing.ToString());
        Assert.Contains("no-such-policy.json", missing.Error);
    }

    [TestMethod]
    public void MissingModel_ExitsWith2_NamingTheFile()
    {
        string missing = Path.Combine(Path.GetTempPath(), "pilot-no-such-model-" + Guid.NewGuid().ToString("N") + ".zip");
        foreach (var args in new[] { new[] { "evaluate", "--model", missing }, ["policy", "export", "--model", missing], ["export", "onnx", "--model", missing], ["predict", "--model", missing, missing] })
        {
            var result = CliRunner.Run(args);
            Assert.AreEqual(2, result.ExitCode, result.ToString());
            Assert.Contains(missing, result.Error);
        }
    }
}

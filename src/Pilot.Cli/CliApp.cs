using System.Globalization;
using Pilot.Cli.Bench;
using Pilot.Cli.Commands;
using Pilot.Cli.Reporting;
using Pilot.Cli.Training;
using Pilot.MLNet;
using Spectre.Console;

namespace Pilot.Cli;

/// <summary>The actions of the <c>pilot</c> commands: they turn parsed settings into calls of <see cref="TrainingRunner"/> and output.</summary>
internal sealed class CliApp
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly CliConsole _console;
    private readonly CliServices _services;

    public CliApp(CliConsole console, CliServices services)
    {
        _console = console;
        _services = services;
    }

    /// <summary><c>pilot train</c>.</summary>
    public int Train(TrainSettings s)
    {
        s.Validate();
        var data = DataChoice.Resolve(s.Data, _services.SystemFashionMnistFolder);
        string device = Devices.Resolve(s.Device, "--device");

        var runner = new TrainingRunner(s.Seed);
        var split = runner.LoadForTraining(data, s.TestFraction, s.ValidationFraction);
        _console.WriteLine($"data: {data.Description}: {split.Describe()}");
        var trainer = CliDefaults.ForData(s.Trainer, split.ImageFolder is not null, s.GivenTrainerFlags);
        if (trainer.Architecture != s.Trainer.Architecture)
            _console.WriteLine($"an image folder: training {trainer.Architecture} (ImageNet weights; {TrainerFlags.FlagOf(nameof(trainer.Architecture))} SmallCnn trains a small network from scratch instead)");
        // Image files are resized to --image-size; IDX and CIFAR-10 pixels keep their size, except for a pretrained network,
        // which resizes every source to its input size.
        if (s.ImageSize is { } side && (split.Shape is null || Pilot.MLNet.Models.Backbones.IsPretrained(trainer.Architecture)))
        {
            trainer.ImageWidth ??= side;
            trainer.ImageHeight ??= side;
        }
        _console.WriteLine(string.Create(Inv,
            $"training {trainer.Architecture} with {trainer.Optimizer} for {trainer.EpochsToTrain} epoch{(trainer.EpochsToTrain == 1 ? "" : "s")} on {device}, batch {trainer.BatchSize}, lr {trainer.LearningRate:0.###e+0}, seed {s.Seed}"));

        using var outcome = TrainingProgress.Run(_console, trainer.EpochsToTrain, progress => runner.Train(split, trainer, device, progress));
        if (EarlyStoppingNote.For(outcome.Classifier.TrainingHistory, trainer.EarlyStoppingPatience) is { } note)
            _console.WriteLine(note);
        var report = runner.Evaluate(outcome.Model, split.Test, split.ImageFolder);
        MetricsTable.Write(_console.Ansi, report, $"test metrics, {split.TestDescription}");

        string modelPath = Path.GetFullPath(s.Out);
        Directory.CreateDirectory(Path.GetDirectoryName(modelPath)!);
        runner.Save(outcome, modelPath);
        _console.WriteLine($"model: {modelPath}");

        var history = new TrainingHistory
        {
            Model = trainer.Architecture.ToString(),
            Optimizer = trainer.Optimizer.ToString(),
            Data = data.Description,
            ValidationRows = split.ValidationDescription,
            Seed = s.Seed,
            Device = device,
            Epochs = outcome.Epochs,
            PolicySteps = outcome.PolicySteps,
            Test = TestSummary.From(report),
        };
        string plots = Path.GetFullPath(s.PlotsFolder);
        var written = TrainingPlots.Write(history, plots).ToList();
        string historyPath = Path.Combine(plots, CliDefaults.HistoryFileName);
        history.Save(historyPath);
        written.Add(historyPath);
        foreach (var file in written)
            _console.WriteLine($"wrote {file}");
        return ExitCodes.Success;
    }

    /// <summary><c>pilot evaluate</c>.</summary>
    public int Evaluate(EvaluateSettings s)
    {
        var data = DataChoice.Resolve(s.Data, _services.SystemFashionMnistFolder);
        var runner = new TrainingRunner(CliDefaults.Seed);
        using var model = runner.Load(s.Model, "--model");
        var rows = runner.LoadForEvaluation(data);
        _console.WriteLine($"data: {data.Description}: {rows.Description}");
        var report = runner.Evaluate(model.Model, rows.Data, rows.ImageFolder);
        MetricsTable.Write(_console.Ansi, report, $"metrics of {Path.GetFileName(s.Model)}, {rows.Description}");
        return ExitCodes.Success;
    }

    /// <summary><c>pilot predict</c>.</summary>
    public int Predict(PredictSettings s)
    {
        var runner = new TrainingRunner(CliDefaults.Seed);
        using var model = runner.Load(s.Model, "--model");
        foreach (var image in s.Images)
        {
            if (!File.Exists(image))
                throw new CliInputException($"IMAGE: '{Path.GetFullPath(image)}' does not exist.");
        }
        var predictions = runner.Predict(model, s.Images, s.Top);
        var table = new Table().AddColumn("image");
        for (int k = 0; k < s.Top; k++)
            table.AddColumn(k == 0 ? "prediction" : $"#{k + 1}");
        foreach (var p in predictions)
        {
            var cells = new List<string> { Markup.Escape(p.Image) };
            cells.AddRange(p.Top.Select(t => Markup.Escape(string.Create(Inv, $"{t.Label} {100 * t.Probability:F1}%"))));
            while (cells.Count < s.Top + 1)
                cells.Add("");
            table.AddRow(cells.ToArray());
        }
        _console.Ansi.Write(table);
        return ExitCodes.Success;
    }

    /// <summary><c>pilot policy export</c>.</summary>
    public int ExportPolicy(PolicyExportSettings s)
    {
        var runner = new TrainingRunner(CliDefaults.Seed);
        using var model = runner.Load(s.Model, "--model");
        string json = runner.ExportPolicy(model, "--model");
        string path = Path.GetFullPath(s.Out);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, json);
        _console.WriteLine($"wrote {path}");
        return ExitCodes.Success;
    }

    /// <summary><c>pilot export onnx</c>.</summary>
    public int ExportOnnx(ExportOnnxSettings s)
    {
        var runner = new TrainingRunner(CliDefaults.Seed);
        using var model = runner.Load(s.Model, "--model");
        string path = Path.GetFullPath(s.Out);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var description = runner.ExportOnnx(model, path);
        _console.WriteLine($"wrote {path}: {description}");
        return ExitCodes.Success;
    }

    /// <summary><c>pilot bench optimizer</c>.</summary>
    public int BenchOptimizer(BenchOptimizerSettings s)
    {
        OptimizerBench.Run(s, _console);
        return ExitCodes.Success;
    }

    /// <summary><c>pilot bench train</c>.</summary>
    public int BenchTrain(BenchTrainSettings s)
    {
        TrainBenchmark.Run(s, _services.SystemFashionMnistFolder, _console);
        return ExitCodes.Success;
    }

    /// <summary><c>pilot bench report</c>.</summary>
    public int BenchReport(BenchReportSettings s)
    {
        PaperReport.Write(new PaperResultsFile(s.In), s.OutFolder, _console);
        return ExitCodes.Success;
    }

    /// <summary><c>pilot bench landscape</c>.</summary>
    public int BenchLandscape(BenchLandscapeSettings s)
    {
        LandscapeBenchmark.Run(s, _services.SystemFashionMnistFolder, _console);
        return ExitCodes.Success;
    }

    /// <summary><c>pilot bench paper</c>.</summary>
    public int BenchPaper(BenchPaperSettings s)
    {
        string? policy = null;
        if (s.Policy is not null)
        {
            if (!File.Exists(s.Policy))
                throw new CliInputException($"--policy: file '{Path.GetFullPath(s.Policy)}' does not exist.");
            if (!s.Optimizers.Contains(PilotOptimizerKind.Pilot))
                throw new CliInputException("--policy applies to PILOT runs; add Pilot to --optimizers.");
            policy = (s.FreezePolicy ? "frozen:" : "init:") + Path.GetFileNameWithoutExtension(s.Policy);
        }
        else if (s.FreezePolicy)
        {
            throw new CliInputException("--freeze-policy needs --policy FILE (the policy to keep fixed).");
        }
        foreach (var model in s.Models)
            PaperProtocol.For(model, PilotOptimizerKind.Pilot); // rejects models without tuned settings before anything runs
        var data = DataChoice.Resolve(s.Data, _services.SystemFashionMnistFolder);
        if (data.IsEmbedded)
            throw new CliInputException(
                $"--data: the paper protocol needs the full FashionMNIST; install the Debian package dataset-fashion-mnist (it fills {_services.SystemFashionMnistFolder}) or pass --data FOLDER.");
        string device = Devices.Resolve(s.Device, "--device");
        var file = new PaperResultsFile(s.Out);
        file.Read(); // a malformed results file is reported before any run
        var plan = PaperBenchmark.Plan(s.Models, s.Optimizers, s.Seeds, s.Epochs, device, policy);
        var runner = _services.PaperRunner(new PaperRunnerSetup(data, s.Policy, s.FreezePolicy));
        PaperBenchmark.Run(plan, runner, file, _console);
        return ExitCodes.Success;
    }
}

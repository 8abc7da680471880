using System.CommandLine;
using Pilot.MLNet;

namespace Pilot.Cli.Commands;

/// <summary>What <c>pilot bench optimizer</c> was asked to do.</summary>
internal sealed record BenchOptimizerSettings
{
    public DeviceChoice Device { get; init; } = BenchDefaults.OptimizerDevice;
    public IReadOnlyList<PilotArchitecture> Models { get; init; } = [BenchDefaults.Model];
    public int Steps { get; init; } = BenchDefaults.OptimizerSteps;
    public string? Json { get; init; }
    public string? Plot { get; init; }
    public string WaitPolicy { get; init; } = BenchDefaults.OptimizerWaitPolicy;
}

/// <summary>What <c>pilot bench train</c> was asked to do.</summary>
internal sealed record BenchTrainSettings
{
    public PilotArchitecture Model { get; init; } = BenchDefaults.Model;
    public IReadOnlyList<PilotOptimizerKind> Optimizers { get; init; } = BenchDefaults.TrainOptimizers;
    public DeviceChoice Device { get; init; } = CliDefaults.Device;
    public string? Data { get; init; }
    public int Rounds { get; init; } = BenchDefaults.TrainRounds;
    public string? Json { get; init; }
}

/// <summary>What <c>pilot bench report</c> was asked to do.</summary>
internal sealed record BenchReportSettings
{
    public string In { get; init; } = BenchDefaults.PaperResults;
    /// <summary><c>--out</c>: the report folder; null for the folder of <see cref="In"/>.</summary>
    public string? Out { get; init; }

    /// <summary>The folder the report is written to.</summary>
    public string OutFolder => Path.GetFullPath(Out ?? Path.GetDirectoryName(Path.GetFullPath(In))!);
}

/// <summary>What <c>pilot bench paper</c> was asked to do.</summary>
internal sealed record BenchPaperSettings
{
    public IReadOnlyList<PilotArchitecture> Models { get; init; } = BenchDefaults.PaperModels;
    public IReadOnlyList<PilotOptimizerKind> Optimizers { get; init; } = BenchDefaults.PaperOptimizers;
    public IReadOnlyList<int> Seeds { get; init; } = BenchDefaults.PaperSeeds;
    public int Epochs { get; init; } = BenchDefaults.PaperEpochs;
    public DeviceChoice Device { get; init; } = CliDefaults.Device;
    public string Out { get; init; } = BenchDefaults.PaperResults;
    public string? Policy { get; init; }
    public bool FreezePolicy { get; init; }
    public string? Data { get; init; }
}

/// <summary>What <c>pilot bench landscape</c> was asked to do.</summary>
internal sealed record BenchLandscapeSettings
{
    public IReadOnlyList<PilotOptimizerKind> Optimizers { get; init; } = BenchDefaults.LandscapeOptimizers;
    public int Epochs { get; init; } = BenchDefaults.LandscapeEpochs;

    /// <summary>Training rows used; null: <see cref="BenchDefaults.LandscapeTrainImages"/>, or all when there are fewer.</summary>
    public int? TrainImages { get; init; }
    public int Points { get; init; } = BenchDefaults.LandscapePoints;
    public int Grid { get; init; } = BenchDefaults.LandscapeGrid;
    public int Subset { get; init; } = BenchDefaults.LandscapeSubset;
    public int Seed { get; init; } = BenchDefaults.LandscapeSeed;
    public DeviceChoice Device { get; init; } = CliDefaults.Device;
    public string Out { get; init; } = BenchDefaults.LandscapeOut;
    public string? Data { get; init; }

    /// <summary>A JSON file this command wrote: redraw its figure without training; null to run.</summary>
    public string? From { get; init; }
}

/// <summary><c>pilot bench optimizer|train|paper|report|landscape</c>.</summary>
internal sealed class BenchCommands
{
    // bench optimizer
    public readonly Option<DeviceChoice> OptimizerDevice = OptionFactory.WithDefault("--device",
        "Device whose optimizer step is timed: cpu or cuda (auto picks CUDA when available).", BenchDefaults.OptimizerDevice, "cpu|cuda");
    public readonly Option<CommaList<PilotArchitecture>> OptimizerModel = OptionFactory.List("--model",
        "Networks whose parameters are optimized, comma-separated (SmallCnn, ResNet18); one table each.",
        [BenchDefaults.Model], OptionFactory.ParseEnum<PilotArchitecture>, "SmallCnn,ResNet18");
    public readonly Option<int> Steps = OptionFactory.AtLeast("--steps", "Timed optimizer steps after warm-up; the median is reported.",
        BenchDefaults.OptimizerSteps, 1);
    public readonly Option<string?> Json = OptionFactory.Optional<string>("--json", "Also write the results as JSON to this file. [default: none]", "FILE");
    public readonly Option<string?> Plot = OptionFactory.Optional<string>("--plot",
        "Also draw each optimizer's step time relative to AdamW, per network, as a bar chart (PNG). [default: none]", "FILE");
    public readonly Option<string> WaitPolicy = OptionFactory.WithDefault("--omp-wait-policy",
        "OpenMP wait policy of libtorch's threads to time under: both (a child process each for PASSIVE and ACTIVE, since libtorch reads it once at load), PASSIVE or ACTIVE.",
        BenchDefaults.OptimizerWaitPolicy, "both|PASSIVE|ACTIVE");

    // bench train
    public readonly Option<PilotArchitecture> TrainModel = OptionFactory.WithDefault("--model", "Network to train for one epoch.", BenchDefaults.Model);
    public readonly Option<CommaList<PilotOptimizerKind>> TrainOptimizers = OptionFactory.List("--optimizer",
        "Optimizers to time, comma-separated; each trains --rounds epochs of full FashionMNIST in this process.",
        BenchDefaults.TrainOptimizers, OptionFactory.ParseEnum<PilotOptimizerKind>, "Pilot,AdamW,...");
    public readonly Option<DeviceChoice> TrainDevice = OptionFactory.WithDefault("--device", "Where to train: auto, cpu or cuda.", CliDefaults.Device, "auto|cpu|cuda");
    public readonly Option<string?> TrainData = OptionFactory.Optional<string>("--data",
        $"FashionMNIST IDX folder. [default: {CliDefaults.SystemFashionMnistFolder}]", "PATH");
    public readonly Option<int> Rounds = OptionFactory.AtLeast("--rounds",
        "Timed epochs per optimizer, in rounds that alternate the optimizers' order; the median is reported.", BenchDefaults.TrainRounds, 1);
    public readonly Option<string?> TrainJson = OptionFactory.Optional<string>("--json", "Also write the results as JSON to this file. [default: none]", "FILE");

    // bench paper
    public readonly Option<CommaList<PilotArchitecture>> Models = OptionFactory.List("--models", "Networks, comma-separated (SmallCnn, ResNet18).",
        BenchDefaults.PaperModels, OptionFactory.ParseEnum<PilotArchitecture>, "SmallCnn,ResNet18");
    public readonly Option<CommaList<PilotOptimizerKind>> Optimizers = OptionFactory.List("--optimizers", "Optimizers, comma-separated.",
        BenchDefaults.PaperOptimizers, OptionFactory.ParseEnum<PilotOptimizerKind>, "Pilot,AdamW,Adam,Lion,AdaBelief,Sophia");
    public readonly Option<CommaList<int>> Seeds = OptionFactory.List("--seeds", "Seeds, comma-separated.", BenchDefaults.PaperSeeds, ParseSeed, "0,1,2");
    public readonly Option<int> Epochs = OptionFactory.AtLeast("--epochs", "Epochs per run (the paper's protocol is 30).", BenchDefaults.PaperEpochs, 1);
    public readonly Option<DeviceChoice> PaperDevice = OptionFactory.WithDefault("--device", "Where to train: auto, cpu or cuda.", CliDefaults.Device, "auto|cpu|cuda");
    public readonly Option<string> Out = OptionFactory.WithDefault("--out",
        "Results file; runs already in it (same model, optimizer, seed, epochs, device kind, policy) are skipped, new runs are appended as they finish.",
        BenchDefaults.PaperResults, "FILE");
    public readonly Option<string?> Policy = OptionFactory.Optional<string>("--policy",
        "PILOT policy JSON (from 'pilot policy export') that PILOT runs start from; recorded as policy \"init:<file>\" or, with --freeze-policy, \"frozen:<file>\". [default: none]",
        "FILE");
    public readonly Option<bool> FreezePolicy = new("--freeze-policy") { Description = "Keep the --policy fixed during the PILOT runs. [default: False]" };
    public readonly Option<string?> PaperData = OptionFactory.Optional<string>("--data",
        $"FashionMNIST IDX folder. [default: {CliDefaults.SystemFashionMnistFolder}]", "PATH");

    // bench report
    public readonly Option<string> ReportIn = OptionFactory.WithDefault("--in", "Results file written by 'pilot bench paper'.", BenchDefaults.PaperResults, "FILE");
    public readonly Option<string?> ReportOut = OptionFactory.Optional<string>("--out",
        "Folder for the Markdown summary (<results-name>.md) and the plots (PNG). [default: the folder of --in]", "DIR");

    // bench landscape
    public readonly Option<CommaList<PilotOptimizerKind>> LandscapeOptimizers = OptionFactory.List("--optimizers",
        "Optimizers, comma-separated; each trains from the same initial weights with the paper protocol's learning rate and weight decay.",
        BenchDefaults.LandscapeOptimizers, OptionFactory.ParseEnum<PilotOptimizerKind>, "Pilot,AdamW,...");
    public readonly Option<int> LandscapeEpochs = OptionFactory.AtLeast("--epochs", "Epochs each optimizer trains (cosine schedule over them).",
        BenchDefaults.LandscapeEpochs, 1);
    public readonly Option<int?> LandscapeTrainImages = OptionFactory.Optional<int?>("--train-images",
        $"Train on the first N training images. [default: {BenchDefaults.LandscapeTrainImages:N0}, or all when there are fewer]", "N");
    public readonly Option<int> LandscapePoints = OptionFactory.AtLeast("--points",
        "Weights recorded per trajectory after the start, evenly spaced over the steps (and always the last step).", BenchDefaults.LandscapePoints, 1);
    public readonly Option<int> LandscapeGrid = OptionFactory.AtLeast("--grid", "Loss evaluated on N × N points of the plane.", BenchDefaults.LandscapeGrid, 3);
    public readonly Option<int> LandscapeSubset = OptionFactory.AtLeast("--subset",
        "The loss is the mean cross-entropy over the first N training images.", BenchDefaults.LandscapeSubset, 1);
    public readonly Option<int> LandscapeSeed = OptionFactory.AtLeast("--seed",
        "Seed of the initial weights and batch order, shared by every optimizer.", BenchDefaults.LandscapeSeed, 0);
    public readonly Option<DeviceChoice> LandscapeDevice = OptionFactory.WithDefault("--device", "Where to train and evaluate: auto, cpu or cuda.",
        CliDefaults.Device, "auto|cpu|cuda");
    public readonly Option<string> LandscapeOut = OptionFactory.WithDefault("--out",
        "The figure (PNG); the numbers behind it go beside it as JSON (same name, .json).", BenchDefaults.LandscapeOut, "FILE.png");
    public readonly Option<string?> LandscapeData = OptionFactory.Optional<string>("--data",
        $"FashionMNIST IDX folder (or any data 'pilot train' reads). [default: {CliDefaults.SystemFashionMnistFolder} when installed, else the embedded subset]",
        "PATH");

    public readonly Option<string?> LandscapeFrom = OptionFactory.Optional<string>("--from",
        "Redraw the figure from a JSON file this command wrote, without training (the other options but --out are ignored). [default: none]", "FILE.json");

    public IReadOnlyList<Option> LandscapeOptions =>
    [
        LandscapeOptimizers, LandscapeEpochs, LandscapeTrainImages, LandscapePoints, LandscapeGrid, LandscapeSubset, LandscapeSeed,
        LandscapeDevice, LandscapeOut, LandscapeData, LandscapeFrom,
    ];
    public IReadOnlyList<Option> ReportOptions => [ReportIn, ReportOut];
    public IReadOnlyList<Option> OptimizerOptions => [OptimizerDevice, OptimizerModel, Steps, Json, Plot, WaitPolicy];
    public IReadOnlyList<Option> TrainOptions => [TrainModel, TrainOptimizers, TrainDevice, TrainData, Rounds, TrainJson];
    public IReadOnlyList<Option> PaperOptions => [Models, Optimizers, Seeds, Epochs, PaperDevice, Out, Policy, FreezePolicy, PaperData];

    public Command Create(
        Func<BenchOptimizerSettings, int> optimizer, Func<BenchTrainSettings, int> train, Func<BenchPaperSettings, int> paper,
        Func<BenchReportSettings, int> report, Func<BenchLandscapeSettings, int> landscape)
    {
        var optimizerCommand = new Command("optimizer",
            "Median milliseconds per optimizer step and state bytes per parameter for PILOT (plain, fast and multi-tensor paths), Adam and AdamW, with the ratio to AdamW.");
        foreach (var o in OptimizerOptions)
            optimizerCommand.Options.Add(o);
        optimizerCommand.SetAction(p => optimizer(BindOptimizer(p)));

        var trainCommand = new Command("train", "Seconds and images/s of one epoch of full FashionMNIST through the ML.NET trainer, per optimizer.");
        foreach (var o in TrainOptions)
            trainCommand.Options.Add(o);
        trainCommand.SetAction(p => train(BindTrain(p)));

        var paperCommand = new Command("paper",
            "Reproduce the paper's FashionMNIST protocol (batch 128, cosine, tuned PILOT settings per model): resumable, results accumulate in --out.");
        foreach (var o in PaperOptions)
            paperCommand.Options.Add(o);
        paperCommand.SetAction(p => paper(BindPaper(p)));

        var reportCommand = new Command("report",
            "Summarise a 'bench paper' results file: mean ± std over seeds per configuration, every run, and plots of accuracy, loss and PILOT's policy.");
        foreach (var o in ReportOptions)
            reportCommand.Options.Add(o);
        reportCommand.SetAction(p => report(BindReport(p)));

        var landscapeCommand = new Command("landscape",
            "Loss landscape of SmallCnn: every optimizer from the same initial weights, trajectories projected on their two principal directions, loss contours on a grid (PNG + JSON).");
        foreach (var o in LandscapeOptions)
            landscapeCommand.Options.Add(o);
        landscapeCommand.SetAction(p => landscape(BindLandscape(p)));

        return new Command("bench", "Benchmarks: optimizer step time, training epoch time, the paper's protocol, the loss landscape.")
        {
            optimizerCommand, trainCommand, paperCommand, reportCommand, landscapeCommand,
        };
    }

    public BenchOptimizerSettings BindOptimizer(ParseResult p) => new()
    {
        Device = p.GetValue(OptimizerDevice), Models = p.GetValue(OptimizerModel)!.Items, Steps = p.GetValue(Steps), Json = p.GetValue(Json),
        Plot = p.GetValue(Plot), WaitPolicy = p.GetValue(WaitPolicy)!,
    };

    public BenchTrainSettings BindTrain(ParseResult p) => new()
    {
        Model = p.GetValue(TrainModel), Optimizers = p.GetValue(TrainOptimizers)!.Items, Device = p.GetValue(TrainDevice), Data = p.GetValue(TrainData),
        Rounds = p.GetValue(Rounds), Json = p.GetValue(TrainJson),
    };

    public BenchReportSettings BindReport(ParseResult p) => new() { In = p.GetValue(ReportIn)!, Out = p.GetValue(ReportOut) };

    public BenchPaperSettings BindPaper(ParseResult p) => new()
    {
        Models = p.GetValue(Models)!.Items, Optimizers = p.GetValue(Optimizers)!.Items, Seeds = p.GetValue(Seeds)!.Items, Epochs = p.GetValue(Epochs),
        Device = p.GetValue(PaperDevice), Out = p.GetValue(Out)!, Policy = p.GetValue(Policy), FreezePolicy = p.GetValue(FreezePolicy),
        Data = p.GetValue(PaperData),
    };

    public BenchLandscapeSettings BindLandscape(ParseResult p) => new()
    {
        Optimizers = p.GetValue(LandscapeOptimizers)!.Items, Epochs = p.GetValue(LandscapeEpochs), TrainImages = p.GetValue(LandscapeTrainImages),
        Points = p.GetValue(LandscapePoints), Grid = p.GetValue(LandscapeGrid), Subset = p.GetValue(LandscapeSubset), Seed = p.GetValue(LandscapeSeed),
        Device = p.GetValue(LandscapeDevice), Out = p.GetValue(LandscapeOut)!, Data = p.GetValue(LandscapeData), From = p.GetValue(LandscapeFrom),
    };

    private static int ParseSeed(string text)
    {
        int seed = OptionFactory.ParseInt(text);
        return seed >= 0 ? seed : throw new ArgumentException("a seed must be 0 or greater.");
    }
}

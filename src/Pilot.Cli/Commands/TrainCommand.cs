using System.CommandLine;
using Pilot.MLNet;

namespace Pilot.Cli.Commands;

/// <summary><c>pilot train</c>: trains an image classifier through the ML.NET pipeline, prints test metrics, writes model, plots and history.</summary>
internal sealed class TrainCommand
{
    public readonly Option<string?> Data = OptionFactory.Optional<string>("--data",
        "Training data: a folder with one sub-folder of images per class, a FashionMNIST/MNIST IDX folder, or a CIFAR-10 binary folder. " +
        $"[default: full FashionMNIST from {CliDefaults.SystemFashionMnistFolder} when installed (Debian package dataset-fashion-mnist), else the embedded FashionMNIST subset]",
        "PATH");

    public readonly Option<PilotArchitecture> Architecture = OptionFactory.WithDefault("--arch",
        "Network to train (the library's default is ResNet18; the CLI's is SmallCnn, which trains in seconds per epoch on a CPU; " +
        "PretrainedResNet18 starts from ImageNet weights, the best choice for a small folder of photos).",
        CliDefaults.Architecture);

    public readonly Option<PilotFineTuning?> FineTuning = new("--fine-tuning")
    {
        Description = "Which weights of a pretrained network train: Head (backbone frozen, its features computed once; fast on a CPU) or Full (every layer). " +
            "[default: Head for pretrained networks; networks trained from scratch always train Full]",
        HelpName = "Head|Full",
    };

    public readonly Option<PilotOptimizerKind> Optimizer = OptionFactory.WithDefault("--optimizer", "Optimizer.", CliDefaults.Optimizer);

    public readonly Option<int> Epochs = OptionFactory.AtLeast("--epochs",
        "Training epochs, cosine learning-rate schedule (the library's default is 30, the paper's protocol; the CLI's is small so that the first run takes minutes).",
        CliDefaults.Epochs, 1);

    public readonly Option<int> BatchSize = OptionFactory.AtLeast("--batch-size", "Images per mini-batch.", CliDefaults.BatchSize, 1);

    public readonly Option<double> LearningRate = OptionFactory.Positive("--lr", "Peak learning rate.", CliDefaults.LearningRate);

    public readonly Option<DeviceChoice> Device = OptionFactory.WithDefault("--device",
        "Where to train: auto (CUDA when available), cpu or cuda.", CliDefaults.Device, "auto|cpu|cuda");

    public readonly Option<int> Seed = OptionFactory.AtLeast("--seed", "Seed of initialisation, shuffling and splits.", CliDefaults.Seed, 0);

    public readonly Option<string> Out = OptionFactory.WithDefault("--out", "Model file to write.", CliDefaults.ModelPath, "FILE");

    public readonly Option<double> ValidationFraction = OptionFactory.Fraction("--validation-fraction",
        "Fraction of the training rows held out for the per-epoch validation; 0 validates on the test rows after each epoch.",
        CliDefaults.ValidationFraction, 0, minInclusive: true);

    public readonly Option<double> TestFraction = OptionFactory.Fraction("--test-fraction",
        "Fraction of an image folder held out as the test set (IDX and CIFAR-10 folders have their own test split).",
        CliDefaults.TestFraction, 0, minInclusive: false);

    public readonly Option<int?> ImageSize = ImageSizeOption();

    public readonly Option<string?> Plots = OptionFactory.Optional<string>("--plots",
        $"Folder for the PNG plots and the per-epoch history JSON. [default: {CliDefaults.OutputFolderName}/ next to the model]", "DIR");

    public readonly Option<string?> Policy = OptionFactory.Optional<string>("--policy",
        "PILOT policy JSON (from 'pilot policy export') to start from. [default: none, PILOT's initial policy]", "FILE");

    public readonly Option<bool> FreezePolicy = new("--freeze-policy")
    {
        Description = "Keep the PILOT policy fixed during training (policy learning rate 0). [default: False]",
    };

    public readonly Option<string?> CheckpointDir = OptionFactory.Optional<string>("--checkpoint-dir",
        "Folder for a checkpoint after each epoch. [default: none]", "DIR");

    /// <summary>Every option of the command, in help order.</summary>
    public IReadOnlyList<Option> All =>
    [
        Data, Architecture, FineTuning, Optimizer, Epochs, BatchSize, LearningRate, Device, Seed, Out,
        ValidationFraction, TestFraction, ImageSize, Plots, Policy, FreezePolicy, CheckpointDir,
    ];

    /// <summary>Smallest <c>--image-size</c>: the ResNets halve the side three times.</summary>
    internal const int MinImageSize = 8;

    private static Option<int?> ImageSizeOption()
    {
        var option = new Option<int?>("--image-size")
        {
            Description = "Side in pixels that images of an image folder are resized to (IDX and CIFAR-10 keep their native size, except for PretrainedResNet18). " +
                $"[default: the trainer's, {PilotImageClassificationDefaults.ImageSide}; {PilotImageClassificationDefaults.PretrainedImageSide} for PretrainedResNet18, whatever the data]",
            HelpName = "N",
        };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int v && v < MinImageSize)
                r.AddError($"--image-size must be at least {MinImageSize}; got {v}.");
        });
        return option;
    }

    /// <summary>Creates the command; its action runs <paramref name="execute"/> on the parsed settings.</summary>
    public Command Create(Func<TrainSettings, int> execute)
    {
        var command = new Command("train",
            "Train an image classifier with the PILOT trainer through ML.NET, print test metrics, and write the model, plots and history.");
        foreach (var option in All)
            command.Options.Add(option);
        command.SetAction(parse => execute(Bind(parse)));
        return command;
    }

    /// <summary>Reads the settings from a parse result of this command.</summary>
    public TrainSettings Bind(ParseResult parse) => new()
    {
        Data = parse.GetValue(Data),
        Architecture = parse.GetValue(Architecture),
        FineTuning = parse.GetValue(FineTuning),
        Optimizer = parse.GetValue(Optimizer),
        Epochs = parse.GetValue(Epochs),
        BatchSize = parse.GetValue(BatchSize),
        LearningRate = parse.GetValue(LearningRate),
        Device = parse.GetValue(Device),
        Seed = parse.GetValue(Seed),
        Out = parse.GetValue(Out)!,
        ValidationFraction = parse.GetValue(ValidationFraction),
        TestFraction = parse.GetValue(TestFraction),
        ImageSize = parse.GetValue(ImageSize),
        Plots = parse.GetValue(Plots),
        Policy = parse.GetValue(Policy),
        FreezePolicy = parse.GetValue(FreezePolicy),
        CheckpointDir = parse.GetValue(CheckpointDir),
    };
}

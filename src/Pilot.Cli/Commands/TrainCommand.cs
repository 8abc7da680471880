using System.CommandLine;
using Pilot.MLNet;

namespace Pilot.Cli.Commands;

/// <summary>
/// <c>pilot train</c>: trains an image classifier through the ML.NET pipeline, prints test metrics, writes model, plots and
/// history. Its trainer flags are made from the trainer's options (<see cref="TrainerFlags"/>); the options here are the
/// command's own: data, device, seed, files and splits.
/// </summary>
internal sealed class TrainCommand
{
    public readonly Option<string?> Data = OptionFactory.Optional<string>("--data",
        "Training data: a folder with one sub-folder of images per class, a FashionMNIST/MNIST IDX folder, or a CIFAR-10 binary folder. " +
        $"[default: full FashionMNIST from {CliDefaults.SystemFashionMnistFolder} when installed (Debian package dataset-fashion-mnist), else the embedded FashionMNIST subset]",
        "PATH");

    /// <summary>The flags that set trainer options, with the CLI's defaults (<see cref="CliDefaults.Trainer"/>).</summary>
    public readonly TrainerFlags Trainer = new(CliDefaults.Trainer());

    public TrainCommand()
    {
        // The two defaults that depend on the data (CliDefaults.ForData) say so in the help.
        Amend(nameof(PilotImageClassificationTrainer.Options.Architecture),
            $"When not given and --data is a folder of images (one sub-folder per class): {CliDefaults.ImageFolderArchitecture}.");
        Amend(nameof(PilotImageClassificationTrainer.Options.Epochs),
            $"When not given and a pretrained network fine-tunes its head only (Head): {PilotImageClassificationDefaults.HeadEpochs}.");
    }

    private void Amend(string field, string text)
    {
        var option = Trainer.All.Single(f => f.Field.Name == field).Option;
        option.Description = $"{option.Description} {text}";
    }

    public readonly Option<DeviceChoice> Device = OptionFactory.WithDefault("--device",
        "Where to train: auto (CUDA when available), cpu or cuda.", CliDefaults.Device, "auto|cpu|cuda");

    public readonly Option<int> Seed = OptionFactory.AtLeast("--seed",
        "Seed of initialisation, shuffling, augmentation and the data splits.", CliDefaults.Seed, 0);

    public readonly Option<string> Out = OptionFactory.WithDefault("--out", "Model file to write.", CliDefaults.ModelPath, "FILE");

    public readonly Option<double> ValidationFraction = OptionFactory.Fraction("--validation-fraction",
        "Fraction of the training rows held out for the per-epoch validation; 0 validates on the test rows after each epoch " +
        "(not allowed with --early-stopping-patience, which chooses an epoch by its validation loss).",
        CliDefaults.ValidationFraction, 0, minInclusive: true);

    public readonly Option<double> TestFraction = OptionFactory.Fraction("--test-fraction",
        "Fraction of an image folder held out as the test set (IDX and CIFAR-10 folders have their own test split).",
        CliDefaults.TestFraction, 0, minInclusive: false);

    public readonly Option<int?> ImageSize = ImageSizeOption();

    public readonly Option<string?> Plots = OptionFactory.Optional<string>("--plots",
        $"Folder for the PNG plots and the per-epoch history JSON. [default: {CliDefaults.OutputFolderName}/ next to the model]", "DIR");

    /// <summary>Every option of the command, in help order.</summary>
    public IReadOnlyList<Option> All =>
    [
        Data, .. Trainer.All.Select(f => f.Option), Device, Seed, Out, ValidationFraction, TestFraction, ImageSize, Plots,
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
    /// <exception cref="CliInputException">A file named by a trainer flag (<c>--policy</c>) cannot be read.</exception>
    public TrainSettings Bind(ParseResult parse) => new()
    {
        Data = parse.GetValue(Data),
        Trainer = Trainer.Bind(parse),
        GivenTrainerFlags = Trainer.All.Where(f => parse.GetResult(f.Option) is { Implicit: false }).Select(f => f.Field.Name).ToHashSet(),
        Device = parse.GetValue(Device),
        Seed = parse.GetValue(Seed),
        Out = parse.GetValue(Out)!,
        ValidationFraction = parse.GetValue(ValidationFraction),
        TestFraction = parse.GetValue(TestFraction),
        ImageSize = parse.GetValue(ImageSize),
        Plots = parse.GetValue(Plots),
    };
}

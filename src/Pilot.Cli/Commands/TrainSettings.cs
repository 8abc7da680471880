using Microsoft.ML;
using Pilot.MLNet;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;

namespace Pilot.Cli.Commands;

/// <summary>What <c>pilot train</c> was asked to do: the trainer's options as its flags set them, and the command's own settings.</summary>
internal sealed record TrainSettings
{
    /// <summary><c>--data</c>: image folder, IDX folder or CIFAR-10 binary folder; null for the default data set.</summary>
    public string? Data { get; init; }

    /// <summary>
    /// The trainer's options from the trainer flags (<see cref="TrainerFlags"/>), the CLI's defaults where a flag is not given;
    /// the fields of <see cref="TrainerFlags.SetByCommand"/> are filled when training starts.
    /// </summary>
    public Options Trainer { get; init; } = CliDefaults.Trainer();

    /// <summary>
    /// The <see cref="Options"/> fields whose flag was given on the command line; the others hold the CLI's defaults, which
    /// <see cref="CliDefaults.ForData"/> may change to suit the data (an image folder trains the pretrained network).
    /// </summary>
    public IReadOnlySet<string> GivenTrainerFlags { get; init; } = new HashSet<string>();

    /// <summary><c>--device</c>.</summary>
    public DeviceChoice Device { get; init; } = CliDefaults.Device;

    /// <summary><c>--seed</c>, ≥ 0: the trainer's seed and the seed of the data splits.</summary>
    public int Seed { get; init; } = CliDefaults.Seed;

    /// <summary><c>--out</c>: the model file to write.</summary>
    public string Out { get; init; } = CliDefaults.ModelPath;

    /// <summary><c>--validation-fraction</c>, in [0, 1).</summary>
    public double ValidationFraction { get; init; } = CliDefaults.ValidationFraction;

    /// <summary><c>--test-fraction</c>, in (0, 1); used for image folders only.</summary>
    public double TestFraction { get; init; } = CliDefaults.TestFraction;

    /// <summary><c>--image-size</c>: network input side for image-folder data (images are resized), ≥ 8; null for the trainer's default.</summary>
    public int? ImageSize { get; init; }

    /// <summary><c>--plots</c>: folder for plots and history; null for <see cref="CliDefaults.OutputFolderName"/> next to the model.</summary>
    public string? Plots { get; init; }

    /// <summary>The plots folder this run writes to.</summary>
    public string PlotsFolder => Plots ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(Out))!, CliDefaults.OutputFolderName);

    /// <summary>Checks the combinations and files that single-option validation cannot; throws <see cref="CliInputException"/>.</summary>
    public void Validate()
    {
        // The trainer checks every option value when it is created: before any data is read.
        try
        {
            new MLContext().Pilot.ImageClassification(Trainer);
        }
        catch (ArgumentException e)
        {
            throw new CliInputException(Training.TrainingRunner.OptionProblem(e) ?? $"The trainer rejected an option: {e.Message}", e);
        }
        string optimizer = TrainerFlags.FlagOf(nameof(Options.Optimizer));
        if (Trainer.InitialPolicy is not null && Trainer.Optimizer != PilotOptimizerKind.Pilot)
            throw new CliInputException($"{TrainerFlags.FlagOf(nameof(Options.InitialPolicy))} applies to {optimizer} Pilot only; got {optimizer} {Trainer.Optimizer}.");
        if (Trainer.FreezePolicy && Trainer.Optimizer != PilotOptimizerKind.Pilot)
            throw new CliInputException($"{TrainerFlags.FlagOf(nameof(Options.FreezePolicy))} applies to {optimizer} Pilot only; got {optimizer} {Trainer.Optimizer}.");
        // Early stopping keeps the epoch with the lowest validation loss: choosing it on the test rows would report test
        // metrics of a model selected on them.
        if (Trainer.EarlyStoppingPatience is not null && ValidationFraction == 0)
            throw new CliInputException(
                $"{TrainerFlags.FlagOf(nameof(Options.EarlyStoppingPatience))} keeps the epoch with the lowest validation loss, so the validation rows must not be " +
                "the test rows whose metrics are reported: pass --validation-fraction F (for example 0.1) to hold out part of the training rows.");
        if (Directory.Exists(Out))
            throw new CliInputException($"--out: '{Path.GetFullPath(Out)}' is a folder; pass a file name such as model.zip.");
    }
}

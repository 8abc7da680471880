using Pilot.MLNet;

namespace Pilot.Cli.Commands;

/// <summary>What <c>pilot train</c> was asked to do; one property per option, defaults from <see cref="CliDefaults"/>.</summary>
internal sealed record TrainSettings
{
    /// <summary><c>--data</c>: image folder, IDX folder or CIFAR-10 binary folder; null for the default data set.</summary>
    public string? Data { get; init; }

    /// <summary><c>--arch</c>.</summary>
    public PilotArchitecture Architecture { get; init; } = CliDefaults.Architecture;

    /// <summary><c>--fine-tuning</c>: null for the architecture's default.</summary>
    public PilotFineTuning? FineTuning { get; init; }

    /// <summary><c>--optimizer</c>.</summary>
    public PilotOptimizerKind Optimizer { get; init; } = CliDefaults.Optimizer;

    /// <summary><c>--epochs</c>, ≥ 1.</summary>
    public int Epochs { get; init; } = CliDefaults.Epochs;

    /// <summary><c>--batch-size</c>, ≥ 1.</summary>
    public int BatchSize { get; init; } = CliDefaults.BatchSize;

    /// <summary><c>--lr</c>, &gt; 0.</summary>
    public double LearningRate { get; init; } = CliDefaults.LearningRate;

    /// <summary><c>--device</c>.</summary>
    public DeviceChoice Device { get; init; } = CliDefaults.Device;

    /// <summary><c>--seed</c>, ≥ 0.</summary>
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

    /// <summary><c>--policy</c>: a policy JSON from <c>pilot policy export</c> to start PILOT from; null for PILOT's initial policy.</summary>
    public string? Policy { get; init; }

    /// <summary><c>--freeze-policy</c>: keep the policy fixed (η_φ = 0).</summary>
    public bool FreezePolicy { get; init; }

    /// <summary><c>--checkpoint-dir</c>: folder for per-epoch checkpoints; null for none.</summary>
    public string? CheckpointDir { get; init; }

    /// <summary>The plots folder this run writes to.</summary>
    public string PlotsFolder => Plots ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(Out))!, CliDefaults.OutputFolderName);

    /// <summary>Checks the combinations and files that single-option validation cannot; throws <see cref="CliInputException"/>.</summary>
    public void Validate()
    {
        if (Policy is not null && Optimizer != PilotOptimizerKind.Pilot)
            throw new CliInputException($"--policy applies to --optimizer Pilot only; got --optimizer {Optimizer}.");
        if (FreezePolicy && Optimizer != PilotOptimizerKind.Pilot)
            throw new CliInputException($"--freeze-policy applies to --optimizer Pilot only; got --optimizer {Optimizer}.");
        if (Policy is not null && !File.Exists(Policy))
            throw new CliInputException($"--policy: file '{Path.GetFullPath(Policy)}' does not exist. Write one with 'pilot policy export --model model.zip --out policy.json'.");
        if (Directory.Exists(Out))
            throw new CliInputException($"--out: '{Path.GetFullPath(Out)}' is a folder; pass a file name such as model.zip.");
    }
}

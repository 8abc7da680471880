using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pilot.Cli.Reporting;

/// <summary>What happened in one epoch, as written to the history JSON and plotted.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean cross-entropy over the epoch's training batches.</param>
/// <param name="TrainAccuracy">Fraction of training images classified correctly during the epoch, in [0, 1].</param>
/// <param name="ValidationLoss">Mean cross-entropy on the validation rows after the epoch; null without validation rows.</param>
/// <param name="ValidationAccuracy">Validation accuracy after the epoch, in [0, 1]; null without validation rows.</param>
/// <param name="LearningRate">Learning rate at the end of the epoch.</param>
/// <param name="Seconds">Wall-clock seconds of the epoch (training and validation).</param>
/// <param name="ImagesPerSecond">Training images per second.</param>
/// <param name="Rho">PILOT's agreement score ρ at the end of the epoch (mean over parameter groups); null for other optimizers.</param>
/// <param name="PM">Mean PILOT momentum knob p_m over the epoch's steps; null for other optimizers.</param>
/// <param name="PV">Mean PILOT variance knob p_v over the epoch's steps; null for other optimizers.</param>
/// <param name="PS">Mean PILOT sign knob p_s over the epoch's steps; null for other optimizers.</param>
internal sealed record EpochRecord(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    double? ValidationLoss,
    double? ValidationAccuracy,
    double LearningRate,
    double Seconds,
    double ImagesPerSecond,
    double? Rho = null,
    [property: JsonPropertyName("p_m")] double? PM = null,
    [property: JsonPropertyName("p_v")] double? PV = null,
    [property: JsonPropertyName("p_s")] double? PS = null);

/// <summary>PILOT's state after one optimizer step, for the policy-over-steps plot.</summary>
/// <param name="Step">1-based global step number.</param>
/// <param name="Rho">Agreement score ρ.</param>
/// <param name="PM">Momentum knob p_m.</param>
/// <param name="PV">Variance knob p_v.</param>
/// <param name="PS">Sign knob p_s.</param>
internal sealed record PolicyStep(
    long Step,
    double Rho,
    [property: JsonPropertyName("p_m")] double PM,
    [property: JsonPropertyName("p_v")] double PV,
    [property: JsonPropertyName("p_s")] double PS);

/// <summary>The history JSON that <c>pilot train</c> writes next to its plots.</summary>
internal sealed record TrainingHistory
{
    /// <summary>Network, as the enum spells it (<c>SmallCnn</c>…).</summary>
    public required string Model { get; init; }

    /// <summary>Optimizer, as the enum spells it (<c>Pilot</c>, <c>AdamW</c>…).</summary>
    public required string Optimizer { get; init; }

    /// <summary>The data the model was trained on, as given or resolved.</summary>
    public required string Data { get; init; }

    /// <summary>Which rows the per-epoch validation figures come from, in words.</summary>
    public required string ValidationRows { get; init; }

    /// <summary>Seed of the run.</summary>
    public required int Seed { get; init; }

    /// <summary>Device the run used (<c>cpu</c> or <c>cuda</c>).</summary>
    public required string Device { get; init; }

    /// <summary>One record per finished epoch.</summary>
    public required IReadOnlyList<EpochRecord> Epochs { get; init; }

    /// <summary>PILOT's ρ and knobs after each step, when the trainer reported them; empty otherwise.</summary>
    public IReadOnlyList<PolicyStep> PolicySteps { get; init; } = [];

    /// <summary>Final test metrics.</summary>
    public TestSummary? Test { get; init; }

    /// <summary>Writes the history as indented JSON with snake_case names.</summary>
    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json.Options));

    /// <summary>Reads a file written by <see cref="Save"/>.</summary>
    public static TrainingHistory Load(string path)
        => JsonSerializer.Deserialize<TrainingHistory>(File.ReadAllText(path), Json.Options)
           ?? throw new InvalidDataException($"'{path}' holds no training history.");
}

/// <summary>Test-set figures stored in the history file.</summary>
/// <param name="Accuracy">Fraction correct, in [0, 1].</param>
/// <param name="MacroF1">Macro-averaged F1, in [0, 1].</param>
/// <param name="LogLoss">Mean cross-entropy.</param>
/// <param name="Rows">Number of test rows.</param>
internal sealed record TestSummary(double Accuracy, double MacroF1, double LogLoss, long Rows)
{
    /// <summary>The summary of <paramref name="report"/>.</summary>
    public static TestSummary From(ClassificationReport report) => new(report.Accuracy, report.MacroF1, report.LogLoss, report.Rows);
}

/// <summary>JSON settings shared by every file the CLI writes.</summary>
internal static class Json
{
    /// <summary>snake_case names, indented, nulls left out, enums as names.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };
}

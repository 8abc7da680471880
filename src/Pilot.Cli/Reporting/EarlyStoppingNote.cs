using System.Globalization;
using Pilot.MLNet;

namespace Pilot.Cli.Reporting;

/// <summary>The line <c>pilot train</c> prints after training when early stopping was on: where it stopped, and which epoch's weights the model holds.</summary>
internal static class EarlyStoppingNote
{
    /// <summary>
    /// The note for a run with <paramref name="patience"/> (<see cref="PilotImageClassificationTrainer.Options.EarlyStoppingPatience"/>),
    /// or <see langword="null"/> when early stopping was off or no epoch was validated.
    /// </summary>
    /// <param name="history">Every epoch of the run (<see cref="PilotImageClassificationTransformer.TrainingHistory"/>, resumed epochs included).</param>
    /// <param name="patience">The patience the run trained with, or <see langword="null"/>.</param>
    public static string? For(IReadOnlyList<PilotEpochReport> history, int? patience)
    {
        if (patience is null || history.Count == 0 || history.All(r => r.ValidationLoss is null))
            return null;
        // The trainer keeps the first epoch with the lowest validation loss (a later equal one does not replace it).
        var best = history.Where(r => r.ValidationLoss is not null).MinBy(r => r.ValidationLoss!.Value)!;
        int planned = history[^1].Epochs;
        string stop = history.Count < planned
            ? $"stopped after epoch {history.Count} of {planned}: no lower validation loss for {patience} epochs"
            : $"ran all {planned} epochs";
        return string.Create(CultureInfo.InvariantCulture,
            $"early stopping: {stop}; the model is epoch {best.Epoch}'s (validation loss {best.ValidationLoss:F4}, accuracy {100 * best.ValidationAccuracy:F2}%)");
    }
}

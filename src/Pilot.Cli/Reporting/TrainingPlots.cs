using ScottPlot;

namespace Pilot.Cli.Reporting;

/// <summary>PNG plots of a <see cref="TrainingHistory"/> (ScottPlot).</summary>
internal static class TrainingPlots
{
    /// <summary>File name of the loss plot (train and validation loss per epoch).</summary>
    public const string LossFile = "loss.png";

    /// <summary>File name of the accuracy plot (train and validation accuracy per epoch).</summary>
    public const string AccuracyFile = "accuracy.png";

    /// <summary>File name of the PILOT policy plot (ρ, p_m, p_v, p_s over steps, or over epochs when no step data exists).</summary>
    public const string PolicyFile = "policy.png";

    private const int Width = 800, Height = 500;

    /// <summary>
    /// Writes the loss and accuracy plots, and the policy plot when the history has PILOT data, into
    /// <paramref name="folder"/> (created if missing). Returns the paths written.
    /// </summary>
    public static IReadOnlyList<string> Write(TrainingHistory history, string folder)
    {
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        var epochs = history.Epochs;
        if (epochs.Count == 0)
            return written;
        double[] x = epochs.Select(e => (double)e.Epoch).ToArray();
        string title = $"{history.Model} · {history.Optimizer}";

        written.Add(SaveCurves(Path.Combine(folder, LossFile), $"{title}: loss", "cross-entropy", x,
            ("train", epochs.Select(e => (double?)e.TrainLoss)),
            ("validation", epochs.Select(e => e.ValidationLoss))));
        written.Add(SaveCurves(Path.Combine(folder, AccuracyFile), $"{title}: accuracy", "accuracy (%)", x,
            ("train", epochs.Select(e => (double?)(100 * e.TrainAccuracy))),
            ("validation", epochs.Select(e => e.ValidationAccuracy * 100))));

        if (history.PolicySteps.Count > 0)
        {
            var steps = history.PolicySteps;
            double[] s = steps.Select(p => (double)p.Step).ToArray();
            written.Add(SavePolicy(Path.Combine(folder, PolicyFile), $"{title}: PILOT policy over steps", "step", s,
                steps.Select(p => p.Rho).ToArray(), steps.Select(p => p.PM).ToArray(),
                steps.Select(p => p.PV).ToArray(), steps.Select(p => p.PS).ToArray()));
        }
        else if (epochs.All(e => e.Rho is not null && e.PM is not null && e.PV is not null && e.PS is not null))
        {
            written.Add(SavePolicy(Path.Combine(folder, PolicyFile), $"{title}: PILOT policy per epoch", "epoch", x,
                epochs.Select(e => e.Rho!.Value).ToArray(), epochs.Select(e => e.PM!.Value).ToArray(),
                epochs.Select(e => e.PV!.Value).ToArray(), epochs.Select(e => e.PS!.Value).ToArray()));
        }
        return written;
    }

    private static string SaveCurves(string path, string title, string yLabel, double[] x,
        params (string Name, IEnumerable<double?> Values)[] series)
    {
        var plot = new Plot();
        foreach (var (name, values) in series)
        {
            double?[] v = values.ToArray();
            if (v.All(y => y is null))
                continue;
            // Epochs without a value (no validation rows) are left out of the line rather than drawn as zero.
            var points = x.Zip(v).Where(p => p.Second is not null).ToArray();
            var line = plot.Add.Scatter(points.Select(p => p.First).ToArray(), points.Select(p => p.Second!.Value).ToArray());
            line.LegendText = name;
            line.MarkerSize = x.Length <= 50 ? 6 : 0;
        }
        Finish(plot, title, "epoch", yLabel);
        plot.SavePng(path, Width, Height);
        return path;
    }

    private static string SavePolicy(string path, string title, string xLabel, double[] x, double[] rho, double[] pm, double[] pv, double[] ps)
    {
        var plot = new Plot();
        foreach (var (name, y) in new[] { ("ρ (gradient agreement)", rho), ("p_m (momentum)", pm), ("p_v (variance power)", pv), ("p_s (sign)", ps) })
        {
            var line = plot.Add.Scatter(x, y);
            line.LegendText = name;
            line.MarkerSize = x.Length <= 50 ? 6 : 0;
        }
        Finish(plot, title, xLabel, "value");
        plot.SavePng(path, Width, Height);
        return path;
    }

    private static void Finish(Plot plot, string title, string xLabel, string yLabel)
    {
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
    }
}

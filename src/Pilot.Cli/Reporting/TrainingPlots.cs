using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;
using OxyPlot.SkiaSharp;

namespace Pilot.Cli.Reporting;

/// <summary>PNG plots of a <see cref="TrainingHistory"/>, drawn with OxyPlot on SkiaSharp.</summary>
/// <remarks>
/// OxyPlot's SkiaSharp renderer, built for SkiaSharp 2.88, runs on the SkiaSharp 3 that ML.NET 6.0's image loading
/// (<c>MLImage</c>) brings into the process. Text is drawn without HarfBuzz shaping, so no extra native library is needed.
/// </remarks>
internal static class TrainingPlots
{
    /// <summary>File name of the loss plot (train and validation loss per epoch).</summary>
    public const string LossFile = "loss.png";

    /// <summary>File name of the accuracy plot (train and validation accuracy per epoch).</summary>
    public const string AccuracyFile = "accuracy.png";

    /// <summary>File name of the PILOT policy plot (ρ, p_m, p_v, p_s over steps, or over epochs when no step data exists).</summary>
    public const string PolicyFile = "policy.png";

    private const int Width = 800, Height = 500;

    /// <summary>At most this many points get markers; longer series are drawn as plain lines.</summary>
    private const int MaxMarkedPoints = 50;

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

        written.Add(Save(Path.Combine(folder, LossFile), $"{title}: loss", "epoch", "cross-entropy", x,
            ("train", epochs.Select(e => (double?)e.TrainLoss).ToArray()),
            ("validation", epochs.Select(e => e.ValidationLoss).ToArray())));
        written.Add(Save(Path.Combine(folder, AccuracyFile), $"{title}: accuracy", "epoch", "accuracy (%)", x,
            ("train", epochs.Select(e => (double?)(100 * e.TrainAccuracy)).ToArray()),
            ("validation", epochs.Select(e => e.ValidationAccuracy * 100).ToArray())));

        if (history.PolicySteps.Count > 0)
        {
            var steps = history.PolicySteps;
            written.Add(Save(Path.Combine(folder, PolicyFile), $"{title}: PILOT policy over steps", "step", "value",
                steps.Select(p => (double)p.Step).ToArray(),
                (Rho, steps.Select(p => (double?)p.Rho).ToArray()), (PM, steps.Select(p => (double?)p.PM).ToArray()),
                (PV, steps.Select(p => (double?)p.PV).ToArray()), (PS, steps.Select(p => (double?)p.PS).ToArray())));
        }
        else if (epochs.All(e => e.Rho is not null && e.PM is not null && e.PV is not null && e.PS is not null))
        {
            written.Add(Save(Path.Combine(folder, PolicyFile), $"{title}: PILOT policy per epoch (ρ at its end, knobs averaged over it)", "epoch", "value", x,
                (Rho, epochs.Select(e => e.Rho).ToArray()), (PM, epochs.Select(e => e.PM).ToArray()),
                (PV, epochs.Select(e => e.PV).ToArray()), (PS, epochs.Select(e => e.PS).ToArray())));
        }
        return written;
    }

    private const string Rho = "ρ (gradient agreement)", PM = "p_m (momentum)", PV = "p_v (variance power)", PS = "p_s (sign)";

    private static string Save(string path, string title, string xLabel, string yLabel, double[] x, params (string Name, double?[] Values)[] series)
        => SaveLines(path, title, xLabel, yLabel, series.Select(s => (s.Name, x, s.Values)));

    /// <summary>
    /// Writes a line plot of <paramref name="series"/> (each with its own x values; points without a value are left out)
    /// to <paramref name="path"/> as PNG; returns <paramref name="path"/>. <paramref name="markers"/>: circles on the points of
    /// series of at most 50 points (leave it off for plots with many series). <paramref name="style"/>: colour and line style of
    /// the series at an index (OxyPlot's palette and solid lines when null).
    /// </summary>
    internal static string SaveLines(string path, string title, string xLabel, string yLabel,
        IEnumerable<(string Name, double[] X, double?[] Values)> series, bool markers = true,
        Func<int, (OxyColor Color, LineStyle Style)>? style = null)
    {
        var model = new PlotModel { Title = title, Background = OxyColors.White };
        // Epochs and steps are whole numbers: no ticks between them.
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Bottom, Title = xLabel, MajorGridlineStyle = LineStyle.Dot, MinimumMajorStep = 1, MinimumMinorStep = 1,
        });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = yLabel, MajorGridlineStyle = LineStyle.Dot });
        int index = -1;
        foreach (var (name, x, values) in series)
        {
            index++;
            if (values.All(v => v is null))
                continue;
            var line = new LineSeries { Title = name, MarkerType = markers && x.Length <= MaxMarkedPoints ? MarkerType.Circle : MarkerType.None };
            if (style is not null)
                (line.Color, line.LineStyle) = style(index);
            // Points without a value (an epoch without validation rows) are left out rather than drawn as zero.
            for (int i = 0; i < x.Length; i++)
            {
                if (values[i] is double v)
                    line.Points.Add(new DataPoint(x[i], v));
            }
            model.Series.Add(line);
        }
        return Export(model, path);
    }

    /// <summary>
    /// Adds the legend every plot of the CLI uses (below the plot, one row) and writes <paramref name="model"/> to
    /// <paramref name="path"/> as a PNG of <paramref name="height"/> pixels (800 wide), without HarfBuzz text shaping (see
    /// the class remarks); returns <paramref name="path"/>.
    /// </summary>
    internal static string Export(PlotModel model, string path, int height = Height)
    {
        model.Legends.Add(new Legend
        {
            LegendPosition = LegendPosition.BottomCenter, LegendPlacement = LegendPlacement.Outside, LegendOrientation = LegendOrientation.Horizontal,
        });
        using var file = File.Create(path);
        new PngExporter { Width = Width, Height = height, UseTextShaping = false }.Export(model, file);
        return path;
    }
}

using System.Globalization;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Series;
using Pilot.Cli.Reporting;

namespace Pilot.Cli.Bench;

/// <summary>
/// The loss-landscape figure of <c>bench landscape</c>: the loss over the plane as a light shaded map with a colour bar and
/// labelled contours, each optimizer's trajectory in its own colour (the colours of <c>bench report</c>'s plots) with a
/// square at its end and its end loss in the legend, and a star at the common start.
/// </summary>
internal static class LandscapePlot
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Number of contour lines.</summary>
    private const int ContourCount = 12;

    /// <summary>Quantile of the grid's losses where the colour scale ends (higher losses share the top colour), so a few very high corners do not wash out the rest.</summary>
    private const double ColourCapQuantile = 0.95;

    private const int Height = 760;

    /// <summary>Draws <paramref name="r"/> to <paramref name="path"/> (PNG).</summary>
    public static string Write(LandscapeResult r, string path)
    {
        int nx = r.Grid.Alpha.Length, ny = r.Grid.Beta.Length;
        var data = new double[nx, ny];
        for (int i = 0; i < nx; i++)
            for (int j = 0; j < ny; j++)
                data[i, j] = r.Grid.Loss[i][j];
        var sorted = r.Grid.Loss.SelectMany(row => row).Where(double.IsFinite).Order().ToList();
        double lo = sorted.Count > 0 ? sorted[0] : 0;
        double cap = sorted.Count > 0 ? sorted[(int)Math.Floor(ColourCapQuantile * (sorted.Count - 1))] : 1;
        if (!(cap > lo))
            cap = lo + 1;

        var model = new PlotModel
        {
            Title = string.Create(Inv, $"{r.Model} loss landscape: optimizer trajectories from one start"),
            Subtitle = string.Create(Inv,
                $"{r.Epochs} epoch{(r.Epochs == 1 ? "" : "s")} on {r.TrainImages:N0} images, seed {r.Seed}; plane of the trajectories' 2 principal directions; loss on {r.SubsetImages:N0} training images; squares: ends"),
            TitleFontSize = 16, SubtitleFontSize = 11,
            Background = OxyColors.White,
        };
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Bottom, Title = string.Create(Inv, $"PC1 ({100 * r.Plane.ExplainedPc1:F1}% of the squared displacement)"),
            Minimum = r.Grid.Alpha[0], Maximum = r.Grid.Alpha[^1], MajorGridlineStyle = LineStyle.None,
        });
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Left, Title = string.Create(Inv, $"PC2 ({100 * r.Plane.ExplainedPc2:F1}%)"),
            Minimum = r.Grid.Beta[0], Maximum = r.Grid.Beta[^1], MajorGridlineStyle = LineStyle.None,
        });
        // Light shades (white = low loss) so that the trajectories' colours stay readable on top.
        model.Axes.Add(new LinearColorAxis
        {
            Position = AxisPosition.Right, Title = "loss (cross-entropy)",
            Palette = OxyPalette.Interpolate(200, OxyColors.White, OxyColor.FromRgb(215, 220, 235), OxyColor.FromRgb(140, 150, 180)),
            Minimum = lo, Maximum = cap, HighColor = OxyColor.FromRgb(140, 150, 180), LowColor = OxyColors.White,
        });
        model.Series.Add(new HeatMapSeries
        {
            X0 = r.Grid.Alpha[0], X1 = r.Grid.Alpha[^1], Y0 = r.Grid.Beta[0], Y1 = r.Grid.Beta[^1], Data = data, Interpolate = true,
            RenderMethod = HeatMapRenderMethod.Bitmap,
        });
        model.Series.Add(new ContourSeries
        {
            ColumnCoordinates = r.Grid.Alpha, RowCoordinates = r.Grid.Beta, Data = data, ContourLevels = Levels(lo, cap),
            LabelFormatString = "0.00", Color = OxyColor.FromRgb(90, 90, 100), StrokeThickness = 0.8, FontSize = 10, TextColor = OxyColor.FromRgb(60, 60, 70),
            LabelSpacing = 120,
            LabelBackground = OxyColor.FromAColor(200, OxyColors.White), RenderInLegend = false,
        });

        for (int k = 0; k < r.Optimizers.Count; k++)
        {
            var t = r.Optimizers[k];
            var colour = PaperReport.Palette[k % PaperReport.Palette.Length];
            var line = new LineSeries
            {
                Title = string.Create(Inv, $"{t.Optimizer}: end loss {t.EndLoss:F3}"), Color = colour, StrokeThickness = 2,
                MarkerType = MarkerType.Circle, MarkerSize = 2.2, MarkerFill = colour,
            };
            foreach (var p in t.Points)
                line.Points.Add(new DataPoint(p.Alpha, p.Beta));
            model.Series.Add(line);
            // Markers as one-point line series: a scatter series would take its fill from the colour axis of the map.
            var end = t.Points[^1];
            model.Series.Add(Marker(end.Alpha, end.Beta, MarkerType.Square, 6, colour, OxyColors.Black, 1, title: null));
        }
        model.Series.Add(Marker(0, 0, MarkerType.Star, 9, OxyColors.Black, OxyColors.Black, 2, string.Create(Inv, $"start (all): loss {r.StartLoss:F3}")));
        return TrainingPlots.Export(model, path, Height);
    }

    private static LineSeries Marker(double x, double y, MarkerType type, double size, OxyColor fill, OxyColor stroke, double thickness, string? title)
    {
        var marker = new LineSeries
        {
            Title = title, RenderInLegend = title is not null, Color = OxyColors.Transparent, MarkerType = type, MarkerSize = size,
            MarkerFill = fill, MarkerStroke = stroke, MarkerStrokeThickness = thickness,
        };
        marker.Points.Add(new DataPoint(x, y));
        return marker;
    }

    /// <summary><see cref="ContourCount"/> levels from just above <paramref name="lo"/> to <paramref name="hi"/>, evenly spaced in log(loss): low losses, where the trajectories end, get more lines.</summary>
    internal static double[] Levels(double lo, double hi)
    {
        double a = Math.Log(Math.Max(lo, 1e-6)), b = Math.Log(Math.Max(hi, lo + 1e-6));
        return Enumerable.Range(1, ContourCount).Select(i => Math.Exp(a + (b - a) * i / ContourCount)).ToArray();
    }
}

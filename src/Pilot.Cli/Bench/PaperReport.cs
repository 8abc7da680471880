using System.Globalization;
using System.Text;
using OxyPlot;
using Pilot.Cli.Reporting;
using Pilot.MLNet;

namespace Pilot.Cli.Bench;

/// <summary>Runs of one configuration: the same model, optimizer, policy, device, precision and epochs; one run per seed.</summary>
/// <param name="Model">Network.</param>
/// <param name="Optimizer">Optimizer.</param>
/// <param name="Policy">PILOT's <c>frozen:…</c>/<c>init:…</c> policy, or null.</param>
/// <param name="Device">Device kind.</param>
/// <param name="Precision">Numeric precision of training.</param>
/// <param name="Epochs">Epochs per run.</param>
/// <param name="Runs">The runs, ordered by seed.</param>
internal sealed record PaperConfiguration(
    PilotArchitecture Model, PilotOptimizerKind Optimizer, string? Policy, string Device, string Precision, int Epochs, IReadOnlyList<PaperRun> Runs)
{
    /// <summary>Short label for tables and legends: <c>Pilot</c>, <c>Pilot (frozen:SmallCnn-Pilot-seed0-cpu)</c>.</summary>
    public string Label => Policy is null ? Optimizer.ToString() : $"{Optimizer} ({Policy})";

    /// <summary>Mean over seeds of a per-epoch value; null at an epoch where some run has no value.</summary>
    public double?[] MeanPerEpoch(Func<PaperEpoch, double?> value)
        => Enumerable.Range(0, Epochs).Select(i =>
        {
            var values = Runs.Select(r => i < r.History.Count ? value(r.History[i]) : null).ToList();
            return values.All(v => v is not null) ? values.Average() : null;
        }).ToArray();
}

/// <summary>
/// <c>pilot bench report</c>: turns a <c>bench paper</c> results file into a Markdown summary (mean ± sample standard deviation
/// over seeds per configuration, epochs to a test-accuracy threshold, accuracy per seed, the difference from PILOT seed by
/// seed, mean accuracy after selected epochs, every run) and PNG plots (test accuracy, test and
/// train loss averaged over seeds; PILOT's ρ and knobs per run) — the tables and figures of <c>docs/benchmarks.md</c>.
/// </summary>
internal static class PaperReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Test accuracy whose first epoch the summary reports (the policy-transfer comparison).</summary>
    public const double AccuracyThreshold = 0.90;

    /// <summary>Groups <paramref name="runs"/> into configurations, in a stable order (model, device, precision, optimizer, policy).</summary>
    public static IReadOnlyList<PaperConfiguration> Configurations(IReadOnlyList<PaperRun> runs)
        => runs.GroupBy(r => (r.Model, r.Optimizer, r.Policy, Device: r.Device.ToLowerInvariant(), r.Precision, r.Epochs))
            .Select(g => new PaperConfiguration(g.Key.Model, g.Key.Optimizer, g.Key.Policy, g.Key.Device, g.Key.Precision, g.Key.Epochs,
                g.OrderBy(r => r.Seed).ToList()))
            .OrderBy(c => c.Model).ThenBy(c => c.Device).ThenBy(c => c.Precision).ThenBy(c => c.Epochs)
            .ThenBy(c => c.Optimizer).ThenBy(c => c.Policy ?? "")
            .ToList();

    /// <summary>First epoch (1-based) whose test accuracy reaches <paramref name="threshold"/>; null if none does.</summary>
    public static int? EpochsTo(PaperRun run, double threshold)
        => run.History.FirstOrDefault(e => e.TestAccuracy >= threshold)?.Epoch;

    /// <summary>Writes <c>&lt;stem&gt;.md</c> and the plots into <paramref name="folder"/>; returns the paths written.</summary>
    /// <exception cref="CliInputException">The results file does not exist or holds no runs.</exception>
    public static IReadOnlyList<string> Write(PaperResultsFile results, string folder, CliConsole console)
    {
        if (!File.Exists(results.Path))
            throw new CliInputException($"--in: results file '{results.Path}' does not exist; 'pilot bench paper' writes it.");
        var runs = results.Read();
        if (runs.Count == 0)
            throw new CliInputException($"--in: '{results.Path}' holds no runs; run 'pilot bench paper' first.");
        Directory.CreateDirectory(folder);
        string stem = Path.GetFileNameWithoutExtension(results.Path);
        var configurations = Configurations(runs);
        var written = new List<string>();

        string markdown = Path.Combine(folder, stem + ".md");
        File.WriteAllText(markdown, Markdown(configurations, Path.GetFileName(results.Path)));
        written.Add(markdown);

        foreach (var group in configurations.GroupBy(c => (c.Model, c.Device, c.Precision, c.Epochs)))
        {
            string name = $"{stem}-{group.Key.Model}-{group.Key.Device}-{group.Key.Precision}".ToLowerInvariant();
            string where = $"{group.Key.Model}, {group.Key.Device} {group.Key.Precision}, mean over seeds";
            written.Add(PlotMean(Path.Combine(folder, name + "-test-accuracy.png"), $"{where}: test accuracy", "test accuracy (%)",
                group, e => e.TestAccuracy * 100));
            written.Add(PlotMean(Path.Combine(folder, name + "-test-loss.png"), $"{where}: test loss", "cross-entropy", group, e => e.TestLoss));
            written.Add(PlotMean(Path.Combine(folder, name + "-train-loss.png"), $"{where}: train loss", "cross-entropy", group, e => e.TrainLoss));

            var pilotRuns = group.Where(c => c.Optimizer == PilotOptimizerKind.Pilot && c.Policy is null).SelectMany(c => c.Runs)
                .Where(r => r.History.All(e => e.Rho is not null)).ToList();
            if (pilotRuns.Count > 0)
                written.Add(PlotPolicy(Path.Combine(folder, name + "-policy.png"), $"{group.Key.Model}, {group.Key.Device}: PILOT policy per epoch", pilotRuns));
        }
        foreach (var path in written)
            console.WriteLine($"wrote {path}");
        return written;
    }

    /// <summary>Distinct colours for the configurations of one plot (OxyPlot's default palette repeats near-identical reds).</summary>
    internal static readonly OxyColor[] Palette =
    [
        OxyColors.ForestGreen, OxyColors.DarkOrange, OxyColors.RoyalBlue, OxyColors.Crimson, OxyColors.Purple,
        OxyColors.Black, OxyColors.Teal, OxyColors.SaddleBrown, OxyColors.HotPink, OxyColors.Gray,
    ];

    private static string PlotMean(string path, string title, string yLabel, IEnumerable<PaperConfiguration> configurations,
        Func<PaperEpoch, double?> value)
        => TrainingPlots.SaveLines(path, title, "epoch", yLabel,
            configurations.Select(c => ($"{c.Label} (n={c.Runs.Count})", Enumerable.Range(1, c.Epochs).Select(i => (double)i).ToArray(), c.MeanPerEpoch(value))),
            markers: false, style: i => (Palette[i % Palette.Length], i < Palette.Length ? LineStyle.Solid : LineStyle.Dash));

    private static string PlotPolicy(string path, string title, IReadOnlyList<PaperRun> runs)
    {
        // One colour per quantity, one line style per seed.
        OxyColor[] colors = [OxyColors.Black, OxyColors.RoyalBlue, OxyColors.DarkOrange, OxyColors.ForestGreen];
        LineStyle[] styles = [LineStyle.Solid, LineStyle.Dash, LineStyle.Dot, LineStyle.DashDot];
        var series = new List<(string, double[], double?[])>();
        foreach (var run in runs)
        {
            double[] x = run.History.Select(e => (double)e.Epoch).ToArray();
            series.Add(($"ρ seed {run.Seed}", x, run.History.Select(e => e.Rho).ToArray()));
            series.Add(($"p_m seed {run.Seed}", x, run.History.Select(e => e.PM).ToArray()));
            series.Add(($"p_v seed {run.Seed}", x, run.History.Select(e => e.PV).ToArray()));
            series.Add(($"p_s seed {run.Seed}", x, run.History.Select(e => e.PS).ToArray()));
        }
        return TrainingPlots.SaveLines(path, title, "epoch", "ρ (at the epoch's end), knobs (epoch mean)", series, markers: false,
            style: i => (colors[i % 4], styles[i / 4 % styles.Length]));
    }

    /// <summary>
    /// The Markdown summary: one table of configurations (mean ± std over seeds, the paper's number beside it), the builds
    /// the runs come from, per model and device a seed-by-optimizer table, each optimizer's difference from PILOT seed by
    /// seed and the mean accuracy after selected epochs, and one table of every run.
    /// </summary>
    internal static string Markdown(IReadOnlyList<PaperConfiguration> configurations, string source)
    {
        var md = new StringBuilder();
        md.AppendLine(string.Create(Inv, $"<!-- generated by 'pilot bench report' from {source}; do not edit by hand -->"));
        md.AppendLine();
        md.AppendLine(string.Create(Inv,
            $"| model | optimizer | device | precision | epochs | seeds | test accuracy % | paper % (GPU, AMP) | macro-F1 | test loss | epochs to {AccuracyThreshold:P0} | s/epoch |"));
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var c in configurations)
        {
            var epochsTo = c.Runs.Select(r => EpochsTo(r, AccuracyThreshold)).ToList();
            md.AppendLine(string.Create(Inv,
                $"| {c.Model} | {c.Label} | {c.Device} | {c.Precision} | {c.Epochs} | {string.Join(",", c.Runs.Select(r => r.Seed))} | " +
                $"{PaperBenchmark.MeanStd(c.Runs.Select(r => 100 * r.TestAccuracy).ToList(), 2)} | {Published(c)} | " +
                $"{PaperBenchmark.MeanStd(c.Runs.Select(r => r.MacroF1).ToList(), 4)} | " +
                $"{PaperBenchmark.MeanStd(c.Runs.Select(r => r.TestLoss).ToList(), 4)} | " +
                $"{(epochsTo.All(e => e is not null) ? PaperBenchmark.MeanStd(epochsTo.Select(e => (double)e!.Value).ToList(), 1) : "not reached by every seed")} | " +
                $"{c.Runs.Average(r => r.SecondsPerEpoch):F1} |"));
        }
        md.AppendLine();
        md.AppendLine(Builds(configurations.SelectMany(c => c.Runs).ToList()));
        md.AppendLine();
        foreach (var group in configurations.GroupBy(c => (c.Model, c.Device, c.Precision, c.Epochs)))
        {
            var columns = group.ToList();
            string where = string.Create(Inv, $"{group.Key.Model}, {group.Key.Device} {group.Key.Precision}, {group.Key.Epochs} epochs");
            md.Append(PerSeed(columns, where));
            md.Append(PairedWithPilot(columns, where));
            md.Append(AccuracyByEpoch(columns, where));
        }
        md.AppendLine("Every run:");
        md.AppendLine();
        md.AppendLine(string.Create(Inv, $"| model | optimizer | device | seed | test accuracy % | macro-F1 | test loss | best epoch's test accuracy % | epoch to {AccuracyThreshold:P0} | final p_m / p_v / p_s | build |"));
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var c in configurations)
        {
            foreach (var r in c.Runs)
            {
                var best = r.History.Where(e => e.TestAccuracy is not null).MaxBy(e => e.TestAccuracy!.Value);
                var last = r.History.Count > 0 ? r.History[^1] : null;
                string knobs = last?.PM is double pm && last.PV is double pv && last.PS is double ps ? string.Create(Inv, $"{pm:F3} / {pv:F3} / {ps:F3}") : "-";
                md.AppendLine(string.Create(Inv,
                    $"| {c.Model} | {c.Label} | {c.Device} | {r.Seed} | {100 * r.TestAccuracy:F2} | {r.MacroF1:F4} | {r.TestLoss:F4} | " +
                    $"{(best is null ? "-" : $"{100 * best.TestAccuracy!.Value:F2} (epoch {best.Epoch})")} | {EpochsTo(r, AccuracyThreshold)?.ToString(Inv) ?? "-"} | {knobs} | {ShortCommit(r)} |"));
            }
        }
        return md.ToString();
    }

    /// <summary>
    /// Final test accuracy % of every run, one row per seed and one column per configuration ("—" where a configuration
    /// has no run of that seed): the seed-by-seed comparison, since a seed fixes the initial weights and the batch order.
    /// </summary>
    internal static string PerSeed(IReadOnlyList<PaperConfiguration> columns, string where)
    {
        var md = new StringBuilder();
        md.AppendLine(string.Create(Inv, $"Test accuracy % per seed ({where}):"));
        md.AppendLine();
        md.AppendLine($"| seed | {string.Join(" | ", columns.Select(c => c.Label))} |");
        md.AppendLine($"|---|{string.Concat(columns.Select(_ => "---|"))}");
        foreach (int seed in columns.SelectMany(c => c.Runs).Select(r => r.Seed).Distinct().Order())
        {
            var cells = columns.Select(c => c.Runs.FirstOrDefault(r => r.Seed == seed) is { } run ? (100 * run.TestAccuracy).ToString("F2", Inv) : "—");
            md.AppendLine(string.Create(Inv, $"| {seed} | {string.Join(" | ", cells)} |"));
        }
        md.AppendLine();
        return md.ToString();
    }

    /// <summary>
    /// Each configuration's test accuracy minus PILOT's (learning its policy), seed by seed over the seeds both have: the
    /// mean ± standard deviation of the differences in points and on how many seeds it is ahead. Pairing by seed removes
    /// what a seed does to every optimizer alike (initial weights, batch order). Empty when there is no such PILOT
    /// configuration.
    /// </summary>
    internal static string PairedWithPilot(IReadOnlyList<PaperConfiguration> columns, string where)
    {
        var pilot = columns.FirstOrDefault(c => c.Optimizer == PilotOptimizerKind.Pilot && c.Policy is null);
        if (pilot is null)
            return "";
        var md = new StringBuilder();
        md.AppendLine(string.Create(Inv, $"Difference from PILOT, seed by seed ({where}; other − PILOT, test accuracy in points):"));
        md.AppendLine();
        md.AppendLine("| optimizer | seeds | mean difference | ahead of PILOT on |");
        md.AppendLine("|---|---|---|---|");
        foreach (var c in columns.Where(c => c != pilot))
        {
            var pairs = c.Runs.Select(r => (r.Seed, Other: r, Pilot: pilot.Runs.FirstOrDefault(p => p.Seed == r.Seed)))
                .Where(x => x.Pilot is not null).ToList();
            if (pairs.Count == 0)
            {
                md.AppendLine($"| {c.Label} | none in common | — | — |");
                continue;
            }
            var differences = pairs.Select(x => 100 * (x.Other.TestAccuracy - x.Pilot!.TestAccuracy)).ToList();
            md.AppendLine(string.Create(Inv,
                $"| {c.Label} | {string.Join(",", pairs.Select(x => x.Seed))} | {PaperBenchmark.MeanStd(differences, 2)} | {differences.Count(d => d > 0)} of {differences.Count} |"));
        }
        md.AppendLine();
        return md.ToString();
    }

    /// <summary>Epochs after which <see cref="AccuracyByEpoch"/> reports the mean test accuracy (those within a run's length, and its last).</summary>
    internal static readonly int[] ReportedEpochs = [1, 2, 3, 5, 10, 15, 20, 25, 30];

    /// <summary>
    /// Mean test accuracy % over seeds after selected epochs, one row per configuration: how fast each optimizer gets
    /// there, which the final accuracy does not show ("—" where some run has no test accuracy for that epoch).
    /// </summary>
    internal static string AccuracyByEpoch(IReadOnlyList<PaperConfiguration> rows, string where)
    {
        int epochs = rows[0].Epochs;
        var reported = ReportedEpochs.Where(e => e < epochs).Append(epochs).ToList();
        var md = new StringBuilder();
        md.AppendLine(string.Create(Inv, $"Mean test accuracy % after epoch ({where}):"));
        md.AppendLine();
        md.AppendLine($"| optimizer | {string.Join(" | ", reported)} |");
        md.AppendLine($"|---|{string.Concat(reported.Select(_ => "---|"))}");
        foreach (var c in rows)
        {
            var means = c.MeanPerEpoch(e => e.TestAccuracy * 100);
            md.AppendLine($"| {c.Label} | {string.Join(" | ", reported.Select(e => means[e - 1] is double m ? m.ToString("F2", Inv) : "—"))} |");
        }
        md.AppendLine();
        return md.ToString();
    }

    /// <summary>
    /// The paper's accuracy for the configuration's model and optimizer (<see cref="PaperProtocol.PublishedAccuracy"/>), or
    /// "—": for a run that started from an exported policy (the paper publishes no such row for FashionMNIST alone) and for a
    /// model the paper did not train.
    /// </summary>
    private static string Published(PaperConfiguration c)
        => c.Policy is null && PaperProtocol.PublishedAccuracy(c.Model, c.Optimizer) is double accuracy ? accuracy.ToString("F2", Inv) : "—";

    /// <summary>The commit a run's <c>pilot</c> was built from, shortened to 7 characters; "-" for records written before it was kept.</summary>
    internal static string ShortCommit(PaperRun run)
        => run.Environment?.Commit is { } commit && commit != "unknown" ? commit[..Math.Min(7, commit.Length)] : "-";

    /// <summary>
    /// One line saying which builds the runs come from, so that a table mixing builds says so: a comparison of optimizers
    /// holds only between runs of one build (float rounding alone moves a 30-epoch run by ~0.1 points).
    /// </summary>
    internal static string Builds(IReadOnlyList<PaperRun> runs)
    {
        var builds = runs.GroupBy(ShortCommit).OrderBy(g => g.Key == "-").ThenByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
        string Name(string commit) => commit == "-" ? "not recorded" : $"commit `{commit}`";
        if (builds.Count == 1)
            return string.Create(Inv, $"Build: {Name(builds[0].Key)}, all {runs.Count} runs.");
        return string.Create(Inv, $"Builds: {string.Join(", ", builds.Select(g => $"{Name(g.Key)} ({g.Count()} run{(g.Count() == 1 ? "" : "s")})"))} — **the rows mix builds**.");
    }
}

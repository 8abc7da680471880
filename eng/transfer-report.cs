// The table and the plot of docs/transfer.md, from the rows that eng/transfer-bench.cs and eng/transfer-mlnet-baseline.cs
// append to docs/transfer/results.jsonl (one JSON object per line, one line per run).
//
// Run from the repository root:
//   dotnet run -c Release eng/transfer-report.cs [-- [--results FILE.jsonl] [--doc FILE.md] [--plot FILE.png]]
// --results  the runs (default: docs/transfer/results.jsonl)
// --doc      the Markdown file whose table between "<!-- transfer-table:begin -->" and "<!-- transfer-table:end -->" is
//            rewritten (default: docs/transfer.md); everything outside the markers is kept as it is
// --plot     the PNG written: test accuracy against training wall time (default: docs/transfer/accuracy.png)
//
// Rows are grouped by (images per class, run, epochs, test images); a group of several rows (seeds) gives mean ± sample
// standard deviation in the table and error bars (one standard deviation, both axes) in the plot. A row more than 30
// points below the best (a collapsed run) is named under the plot's title instead of drawn. A run's name comes from
// the fields of its row (architecture, fineTuning, optimizer, side, and the settings that differ from the trainer's
// defaults), so a new architecture or fine-tuning mode gets its own rows and its own marker without a change here.
//
// A script rather than a `pilot bench` subcommand: it reads the rows of two eng/ scripts and rewrites a page of this
// repository's docs, which is maintenance of the repository, not something a user of the CLI runs. It draws with the same
// OxyPlot/SkiaSharp renderer as the CLI's plots (src/Pilot.Cli/Reporting/TrainingPlots.cs), with the same settings.
#:project ../src/Pilot.MLNet/Pilot.MLNet.csproj
#:package OxyPlot.SkiaSharp
#:property PublishAot=false

using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;
using OxyPlot.SkiaSharp;
using Pilot.MLNet;

var inv = CultureInfo.InvariantCulture;
var options = new Dictionary<string, string>();
for (int i = 0; i < args.Length; i += 2)
{
    if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
        throw new ArgumentException($"Expected '--name value' pairs; got '{args[i]}'. Options: --results, --doc, --plot.");
    options[args[i][2..]] = args[i + 1];
}
foreach (var name in options.Keys)
    if (name is not ("results" or "doc" or "plot"))
        throw new ArgumentException($"Unknown option --{name}. Options: --results, --doc, --plot.");
string resultsFile = options.GetValueOrDefault("results", Path.Combine("docs", "transfer", "results.jsonl"));
string docFile = options.GetValueOrDefault("doc", Path.Combine("docs", "transfer.md"));
string plotFile = options.GetValueOrDefault("plot", Path.Combine("docs", "transfer", "accuracy.png"));

var runs = Report.ReadRuns(resultsFile);
// Runs on a busy machine and on a light one are never averaged together: their wall times are not comparable.
var groups = runs.GroupBy(r => (r.PerClass, r.Label, r.Epochs, r.TestRows, r.Busy))
    .Select(g => new Group(g.Key.PerClass, g.Key.Label, g.First().Kind, g.First().Variant, g.Key.Epochs, g.Key.TestRows, [.. g]))
    .OrderBy(g => g.PerClass).ThenByDescending(g => g.TestRows).ThenBy(g => g.Busy).ThenByDescending(g => g.Accuracy.Mean)
    .ToList();

string table = Report.Table(groups);
Report.ReplaceBetweenMarkers(docFile, "transfer-table", table);
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(plotFile))!);
// The table has every row; the plot shows one point per configuration at its current settings (Report.Current), so that it
// can be read: every marker kind stays in the legend's order of the whole results file.
var plotted = Report.Current(groups);
Report.Plot(plotted, [.. groups.Select(g => g.Kind).Distinct()], plotFile);
Console.WriteLine($"{runs.Count} runs in {groups.Count} rows: table written into {docFile}, {plotted.Count} of them plotted into {plotFile}");

/// <summary>One line of results.jsonl.</summary>
sealed record Run(int PerClass, string Kind, string Label, string Variant, int? Epochs, int TestRows, double Accuracy, double MacroF1,
    double TrainSeconds, double TestSeconds, double? LoadAverage, bool MarkedLight)
{
    /// <summary>
    /// The machine was busy: a 1-minute load average above <see cref="Report.BusyLoad"/> on its 2 cores, or not recorded
    /// and not marked <c>"machine": "light"</c> (the first runs, whose load average was 13–40: docs/transfer.md).
    /// </summary>
    public bool Busy => LoadAverage is double load ? load > Report.BusyLoad : !MarkedLight;
}

/// <summary>The runs of one table row: the same settings, one run per seed.</summary>
sealed record Group(int PerClass, string Label, string Kind, string Variant, int? Epochs, int TestRows, IReadOnlyList<Run> Runs)
{
    public Stat Accuracy => Stat.Of(Runs.Select(r => 100 * r.Accuracy));
    public Stat MacroF1 => Stat.Of(Runs.Select(r => r.MacroF1));
    public Stat TrainSeconds => Stat.Of(Runs.Select(r => r.TrainSeconds));
    public Stat TestSeconds => Stat.Of(Runs.Select(r => r.TestSeconds));
    public bool Busy => Runs[0].Busy;
    /// <summary>The load average of the runs (min–max), or the range documented for the runs that did not record it.</summary>
    public string Load
    {
        get
        {
            var loads = Runs.Where(r => r.LoadAverage is not null).Select(r => r.LoadAverage!.Value).ToList();
            if (loads.Count == 0)
                return Busy ? "13–40, not recorded" : "light, not recorded";
            string min = loads.Min().ToString("F0", CultureInfo.InvariantCulture), max = loads.Max().ToString("F0", CultureInfo.InvariantCulture);
            return min == max ? min : $"{min}–{max}";
        }
    }
}

/// <summary>Mean and sample standard deviation (0 for a single value).</summary>
readonly record struct Stat(double Mean, double Deviation, int Count)
{
    public static Stat Of(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        double deviation = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : 0;
        return new Stat(mean, deviation, v.Length);
    }

    public string Format(int digits)
    {
        string f = "F" + digits.ToString(CultureInfo.InvariantCulture);
        return Count == 1 ? Mean.ToString(f, CultureInfo.InvariantCulture)
            : $"{Mean.ToString(f, CultureInfo.InvariantCulture)} ± {Deviation.ToString(f, CultureInfo.InvariantCulture)}";
    }
}

static class Report
{
    const string TableBegin = "<!-- {0}:begin -->", TableEnd = "<!-- {0}:end -->";

    // The trainer's defaults for the settings a run's name shows only when they differ (PilotImageClassificationDefaults).
    const double DefaultLearningRate = PilotImageClassificationDefaults.LearningRate;

    /// <summary>
    /// The rows a reader compares: no ablation or superseded setting in their name (a learning rate or backbone factor
    /// other than the default, updated batch-norm statistics, the layer4 head, features at deviation 1), and of the rows
    /// left with the same subset and name, one: a light machine's before a busy one's, then more epochs, then more seeds.
    /// </summary>
    public static List<Group> Current(IEnumerable<Group> groups)
    {
        string[] ablations = ["lr ", "BN updated", "layer4 head", "features at deviation"]; // "layer4 head" also matches "layer3 + layer4 head"
        return [.. groups
            .Where(g => !ablations.Any(a => g.Variant.Contains(a, StringComparison.Ordinal)))
            .GroupBy(g => (g.PerClass, g.Label))
            .Select(same => same.OrderBy(g => g.Busy).ThenByDescending(g => g.Epochs ?? 0).ThenByDescending(g => g.Runs.Count).First())];
    }

    // The head the trainer now gives an architecture and mode: the internal Backbones.HeadInputFor, by reflection, so the
    // rule is not restated here.
    static string CurrentHeadInput(PilotArchitecture architecture, PilotFineTuning fineTuning)
        => HeadInputFor.Invoke(null, [architecture, fineTuning])!.ToString()!;

    static readonly MethodInfo HeadInputFor = typeof(PilotImageClassificationDefaults).Assembly
        .GetType("Pilot.MLNet.Models.Backbones", throwOnError: true)!
        .GetMethod("HeadInputFor", BindingFlags.NonPublic | BindingFlags.Static)!;

    // The deviation the layer3 + layer4 head standardises its features to now (the internal
    // StandardizedLinear.FeatureDeviation, read by reflection as eng/transfer-bench.cs records it).
    static readonly double CurrentFeatureDeviation = (double)typeof(PilotImageClassificationDefaults).Assembly
        .GetType("Pilot.MLNet.Models.StandardizedLinear", throwOnError: true)!
        .GetField("FeatureDeviation", BindingFlags.NonPublic | BindingFlags.Static)!.GetRawConstantValue()!;

    /// <summary>The 1-minute load average above which a run counts as taken on a busy machine: 10 (on 2 cores).</summary>
    public const double BusyLoad = 10;

    public static List<Run> ReadRuns(string file)
    {
        if (!File.Exists(file))
            throw new FileNotFoundException($"No results file '{file}': run eng/transfer-bench.cs or eng/transfer-mlnet-baseline.cs first.", file);
        var runs = new List<Run>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(file))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            try
            {
                using var json = JsonDocument.Parse(line);
                runs.Add(ToRun(json.RootElement));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{file}, line {lineNumber}: not a result row ({e.Message}).", e);
            }
        }
        if (runs.Count == 0)
            throw new InvalidDataException($"{file} holds no result rows.");
        return runs;
    }

    static Run ToRun(JsonElement row)
    {
        string run = row.GetProperty("run").GetString() ?? throw new InvalidDataException("'run' is null");
        string? architecture = Text(row, "architecture");
        string kind, label, variant;
        if (architecture is null)
        {
            // A row of another pipeline (ML.NET's own route): its name is its 'run', and its input side is fixed.
            kind = run.StartsWith("ML.NET", StringComparison.Ordinal) ? "ML.NET DnnFeaturizeImage(ResNet18) + LbfgsMaximumEntropy" : run;
            label = run.StartsWith("ML.NET", StringComparison.Ordinal) ? kind + " (224)" : run;
            variant = run.StartsWith("ML.NET", StringComparison.Ordinal) ? "224px" : "";
        }
        else
        {
            string? fineTuning = Text(row, "fineTuning");
            // Networks trained from scratch have one mode, reported as "default": their name is the architecture's.
            kind = fineTuning is null or "default" ? architecture : $"{architecture} {fineTuning}";
            var extras = new List<string>();
            if (Number(row, "side") is double side)
                extras.Add(string.Create(CultureInfo.InvariantCulture, $"{side:0}px"));
            if (row.TryGetProperty("updateBatchNorm", out var bn) && bn.ValueKind == JsonValueKind.True)
                extras.Add("BN updated");
            // The backbone's learning-rate factor matters only where a pretrained backbone trains (not Head).
            // Its default depends on the mode (0.1 for Full, 0.3 for LastStage): a row says which factor it ran with.
            if (fineTuning is not (null or "default" or "Head") && Number(row, "backboneLearningRateScale") is double scale
                && scale != PilotImageClassificationDefaults.BackboneLearningRateScaleFor(Enum.Parse<PilotFineTuning>(fineTuning)))
                extras.Add(string.Create(CultureInfo.InvariantCulture, $"backbone lr ×{scale:g}"));
            // A head other than the one the trainer now gives the mode: Head has read the standardised layer3 + layer4
            // averages since model format 0x00010003, its earlier rows read layer4's; LastStage reads layer4's, and was
            // measured once with the layer3 + layer4 head (docs/transfer/laststage-layer3-layer4.patch).
            if (fineTuning is not (null or "default") && Text(row, "headInput") is { } headInput
                && headInput != CurrentHeadInput(Enum.Parse<PilotArchitecture>(architecture), Enum.Parse<PilotFineTuning>(fineTuning)))
                extras.Add(headInput == "Layer4" ? "layer4 head" : "layer3 + layer4 head");
            // The layer3 + layer4 head's features were standardised to deviation 1 in its first runs, 0.3 since.
            if (Number(row, "headFeatureDeviation") is double deviation && deviation != CurrentFeatureDeviation)
                extras.Add(string.Create(CultureInfo.InvariantCulture, $"features at deviation {deviation:g}"));
            if (Number(row, "lr") is double lr && lr != DefaultLearningRate)
                extras.Add(string.Create(CultureInfo.InvariantCulture, $"lr {lr:g}"));
            string optimizer = Text(row, "optimizer") ?? "?";
            label = $"{kind} {optimizer}" + (extras.Count > 0 ? $" ({string.Join(", ", extras)})" : "");
            variant = string.Join(", ", [optimizer, .. extras]);
        }
        return new Run(
            PerClass: row.GetProperty("perClass").GetInt32(),
            Kind: kind,
            Label: label,
            Variant: variant,
            Epochs: Number(row, "epochs") is double e ? (int)e : null,
            TestRows: Number(row, "testRows") is double t ? (int)t : 10000,
            Accuracy: row.GetProperty("accuracy").GetDouble(),
            MacroF1: row.GetProperty("macroF1").GetDouble(),
            TrainSeconds: row.GetProperty("trainSeconds").GetDouble(),
            TestSeconds: row.GetProperty("testSeconds").GetDouble(),
            LoadAverage: Number(row, "loadAverage"),
            MarkedLight: Text(row, "machine") == "light");
    }

    static string? Text(JsonElement row, string name)
        => row.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    static double? Number(JsonElement row, string name)
        => row.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    public static string Table(IEnumerable<Group> groups)
    {
        var s = new StringBuilder();
        s.AppendLine("| images/class | run | epochs | seeds | test images | test accuracy % | macro-F1 | training wall time s (incl. feature pass) | test scoring s | load average |");
        s.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var g in groups)
            s.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {g.PerClass} | {g.Label} | {(g.Epochs is int e ? e.ToString(CultureInfo.InvariantCulture) : "—")} | {g.Runs.Count} | {g.TestRows:N0} | " +
                $"{g.Accuracy.Format(2)} | {g.MacroF1.Format(4)} | {g.TrainSeconds.Format(0)} | {g.TestSeconds.Format(0)} | {g.Load} |"));
        return s.ToString();
    }

    /// <summary>Replaces what lies between the begin and end markers named <paramref name="name"/> in <paramref name="file"/>.</summary>
    public static void ReplaceBetweenMarkers(string file, string name, string content)
    {
        if (!File.Exists(file))
            throw new FileNotFoundException($"No document '{file}' to write the table into.", file);
        string text = File.ReadAllText(file);
        string begin = string.Format(CultureInfo.InvariantCulture, TableBegin, name), end = string.Format(CultureInfo.InvariantCulture, TableEnd, name);
        int b = text.IndexOf(begin, StringComparison.Ordinal), e = text.IndexOf(end, StringComparison.Ordinal);
        if (b < 0 || e < b)
            throw new InvalidDataException($"{file} has no '{begin}' … '{end}' pair to write the table between.");
        string newline = text.Contains("\r\n", StringComparison.Ordinal) ? "\r\n" : "\n";
        File.WriteAllText(file, text[..(b + begin.Length)] + newline + content.ReplaceLineEndings(newline) + text[e..]);
    }

    // One marker shape per run kind (in order of its first row in the results), one colour per training subset, filled markers for the
    // full test set and open ones for a test sample.
    static readonly MarkerType[] Shapes = [MarkerType.Circle, MarkerType.Square, MarkerType.Diamond, MarkerType.Triangle, MarkerType.Cross, MarkerType.Plus, MarkerType.Star];
    static readonly OxyColor[] Colours = [OxyColor.FromRgb(0x1f, 0x77, 0xb4), OxyColor.FromRgb(0xd6, 0x27, 0x28), OxyColor.FromRgb(0x2c, 0xa0, 0x2c),
        OxyColor.FromRgb(0x94, 0x67, 0xbd), OxyColor.FromRgb(0x8c, 0x56, 0x4b), OxyColor.FromRgb(0x7f, 0x7f, 0x7f)];

    /// <summary>Points this many percentage points below the best are listed, not drawn.</summary>
    const double OffScale = 30;

    /// <summary>Draws <paramref name="groups"/>; <paramref name="kinds"/>: every run kind in the order of its first row in the results, which picks its marker (a new kind does not change the others').</summary>
    public static void Plot(IReadOnlyList<Group> groups, List<string> kinds, string path)
    {
        // A collapsed run (chance accuracy) would squash every other point into a line: points more than OffScale points
        // below the best are named under the title instead of drawn.
        double floor = groups.Max(g => g.Accuracy.Mean) - OffScale;
        var offScale = groups.Where(g => g.Accuracy.Mean < floor).ToList();
        groups = [.. groups.Where(g => g.Accuracy.Mean >= floor)];
        var subsets = groups.Select(g => g.PerClass).Distinct().Order().ToList();
        var model = new PlotModel
        {
            Title = "FashionMNIST subsets: test accuracy against training wall time",
            Subtitle = "each configuration at its current settings (every run is in the table); shared 2-core CPU, busy or light (the table's load average);" +
                "\nbars: ±1 standard deviation over seeds; open markers: the 2,000-image test sample" +
                string.Concat(offScale.Select(g => string.Create(CultureInfo.InvariantCulture,
                    $"\noff the scale: {g.PerClass}/class, {g.Label}: {g.Accuracy.Mean:F2} %, {g.TrainSeconds.Mean:F0} s"))),
            Background = OxyColors.White,
        };
        model.Axes.Add(new LogarithmicAxis
        {
            Position = AxisPosition.Bottom, Title = "training wall time, s (incl. feature pass; log scale)",
            MajorGridlineStyle = LineStyle.Dot, MinorGridlineStyle = LineStyle.None,
            // Room for the error bars, and on the right for the labels.
            Minimum = groups.Min(g => Math.Max(g.TrainSeconds.Mean - g.TrainSeconds.Deviation, g.TrainSeconds.Mean / 2)) / 1.15,
            Maximum = groups.Max(g => g.TrainSeconds.Mean + g.TrainSeconds.Deviation) * 2.5,
        });
        double low = groups.Min(g => g.Accuracy.Mean - g.Accuracy.Deviation), high = groups.Max(g => g.Accuracy.Mean + g.Accuracy.Deviation);
        double margin = Math.Max(0.5, 0.06 * (high - low));
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Left, Title = "test accuracy (%)", MajorGridlineStyle = LineStyle.Dot, Minimum = low - margin, Maximum = high + margin,
        });
        int label = 0;
        foreach (var series in groups.GroupBy(g => (g.Kind, g.PerClass, Full: g.TestRows >= 10000)))
        {
            var (kind, perClass, full) = series.Key;
            var colour = Colours[subsets.IndexOf(perClass) % Colours.Length];
            var shape = Shapes[Math.Max(0, kinds.IndexOf(kind)) % Shapes.Length];
            var scatter = new ScatterErrorSeries
            {
                Title = $"{kind}, {perClass}/class{(full ? "" : ", test sample")}",
                MarkerType = shape,
                MarkerSize = 5,
                MarkerStroke = colour,
                MarkerStrokeThickness = 1.5,
                // Cross and plus have no inside: their colour is the stroke's either way.
                MarkerFill = full ? colour : OxyColors.White,
                ErrorBarColor = colour,
                ErrorBarStopWidth = 3,
            };
            foreach (var g in series)
                scatter.Points.Add(new ScatterErrorPoint(g.TrainSeconds.Mean, g.Accuracy.Mean, g.TrainSeconds.Deviation, g.Accuracy.Deviation));
            model.Series.Add(scatter);
            // Which variant each point is (input side, settings): its label minus the kind, next to the point, above and
            // below in turn so that neighbours' labels overlap less.
            foreach (var g in series)
            {
                bool above = label++ % 2 == 0;
                string variant = Variant(g);
                if (variant.Length == 0)
                    continue;
                model.Annotations.Add(new OxyPlot.Annotations.TextAnnotation
                {
                    Text = variant,
                    TextPosition = new DataPoint(g.TrainSeconds.Mean, g.Accuracy.Mean),
                    TextHorizontalAlignment = HorizontalAlignment.Left,
                    TextVerticalAlignment = above ? VerticalAlignment.Bottom : VerticalAlignment.Top,
                    Offset = new ScreenVector(6, above ? -2 : 2),
                    FontSize = 9,
                    TextColor = colour,
                    Stroke = OxyColors.Transparent,
                });
            }
        }
        int legendRows = model.Series.Count;
        model.Legends.Add(new Legend
        {
            LegendPosition = LegendPosition.BottomCenter, LegendPlacement = LegendPlacement.Outside, LegendOrientation = LegendOrientation.Vertical,
        });
        using var file = File.Create(path);
        new PngExporter { Width = 1000, Height = 700 + 16 * (legendRows + offScale.Count), UseTextShaping = false }.Export(model, file);
    }

    // What tells a point from the others of its kind: optimizer, input side, settings, epochs.
    static string Variant(Group g)
        => g.Epochs is int e ? string.Create(CultureInfo.InvariantCulture, $"{g.Variant}, {e} ep").TrimStart(',', ' ') : g.Variant;
}

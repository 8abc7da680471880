using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Series;
using Pilot.Cli.Commands;
using Pilot.Cli.Reporting;
using Pilot.Cli.Training;
using Pilot.MLNet;
using Pilot.TorchSharp;
using Spectre.Console;
using TorchSharp;

namespace Pilot.Cli.Bench;

/// <summary>
/// <c>pilot bench optimizer</c>: the optimizer step alone for PILOT (plain and fast paths) and TorchSharp's Adam and AdamW on
/// the parameter shapes of a network, through <see cref="OptimizerBenchmark"/>; a table with the ratio
/// to AdamW and, with <c>--json</c>, <c>{"results": [...]}</c>.
/// </summary>
internal static class OptimizerBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>One row of the <c>--json</c> file (the field names are its format: keep them).</summary>
    private sealed record Row(
        string Optimizer, string Model, string Device, long Params, double MsPerStep, double StateBytesPerParam,
        [property: JsonPropertyName("ratio_to_adamw")] double RatioToAdamW);

    /// <summary>The machine's copy bandwidth and each optimizer's memory traffic per step (CPU only).</summary>
    private sealed record Bandwidth(
        [property: JsonPropertyName("copy_gb_per_s")] double CopyGBPerSecond, IReadOnlyList<Traffic> Traffic);

    /// <summary>Bytes one step moves (counted from the code) and the bandwidth the measured step time implies.</summary>
    private sealed record Traffic(
        string Optimizer, string Model, long BytesPerStep,
        [property: JsonPropertyName("gb_per_s")] double GBPerSecond,
        [property: JsonPropertyName("ms_at_copy_bandwidth")] double MsAtCopyBandwidth);

    private sealed record Document(IReadOnlyList<Row> Results, Bandwidth? Bandwidth);

    /// <summary>
    /// The parameter shapes of <paramref name="model"/>, read from the network <c>Backbones</c> builds for the benchmark's
    /// input (<see cref="BenchDefaults.OptimizerInput"/>) and <see cref="BenchDefaults.OptimizerClasses"/> classes.
    /// </summary>
    internal static IReadOnlyList<long[]> Shapes(PilotArchitecture model)
    {
        using var network = Pilot.MLNet.Models.Backbones.Create(model, BenchDefaults.OptimizerInput(model), BenchDefaults.OptimizerClasses);
        return network.parameters().Select(p => p.shape).ToList();
    }

    /// <summary>Runs the benchmark for each model, prints the tables, writes the JSON and the plot when asked; returns the results.</summary>
    public static IReadOnlyList<OptimizerBenchmarkResult> Run(BenchOptimizerSettings s, CliConsole console)
    {
        var models = s.Models.Distinct().ToList();
        if (models.Count == 0)
            throw new CliInputException($"--model: name at least one network ({string.Join(", ", Enum.GetNames<PilotArchitecture>())}).");
        var shapes = models.ToDictionary(m => m, Shapes); // unknown networks fail before any timing
        string device = Devices.Resolve(s.Device, "--device");
        var results = new List<OptimizerBenchmarkResult>();
        foreach (var model in models)
        {
            console.WriteLine(string.Create(Inv,
                $"timing {s.Steps} optimizer steps of {model}'s parameters on {device} per optimizer (median reported; random gradients set once)"));
            var modelResults = OptimizerBenchmark.Run(model.ToString(), shapes[model], device == "cuda" ? torch.CUDA : torch.CPU, steps: s.Steps);
            var table = new Table { Title = new TableTitle($"{model} ({modelResults[0].Params:N0} parameters), {device}") }
                .AddColumn("optimizer").AddColumn(new TableColumn("ms/step").RightAligned())
                .AddColumn(new TableColumn("state bytes/param").RightAligned()).AddColumn(new TableColumn("ratio to AdamW").RightAligned());
            foreach (var r in modelResults)
                table.AddRow(r.Optimizer, r.MsPerStep.ToString("F3", Inv), r.StateBytesPerParam.ToString("F1", Inv), r.RatioToAdamW.ToString("F3", Inv));
            console.Ansi.Write(table);
            results.AddRange(modelResults);
        }
        var bandwidth = device == "cpu" ? MeasureBandwidth(results, console) : null;

        if (s.Json is not null)
        {
            string path = Path.GetFullPath(s.Json);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var rows = results.Select(r => new Row(r.Optimizer, r.Model, r.Device, r.Params, r.MsPerStep, r.StateBytesPerParam, r.RatioToAdamW)).ToList();
            File.WriteAllText(path, JsonSerializer.Serialize(new Document(rows, bandwidth), Json.Options) + "\n");
            console.WriteLine($"wrote {path}");
        }
        if (s.Plot is not null)
        {
            string path = Path.GetFullPath(s.Plot);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            PlotRatios(results, device, path);
            console.WriteLine($"wrote {path}");
        }
        return results;
    }

    /// <summary>Horizontal bars: each optimizer's step time relative to AdamW (1 = AdamW), grouped by network; PILOT-plain is left out (its ratio dwarfs the others).</summary>
    private static void PlotRatios(IReadOnlyList<OptimizerBenchmarkResult> results, string device, string path)
    {
        var shown = results.Where(r => r.Optimizer != "PILOT-plain").ToList();
        var optimizers = shown.Select(r => r.Optimizer).Distinct().ToList();
        var model = new PlotModel { Title = $"optimizer step time relative to TorchSharp's AdamW ({device}; lower is faster)", Background = OxyColors.White };
        model.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, ItemsSource = optimizers });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "× AdamW", Minimum = 0, MaximumPadding = 0.08, MajorGridlineStyle = LineStyle.Dot });
        foreach (var group in shown.GroupBy(r => r.Model))
        {
            var bars = new BarSeries { Title = group.Key, LabelFormatString = "{0:F2}", LabelPlacement = LabelPlacement.Outside };
            foreach (var optimizer in optimizers)
                bars.Items.Add(new BarItem(group.FirstOrDefault(r => r.Optimizer == optimizer)?.RatioToAdamW ?? double.NaN));
            model.Series.Add(bars);
        }
        TrainingPlots.Export(model, path, height: 400);
    }

    /// <summary>
    /// Where the time goes: the machine's copy bandwidth (<see cref="OptimizerBenchmark.MeasureCopyBandwidth"/>) next to the
    /// bytes each optimizer's step moves (<see cref="OptimizerBenchmark.BytesMovedPerParam"/>), the bandwidth its measured
    /// step time implies, and the time the bytes alone would take at the copy bandwidth.
    /// </summary>
    private static Bandwidth MeasureBandwidth(IReadOnlyList<OptimizerBenchmarkResult> results, CliConsole console)
    {
        double copy = OptimizerBenchmark.MeasureCopyBandwidth();
        var traffic = new List<Traffic>();
        foreach (var r in results)
        {
            if (!OptimizerBenchmark.BytesMovedPerParam.TryGetValue(r.Optimizer, out int perParam))
                continue;
            long bytes = perParam * r.Params;
            traffic.Add(new Traffic(r.Optimizer, r.Model, bytes, bytes / (r.MsPerStep / 1e3) / 1e9, bytes / (copy * 1e9) * 1e3));
        }
        var table = new Table { Title = new TableTitle(string.Create(Inv, $"memory traffic per step; copy loop: {copy:F1} GB/s (read + written)")) }
            .AddColumn("optimizer").AddColumn("model").AddColumn(new TableColumn("MB per step").RightAligned())
            .AddColumn(new TableColumn("GB/s at the measured step").RightAligned()).AddColumn(new TableColumn("ms at copy bandwidth").RightAligned());
        foreach (var t in traffic)
            table.AddRow(t.Optimizer, t.Model, (t.BytesPerStep / 1e6).ToString("F1", Inv), t.GBPerSecond.ToString("F1", Inv), t.MsAtCopyBandwidth.ToString("F3", Inv));
        console.Ansi.Write(table);
        return new Bandwidth(copy, traffic);
    }
}

using System.Diagnostics;
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
/// <c>pilot bench optimizer</c>: the optimizer step alone for PILOT (plain and fast paths), TorchSharp's Adam and AdamW, and SophiaG on
/// the parameter shapes of a network, through <see cref="OptimizerBenchmark"/>; a table with the ratio
/// to AdamW and, with <c>--json</c>, <c>{"results": [...]}</c>.
/// </summary>
internal static class OptimizerBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>One row of the <c>--json</c> file (the field names are its format: keep them), and the settings it was measured under (<c>environment</c>).</summary>
    private sealed record Row(
        string Optimizer, string Model, string Device, long Params, double MsPerStep, double StateBytesPerParam,
        [property: JsonPropertyName("ratio_to_adamw")] double RatioToAdamW, BenchEnvironment Environment)
    {
        /// <summary>The OpenMP wait policy the row was measured under.</summary>
        [JsonIgnore]
        public string OmpWaitPolicy => Environment.OmpWaitPolicy;
    }

    /// <summary>The machine's copy bandwidth and each optimizer's memory traffic per step (CPU only).</summary>
    private sealed record Bandwidth(
        [property: JsonPropertyName("copy_gb_per_s")] double CopyGBPerSecond, IReadOnlyList<Traffic> Traffic);

    /// <summary>Bytes one step moves (counted from the code) and the bandwidth the measured step time implies.</summary>
    private sealed record Traffic(
        string Optimizer, string Model, long BytesPerStep,
        [property: JsonPropertyName("gb_per_s")] double GBPerSecond,
        [property: JsonPropertyName("ms_at_copy_bandwidth")] double MsAtCopyBandwidth,
        [property: JsonPropertyName("omp_wait_policy")] string? OmpWaitPolicy = null);

    private sealed record Document(IReadOnlyList<Row> Results, Bandwidth? Bandwidth);

    /// <summary>The wait policies <c>--omp-wait-policy both</c> times, in table order.</summary>
    internal static readonly IReadOnlyList<string> BothPolicies = ["PASSIVE", "ACTIVE"];

    /// <summary>
    /// The parameter shapes of <paramref name="model"/>, read from the network <c>Backbones</c> builds for the benchmark's
    /// input (<see cref="BenchDefaults.OptimizerInput"/>) and <see cref="BenchDefaults.OptimizerClasses"/> classes.
    /// </summary>
    internal static IReadOnlyList<long[]> Shapes(PilotArchitecture model)
    {
        using var network = Pilot.MLNet.Models.Backbones.Create(model, BenchDefaults.OptimizerInput(model), BenchDefaults.OptimizerClasses);
        return network.parameters().Select(p => p.shape).ToList();
    }

    /// <summary>
    /// Runs the benchmark for each model under each asked OpenMP wait policy, prints the tables, writes the JSON and the
    /// plot when asked. libgomp reads OMP_WAIT_POLICY once, when libtorch loads, so a policy other than this process's
    /// runs in a child <c>pilot</c> process started with it in its environment.
    /// </summary>
    public static void Run(BenchOptimizerSettings s, CliConsole console)
    {
        var models = s.Models.Distinct().ToList();
        if (models.Count == 0)
            throw new CliInputException($"--model: name at least one network ({string.Join(", ", Enum.GetNames<PilotArchitecture>())}).");
        var shapes = models.ToDictionary(m => m, Shapes); // unknown networks fail before any timing
        var policies = s.WaitPolicy.Trim().ToUpperInvariant() switch
        {
            "BOTH" => BothPolicies,
            "PASSIVE" => ["PASSIVE"],
            "ACTIVE" => ["ACTIVE"],
            _ => throw new CliInputException($"--omp-wait-policy: expected both, PASSIVE or ACTIVE; got '{s.WaitPolicy}'."),
        };
        string current = BenchEnvironment.WaitPolicy();
        var rows = new List<Row>();
        Bandwidth? bandwidth = null;
        foreach (var policy in policies)
        {
            var (policyRows, policyBandwidth) = policy == current ? RunHere(s, models, shapes, console) : RunChild(s, models, policy, console);
            rows.AddRange(policyRows);
            bandwidth ??= policyBandwidth;
            if (bandwidth is not null && policyBandwidth is not null && !ReferenceEquals(bandwidth, policyBandwidth))
                bandwidth = bandwidth with { Traffic = [.. bandwidth.Traffic, .. policyBandwidth.Traffic] };
        }
        if (policies.Count > 1)
            WriteSummary(rows, console);

        if (s.Json is not null)
        {
            string path = Path.GetFullPath(s.Json);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, JsonSerializer.Serialize(new Document(rows, bandwidth), Json.Options) + "\n");
            console.WriteLine($"wrote {path}");
        }
        if (s.Plot is not null)
        {
            string path = Path.GetFullPath(s.Plot);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            PlotRatios(rows, rows[0].Device, path);
            console.WriteLine($"wrote {path}");
        }
    }

    /// <summary>Times every model in this process, under its own wait policy.</summary>
    private static (List<Row> Rows, Bandwidth? Bandwidth) RunHere(BenchOptimizerSettings s, List<PilotArchitecture> models,
        Dictionary<PilotArchitecture, IReadOnlyList<long[]>> shapes, CliConsole console)
    {
        string device = Devices.Resolve(s.Device, "--device");
        var environment = BenchEnvironment.Current(BenchEnvironment.NoData);
        var results = new List<OptimizerBenchmarkResult>();
        foreach (var model in models)
        {
            console.WriteLine(string.Create(Inv,
                $"timing {s.Steps} optimizer steps of {model}'s parameters on {device} per optimizer (median reported; random gradients set once); " +
                $"OMP_WAIT_POLICY={environment.OmpWaitPolicy}, {environment.Threads} libtorch threads"));
            var modelResults = OptimizerBenchmark.Run(model.ToString(), shapes[model], device == "cuda" ? torch.CUDA : torch.CPU, steps: s.Steps);
            var table = new Table { Title = new TableTitle($"{model} ({modelResults[0].Params:N0} parameters), {device}, OMP_WAIT_POLICY={environment.OmpWaitPolicy}") }
                .AddColumn("optimizer").AddColumn(new TableColumn("ms/step").RightAligned())
                .AddColumn(new TableColumn("state bytes/param").RightAligned()).AddColumn(new TableColumn("ratio to AdamW").RightAligned());
            foreach (var r in modelResults)
                table.AddRow(r.Optimizer, r.MsPerStep.ToString("F3", Inv), r.StateBytesPerParam.ToString("F1", Inv), r.RatioToAdamW.ToString("F3", Inv));
            console.Ansi.Write(table);
            results.AddRange(modelResults);
        }
        var bandwidth = device == "cpu" ? MeasureBandwidth(results, environment.OmpWaitPolicy, console) : null;
        var rows = results.Select(r => new Row(r.Optimizer, r.Model, r.Device, r.Params, r.MsPerStep, r.StateBytesPerParam, r.RatioToAdamW,
            environment)).ToList();
        return (rows, bandwidth);
    }

    /// <summary>Runs <c>pilot bench optimizer</c> for one policy in a child process with OMP_WAIT_POLICY set, echoes its output, reads its JSON.</summary>
    private static (List<Row> Rows, Bandwidth? Bandwidth) RunChild(BenchOptimizerSettings s, List<PilotArchitecture> models, string policy, CliConsole console)
    {
        string json = Path.Combine(Path.GetTempPath(), $"pilot-bench-optimizer-{policy}-{Guid.NewGuid():N}.json");
        var start = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(OptimizerBench).Assembly.Location);
        foreach (var a in new[] { "bench", "optimizer", "--device", s.Device.ToString().ToLowerInvariant(), "--model", string.Join(",", models),
                     "--steps", s.Steps.ToString(Inv), "--omp-wait-policy", policy, "--json", json })
            start.ArgumentList.Add(a);
        start.Environment[ProcessSetup.WaitPolicyVariable] = policy;
        console.WriteLine($"OMP_WAIT_POLICY={policy}: timing in a child process (libtorch reads the policy once, when it loads)");
        try
        {
            using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start a child pilot process");
            var error = process.StandardError.ReadToEndAsync();
            while (process.StandardOutput.ReadLine() is { } line)
                if (!line.StartsWith("wrote ", StringComparison.Ordinal))
                    console.WriteLine(line);
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"bench optimizer under OMP_WAIT_POLICY={policy} failed (exit code {process.ExitCode}): {error.Result.Trim()}");
            var document = JsonSerializer.Deserialize<Document>(File.ReadAllText(json), Json.Options)
                ?? throw new InvalidDataException($"the child process wrote no results to {json}");
            return ([.. document.Results], document.Bandwidth);
        }
        finally
        {
            File.Delete(json);
        }
    }

    /// <summary>The dotnet host that runs pilot.dll: the one running this process, or the test host's, or dotnet on the PATH.</summary>
    private static string DotnetHost()
    {
        string? process = Environment.ProcessPath;
        if (process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet")
            return process;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
    }

    /// <summary>Every optimizer under every policy side by side, each ratio to AdamW under the same policy, and the ratio with each optimizer at its best policy.</summary>
    private static void WriteSummary(IReadOnlyList<Row> rows, CliConsole console)
    {
        var policies = rows.Select(r => r.OmpWaitPolicy).Distinct().ToList();
        foreach (var model in rows.Select(r => r.Model).Distinct())
        {
            var table = new Table { Title = new TableTitle($"{model}: ms/step (ratio to AdamW under the same policy)") }.AddColumn("optimizer");
            foreach (var policy in policies)
                table.AddColumn(new TableColumn(policy).RightAligned());
            table.AddColumn(new TableColumn("each at its best vs AdamW at its best").RightAligned());
            var ofModel = rows.Where(r => r.Model == model).ToList();
            double bestAdamW = ofModel.Where(r => r.Optimizer == "AdamW").Min(r => r.MsPerStep);
            foreach (var optimizer in ofModel.Select(r => r.Optimizer).Distinct())
            {
                var cells = new List<string> { optimizer };
                foreach (var policy in policies)
                    cells.Add(ofModel.FirstOrDefault(r => r.Optimizer == optimizer && r.OmpWaitPolicy == policy) is { } r
                        ? string.Create(Inv, $"{r.MsPerStep:F3} ({r.RatioToAdamW:F2})") : "-");
                var best = ofModel.Where(r => r.Optimizer == optimizer).MinBy(r => r.MsPerStep)!;
                cells.Add(string.Create(Inv, $"{best.MsPerStep / bestAdamW:F2} ({best.OmpWaitPolicy})"));
                table.AddRow(cells.ToArray());
            }
            console.Ansi.Write(table);
        }
    }

    /// <summary>Horizontal bars: each optimizer's step time relative to AdamW (1 = AdamW), grouped by network; PILOT-plain is left out (its ratio dwarfs the others).</summary>
    private static void PlotRatios(IReadOnlyList<Row> results, string device, string path)
    {
        var shown = results.Where(r => r.Optimizer != "PILOT-plain").ToList();
        var optimizers = shown.Select(r => r.Optimizer).Distinct().ToList();
        var model = new PlotModel { Title = $"optimizer step time relative to TorchSharp's AdamW ({device}; lower is faster)", Background = OxyColors.White };
        model.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, ItemsSource = optimizers });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "× AdamW", Minimum = 0, MaximumPadding = 0.08, MajorGridlineStyle = LineStyle.Dot });
        foreach (var group in shown.GroupBy(r => $"{r.Model}, {r.OmpWaitPolicy}"))
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
    private static Bandwidth MeasureBandwidth(IReadOnlyList<OptimizerBenchmarkResult> results, string policy, CliConsole console)
    {
        double copy = OptimizerBenchmark.MeasureCopyBandwidth();
        var traffic = new List<Traffic>();
        foreach (var r in results)
        {
            if (!OptimizerBenchmark.BytesMovedPerParam.TryGetValue(r.Optimizer, out int perParam))
                continue;
            long bytes = perParam * r.Params;
            traffic.Add(new Traffic(r.Optimizer, r.Model, bytes, bytes / (r.MsPerStep / 1e3) / 1e9, bytes / (copy * 1e9) * 1e3, policy));
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

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
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
/// the parameter shapes of a network, through Pilot.TorchSharp's <see cref="OptimizerBenchmark"/>; a table with the ratio
/// to AdamW and, with <c>--json</c>, <c>{"results": [...]}</c>.
/// </summary>
internal static class OptimizerBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>One row of the <c>--json</c> file, with the field names of issue 9.</summary>
    private sealed record Row(
        string Optimizer, string Model, string Device, long Params, double MsPerStep, double StateBytesPerParam,
        [property: JsonPropertyName("ratio_to_adamw")] double RatioToAdamW);

    private sealed record Document(IReadOnlyList<Row> Results);

    /// <summary>The parameter shapes of <paramref name="model"/> as the benchmark knows them.</summary>
    /// <exception cref="CliInputException">The benchmark has no shapes for <paramref name="model"/>.</exception>
    internal static IReadOnlyList<long[]> Shapes(PilotArchitecture model) => model switch
    {
        PilotArchitecture.SmallCnn => OptimizerBenchmark.SmallCnnShapes,
        PilotArchitecture.ResNet18 => OptimizerBenchmark.ResNet18Shapes,
        _ => throw new CliInputException($"--model: the optimizer benchmark knows SmallCnn and ResNet18; got {model}."),
    };

    /// <summary>Runs the benchmark, prints the table, writes the JSON when asked; returns the results.</summary>
    public static IReadOnlyList<OptimizerBenchmarkResult> Run(BenchOptimizerSettings s, CliConsole console)
    {
        var shapes = Shapes(s.Model);
        string device = Devices.Resolve(s.Device, "--device");
        console.WriteLine(string.Create(Inv,
            $"timing {s.Steps} optimizer steps of {s.Model}'s parameters on {device} per optimizer (median reported; random gradients set once)"));
        var results = OptimizerBenchmark.Run(s.Model.ToString(), shapes, device == "cuda" ? torch.CUDA : torch.CPU, steps: s.Steps);

        var table = new Table { Title = new TableTitle($"{s.Model} ({results[0].Params:N0} parameters), {device}") }
            .AddColumn("optimizer").AddColumn(new TableColumn("ms/step").RightAligned())
            .AddColumn(new TableColumn("state bytes/param").RightAligned()).AddColumn(new TableColumn("ratio to AdamW").RightAligned());
        foreach (var r in results)
            table.AddRow(r.Optimizer, r.MsPerStep.ToString("F3", Inv), r.StateBytesPerParam.ToString("F1", Inv), r.RatioToAdamW.ToString("F3", Inv));
        console.Ansi.Write(table);

        if (s.Json is not null)
        {
            string path = Path.GetFullPath(s.Json);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var rows = results.Select(r => new Row(r.Optimizer, r.Model, r.Device, r.Params, r.MsPerStep, r.StateBytesPerParam, r.RatioToAdamW)).ToList();
            File.WriteAllText(path, JsonSerializer.Serialize(new Document(rows), Json.Options) + "\n");
            console.WriteLine($"wrote {path}");
        }
        return results;
    }
}

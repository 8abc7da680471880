using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;
using Pilot.Cli.Commands;
using Pilot.Cli.Reporting;
using Pilot.Cli.Training;
using Pilot.MLNet;
using Spectre.Console;

namespace Pilot.Cli.Bench;

/// <summary>The measured training epochs of one optimizer.</summary>
/// <param name="Optimizer">Optimizer.</param>
/// <param name="Seconds">Seconds of each timed epoch, in round order, as the trainer reports them (training only: no validation set is given).</param>
/// <param name="ImagesPerSecond">Training images per second of each timed epoch, in round order.</param>
internal sealed record EpochTiming(PilotOptimizerKind Optimizer, IReadOnlyList<double> Seconds, IReadOnlyList<double> ImagesPerSecond)
{
    /// <summary>Median of <see cref="Seconds"/>.</summary>
    public double MedianSeconds => Median(Seconds);

    /// <summary>Median of <see cref="ImagesPerSecond"/>.</summary>
    public double MedianImagesPerSecond => Median(ImagesPerSecond);

    private static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int h = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
    }
}

/// <summary>One optimizer's row of <c>bench train --json</c>, with the settings it was measured under.</summary>
internal sealed record TrainRow(
    string Optimizer, string Model, string Device, double Seconds, IReadOnlyList<double> SecondsEachRound, double ImagesPerSecond,
    [property: JsonPropertyName("time_vs_adamw")] double? TimeVsAdamW, BenchEnvironment Environment);

/// <summary>
/// <c>pilot bench train</c>: epochs of full FashionMNIST through the ML.NET trainer per optimizer, in one process and on
/// the same data (the paper protocol's batch size and learning rate), so that the optimizers' epoch times can be compared.
/// Each optimizer first trains one untimed epoch over <see cref="BenchDefaults.TrainWarmupImages"/> images; then
/// <c>--rounds</c> rounds each time one epoch per optimizer, the order reversed every other round, and the median is reported;
/// with <c>--json</c>, also <c>{"results": [...]}</c>.
/// </summary>
internal static class TrainBenchmark
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Runs the benchmark and prints the table; returns the timings in <paramref name="settings"/>' optimizer order.</summary>
    public static IReadOnlyList<EpochTiming> Run(BenchTrainSettings settings, string systemFashionMnist, CliConsole console)
    {
        PaperProtocol.For(settings.Model, PilotOptimizerKind.Pilot, "--model"); // a model without the paper's settings fails before any work
        if (settings.Rounds < 1)
            throw new CliInputException($"--rounds must be at least 1; got {settings.Rounds}.");
        var data = DataChoice.Resolve(settings.Data, systemFashionMnist);
        if (data.IsEmbedded)
            throw new CliInputException(
                $"--data: 'bench train' times full FashionMNIST; install the Debian package dataset-fashion-mnist (it fills {systemFashionMnist}) or pass --data FOLDER.");
        string device = Devices.Resolve(settings.Device, "--device");
        var runner = new TrainingRunner(CliDefaults.Seed);
        var split = runner.LoadForTraining(data, CliDefaults.TestFraction, validationFraction: 0) with { Validation = null };
        var warmup = split with { Train = new MLContext(CliDefaults.Seed).Data.TakeRows(split.Train, BenchDefaults.TrainWarmupImages) };
        var optimizers = settings.Optimizers.Distinct().ToList();
        console.WriteLine(string.Create(Inv,
            $"data: {data.Description}: train {split.TrainDescription}; {settings.Model} on {device}; per optimizer a warm-up epoch over {BenchDefaults.TrainWarmupImages:N0} images, then {settings.Rounds} timed epoch{(settings.Rounds == 1 ? "" : "s")} in alternating order; no validation pass"));

        foreach (var optimizer in optimizers)
        {
            console.WriteLine($"{optimizer}: warm-up");
            TrainOneEpoch(runner, warmup, settings, optimizer, device, console);
        }

        var seconds = optimizers.ToDictionary(o => o, _ => new List<double>());
        var rates = optimizers.ToDictionary(o => o, _ => new List<double>());
        for (int round = 0; round < settings.Rounds; round++)
        {
            var order = round % 2 == 0 ? optimizers : Enumerable.Reverse(optimizers).ToList();
            foreach (var optimizer in order)
            {
                console.WriteLine($"{optimizer}: timed epoch {round + 1} of {settings.Rounds}");
                var epoch = TrainOneEpoch(runner, split, settings, optimizer, device, console);
                seconds[optimizer].Add(epoch.Seconds);
                rates[optimizer].Add(epoch.ImagesPerSecond);
            }
        }

        var timings = optimizers.Select(o => new EpochTiming(o, seconds[o], rates[o])).ToList();
        var reference = timings.FirstOrDefault(t => t.Optimizer == PilotOptimizerKind.AdamW);
        var table = new Table { Title = new TableTitle($"one epoch of {split.TrainDescription}, {settings.Model}, {device}, median of {settings.Rounds}") }
            .AddColumn("optimizer").AddColumn(new TableColumn("seconds (median)").RightAligned()).AddColumn("each round")
            .AddColumn(new TableColumn("images/s").RightAligned()).AddColumn(new TableColumn("time vs AdamW").RightAligned());
        foreach (var t in timings)
        {
            table.AddRow(t.Optimizer.ToString(), t.MedianSeconds.ToString("F2", Inv), string.Join(" ", t.Seconds.Select(x => x.ToString("F2", Inv))),
                t.MedianImagesPerSecond.ToString("N0", Inv), reference is null ? "-" : (t.MedianSeconds / reference.MedianSeconds).ToString("F3", Inv));
        }
        console.Ansi.Write(table);

        if (settings.Json is not null)
        {
            var environment = BenchEnvironment.Current(data.Folder!);
            var rows = timings.Select(t => new TrainRow(t.Optimizer.ToString(), settings.Model.ToString(), device, t.MedianSeconds, t.Seconds,
                t.MedianImagesPerSecond, reference is null ? null : t.MedianSeconds / reference.MedianSeconds, environment)).ToList();
            string path = Path.GetFullPath(settings.Json);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, JsonSerializer.Serialize(new { results = rows }, Json.Options) + "\n");
            console.WriteLine($"wrote {path}");
        }
        return timings;
    }

    private static EpochRecord TrainOneEpoch(TrainingRunner runner, TrainingSplit split, BenchTrainSettings settings,
        PilotOptimizerKind optimizer, string device, CliConsole console)
    {
        var trainer = PaperProtocol.Trainer(settings.Model, optimizer, epochs: 1, CliDefaults.Seed, "--model");
        using var outcome = TrainingProgress.Run(console, 1, progress => runner.Train(split, trainer, device, progress));
        return outcome.Epochs.Single();
    }
}

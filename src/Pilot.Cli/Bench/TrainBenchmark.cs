using System.Globalization;
using Pilot.Cli.Commands;
using Pilot.Cli.Reporting;
using Pilot.Cli.Training;
using Pilot.MLNet;
using Spectre.Console;

namespace Pilot.Cli.Bench;

/// <summary>One measured training epoch.</summary>
/// <param name="Optimizer">Optimizer.</param>
/// <param name="Seconds">Seconds of the epoch as the trainer reports it (training only: no validation set is given).</param>
/// <param name="ImagesPerSecond">Training images per second.</param>
internal sealed record EpochTiming(PilotOptimizerKind Optimizer, double Seconds, double ImagesPerSecond);

/// <summary>
/// <c>pilot bench train</c>: one epoch of full FashionMNIST through the ML.NET trainer per optimizer, in one process and on
/// the same data, so that the optimizers' epoch times can be compared (the paper protocol's batch size and learning rate).
/// </summary>
internal static class TrainBenchmark
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Runs the benchmark and prints the table; returns the timings in <paramref name="settings"/>' optimizer order.</summary>
    public static IReadOnlyList<EpochTiming> Run(BenchTrainSettings settings, string systemFashionMnist, CliConsole console)
    {
        PaperProtocol.For(settings.Model, PilotOptimizerKind.Pilot, "--model"); // a model without the paper's settings fails before any work
        var data = DataChoice.Resolve(settings.Data, systemFashionMnist);
        if (data.IsEmbedded)
            throw new CliInputException(
                $"--data: 'bench train' times full FashionMNIST; install the Debian package dataset-fashion-mnist (it fills {systemFashionMnist}) or pass --data FOLDER.");
        string device = Devices.Resolve(settings.Device, "--device");
        var runner = new TrainingRunner(CliDefaults.Seed);
        var split = runner.LoadForTraining(data, CliDefaults.TestFraction, validationFraction: 0) with { Validation = null };
        console.WriteLine($"data: {data.Description}: train {split.TrainDescription}; {settings.Model} on {device}, one epoch per optimizer, no validation pass");

        var timings = new List<EpochTiming>();
        foreach (var optimizer in settings.Optimizers.Distinct())
        {
            var hp = PaperProtocol.For(settings.Model, optimizer, "--model");
            var trainer = new TrainerSettings
            {
                Architecture = settings.Model,
                Optimizer = optimizer,
                Epochs = 1,
                BatchSize = hp.BatchSize,
                LearningRate = hp.LearningRate,
                WeightDecay = hp.WeightDecay,
                Gamma = hp.Gamma,
                EtaPhi = hp.EtaPhi,
                PolicyDegree = hp.PolicyDegree,
                Augment = false,
                Device = device,
                Seed = CliDefaults.Seed,
            };
            console.WriteLine($"{optimizer}: training one epoch");
            using var outcome = TrainingProgress.Run(console, 1, progress => runner.Train(split, trainer, progress));
            var epoch = outcome.Epochs.Single();
            timings.Add(new EpochTiming(optimizer, epoch.Seconds, epoch.ImagesPerSecond));
        }

        var reference = timings.FirstOrDefault(t => t.Optimizer == PilotOptimizerKind.AdamW);
        var table = new Table { Title = new TableTitle($"one epoch of {split.TrainDescription}, {settings.Model}, {device}") }
            .AddColumn("optimizer").AddColumn(new TableColumn("seconds").RightAligned()).AddColumn(new TableColumn("images/s").RightAligned())
            .AddColumn(new TableColumn("time vs AdamW").RightAligned());
        foreach (var t in timings)
        {
            table.AddRow(t.Optimizer.ToString(), t.Seconds.ToString("F1", Inv), t.ImagesPerSecond.ToString("N0", Inv),
                reference is null ? "-" : (t.Seconds / reference.Seconds).ToString("F3", Inv));
        }
        console.Ansi.Write(table);
        return timings;
    }
}

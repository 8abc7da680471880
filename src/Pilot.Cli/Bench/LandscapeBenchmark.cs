using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Pilot.Cli.Commands;
using Pilot.Cli.Reporting;
using Pilot.Cli.Training;
using Pilot.MLNet;
using Pilot.MLNet.Models;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.Cli.Bench;

/// <summary>The <c>bench landscape</c> JSON (beside the PNG); field names snake_case.</summary>
/// <param name="Model">Network (SmallCnn).</param>
/// <param name="Data">The data in words.</param>
/// <param name="TrainImages">Training images used (the first N rows).</param>
/// <param name="Epochs">Epochs per optimizer.</param>
/// <param name="Seed">Seed shared by every optimizer.</param>
/// <param name="Device">Device kind.</param>
/// <param name="SubsetImages">Images the loss is averaged over (the first rows of the training images).</param>
/// <param name="Loss">What the loss is, in words.</param>
/// <param name="Plane">The plane: method, origin, share of the squared displacement along each direction.</param>
/// <param name="Grid">α and β of the grid and the loss at each point: <c>loss[i][j]</c> at (α_i, β_j).</param>
/// <param name="StartLoss">Loss at the common initial weights (0, 0).</param>
/// <param name="Optimizers">One trajectory per optimizer.</param>
/// <param name="Seconds">Wall-clock seconds of the whole command.</param>
internal sealed record LandscapeResult(
    string Model, string Data, int TrainImages, int Epochs, int Seed, string Device, int SubsetImages, string Loss,
    LandscapePlaneInfo Plane, LandscapeGrid Grid, double StartLoss, IReadOnlyList<LandscapeTrajectory> Optimizers, double Seconds);

/// <summary>How the plane was chosen.</summary>
/// <param name="Method">How the directions were chosen.</param>
/// <param name="Weights">Number of trainable weights P.</param>
/// <param name="ExplainedPc1">Share of Σ‖θ − θ₀‖² over all recorded points along the first direction.</param>
/// <param name="ExplainedPc2">The same along the second.</param>
internal sealed record LandscapePlaneInfo(string Method, long Weights, double ExplainedPc1, double ExplainedPc2);

/// <summary>The loss grid.</summary>
internal sealed record LandscapeGrid(double[] Alpha, double[] Beta, double[][] Loss);

/// <summary>One optimizer's run and trajectory.</summary>
/// <param name="Optimizer">Optimizer.</param>
/// <param name="LearningRate">Peak learning rate (the paper protocol's).</param>
/// <param name="WeightDecay">Weight decay (the paper protocol's).</param>
/// <param name="Steps">Optimizer steps taken.</param>
/// <param name="Points">The recorded points projected onto the plane, the start first.</param>
/// <param name="EndLoss">Loss at the final weights.</param>
/// <param name="EndLossOnPlane">Loss at the final weights' projection onto the plane (what the contours show there).</param>
/// <param name="EndOffPlane">Share of the final displacement θ_end − θ₀ that lies off the plane (0: on it).</param>
/// <param name="EndDistance">‖θ_end − θ₀‖.</param>
/// <param name="FinalTrainLoss">The trainer's mean training loss over the last epoch (dropout on, running batch statistics).</param>
internal sealed record LandscapeTrajectory(
    PilotOptimizerKind Optimizer, double LearningRate, double WeightDecay, long Steps, IReadOnlyList<LandscapePoint> Points,
    double EndLoss, double EndLossOnPlane, double EndOffPlane, double EndDistance, double FinalTrainLoss);

/// <summary>A recorded point in plane coordinates.</summary>
internal sealed record LandscapePoint(long Step, double Alpha, double Beta);

/// <summary>
/// <c>pilot bench landscape</c>: trains SmallCnn with each optimizer from the same initial weights (same seed) with the
/// paper protocol's settings, recording the weights along the way (<see cref="TrajectoryRecorder"/>); projects every
/// trajectory onto the plane of their two leading principal directions through the initial weights
/// (<see cref="LandscapePlane"/>); evaluates the loss on a grid over that plane (<see cref="LandscapeLoss"/>); draws
/// contours and trajectories (<see cref="LandscapePlot"/>) and writes the numbers as JSON beside the PNG.
/// </summary>
internal static class LandscapeBenchmark
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The network of the figure (the paper's landscape is of its SmallCNN).</summary>
    public const PilotArchitecture Model = PilotArchitecture.SmallCnn;

    /// <summary>Space left around the trajectories on each side of the grid, as a share of their extent.</summary>
    internal const double Margin = 0.15;

    /// <summary>Checks the settings that do not need the data; returns the full paths of the PNG and the JSON.</summary>
    /// <exception cref="CliInputException">A setting is out of range; the message names its option.</exception>
    internal static (string Png, string Json) Validate(BenchLandscapeSettings s)
    {
        if (s.Optimizers.Count == 0)
            throw new CliInputException("--optimizers: name at least one optimizer.");
        if (!string.Equals(Path.GetExtension(s.Out), ".png", StringComparison.OrdinalIgnoreCase))
            throw new CliInputException($"--out: '{s.Out}' must end in .png (the JSON is written beside it, with .json).");
        if (s.Epochs < 1)
            throw new CliInputException($"--epochs must be at least 1; got {s.Epochs}.");
        if (s.TrainImages is < 1)
            throw new CliInputException($"--train-images must be at least 1; got {s.TrainImages}.");
        if (s.Points < 1)
            throw new CliInputException($"--points must be at least 1; got {s.Points}.");
        if (s.Grid < 3)
            throw new CliInputException($"--grid must be at least 3; got {s.Grid}.");
        if (s.Subset < 1)
            throw new CliInputException($"--subset must be at least 1; got {s.Subset}.");
        if (s.Seed < 0)
            throw new CliInputException($"--seed must be 0 or greater; got {s.Seed}.");
        if (s.TrainImages is { } n && s.Subset > n)
            throw new CliInputException($"--subset ({s.Subset}) must not exceed --train-images ({n}): the loss is taken on training images.");
        string png = Path.GetFullPath(s.Out);
        return (png, Path.ChangeExtension(png, ".json"));
    }

    /// <summary>Runs the benchmark, prints a table and writes the PNG and the JSON; returns the result.</summary>
    public static LandscapeResult Run(BenchLandscapeSettings s, string systemFashionMnist, CliConsole console)
    {
        var (png, json) = Validate(s);
        if (s.From is not null)
            return Redraw(s.From, png, json, console);
        var clock = Stopwatch.StartNew();
        var optimizers = s.Optimizers.Distinct().ToList();
        var data = DataChoice.Resolve(s.Data, systemFashionMnist);
        string device = Devices.Resolve(s.Device, "--device");

        var runner = new TrainingRunner(s.Seed);
        var split = runner.LoadForTraining(data, CliDefaults.TestFraction, validationFraction: 0);
        long available = DataLoading.Count(split.Train);
        if (s.TrainImages is { } asked && asked > available)
            throw new CliInputException($"--train-images: {data.Description} has {available:N0} training images; got {asked:N0}.");
        int trainImages = (int)Math.Min(s.TrainImages ?? BenchDefaults.LandscapeTrainImages, available);
        if (s.Subset > trainImages)
            throw new CliInputException($"--subset ({s.Subset:N0}) must not exceed the {trainImages:N0} training images used (--train-images).");
        // The first rows only, and no per-epoch validation: the figure needs the weights, not test metrics.
        split = split with
        {
            Train = trainImages < available ? new MLContext(s.Seed).Data.TakeRows(split.Train, trainImages) : split.Train,
            Validation = null,
        };
        console.WriteLine(string.Create(Inv,
            $"data: {data.Description}: the first {trainImages:N0} training images; loss on the first {s.Subset:N0} of them"));

        var recorders = new List<(PilotOptimizerKind Optimizer, PilotImageClassificationTrainer.Options Settings, TrajectoryRecorder Recorder, double FinalTrainLoss)>();
        try
        {
            foreach (var optimizer in optimizers)
            {
                var recorder = new TrajectoryRecorder(s.Points, s.Subset);
                var settings = PaperProtocol.Trainer(Model, optimizer, s.Epochs, s.Seed);
                settings.Observer = recorder;
                console.WriteLine(string.Create(Inv,
                    $"training {Model} with {optimizer} for {s.Epochs} epoch{(s.Epochs == 1 ? "" : "s")} on {device} (lr {settings.LearningRate:0.###e+0}, weight decay {settings.WeightDecay:0.###e+0}, seed {s.Seed}), recording the weights"));
                double finalTrainLoss;
                try
                {
                    using var outcome = TrainingProgress.Run(console, s.Epochs, progress => runner.Train(split, settings, device, progress));
                    finalTrainLoss = outcome.Epochs.Count > 0 ? outcome.Epochs[^1].TrainLoss : double.NaN;
                }
                catch
                {
                    recorder.Dispose();
                    throw;
                }
                recorders.Add((optimizer, settings, recorder, finalTrainLoss));
            }
            var result = Analyse(s, data, device, trainImages, split.ClassNames.Count, recorders, console, clock);
            result = result with { Seconds = clock.Elapsed.TotalSeconds };

            Directory.CreateDirectory(Path.GetDirectoryName(png)!);
            LandscapePlot.Write(result, png);
            File.WriteAllText(json, JsonSerializer.Serialize(result, Json.Options) + "\n");
            WriteTable(result, console);
            console.WriteLine($"wrote {png}");
            console.WriteLine($"wrote {json}");
            return result;
        }
        finally
        {
            foreach (var r in recorders)
                r.Recorder.Dispose();
        }
    }

    /// <summary>Draws the figure of a JSON file written earlier (after a change to the plot, without training again).</summary>
    /// <exception cref="CliInputException">The file does not exist or is not such a file.</exception>
    internal static LandscapeResult Redraw(string from, string png, string json, CliConsole console)
    {
        string source = Path.GetFullPath(from);
        if (!File.Exists(source))
            throw new CliInputException($"--from: '{source}' does not exist; pass a JSON file written by 'pilot bench landscape'.");
        LandscapeResult? result;
        try
        {
            result = JsonSerializer.Deserialize<LandscapeResult>(File.ReadAllText(source), Json.Options);
        }
        catch (JsonException e)
        {
            throw new CliInputException($"--from: '{source}' is not a 'bench landscape' JSON file ({e.Message}).", e);
        }
        if (result?.Grid?.Alpha is not { Length: >= 2 } || result.Grid.Beta is not { Length: >= 2 } || result.Grid.Loss is null
            || result.Optimizers is not { Count: > 0 } || result.Optimizers.Any(o => o.Points is not { Count: > 0 }) || result.Plane is null)
            throw new CliInputException($"--from: '{source}' is not a 'bench landscape' JSON file (grid, plane or trajectories missing).");
        Directory.CreateDirectory(Path.GetDirectoryName(png)!);
        LandscapePlot.Write(result, png);
        console.WriteLine($"wrote {png} (from {source})");
        if (!string.Equals(Path.GetFullPath(json), source, StringComparison.Ordinal))
        {
            File.WriteAllText(json, JsonSerializer.Serialize(result, Json.Options) + "\n");
            console.WriteLine($"wrote {json}");
        }
        return result;
    }

    /// <summary>The plane, the projected trajectories, the grid and the end losses.</summary>
    private static LandscapeResult Analyse(BenchLandscapeSettings s, DataChoice data, string device, int trainImages, int classCount,
        IReadOnlyList<(PilotOptimizerKind Optimizer, PilotImageClassificationTrainer.Options Settings, TrajectoryRecorder Recorder, double FinalTrainLoss)> runs,
        CliConsole console, Stopwatch clock)
    {
        var first = runs[0].Recorder;
        var start = first.Trajectory[0].Weights;
        foreach (var run in runs)
        {
            // Same seed, same network: the trainer must have started every optimizer from the same weights and data.
            if (!Same(run.Recorder.Trajectory[0].Weights, start) || !Same(run.Recorder.SubsetImages!, first.SubsetImages!))
                throw new InvalidOperationException($"{run.Optimizer} did not start from the same initial weights and data as {runs[0].Optimizer}.");
        }

        var moved = runs.SelectMany(r => r.Recorder.Trajectory.Skip(1).Select(p => p.Weights)).ToList();
        using var plane = LandscapePlane.FromTrajectories(start, moved);
        var projected = runs.Select(r => r.Recorder.Trajectory.Select(p =>
        {
            var (a, b) = plane.Project(p.Weights);
            return new LandscapePoint(p.Step, a, b);
        }).ToList()).ToList();

        var (alphas, betas) = GridAxes(projected.SelectMany(p => p), s.Grid);
        var torchDevice = device == "cuda" ? torch.CUDA : torch.CPU;
        using var network = Backbones.Create(Model, first.Shape!.Value, classCount);
        network.to(torchDevice);
        using var images = first.SubsetImages!.to(torchDevice);
        using var labels = first.SubsetLabels!.to(torchDevice);
        using var loss = new LandscapeLoss(network, images, labels);

        console.WriteLine(string.Create(Inv,
            $"plane: principal directions of {moved.Count} recorded points ({100 * plane.Explained1:F1}% and {100 * plane.Explained2:F1}% of the squared displacement); evaluating the loss on {s.Grid} × {s.Grid} points"));
        var gridClock = Stopwatch.StartNew();
        int reportEvery = Math.Max(1, s.Grid / 5);
        var grid = loss.Grid(plane, alphas, betas, done =>
        {
            if (done % reportEvery == 0 || done == s.Grid)
                console.WriteLine(string.Create(Inv, $"  grid row {done}/{s.Grid} ({gridClock.Elapsed.TotalSeconds:F0} s)"));
        });

        var trajectories = new List<LandscapeTrajectory>();
        for (int i = 0; i < runs.Count; i++)
        {
            var (optimizer, settings, recorder, finalTrainLoss) = runs[i];
            var end = recorder.Trajectory[^1];
            var endPoint = projected[i][^1];
            using var onPlane = plane.At(endPoint.Alpha, endPoint.Beta);
            trajectories.Add(new LandscapeTrajectory(optimizer, settings.LearningRate, settings.WeightDecay, end.Step, projected[i],
                loss.At(end.Weights), loss.At(onPlane), plane.OffPlane(end.Weights), plane.Distance(end.Weights), finalTrainLoss));
        }

        return new LandscapeResult(Model.ToString(), data.Description, trainImages, s.Epochs, s.Seed, device, s.Subset,
            $"mean cross-entropy over the first {s.Subset} training images, in batches of {LandscapeLoss.BatchSize}; dropout off, batch normalisation with each batch's statistics",
            new LandscapePlaneInfo(
                "the two leading principal directions of the displacements of every recorded point from the common initial weights (uncentred PCA; origin = initial weights)",
                plane.Length, plane.Explained1, plane.Explained2),
            new LandscapeGrid(alphas, betas, Enumerable.Range(0, alphas.Length).Select(i => Enumerable.Range(0, betas.Length).Select(j => grid[i, j]).ToArray()).ToArray()),
            loss.At(start), trajectories, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Whether two tensors have the same shape and elements.</summary>
    private static bool Same(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape))
            return false;
        using var equal = a.eq(b).all();
        return equal.item<bool>();
    }

    /// <summary>
    /// <paramref name="count"/> evenly spaced α and β values covering every point and the origin, with
    /// <see cref="Margin"/> of the extent added on each side.
    /// </summary>
    internal static (double[] Alpha, double[] Beta) GridAxes(IEnumerable<LandscapePoint> points, int count)
    {
        var list = points.ToList();
        static double[] Axis(IEnumerable<double> values, int count)
        {
            var v = values.Append(0).ToList();
            double lo = v.Min(), hi = v.Max(), span = hi - lo;
            if (span == 0)
                span = 1;
            lo -= Margin * span;
            hi += Margin * span;
            return Enumerable.Range(0, count).Select(i => lo + (hi - lo) * i / (count - 1)).ToArray();
        }
        return (Axis(list.Select(p => p.Alpha), count), Axis(list.Select(p => p.Beta), count));
    }

    private static void WriteTable(LandscapeResult r, CliConsole console)
    {
        var table = new Table { Title = new TableTitle(string.Create(Inv, $"loss landscape, {r.Model}: loss at (0, 0), the common start: {r.StartLoss:F4}")) }
            .AddColumn("optimizer").AddColumn(new TableColumn("steps").RightAligned()).AddColumn(new TableColumn("end loss").RightAligned())
            .AddColumn(new TableColumn("loss at its projection").RightAligned()).AddColumn(new TableColumn("off the plane").RightAligned())
            .AddColumn(new TableColumn("‖θ_end − θ₀‖").RightAligned()).AddColumn(new TableColumn("last epoch's train loss").RightAligned());
        foreach (var t in r.Optimizers)
            table.AddRow(t.Optimizer.ToString(), t.Steps.ToString(Inv), t.EndLoss.ToString("F4", Inv), t.EndLossOnPlane.ToString("F4", Inv),
                t.EndOffPlane.ToString("P1", Inv), t.EndDistance.ToString("F2", Inv), t.FinalTrainLoss.ToString("F4", Inv));
        console.Ansi.Write(table);
    }
}

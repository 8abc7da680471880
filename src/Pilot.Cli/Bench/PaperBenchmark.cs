using System.Globalization;
using Pilot.Cli.Reporting;
using Pilot.Cli.Training;
using Pilot.MLNet;
using Spectre.Console;

namespace Pilot.Cli.Bench;

/// <summary>Hyper-parameters of one paper-protocol run.</summary>
/// <param name="BatchSize">Mini-batch size.</param>
/// <param name="LearningRate">Peak learning rate (cosine schedule).</param>
/// <param name="WeightDecay">Decoupled weight decay.</param>
/// <param name="WarmupEpochs">Linear warm-up epochs before the cosine decay.</param>
/// <param name="Gamma">PILOT's γ; null for other optimizers.</param>
/// <param name="EtaPhi">PILOT's policy learning rate η_φ; null for other optimizers.</param>
/// <param name="PolicyDegree">PILOT's policy degree d; null for other optimizers.</param>
internal sealed record PaperHyperparameters(
    int BatchSize, double LearningRate, double WeightDecay, int WarmupEpochs, double? Gamma, double? EtaPhi, int? PolicyDegree);

/// <summary>
/// The paper's FashionMNIST protocol (docs/algorithm.md, "Tuned settings" and "Published results"): batch 128, cosine schedule,
/// learning rate 1e-3 (Lion 1e-4 with 10× the weight decay; Sophia 2× the weight decay), weight decay 1e-4, no augmentation,
/// ResNet18 with 3 warm-up epochs, PILOT with the settings tuned per model for FashionMNIST.
/// </summary>
internal static class PaperProtocol
{
    public const int BatchSize = 128;
    public const double LearningRate = 1e-3;
    public const double WeightDecay = 1e-4;

    /// <summary>Lion takes a 10× smaller learning rate and a 10× larger weight decay (the Lion paper's advice, as the benchmark does).</summary>
    public const double LionLearningRate = 1e-4, LionWeightDecay = 1e-3;

    /// <summary>
    /// Sophia: the paper names no settings for it beyond "all at lr 1e-3", so the learning rate stays 1e-3 (the Sophia authors'
    /// README also advises "about the same as the learning rate that you would use for AdamW") and the weight decay is twice
    /// the protocol's ("Always use about 2x larger weight decay than what you would use for AdamW", same README). β1, β2 and ρ
    /// are SophiaG's defaults (<c>sophia.py</c>), B is the batch size and the Hessian is refreshed every 10 steps
    /// (<c>train_sophiag.py</c>); see docs/baselines.md.
    /// </summary>
    public const double SophiaLearningRate = LearningRate, SophiaWeightDecay = 2 * WeightDecay;

    public const int ResNetWarmupEpochs = 3;

    /// <summary>The models with tuned PILOT settings for FashionMNIST.</summary>
    public static readonly IReadOnlyList<PilotArchitecture> Models = [PilotArchitecture.SmallCnn, PilotArchitecture.ResNet18];

    /// <summary>
    /// The paper's test accuracy (%) on FashionMNIST after 30 epochs for <paramref name="model"/> trained with
    /// <paramref name="optimizer"/> (docs/algorithm.md, "Published results": its own SmallCNN, or ResNet-18, on a GPU with
    /// mixed precision); null for a model the paper has no FashionMNIST result for.
    /// </summary>
    public static double? PublishedAccuracy(PilotArchitecture model, PilotOptimizerKind optimizer)
        => Published.TryGetValue(model, out var row) && Array.IndexOf(PublishedColumns, optimizer) is int i and >= 0 ? row[i] : null;

    // The FashionMNIST rows of the paper's table, in its column order.
    private static readonly PilotOptimizerKind[] PublishedColumns =
        [PilotOptimizerKind.Adam, PilotOptimizerKind.AdamW, PilotOptimizerKind.Lion, PilotOptimizerKind.Sophia, PilotOptimizerKind.AdaBelief, PilotOptimizerKind.Pilot];

    private static readonly Dictionary<PilotArchitecture, double[]> Published = new()
    {
        [PilotArchitecture.SmallCnn] = [93.28, 93.22, 92.91, 89.14, 93.66, 94.13],
        [PilotArchitecture.ResNet18] = [95.00, 95.19, 95.09, 95.09, 95.33, 95.71],
    };

    /// <summary>The hyper-parameters of <paramref name="model"/> trained with <paramref name="optimizer"/>.</summary>
    /// <param name="model">Network.</param>
    /// <param name="optimizer">Optimizer.</param>
    /// <param name="optionName">The option that named the model, for the error message.</param>
    /// <exception cref="CliInputException"><paramref name="model"/> has no tuned PILOT settings for FashionMNIST.</exception>
    public static PaperHyperparameters For(PilotArchitecture model, PilotOptimizerKind optimizer, string optionName = "--models")
    {
        var (gamma, etaPhi, degree) = model switch
        {
            PilotArchitecture.SmallCnn => (0.950, 0.01, 2),     // FashionMNIST/SmallCNN
            PilotArchitecture.ResNet18 => (0.957, 0.00273, 3),  // FashionMNIST/ResNet-18
            _ => throw new CliInputException(
                $"{optionName}: the paper has no FashionMNIST settings for {model}; use {string.Join(" or ", Models)}."),
        };
        bool pilot = optimizer == PilotOptimizerKind.Pilot;
        var (learningRate, weightDecay) = optimizer switch
        {
            PilotOptimizerKind.Lion => (LionLearningRate, LionWeightDecay),
            PilotOptimizerKind.Sophia => (SophiaLearningRate, SophiaWeightDecay),
            _ => (LearningRate, WeightDecay),
        };
        return new PaperHyperparameters(
            BatchSize,
            learningRate,
            weightDecay,
            model == PilotArchitecture.ResNet18 ? ResNetWarmupEpochs : 0,
            pilot ? gamma : null,
            pilot ? etaPhi : null,
            pilot ? degree : null);
    }

    /// <summary>
    /// The trainer options of one protocol run: <paramref name="model"/> trained with <paramref name="optimizer"/> for
    /// <paramref name="epochs"/> epochs from <paramref name="seed"/>, without augmentation; the warm-up is capped at
    /// <paramref name="epochs"/> − 1 (a one-epoch benchmark has none). Everything else is the library's default.
    /// </summary>
    public static PilotImageClassificationTrainer.Options Trainer(PilotArchitecture model, PilotOptimizerKind optimizer, int epochs, int seed,
        string optionName = "--models")
    {
        var hp = For(model, optimizer, optionName);
        var options = new PilotImageClassificationTrainer.Options
        {
            Architecture = model,
            Optimizer = optimizer,
            Epochs = epochs,
            BatchSize = hp.BatchSize,
            LearningRate = hp.LearningRate,
            WeightDecay = hp.WeightDecay,
            WarmupEpochs = Math.Min(hp.WarmupEpochs, epochs - 1),
            Augment = false,
            Seed = seed,
        };
        if (hp.Gamma is { } gamma) options.Gamma = gamma;
        if (hp.EtaPhi is { } etaPhi) options.EtaPhi = etaPhi;
        if (hp.PolicyDegree is { } degree) options.PolicyDegree = degree;
        return options;
    }
}

/// <summary>What every run of one <c>pilot bench paper</c> invocation shares.</summary>
/// <param name="Data">The data folder (full FashionMNIST unless <c>--data</c> says otherwise).</param>
/// <param name="PolicyFile">The <c>--policy</c> file PILOT runs start from; null for PILOT's initial policy.</param>
/// <param name="FreezePolicy">Whether PILOT runs keep that policy fixed.</param>
internal sealed record PaperRunnerSetup(DataChoice Data, string? PolicyFile, bool FreezePolicy);

/// <summary>Does one paper-protocol run; the real one trains through ML.NET, tests use a fake.</summary>
internal interface IPaperRunner
{
    /// <summary>Trains and tests <paramref name="spec"/>, reporting progress, and returns the finished record.</summary>
    PaperRun Run(PaperRunSpec spec, ITrainingProgress progress);
}

/// <summary>Runs a plan of paper runs, skipping those already in the results file and appending each new one as it finishes.</summary>
internal static class PaperBenchmark
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The plan: every model × optimizer × seed, in that nesting order (duplicates dropped).</summary>
    /// <param name="models">Networks.</param>
    /// <param name="optimizers">Optimizers.</param>
    /// <param name="seeds">Seeds.</param>
    /// <param name="epochs">Epochs per run.</param>
    /// <param name="device">Device kind, <c>cpu</c> or <c>cuda</c>.</param>
    /// <param name="policy">The <c>policy</c> field for PILOT runs (<c>frozen:…</c>/<c>init:…</c>), or null; other optimizers ignore it.</param>
    public static IReadOnlyList<PaperRunSpec> Plan(
        IEnumerable<PilotArchitecture> models, IEnumerable<PilotOptimizerKind> optimizers, IEnumerable<int> seeds,
        int epochs, string device, string? policy)
        => (from m in models.Distinct()
            from o in optimizers.Distinct()
            from s in seeds.Distinct()
            select new PaperRunSpec(m, o, s, epochs, device, o == PilotOptimizerKind.Pilot ? policy : null)).ToList();

    /// <summary>Runs what of <paramref name="plan"/> is not yet in <paramref name="file"/>. Returns the number of runs done.</summary>
    public static int Run(IReadOnlyList<PaperRunSpec> plan, IPaperRunner runner, PaperResultsFile file, CliConsole console)
    {
        int done = 0;
        for (int i = 0; i < plan.Count; i++)
        {
            var spec = plan[i];
            string position = $"[{i + 1}/{plan.Count}]";
            // Re-read each time: another process may have added runs meanwhile.
            if (file.Read().Any(spec.Matches))
            {
                console.WriteLine($"{position} {spec}: already in {file.Path}, skipped.");
                continue;
            }
            console.WriteLine($"{position} {spec}: running.");
            var run = TrainingProgress.Run(console, spec.Epochs, progress => runner.Run(spec, progress));
            file.Append(run);
            string? policyFile = file.WritePolicy(run);
            done++;
            console.WriteLine(string.Create(Inv,
                $"{position} {spec}: test accuracy {MetricsTable.Percent(run.TestAccuracy)}, macro-F1 {run.MacroF1:F4}, test loss {run.TestLoss:F4}, {run.SecondsPerEpoch:F1} s/epoch; saved to {file.Path}{(policyFile is null ? "" : $", learned policy to {policyFile}")}."));
        }
        WriteSummary(plan, file.Read(), console);
        return done;
    }

    /// <summary>A table of the plan's configurations: seeds done, mean ± standard deviation of test accuracy and macro-F1, seconds per epoch.</summary>
    public static void WriteSummary(IReadOnlyList<PaperRunSpec> plan, IReadOnlyList<PaperRun> runs, CliConsole console)
    {
        var table = new Table { Title = new TableTitle("paper protocol, runs in the results file") }
            .AddColumn("model").AddColumn("optimizer").AddColumn("policy").AddColumn("device").AddColumn(new TableColumn("epochs").RightAligned())
            .AddColumn("seeds").AddColumn(new TableColumn("test accuracy %").RightAligned())
            .AddColumn(new TableColumn("macro-F1").RightAligned()).AddColumn(new TableColumn("s/epoch").RightAligned());
        foreach (var group in plan.GroupBy(s => (s.Model, s.Optimizer, s.Policy, s.Device, s.Epochs)))
        {
            var found = runs.Where(r => group.Any(s => s.Matches(r))).OrderBy(r => r.Seed).ToList();
            if (found.Count == 0)
                continue;
            table.AddRow(
                group.Key.Model.ToString(), group.Key.Optimizer.ToString(), Markup.Escape(group.Key.Policy ?? "-"), group.Key.Device,
                group.Key.Epochs.ToString(Inv), string.Join(",", found.Select(r => r.Seed)),
                MeanStd(found.Select(r => 100 * r.TestAccuracy).ToList(), 2), MeanStd(found.Select(r => r.MacroF1).ToList(), 4),
                found.Average(r => r.SecondsPerEpoch).ToString("F1", Inv));
        }
        console.Ansi.Write(table);
    }

    /// <summary><c>mean ± sample standard deviation</c>; just the mean for one value.</summary>
    internal static string MeanStd(IReadOnlyList<double> values, int decimals)
    {
        double mean = values.Average();
        string f = "F" + decimals;
        if (values.Count < 2)
            return mean.ToString(f, Inv);
        double std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return $"{mean.ToString(f, Inv)} ± {std.ToString(f, Inv)}";
    }
}

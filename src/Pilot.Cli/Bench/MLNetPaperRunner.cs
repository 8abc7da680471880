using System.Text.Json.Nodes;
using Pilot.Cli.Commands;
using Pilot.Cli.Reporting;
using Pilot.Cli.Training;

namespace Pilot.Cli.Bench;

/// <summary>Runs one paper-protocol run through the ML.NET trainer on full FashionMNIST, validating on the test split after each epoch.</summary>
internal sealed class MLNetPaperRunner : IPaperRunner
{
    private readonly PaperRunnerSetup _setup;

    public MLNetPaperRunner(PaperRunnerSetup setup) => _setup = setup;

    public PaperRun Run(PaperRunSpec spec, ITrainingProgress progress)
    {
        var data = _setup.Data;
        var runner = new TrainingRunner(spec.Seed);
        var split = runner.LoadForTraining(data, testFraction: CliDefaults.TestFraction, validationFraction: 0);
        var options = PaperProtocol.Trainer(spec.Model, spec.Optimizer, spec.Epochs, spec.Seed);
        if (spec.Policy is not null && _setup.PolicyFile is { } policyFile)
        {
            options.InitialPolicy = TrainerFlags.ReadPolicy(policyFile, "--policy");
            options.FreezePolicy = _setup.FreezePolicy;
        }
        using var outcome = runner.Train(split, options, spec.Device, progress);
        var report = runner.Evaluate(outcome.Model, split.Test);
        return new PaperRun
        {
            Model = spec.Model,
            Optimizer = spec.Optimizer,
            Seed = spec.Seed,
            Epochs = spec.Epochs,
            Device = spec.Device,
            Precision = outcome.Precision,
            TestAccuracy = report.Accuracy,
            MacroF1 = report.MacroF1,
            TestLoss = report.LogLoss,
            SecondsPerEpoch = outcome.Epochs.Count == 0 ? 0 : outcome.Epochs.Average(e => e.Seconds),
            Policy = spec.Policy,
            Environment = BenchEnvironment.Current(data.Folder ?? "embedded FashionMNIST subset"),
            LearnedPolicy = outcome.Classifier.Policy is { } learned ? JsonNode.Parse(learned.ToJson())!.AsObject() : null,
            History = outcome.Epochs.Select(PaperEpoch.From).ToList(),
        };
    }
}

using Microsoft.ML;
using Pilot.Cli.Reporting;
using Pilot.MLNet;

namespace Pilot.Cli.Training;

/// <summary>Trainer settings the CLI passes on; null means the library's default.</summary>
internal sealed record TrainerSettings
{
    public required PilotArchitecture Architecture { get; init; }
    public required PilotOptimizerKind Optimizer { get; init; }
    public required int Epochs { get; init; }
    public required int BatchSize { get; init; }
    public required double LearningRate { get; init; }
    public required string Device { get; init; }
    public required int Seed { get; init; }
    public double? WeightDecay { get; init; }
    public int? WarmupEpochs { get; init; }
    public bool? Augment { get; init; }
    public double? Gamma { get; init; }
    public double? EtaPhi { get; init; }
    public int? PolicyDegree { get; init; }
    public string? PolicyFile { get; init; }
    public bool FreezePolicy { get; init; }
    public string? CheckpointDirectory { get; init; }
}

/// <summary>A trained model with its history.</summary>
internal sealed record TrainOutcome(
    ITransformer Model, DataViewSchema InputSchema, IReadOnlyList<EpochRecord> Epochs, IReadOnlyList<PolicyStep> PolicySteps, string Precision);

/// <summary>A model read back from a zip file.</summary>
internal sealed record LoadedModel(ITransformer Model, DataViewSchema InputSchema, string Path);

/// <summary>One label with its probability.</summary>
internal sealed record LabelProbability(string Label, double Probability);

/// <summary>The top labels of one image.</summary>
internal sealed record ImagePrediction(string Image, IReadOnlyList<LabelProbability> Top);

/// <summary>
/// The one place where the CLI meets ML.NET and the Pilot trainer: loads data into <see cref="IDataView"/>s, builds and fits
/// the pipeline (<c>mlContext.Pilot.ImageClassification</c>), evaluates, saves and loads models.
/// </summary>
internal sealed class TrainingRunner
{
    private readonly MLContext _ml;

    public TrainingRunner(int seed)
    {
        _ml = new MLContext(seed);
        _seed = seed;
    }

    private readonly int _seed;

    /// <summary>Loads the training, validation and test rows (see <see cref="DataLoading.LoadForTraining"/>).</summary>
    public TrainingSplit LoadForTraining(DataChoice data, double testFraction, double validationFraction)
        => DataLoading.LoadForTraining(_ml, data, testFraction, validationFraction, _seed);

    /// <summary>Loads the rows to evaluate on (see <see cref="DataLoading.LoadForEvaluation"/>).</summary>
    public EvaluationRows LoadForEvaluation(DataChoice data) => DataLoading.LoadForEvaluation(_ml, data);

    public TrainOutcome Train(TrainingSplit split, TrainerSettings settings, ITrainingProgress progress)
        => throw new NotImplementedException("Waiting for the trainer branch.");

    public ClassificationReport Evaluate(ITransformer model, IDataView data) => throw new NotImplementedException();

    public void Save(TrainOutcome outcome, string path) => throw new NotImplementedException();

    /// <summary>Reads a model written by <see cref="Save"/>.</summary>
    /// <exception cref="CliInputException">The file does not exist or is not a model (the message names <paramref name="optionName"/> and the path).</exception>
    public LoadedModel Load(string path, string optionName)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new CliInputException($"{optionName}: '{full}' does not exist. Train one with 'pilot train --out {path}'.");
        throw new NotImplementedException();
    }

    public IReadOnlyList<ImagePrediction> Predict(LoadedModel model, IReadOnlyList<string> images, int top) => throw new NotImplementedException();

    public string ExportPolicy(LoadedModel model, string optionName) => throw new NotImplementedException();
}

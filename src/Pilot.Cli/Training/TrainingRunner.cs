using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.Cli.Commands;
using Pilot.Cli.Reporting;
using Pilot.MLNet;
using Pilot.MLNet.Data;
using Pilot.TorchSharp;

namespace Pilot.Cli.Training;

/// <summary>A trained model with its history; disposing it releases the network's native memory.</summary>
/// <param name="Model">The fitted chain: <c>MapValueToKey(Label)</c>, then the Pilot transformer.</param>
/// <param name="Classifier">The Pilot transformer inside <paramref name="Model"/>.</param>
/// <param name="InputSchema">Schema of the rows the chain was fitted on (saved with the model).</param>
/// <param name="Epochs">One record per epoch.</param>
/// <param name="PolicySteps">PILOT's ρ and knobs per step, when the trainer reports them (empty otherwise).</param>
/// <param name="Precision">Numeric precision of training, e.g. <c>fp32</c>.</param>
internal sealed record TrainOutcome(
    ITransformer Model, PilotImageClassificationTransformer Classifier, DataViewSchema InputSchema, IReadOnlyList<EpochRecord> Epochs,
    IReadOnlyList<PolicyStep> PolicySteps, string Precision) : IDisposable
{
    public void Dispose() => Classifier.Dispose();
}

/// <summary>A model read back from a zip file; disposing it releases the network's native memory.</summary>
/// <param name="Model">The chain as saved.</param>
/// <param name="Classifier">The Pilot transformer inside it.</param>
/// <param name="Path">Full path of the file.</param>
internal sealed record LoadedModel(ITransformer Model, PilotImageClassificationTransformer Classifier, string Path) : IDisposable
{
    public void Dispose() => Classifier.Dispose();
}

/// <summary>One label with its probability.</summary>
internal sealed record LabelProbability(string Label, double Probability);

/// <summary>The top labels of one image.</summary>
internal sealed record ImagePrediction(string Image, IReadOnlyList<LabelProbability> Top);

/// <summary>
/// The one place where the CLI meets ML.NET and the Pilot trainer: builds and fits the pipeline
/// (<c>MapValueToKey("Label")</c> → <c>mlContext.Pilot.ImageClassification</c>), evaluates with
/// <c>mlContext.MulticlassClassification.Evaluate</c>, saves and loads models, scores image files.
/// </summary>
internal sealed class TrainingRunner
{
    private const string Label = PilotDatasets.LabelColumnName;
    private const string Image = PilotDatasets.ImageColumnName;
    private const string Score = "Score";
    private const string PredictedLabel = "PredictedLabel";

    /// <summary>Precision the trainer computes in (it trains in float32 on every device today).</summary>
    private const string TrainingPrecision = "fp32";

    private readonly MLContext _ml;
    private readonly int _seed;

    /// <summary>A runner whose <see cref="MLContext"/> and splits use <paramref name="seed"/>.</summary>
    public TrainingRunner(int seed)
    {
        _ml = new MLContext(seed);
        _seed = seed;
    }

    /// <summary>Loads the training, validation and test rows (see <see cref="DataLoading.LoadForTraining"/>).</summary>
    public TrainingSplit LoadForTraining(DataChoice data, double testFraction, double validationFraction)
        => DataLoading.LoadForTraining(_ml, data, testFraction, validationFraction, _seed);

    /// <summary>Loads the rows to evaluate on (see <see cref="DataLoading.LoadForEvaluation"/>).</summary>
    public EvaluationRows LoadForEvaluation(DataChoice data) => DataLoading.LoadForEvaluation(_ml, data);

    /// <summary>
    /// Fits the pipeline on <paramref name="split"/> with <paramref name="trainer"/>'s options (not changed; the fields the
    /// CLI sets itself, <see cref="Commands.TrainerFlags.SetByCommand"/>, are filled here), reporting each batch and epoch
    /// to <paramref name="progress"/>.
    /// </summary>
    /// <param name="split">The rows.</param>
    /// <param name="trainer">The trainer's options; a null <c>Seed</c> is this runner's seed, a null <c>ImageShape</c> the data's.</param>
    /// <param name="device">Device kind: <c>cpu</c> or <c>cuda</c>.</param>
    /// <param name="progress">Receives the batches and epochs.</param>
    /// <exception cref="CliInputException">The trainer rejects an option value, or the data or a checkpoint cannot be used (the message names the flag).</exception>
    public TrainOutcome Train(TrainingSplit split, PilotImageClassificationTrainer.Options trainer, string device, ITrainingProgress progress)
    {
        // Device: the trainer reads MLContext.GpuDeviceId (null: CUDA when available; -1: the CPU).
        _ml.GpuDeviceId = device == "cuda" ? 0 : -1;
        _ml.FallbackToCpu = false;

        var keyData = _ml.Data.LoadFromEnumerable(split.ClassNames.Select(n => new KeyRow { Label = n }));
        var toKey = _ml.Transforms.Conversion.MapValueToKey(Label, Label, keyData: keyData).Fit(split.Train);

        var epochs = new List<EpochRecord>();
        var epochClock = Stopwatch.StartNew();
        var featureClock = new Stopwatch();
        int lastEpochSeen = 0;
        var options = trainer.Clone();
        options.LabelColumnName = Label;
        options.ImageColumnName = Image;
        options.ScoreColumnName = Score;
        options.PredictedLabelColumnName = PredictedLabel;
        options.ValidationSet = null; // Fit(train, validation) below
        options.Seed ??= _seed;
        options.ImageShape ??= split.Shape;
        options.ProgressCallback = report =>
        {
            var record = ToRecord(report);
            epochs.Add(record);
            progress.OnEpoch(record);
        };
        options.BatchProgressCallback = b =>
        {
            if (b.Stage == PilotTrainingStage.FeaturePass)
            {
                // The rate counts the batches after the first, timed from the end of the first.
                if (b.Batch == 1)
                    featureClock.Restart();
                double featureSeconds = Math.Max(featureClock.Elapsed.TotalSeconds, 1e-9);
                progress.OnFeatureBatch(new FeatureProgress(b.Batch, b.BatchCount,
                    b.Batch == 1 ? 0 : (b.Batch - 1.0) * PilotImageClassificationDefaults.ScoringBatchSize / featureSeconds));
                epochClock.Restart();
                return;
            }
            if (b.Epoch != lastEpochSeen)
            {
                lastEpochSeen = b.Epoch;
                epochClock.Restart();
            }
            double seconds = Math.Max(epochClock.Elapsed.TotalSeconds, 1e-9);
            progress.OnBatch(new BatchProgress(b.Epoch, b.Batch, b.BatchCount, b.RunningLoss, (double)b.Batch * options.BatchSize / seconds));
        };

        PilotImageClassificationTrainer estimator;
        try
        {
            estimator = _ml.Pilot.ImageClassification(options);
        }
        catch (ArgumentException e)
        {
            throw new CliInputException(OptionProblem(e) ?? $"The trainer rejected an option: {e.Message}", e);
        }
        PilotImageClassificationTransformer classifier;
        try
        {
            classifier = estimator.Fit(toKey.Transform(split.Train), split.Validation is null ? null : toKey.Transform(split.Validation));
        }
        catch (Exception e) when (TrainingInputProblem(e, options, split) is { } message)
        {
            throw new CliInputException(message, e);
        }
        var chain = new TransformerChain<ITransformer>(toKey, classifier);
        return new TrainOutcome(chain, classifier, split.Train.Schema, epochs, [], TrainingPrecision);
    }

    /// <summary>
    /// The message for an exception of <c>Fit</c> caused by what the user passed — an image that does not decode (naming
    /// the file), a checkpoint directory of other options or with unreadable files, a network that cannot take the image
    /// size, an option the data rules out — or <see langword="null"/> for anything else (a bug: exit code 1 with the stack trace).
    /// </summary>
    private static string? TrainingInputProblem(Exception e, PilotImageClassificationTrainer.Options o, TrainingSplit split)
    {
        if (o.CheckpointDirectory is { } directory && e is InvalidOperationException or InvalidDataException
            && e.Message.Contains(directory, StringComparison.Ordinal))
            return $"{TrainerFlags.FlagOf(nameof(o.CheckpointDirectory))}: {e.Message}";
        if (e is ArgumentOutOfRangeException { ParamName: nameof(o.Architecture) } size)
            return $"{TrainerFlags.FlagOf(nameof(o.Architecture))}/--image-size: {WithoutParameterName(size)}";
        if (e is InvalidDataException)
            return $"--data: {DataLoading.FindUndecodableImage(split.ImageFolder, split.Train, split.Validation) ?? e.Message}";
        return e is ArgumentException a ? OptionProblem(a) : null;
    }

    /// <summary>"--flag: message" for an exception that names a trainer option with a flag; null otherwise.</summary>
    internal static string? OptionProblem(ArgumentException e)
        => e.ParamName is { } name && OptionRules.Fields.Any(f => f.Name == name) && !TrainerFlags.SetByCommand.Contains(name)
            ? $"{TrainerFlags.FlagOf(name)}: {WithoutParameterName(e)}"
            : null;

    private static string WithoutParameterName(ArgumentException e)
    {
        string message = e.Message.Replace($" (Parameter '{e.ParamName}')", "");
        int actual = message.IndexOf(Environment.NewLine + "Actual value was", StringComparison.Ordinal);
        return actual >= 0 ? message[..actual] : message;
    }

    /// <summary>Scores <paramref name="data"/> (with a text <c>Label</c> column) and computes the metrics report.</summary>
    /// <param name="model">The fitted or loaded chain.</param>
    /// <param name="data">The rows.</param>
    /// <param name="imageFolder">The folder of the rows' image files (to name a bad one), or null.</param>
    /// <exception cref="CliInputException">An image of <paramref name="data"/> cannot be read (the message names the file).</exception>
    public ClassificationReport Evaluate(ITransformer model, IDataView data, string? imageFolder = null)
    {
        var classifier = PilotTransformers.Single(model, "The model") ?? throw new InvalidOperationException("The model has no Pilot image classifier.");
        var scored = model.Transform(data);
        MulticlassClassificationMetrics metrics;
        try
        {
            metrics = _ml.MulticlassClassification.Evaluate(scored, Label, Score, PredictedLabel);
        }
        catch (Exception e) when (Cause(e) is InvalidDataException bad)
        {
            // Scoring runs on several threads: ML.NET wraps the row's exception in an InvalidOperationException.
            throw new CliInputException($"--data: {DataLoading.FindUndecodableImage(imageFolder, data) ?? bad.Message}", e);
        }
        return ClassificationReport.FromMetrics(metrics, classifier.ClassNames);
    }

    /// <summary>
    /// The exception that says what went wrong, below the wrappers ML.NET adds: <see cref="System.Reflection.TargetInvocationException"/>
    /// (a model's loader is called by reflection), "Error during class instantiation" and the parallel cursor's
    /// "Splitter/consolidator worker encountered exception".
    /// </summary>
    internal static Exception Cause(Exception e)
    {
        while (e.InnerException is { } inner && (e is System.Reflection.TargetInvocationException || e.GetType() == typeof(InvalidOperationException)))
            e = inner;
        return e;
    }

    /// <summary>Saves the fitted chain with the schema it was fitted on.</summary>
    public void Save(TrainOutcome outcome, string path) => _ml.Model.Save(outcome.Model, outcome.InputSchema, path);

    /// <summary>Reads a model written by <see cref="Save"/>.</summary>
    /// <exception cref="CliInputException">The file does not exist or is not such a model (the message names <paramref name="optionName"/> and the path).</exception>
    public LoadedModel Load(string path, string optionName)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new CliInputException($"{optionName}: '{full}' does not exist. Train one with 'pilot train --out {path}'.");
        ITransformer model;
        try
        {
            model = _ml.Model.Load(full, out _);
        }
        catch (Exception e) when (Cause(e) is InvalidDataException or FormatException or InvalidOperationException or IOException or ArgumentException)
        {
            throw new CliInputException($"{optionName}: '{full}' is not a model written by 'pilot train' ({Cause(e).Message}).", e);
        }
        PilotImageClassificationTransformer? classifier;
        try
        {
            classifier = PilotTransformers.Single(model, $"'{full}'");
        }
        catch (InvalidDataException e)
        {
            (model as IDisposable)?.Dispose();
            throw new CliInputException($"{optionName}: {e.Message}", e);
        }
        if (classifier is null)
        {
            (model as IDisposable)?.Dispose();
            throw new CliInputException($"{optionName}: '{full}' is an ML.NET model without a Pilot image classifier; pass a model written by 'pilot train'.");
        }
        return new LoadedModel(model, classifier, full);
    }

    /// <summary>Classifies image files: each is read with <c>LoadRawImageBytes</c> and scored by the model's pipeline.</summary>
    /// <exception cref="CliInputException">An image cannot be decoded (the message names it).</exception>
    public IReadOnlyList<ImagePrediction> Predict(LoadedModel model, IReadOnlyList<string> images, int top)
    {
        foreach (var image in images)
        {
            if (DataLoading.ImageFileProblem(image) is { } problem)
                throw new CliInputException($"IMAGE: {problem}");
        }
        var rows = images.Select(p => new ImageFileRow { Label = "", ImagePath = Path.GetFullPath(p) }).ToList();
        var view = _ml.Data.LoadFromEnumerable(rows);
        var withBytes = _ml.Transforms.LoadRawImageBytes(Image, null, nameof(ImageFileRow.ImagePath)).Fit(view).Transform(view);
        var scores = model.Model.Transform(withBytes).GetColumn<float[]>(Score).ToList();
        var names = model.Classifier.ClassNames;
        return images.Select((image, i) => new ImagePrediction(image,
                scores[i].Select((p, c) => new LabelProbability(names[c], p)).OrderByDescending(l => l.Probability).Take(top).ToList()))
            .ToList();
    }

    /// <summary>The learned PILOT policy of the model as JSON.</summary>
    /// <exception cref="CliInputException">The model was not trained with PILOT.</exception>
    public string ExportPolicy(LoadedModel model, string optionName)
    {
        var policy = model.Classifier.Policy
            ?? throw new CliInputException($"{optionName}: '{model.Path}' was not trained with --optimizer Pilot, so it has no PILOT policy to export.");
        return policy.ToJson();
    }

    /// <summary>Writes the model's network as ONNX (see docs/onnx.md); returns a one-line description of what was written.</summary>
    public string ExportOnnx(LoadedModel model, string path)
    {
        var c = model.Classifier;
        c.ExportToOnnx(path);
        return $"{c.Architecture}, input {c.InputShape}, {c.ClassNames.Count} classes";
    }

    private static EpochRecord ToRecord(PilotEpochReport r) => new(
        r.Epoch, r.TrainLoss, r.TrainAccuracy, r.ValidationLoss, r.ValidationAccuracy, r.LearningRate, r.Seconds, r.ImagesPerSecond,
        r.Rho, r.MeanPm, r.MeanPv, r.MeanPs);

    private sealed class KeyRow
    {
        public string Label { get; set; } = "";
    }

    private sealed class ImageFileRow
    {
        public string Label { get; set; } = "";
        public string ImagePath { get; set; } = "";
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Pilot.MLNet.Images;
using Pilot.MLNet.ModelFile;
using Pilot.MLNet.Models;
using Pilot.MLNet.Scoring;
using Pilot.MLNet.Training;
using D = Pilot.MLNet.PilotImageClassificationDefaults;

namespace Pilot.MLNet;

/// <summary>
/// Trains an image classifier (a TorchSharp <see cref="PilotArchitecture"/> network, from scratch or, for
/// <see cref="PilotArchitecture.PretrainedResNet18"/>, from ImageNet weights; see <see cref="Options.FineTuning"/>) with the PILOT optimizer
/// or a baseline, on the CPU or a CUDA GPU. Create it with <c>mlContext.Pilot.ImageClassification(...)</c>.
/// </summary>
/// <remarks>
/// <para>Input columns: the label (a key type, from <c>MapValueToKey</c>) and the image (encoded bytes from
/// <c>LoadRawImageBytes</c>, an <c>MLImage</c> from <c>LoadImages</c>, or a fixed-size pixel vector with
/// <see cref="Options.ImageShape"/>). Output columns: <c>Score</c> (a vector of class probabilities) and
/// <c>PredictedLabel</c> (the label's key type), ready for <c>mlContext.MulticlassClassification.Evaluate</c> and
/// <c>MapKeyToValue</c>.</para>
/// <para><c>Fit</c> reads the data once into memory (decoded images as bytes), computes per-channel normalisation
/// statistics from it, and trains for <see cref="Options.Epochs"/> epochs with a cosine learning-rate schedule.
/// The device follows the <see cref="MLContext"/>: CUDA device 0 when available and <c>GpuDeviceId</c> is
/// <see langword="null"/>, device n when <c>GpuDeviceId</c> = n, the CPU when <c>GpuDeviceId</c> is negative or there is no
/// GPU (with <c>GpuDeviceId</c> set and no GPU, <c>FallbackToCpu = false</c> is an error).</para>
/// </remarks>
public sealed partial class PilotImageClassificationTrainer : IEstimator<PilotImageClassificationTransformer>
{
    private readonly IHost _host;
    private readonly Options _options; // private validated copy: never the caller's object, never written after construction

    internal PilotImageClassificationTrainer(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        _host = env.Register(nameof(PilotImageClassificationTrainer));
        _options = options.Clone();
        Validate(_options);
    }

    /// <summary>A copy of the options this trainer uses (for tests and tools; changing it changes nothing).</summary>
    internal Options GetOptions() => _options.Clone();

    /// <summary>Checks every option's range; throws naming the option, its value and the valid range.</summary>
    private static void Validate(Options o)
    {
        CheckName(o.LabelColumnName, nameof(o.LabelColumnName));
        CheckName(o.ImageColumnName, nameof(o.ImageColumnName));
        CheckName(o.ScoreColumnName, nameof(o.ScoreColumnName));
        CheckName(o.PredictedLabelColumnName, nameof(o.PredictedLabelColumnName));
        if (o.ScoreColumnName == o.PredictedLabelColumnName)
            throw new ArgumentException($"ScoreColumnName and PredictedLabelColumnName must differ; both are '{o.ScoreColumnName}'.", nameof(o.PredictedLabelColumnName));
        // Ranges and enum members, as each field's [PilotOption] declares them.
        foreach (var field in OptionRules.Fields)
        {
            object? value = field.GetValue(o);
            if (OptionRules.Problem(field, value, field.Name) is { } problem)
                throw new ArgumentOutOfRangeException(field.Name, value, problem);
        }
        var mode = Backbones.ResolveFineTuning(o.Architecture, o.FineTuning);
        if (HeadedNetwork.IsCached(mode))
        {
            string what = mode == PilotFineTuning.Head
                ? "trains only the classifier on a frozen pretrained backbone"
                : "trains the last stage and the classifier over cached activations of the frozen early stages of a pretrained backbone";
            if (!Backbones.IsPretrained(o.Architecture))
                throw new ArgumentException(
                    $"FineTuning {mode} {what}, but {o.Architecture} starts from random weights. " +
                    "Leave FineTuning null (Full), or choose a pretrained architecture.", nameof(o.FineTuning));
            if (o.Augment)
                throw new ArgumentException(
                    $"Augment does not apply to FineTuning {mode} (each image goes through the frozen layers once and their output is cached); set FineTuning to Full to augment, or Augment to false.",
                    nameof(o.Augment));
        }
        CheckRange(o.WarmupEpochs, 0, o.Epochs ?? PilotImageClassificationDefaults.EpochsFor(mode), nameof(o.WarmupEpochs));
        o.ImageShape?.Validate(nameof(o.ImageShape));
        if (o.CheckpointDirectory is { } directory && string.IsNullOrWhiteSpace(directory))
            throw new ArgumentException("CheckpointDirectory must be null (no checkpoints) or a directory path; got an empty string.", nameof(o.CheckpointDirectory));
        if (o.PretrainedWeightsPath is { } weightsPath && string.IsNullOrWhiteSpace(weightsPath))
            throw new ArgumentException("PretrainedWeightsPath must be null (the default places) or the path of ResNet18.onnx; got an empty string.", nameof(o.PretrainedWeightsPath));

        static void CheckName(string? name, string option)
        {
            if (name is null)
                throw new ArgumentNullException(option, $"{option} must name a column; got null.");
            if (string.IsNullOrWhiteSpace(name))
                throw new ArgumentException($"{option} must name a column; got '{name}'.", option);
        }
        static void CheckRange(int value, int min, int max, string option)
        {
            if (value < min || value > max)
                throw new ArgumentOutOfRangeException(option, value, $"{option} must be in [{min}, {max}]; got {value}.");
        }
    }

    /// <summary>
    /// The output schema: the input columns plus <c>Score</c> (a known-size vector of <see cref="float"/>) and
    /// <c>PredictedLabel</c> (a <see cref="uint"/> key with the label's key values). Works before <c>Fit</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The label or image column is missing or has the wrong type.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var label = CheckLabel(inputSchema);
        if (!inputSchema.TryFindColumn(_options.ImageColumnName, out var image))
            throw MissingColumn(nameof(Options.ImageColumnName), "Image", _options.ImageColumnName, "the input");
        ImageColumnSpec.CheckShape(_options.ImageColumnName, image);

        var columns = inputSchema.ToDictionary(c => c.Name);
        var predictedAnnotations = label.Annotations.Where(a => a.Name == AnnotationUtils.Kinds.KeyValues)
            .Concat(AnnotationUtils.GetTrainerOutputAnnotation());
        columns[_options.ScoreColumnName] = new SchemaShape.Column(_options.ScoreColumnName, SchemaShape.Column.VectorKind.Vector,
            NumberDataViewType.Single, false, new SchemaShape(AnnotationUtils.AnnotationsForMulticlassScoreColumn(label)));
        columns[_options.PredictedLabelColumnName] = new SchemaShape.Column(_options.PredictedLabelColumnName,
            SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, new SchemaShape(predictedAnnotations));
        return new SchemaShape(columns.Values);
    }

    private SchemaShape.Column CheckLabel(SchemaShape inputSchema)
    {
        if (!inputSchema.TryFindColumn(_options.LabelColumnName, out var label))
            throw MissingColumn(nameof(Options.LabelColumnName), "Label", _options.LabelColumnName, "the input");
        if (!label.IsKey || label.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw NotAKey(_options.LabelColumnName, label.GetTypeString(), "the input");
        return label;
    }

    private static ArgumentOutOfRangeException MissingColumn(string option, string role, string name, string where) =>
        new(option, $"{role} column '{name}' not found in {where}. Set Options.{option} to the name of the {role.ToLowerInvariant()} column.");

    private static ArgumentOutOfRangeException NotAKey(string name, string type, string where) =>
        new(nameof(Options.LabelColumnName),
            $"Label column '{name}' in {where} has type {type}; the trainer needs a key type. Convert it first with " +
            $"mlContext.Transforms.Conversion.MapValueToKey(\"{name}\").");

    /// <summary>Trains on <paramref name="input"/>, validating on <see cref="Options.ValidationSet"/> when it is set.</summary>
    public PilotImageClassificationTransformer Fit(IDataView input) => Fit(input, _options.ValidationSet);

    /// <summary>Trains on <paramref name="train"/>, computing validation metrics (and early stopping, when enabled) on <paramref name="validation"/>.</summary>
    /// <param name="train">Training data with the label and image columns.</param>
    /// <param name="validation">Validation data with the same columns, or <see langword="null"/>; overrides <see cref="Options.ValidationSet"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type or size (the message names it and the fix).</exception>
    /// <exception cref="InvalidDataException">An image cannot be decoded (the message names the column and row), or there are no labelled rows.</exception>
    /// <exception cref="InvalidOperationException">A GPU was requested with <c>FallbackToCpu = false</c> and none is available, or the checkpoint belongs to another set-up.</exception>
    public PilotImageClassificationTransformer Fit(IDataView train, IDataView? validation)
    {
        ArgumentNullException.ThrowIfNull(train);
        var o = _options;
        var labelColumn = CheckTrainingSchema(train.Schema, "the training data");
        int classCount = checked((int)labelColumn.Type.GetKeyCount());
        // MapValueToKey fitted on no rows makes a key type of one class: say that the data is empty, the real problem.
        if (classCount < 2 && !HasRows(train))
            throw new InvalidDataException(
                $"The training data has no rows (so label column '{o.LabelColumnName}' has {classCount} class). Check that the data " +
                "was loaded from the right file or folder and that no filter removed every row.");
        if (classCount < 2)
            throw new ArgumentOutOfRangeException(nameof(Options.LabelColumnName),
                $"Label column '{o.LabelColumnName}' has {classCount} class; the number of classes needs to be 2 or greater.");
        var spec = ImageColumnSpec.FromType(o.ImageColumnName, train.Schema[o.ImageColumnName].Type, o.ImageShape, "training");

        if (validation is not null)
        {
            var validationLabel = CheckTrainingSchema(validation.Schema, "the validation data");
            if (validationLabel.Type.GetKeyCount() != (ulong)classCount)
                throw new ArgumentOutOfRangeException(nameof(Options.ValidationSet),
                    $"Label column '{o.LabelColumnName}' has {validationLabel.Type.GetKeyCount()} classes in the validation data but {classCount} in the training data; " +
                    "map both with the same MapValueToKey transformer.");
            var validationSpec = ImageColumnSpec.FromType(o.ImageColumnName, validation.Schema[o.ImageColumnName].Type, o.ImageShape, "validation");
            if (validationSpec.Domain != spec.Domain || validationSpec.VectorShape != spec.VectorShape)
                throw new ArgumentOutOfRangeException(nameof(Options.ValidationSet),
                    $"Image column '{o.ImageColumnName}' has type {validation.Schema[o.ImageColumnName].Type} in the validation data but " +
                    $"{train.Schema[o.ImageColumnName].Type} in the training data.");
        }
        if (o.EarlyStoppingPatience is not null && validation is null)
            throw new ArgumentException("EarlyStoppingPatience needs a validation set: set Options.ValidationSet or call Fit(train, validation).",
                nameof(Options.EarlyStoppingPatience));

        // A pretrained network has its own default input size (whatever the images' size); others take pixel vectors at
        // their native size and encoded images at ImageShape's size, else D.ImageSide.
        int? pretrainedSide = Backbones.IsPretrained(o.Architecture) ? D.PretrainedImageSide : null;
        var (height, width) = spec.Kind == ImageSourceKind.PixelVector
            ? (o.ImageHeight ?? pretrainedSide ?? spec.VectorShape!.Value.Height, o.ImageWidth ?? pretrainedSide ?? spec.VectorShape!.Value.Width)
            : (o.ImageHeight ?? o.ImageShape?.Height ?? pretrainedSide ?? D.ImageSide, o.ImageWidth ?? o.ImageShape?.Width ?? pretrainedSide ?? D.ImageSide);
        int? channels = spec.Kind == ImageSourceKind.PixelVector ? spec.VectorShape!.Value.Channels : o.ImageShape?.Channels;
        try
        {
            // Fail before reading the data when the network cannot be built for this input (too small, or too large a layer).
            Backbones.Validate(o.Architecture, new ImageShape(channels ?? 3, height, width), classCount);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentOutOfRangeException(nameof(Options.Architecture),
                $"Architecture {o.Architecture} cannot be built for {height}×{width} images and {classCount} classes: " +
                e.Message.Replace($" (Parameter '{e.ParamName}')", ""));
        }
        // A missing weights file fails before the data is read (training reads and checks it).
        if (Backbones.TakesRawPixels(o.Architecture))
            PretrainedWeights.Locate(o.PretrainedWeightsPath);
        int seed = o.Seed ?? ((IHostEnvironmentInternal)_host).Seed ?? _host.Rand.Next();
        var plan = new TrainingPlan(o, seed, DeviceSelection.Choose(_host), classCount, Backbones.ResolveFineTuning(o.Architecture, o.FineTuning));

        using var ch = _host.Start("Training");
        string fineTuning = Backbones.IsPretrained(o.Architecture) ? $" ({plan.FineTuning} fine-tuning)" : "";
        ch.Info($"Training {o.Architecture}{fineTuning} with {o.Optimizer} on {plan.Device} (seed {seed}).");
        using var trainSet = InMemoryImageSet.Read(train, o.LabelColumnName, o.ImageColumnName, spec, channels, height, width, classCount, "training");
        if (trainSet.SkippedMissingLabels > 0)
            ch.Warning($"Skipped {trainSet.SkippedMissingLabels} training rows with a missing label.");
        using var validationSet = validation is null ? null
            : InMemoryImageSet.Read(validation, o.LabelColumnName, o.ImageColumnName, spec, trainSet.Shape.Channels, height, width, classCount, "validation");
        if (validationSet?.SkippedMissingLabels > 0)
            ch.Warning($"Skipped {validationSet.SkippedMissingLabels} validation rows with a missing label.");
        if (Backbones.TakesRawPixels(o.Architecture) && spec.Domain == PixelDomain.Floats
            && trainSet.Statistics.Mean.All(m => Math.Abs(m) <= 1) && trainSet.Statistics.Std.All(v => v <= 1))
            ch.Warning($"{o.Architecture} takes pixel values 0–255 (its ImageNet weights expect them), but the training pixels of column " +
                $"'{o.ImageColumnName}' look scaled to [0, 1] (channel means {string.Join(", ", trainSet.Statistics.Mean)}): extract pixels without scaling.");
        ch.Info($"Read {trainSet.Count} training images{(validationSet is null ? "" : $" and {validationSet.Count} validation images")} of shape {trainSet.Shape}.");

        var result = TrainingLoop.Run(plan, trainSet, validationSet, ch);
        var model = new PilotImageModel(result.Network, plan.Device, o.Architecture, trainSet.Shape, classCount, spec.Domain,
            spec.VectorShape, Backbones.InputNormalization(o.Architecture, trainSet.Statistics));
        return new PilotImageClassificationTransformer(_host, model, LabelKeyValues.FromColumn(labelColumn),
            o.LabelColumnName, o.ImageColumnName, o.ScoreColumnName, o.PredictedLabelColumnName, result.History, result.Policy,
            TrainingOptionsFormat.ForRecord(plan));
    }

    /// <summary>Whether <paramref name="data"/> has a row; reads at most one row, with no column active.</summary>
    private static bool HasRows(IDataView data)
    {
        if (data.GetRowCount() is { } count)
            return count > 0;
        using var cursor = data.GetRowCursor([]);
        return cursor.MoveNext();
    }

    private DataViewSchema.Column CheckTrainingSchema(DataViewSchema schema, string where)
    {
        if (schema.GetColumnOrNull(_options.LabelColumnName) is not { } label)
            throw MissingColumn(nameof(Options.LabelColumnName), "Label", _options.LabelColumnName, where);
        if (label.Type is not KeyDataViewType)
            throw NotAKey(_options.LabelColumnName, label.Type.ToString()!, where);
        if (schema.GetColumnOrNull(_options.ImageColumnName) is null)
            throw MissingColumn(nameof(Options.ImageColumnName), "Image", _options.ImageColumnName, where);
        return label;
    }
}

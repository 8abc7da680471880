using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Pilot.MLNet;
using Pilot.MLNet.Models;
using Pilot.MLNet.Scoring;
using Pilot.MLNet.Training;
using Pilot.TorchSharp;
using TorchSharp;

[assembly: LoadableClass(typeof(PilotImageClassificationTransformer), null, typeof(SignatureLoadModel),
    PilotImageClassificationTransformer.UserName, PilotImageClassificationTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(PilotImageClassificationTransformer), null, typeof(SignatureLoadRowMapper),
    PilotImageClassificationTransformer.UserName, PilotImageClassificationTransformer.LoaderSignature)]

namespace Pilot.MLNet;

/// <summary>
/// A trained image classifier, produced by <see cref="PilotImageClassificationTrainer"/>: adds a <c>Score</c> column (class
/// probabilities, a vector of <see cref="float"/> with one value per class) and a <c>PredictedLabel</c> column (the training
/// label's key type, with its key values) to data with an image column. Saved and loaded with
/// <c>mlContext.Model.Save</c>/<c>Load</c>; owns a TorchSharp network: dispose it when done.
/// </summary>
/// <remarks>
/// The network runs on the device the loading <see cref="MLContext"/> chooses. <see cref="Transform"/> scores images in
/// batches of <see cref="PilotImageClassificationDefaults.ScoringBatchSize"/> when its result is read in order; a
/// <see cref="PredictionEngine{TSrc, TDst}"/> and shuffled cursors score row by row. Each row's image is read, converted
/// and run through the network once (both output columns share that pass); the scores are the same either way, to about
/// 1e-7 (libtorch may pick other kernels for a batch).
/// </remarks>
// ITransformer is listed again so that its Transform is this class's batched one, not the base class's per-row one.
public sealed partial class PilotImageClassificationTransformer : RowToRowTransformerBase, ITransformer, IDisposable
{
    internal const string UserName = "Pilot Image Classification";
    internal const string LoaderSignature = "PILOTIMG";

    /// <summary>Name of the binary stream holding the network's weights inside the model.</summary>
    private const string WeightsStreamName = "TorchSharpWeights";

    /// <summary>Largest class count a model file may claim.</summary>
    private const int MaxClasses = 1 << 20;

    private readonly PilotImageModel _model;
    private readonly LabelKeyValues? _keyValues;
    private readonly PilotPolicy? _policy;
    private readonly PilotImageClassificationTrainer.Options? _trainingOptions;
    private bool _disposed;

    internal PilotImageClassificationTransformer(IHostEnvironment env, PilotImageModel model, LabelKeyValues? keyValues,
        string labelColumnName, string imageColumnName, string scoreColumnName, string predictedLabelColumnName,
        IReadOnlyList<PilotEpochReport> history, PilotPolicy? policy, PilotImageClassificationTrainer.Options? trainingOptions = null)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(PilotImageClassificationTransformer)))
    {
        _model = model;
        _keyValues = keyValues;
        _policy = policy;
        _trainingOptions = trainingOptions?.Clone();
        LabelColumnName = labelColumnName;
        ImageColumnName = imageColumnName;
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
        TrainingHistory = history.ToArray();
        ClassNames = keyValues?.ToStrings() ?? Enumerable.Range(0, model.ClassCount).Select(i => i.ToString()).ToArray();
    }

    /// <summary>Name of the label column the model was trained on (not needed for scoring).</summary>
    public string LabelColumnName { get; }

    /// <summary>Name of the image column the model reads.</summary>
    public string ImageColumnName { get; }

    /// <summary>Name of the class-probability output column.</summary>
    public string ScoreColumnName { get; }

    /// <summary>Name of the predicted-class output column.</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>The network architecture.</summary>
    public PilotArchitecture Architecture => _model.Architecture;

    /// <summary>Shape of the network input; images are resized to its height and width.</summary>
    public ImageShape InputShape => _model.InputShape;

    /// <summary>The classes, in score order: the label's key values as strings (or "0", "1", … when the label had none).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>One report per training epoch.</summary>
    public IReadOnlyList<PilotEpochReport> TrainingHistory { get; }

    /// <summary>
    /// The PILOT policy at the end of training (for <c>pilot policy export</c>, or as <see cref="PilotImageClassificationTrainer.Options.InitialPolicy"/>
    /// of another run), or <see langword="null"/> when another optimizer trained the model.
    /// </summary>
    public PilotPolicy? Policy => _policy;

    /// <summary>The network with its preprocessing description (for exporters); owned by this transformer.</summary>
    internal PilotImageModel Model
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _model;
        }
    }

    /// <summary>
    /// The options the model was trained with (a copy: changing it changes nothing), for tools that reproduce the training
    /// pipeline, such as <c>pilot codegen</c>. Holds every option that is a value, the column names, and in
    /// <see cref="PilotImageClassificationTrainer.Options.Seed"/> the seed actually used; the validation set, the callbacks
    /// and the checkpoint directory are not recorded (<see langword="null"/>). <see langword="null"/> for a model saved
    /// before models recorded their options.
    /// </summary>
    public PilotImageClassificationTrainer.Options? TrainingOptions
    {
        get
        {
            if (_trainingOptions is null)
                return null;
            var copy = _trainingOptions.Clone();
            copy.LabelColumnName = LabelColumnName;
            copy.ImageColumnName = ImageColumnName;
            copy.ScoreColumnName = ScoreColumnName;
            copy.PredictedLabelColumnName = PredictedLabelColumnName;
            return copy;
        }
    }

    /// <summary>Releases the network's native memory.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _model.Dispose();
    }

    /// <summary>First format version with the SHA-256 digest of the weights stream.</summary>
    private const uint VersionWithWeightsDigest = 0x00010002;

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "PILOTIMG",
        //verWrittenCur: 0x00010001, // Initial
        verWrittenCur: VersionWithWeightsDigest, // SHA-256 digest of the weights stream
        verReadableCur: VersionWithWeightsDigest,
        verWeCanReadBack: 0x00010001,
        loaderAssemblyName: typeof(PilotImageClassificationTransformer).Assembly.FullName,
        loaderSignature: LoaderSignature);

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());

        // *** Binary format ***
        // int: id of label column name
        // int: id of image column name
        // int: id of score column name
        // int: id of predicted label column name
        // int: architecture (PilotArchitecture)
        // int, int, int: input shape (channels, height, width)
        // byte: pixel units (0: bytes 0-255, 1: floats)
        // byte: 1 when trained on pixel vectors, then int, int, int: their shape (channels, height, width); else 0
        // int: number of classes K
        // float x channels: per-channel mean; float x channels: per-channel standard deviation
        // byte: 1 when the label has key values, then the key values (BinarySaver type and value, K values); else 0
        // training history (EpochReportFormat)
        // byte: 1 when there is a learned PILOT policy, then int id of its JSON (PilotPolicy.ToJson); else 0
        // 32 bytes: SHA-256 digest of the weights stream (since version 0x00010002)
        // binary stream "TorchSharpWeights": the network's parameters and buffers (TorchSharp Module.save)
        // text stream "TrainingOptions.json", optional (absent in models saved before it was added): the training options (TrainingOptionsFormat)

        ctx.SaveNonEmptyString(LabelColumnName);
        ctx.SaveNonEmptyString(ImageColumnName);
        ctx.SaveNonEmptyString(ScoreColumnName);
        ctx.SaveNonEmptyString(PredictedLabelColumnName);
        var w = ctx.Writer;
        w.Write((int)_model.Architecture);
        WriteShape(w, _model.InputShape);
        w.Write((byte)_model.Domain);
        w.Write(_model.VectorShape.HasValue);
        if (_model.VectorShape is { } vectorShape)
            WriteShape(w, vectorShape);
        w.Write(_model.ClassCount);
        foreach (float v in _model.Normalization.Mean) w.Write(v);
        foreach (float v in _model.Normalization.Std) w.Write(v);
        w.Write(_keyValues is not null);
        _keyValues?.Save(Host, w.BaseStream);
        EpochReportFormat.Write(w, TrainingHistory);
        w.Write(_policy is not null);
        if (_policy is not null)
            ctx.SaveNonEmptyString(_policy.ToJson());
        var weights = NetworkWeights.Save(_model.Network);
        w.Write(NetworkWeights.Digest(weights));
        ctx.SaveBinaryStream(WeightsStreamName, writer => writer.Write(weights));
        if (_trainingOptions is not null)
            ctx.SaveTextStream(TrainingOptionsFormat.StreamName, writer => writer.Write(TrainingOptionsFormat.Write(_trainingOptions)));
    }

    // Factory method for SignatureLoadRowMapper.
    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => Create(env, ctx).MakeRowMapper(inputSchema);

    // Factory method for SignatureLoadModel.
    private static PilotImageClassificationTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel(GetVersionInfo());

        // *** Binary format ***
        // int: id of label column name
        // int: id of image column name
        // int: id of score column name
        // int: id of predicted label column name
        // int: architecture (PilotArchitecture)
        // int, int, int: input shape (channels, height, width)
        // byte: pixel units (0: bytes 0-255, 1: floats)
        // byte: 1 when trained on pixel vectors, then int, int, int: their shape (channels, height, width); else 0
        // int: number of classes K
        // float x channels: per-channel mean; float x channels: per-channel standard deviation
        // byte: 1 when the label has key values, then the key values (BinarySaver type and value, K values); else 0
        // training history (EpochReportFormat)
        // byte: 1 when there is a learned PILOT policy, then int id of its JSON (PilotPolicy.ToJson); else 0
        // 32 bytes: SHA-256 digest of the weights stream (since version 0x00010002)
        // binary stream "TorchSharpWeights": the network's parameters and buffers (TorchSharp Module.save)
        // text stream "TrainingOptions.json", optional (absent in models saved before it was added): the training options (TrainingOptionsFormat)

        try
        {
            string label = ctx.LoadNonEmptyString(), image = ctx.LoadNonEmptyString();
            string score = ctx.LoadNonEmptyString(), predicted = ctx.LoadNonEmptyString();
            var r = ctx.Reader;
            var architecture = (PilotArchitecture)r.ReadInt32();
            if (!Enum.IsDefined(architecture))
                throw new InvalidDataException($"The model names architecture {(int)architecture}, unknown to this version of Pilot.MLNet.");
            var inputShape = ReadShape(r, "input shape");
            byte domain = r.ReadByte();
            if (domain > (byte)PixelDomain.Floats)
                throw new InvalidDataException($"The model names pixel units {domain}; expected 0 or 1.");
            ImageShape? vectorShape = r.ReadByte() switch
            {
                0 => null,
                1 => ReadShape(r, "pixel-vector shape"),
                var b => throw new InvalidDataException($"Corrupt model: pixel-vector flag {b}."),
            };
            int classCount = r.ReadInt32();
            if (classCount < 2 || classCount > MaxClasses)
                throw new InvalidDataException($"The model claims {classCount} classes; expected 2 to {MaxClasses}.");
            var mean = new float[inputShape.Channels];
            var std = new float[inputShape.Channels];
            for (int c = 0; c < mean.Length; c++) mean[c] = r.ReadSingle();
            for (int c = 0; c < std.Length; c++) std[c] = r.ReadSingle();
            if (mean.Any(v => !float.IsFinite(v)) || std.Any(v => !float.IsFinite(v) || v <= 0))
                throw new InvalidDataException("The model's normalisation statistics are not finite or have a non-positive standard deviation.");
            LabelKeyValues? keyValues = r.ReadByte() switch
            {
                0 => null,
                1 => LabelKeyValues.Load(env, r.BaseStream, classCount),
                var b => throw new InvalidDataException($"Corrupt model: key-values flag {b}."),
            };
            var history = EpochReportFormat.Read(r);
            PilotPolicy? policy = r.ReadByte() switch
            {
                0 => null,
                1 => PilotPolicy.FromJson(ctx.LoadNonEmptyString()),
                var b => throw new InvalidDataException($"Corrupt model: policy flag {b}."),
            };
            byte[]? digest = ctx.Header.ModelVerWritten >= VersionWithWeightsDigest ? r.ReadBytes(NetworkWeights.DigestLength) : null;
            if (digest is { Length: < NetworkWeights.DigestLength })
                throw new EndOfStreamException();

            byte[]? weights = null;
            if (!ctx.TryLoadBinaryStream(WeightsStreamName, reader => weights = NetworkWeights.ReadStream(reader.BaseStream)))
                throw new InvalidDataException($"The model has no '{WeightsStreamName}' stream (network weights).");
            // The header's sizes decide how much the network allocates: the stored weights must be at least that large.
            long linearBytes = sizeof(float) * Backbones.LinearParameterCount(architecture, inputShape, classCount);
            if (weights!.Length < linearBytes)
                throw new InvalidDataException(
                    $"The model claims a {architecture} for {inputShape} images and {classCount} classes, whose linear layers alone need " +
                    $"{linearBytes} bytes, but its weights stream has {weights.Length}.");

            var device = DeviceSelection.Choose(env);
            // Creating the network draws initial weights from the default generator: never inside another run's draws.
            var network = DefaultGeneratorSession.Exclusive(() => Backbones.Create(architecture, inputShape, classCount));
            try
            {
                NetworkWeights.Load(network, weights, digest, $"{architecture} for {inputShape} images and {classCount} classes");
                network.to(device);
                PilotImageClassificationTrainer.Options? trainingOptions = null;
                ctx.TryLoadTextStream(TrainingOptionsFormat.StreamName,
                    reader => trainingOptions = TrainingOptionsFormat.Read(ReadAtMost(reader, MaxTrainingOptionsChars, TrainingOptionsFormat.StreamName)));
                var model = new PilotImageModel(network, device, architecture, inputShape, classCount, (PixelDomain)domain,
                    vectorShape, new ChannelStatistics(mean, std));
                return new PilotImageClassificationTransformer(env, model, keyValues, label, image, score, predicted, history, policy, trainingOptions);
            }
            catch
            {
                network.Dispose();
                throw;
            }
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("The Pilot image-classification model is truncated.", e);
        }
    }

    /// <summary>Longest training-options text read from a model: 1 Mi characters (the options take a few hundred).</summary>
    private const int MaxTrainingOptionsChars = 1 << 20;

    /// <summary>Reads a text stream of the model, refusing one longer than <paramref name="maxChars"/> (a stream that inflates without end).</summary>
    private static string ReadAtMost(TextReader reader, int maxChars, string what)
    {
        var buffer = new char[maxChars + 1];
        int total = 0, read;
        while (total < buffer.Length && (read = reader.Read(buffer, total, buffer.Length - total)) > 0)
            total += read;
        if (total > maxChars)
            throw new InvalidDataException($"The model's {what} stream is longer than {maxChars} characters.");
        return new string(buffer, 0, total);
    }

    private static void WriteShape(BinaryWriter writer, ImageShape shape)
    {
        writer.Write(shape.Channels);
        writer.Write(shape.Height);
        writer.Write(shape.Width);
    }

    private static ImageShape ReadShape(BinaryReader reader, string what)
    {
        var shape = new ImageShape(reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
        try
        {
            shape.Validate(what);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"The model's {what} {shape} is invalid: {e.Message}", e);
        }
        return shape;
    }

    /// <summary>Images per forward pass of <see cref="Transform"/>'s cursors; 1 scores row by row (tests compare the two).</summary>
    internal int ScoringBatchSize
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, PilotImageClassificationDefaults.MaxBatchSize);
            field = value;
        }
    } = PilotImageClassificationDefaults.ScoringBatchSize;

    /// <summary>
    /// Adds the <c>Score</c> and <c>PredictedLabel</c> columns to <paramref name="input"/>, lazily: the network runs when
    /// a cursor reads them.
    /// </summary>
    /// <param name="input">Data with the image column the model reads, of the kind it was trained on.</param>
    /// <returns>
    /// The input's columns and the two output columns. A cursor over it that is not shuffled reads the images ahead and
    /// scores <see cref="PilotImageClassificationDefaults.ScoringBatchSize"/> of them per forward pass, with the scores
    /// of one image at a time (to about 1e-7); shuffled cursors score row by row. A row whose image cannot be read throws
    /// <see cref="InvalidDataException"/> when that row's <c>Score</c> or <c>PredictedLabel</c> is read, naming the row
    /// and the column.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The image column is missing or of another kind than the model's.</exception>
    /// <exception cref="ObjectDisposedException">This transformer has been disposed.</exception>
    public new IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var perRow = MakeDataTransform(input);
        // A model file may name both outputs alike (the trainer refuses that): then Score is hidden, and only per-row works.
        if (ScoringBatchSize == 1 || ScoreColumnName == PredictedLabelColumnName)
            return perRow;
        var mapper = new Mapper(this, input.Schema);
        return new BatchedScoringDataView(perRow, input, _model, mapper.Image, mapper.Spec, ScoreColumnName, PredictedLabelColumnName,
            ScoringBatchSize);
    }

    /// <inheritdoc/>
    protected override IRowMapper MakeRowMapper(DataViewSchema schema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new Mapper(this, schema);
    }
}

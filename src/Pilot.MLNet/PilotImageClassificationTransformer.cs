using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Pilot.MLNet;
using Pilot.MLNet.ModelFile;
using Pilot.MLNet.Scoring;
using Pilot.TorchSharp;

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

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Host.CheckValue(ctx, nameof(ctx));
        ClassifierModelFormat.Save(ctx, new ClassifierModelContents(_model, _keyValues, LabelColumnName, ImageColumnName, ScoreColumnName,
            PredictedLabelColumnName, TrainingHistory, _policy, _trainingOptions), Host);
    }

    // Factory method for SignatureLoadRowMapper.
    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => Create(env, ctx).MakeRowMapper(inputSchema);

    // Factory method for SignatureLoadModel (the format: ClassifierModelFormat).
    private static PilotImageClassificationTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(ctx, nameof(ctx));
        var c = ClassifierModelFormat.Load(env, ctx);
        return new PilotImageClassificationTransformer(env, c.Model, c.KeyValues, c.LabelColumnName, c.ImageColumnName,
            c.ScoreColumnName, c.PredictedLabelColumnName, c.History, c.Policy, c.TrainingOptions);
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

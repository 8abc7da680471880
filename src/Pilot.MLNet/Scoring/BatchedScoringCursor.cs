using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Images;

namespace Pilot.MLNet.Scoring;

/// <summary>
/// A cursor of <see cref="BatchedScoringDataView"/>: scores images a batch at a time. Two cursors move through the same
/// input in the same order:
/// <list type="bullet">
/// <item>the row cursor, over the per-row view with only the pass-through columns asked for, decides the current row and
/// serves those columns (it runs no network);</item>
/// <item>the image cursor, over the input with only the image column, runs ahead: when the score or predicted label of
/// a row outside the current batch is asked for, it reads that row's image and those of up to batch size − 1 rows after
/// it, the network scores them in one pass, and the batch's probabilities and predicted keys are kept.</item>
/// </list>
/// </summary>
/// <remarks>
/// <para>
/// ML.NET requires a data view to give the same rows in the same order, with the same row ids, to every cursor that does
/// not shuffle (the per-row view passes the input's ids through). Each batch row's id is compared with the row cursor's
/// id when that row is served: a difference throws <see cref="InvalidOperationException"/>, so a row never gets another
/// row's scores.
/// </para>
/// <para>
/// A row whose image cannot be read (missing, undecodable, a NaN pixel) ends the batch before it, and the image cursor
/// stays on it: asking for that row's scores reads its image again and throws that row's exception then, as per-row
/// scoring does. Rows whose scores are never asked for are still scored when they fall inside a batch.
/// </para>
/// <para>Holds one batch of pixels and probabilities. Not thread-safe, like any cursor; disposing it disposes both cursors.</para>
/// </remarks>
internal sealed class BatchedScoringCursor : DataViewRowCursor
{
    private readonly DataViewRowCursor _rows, _images;
    private readonly ValueGetter<DataViewRowId> _rowId, _imageId;
    private readonly ImagePixelReader _reader;
    private readonly PilotImageModel _model;
    private readonly DataViewSchema.Column? _score, _predictedLabel;
    private readonly ValueGetter<VBuffer<float>> _getScore;
    private readonly ValueGetter<uint> _getPredictedLabel;
    private readonly int _classCount, _imageSize;

    // One batch: pixels (bytes or floats, as the model reads them), then per row its id, probabilities and predicted key.
    private readonly byte[]? _bytes;
    private readonly float[]? _floats;
    private readonly DataViewRowId[] _ids;
    private readonly float[] _probabilities;
    private readonly uint[] _predictedKeys;
    private long _batchStart = -1;
    private int _batchCount;
    private bool _disposed;

    /// <param name="rows">The row cursor: the per-row view's cursor with the pass-through columns asked for.</param>
    /// <param name="images">The image cursor: over the scored input, unshuffled, with <paramref name="image"/> active.</param>
    /// <param name="image">The image column of the input.</param>
    /// <param name="spec">What the image column holds.</param>
    /// <param name="model">The network.</param>
    /// <param name="score">The score column of <paramref name="rows"/>' schema, or <see langword="null"/> when not asked for.</param>
    /// <param name="predictedLabel">The predicted-label column, or <see langword="null"/> when not asked for.</param>
    /// <param name="batchSize">Most images per forward pass.</param>
    public BatchedScoringCursor(DataViewRowCursor rows, DataViewRowCursor images, DataViewSchema.Column image, ImageColumnSpec spec,
        PilotImageModel model, DataViewSchema.Column? score, DataViewSchema.Column? predictedLabel, int batchSize)
    {
        _rows = rows;
        _images = images;
        _model = model;
        _score = score;
        _predictedLabel = predictedLabel;
        _rowId = rows.GetIdGetter();
        _imageId = images.GetIdGetter();
        var shape = model.InputShape;
        _reader = new ImagePixelReader(images, image, spec, shape.Channels, shape.Height, shape.Width);
        _classCount = model.ClassCount;
        _imageSize = shape.Size;
        if (spec.Domain == PixelDomain.Bytes)
            _bytes = new byte[batchSize * _imageSize];
        else
            _floats = new float[batchSize * _imageSize];
        _ids = new DataViewRowId[batchSize];
        _probabilities = new float[batchSize * _classCount];
        _predictedKeys = new uint[batchSize];
        _getScore = GetScore;
        _getPredictedLabel = GetPredictedLabel;
    }

    /// <inheritdoc/>
    public override DataViewSchema Schema => _rows.Schema;

    /// <inheritdoc/>
    public override long Position => _rows.Position;

    /// <inheritdoc/>
    public override long Batch => _rows.Batch;

    /// <inheritdoc/>
    public override ValueGetter<DataViewRowId> GetIdGetter() => _rows.GetIdGetter();

    /// <inheritdoc/>
    public override bool MoveNext() => _rows.MoveNext();

    /// <inheritdoc/>
    public override bool IsColumnActive(DataViewSchema.Column column) =>
        column.Index == _score?.Index || column.Index == _predictedLabel?.Index || _rows.IsColumnActive(column);

    /// <inheritdoc/>
    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (column.Index == _score?.Index)
            return Typed<TValue>(column, _getScore);
        if (column.Index == _predictedLabel?.Index)
            return Typed<TValue>(column, _getPredictedLabel);
        return _rows.GetGetter<TValue>(column);
    }

    private static ValueGetter<TValue> Typed<TValue>(DataViewSchema.Column column, Delegate getter) =>
        getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
            $"Column '{column.Name}' holds {column.Type.RawType}; GetGetter was asked for {typeof(TValue)}.");

    private void GetScore(ref VBuffer<float> destination)
    {
        int slot = CurrentSlot();
        var editor = VBufferEditor.Create(ref destination, _classCount);
        _probabilities.AsSpan(slot * _classCount, _classCount).CopyTo(editor.Values);
        destination = editor.Commit();
    }

    private void GetPredictedLabel(ref uint destination) => destination = _predictedKeys[CurrentSlot()];

    /// <summary>The current row's place in the batch, scoring a new batch from this row when it is not in the current one.</summary>
    private int CurrentSlot()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long position = _rows.Position;
        if (position < 0)
            throw new InvalidOperationException("The cursor is not on a row: call MoveNext (and check that it returned true) before reading a column.");
        DataViewRowId id = default;
        _rowId(ref id);
        long slot = position - _batchStart;
        if (_batchStart < 0 || slot < 0 || slot >= _batchCount)
        {
            ScoreBatchFrom(position);
            slot = 0;
        }
        if (!_ids[slot].Equals(id))
            throw Diverged(position, $"its id is {id} where the rows are read but {_ids[slot]} where the images are read");
        return (int)slot;
    }

    /// <summary>Reads the images of rows <paramref name="position"/>, <paramref name="position"/> + 1, … and scores them.</summary>
    private void ScoreBatchFrom(long position)
    {
        _batchCount = 0;
        // The image cursor is before this row, or on it when this row's image ended the previous batch.
        while (_images.Position < position)
            if (!_images.MoveNext())
                throw Diverged(position, "the input ended before it where the images are read");
        if (_images.Position != position)
            throw Diverged(position, $"the image cursor is already at row {_images.Position}");

        // The row asked for: an exception reading its image is its own, thrown now.
        ReadImage(0);
        _imageId(ref _ids[0]);
        int count = 1;
        while (count < _ids.Length && _images.MoveNext())
        {
            try
            {
                ReadImage(count);
            }
            catch (Exception)
            {
                // Not this row's exception: that row's own getter call reads its image again and throws it there.
                break;
            }
            _imageId(ref _ids[count]);
            count++;
        }

        var probabilities = _probabilities.AsSpan(0, count * _classCount);
        if (_bytes is not null)
            _model.Score(_bytes, count, probabilities);
        else
            _model.Score(_floats!, count, probabilities);
        for (int i = 0; i < count; i++)
            _predictedKeys[i] = PilotImageModel.PredictedKey(probabilities.Slice(i * _classCount, _classCount));
        _batchStart = position;
        _batchCount = count;
    }

    /// <summary>Reads the image cursor's current image into batch slot <paramref name="slot"/>.</summary>
    private void ReadImage(int slot)
    {
        if (_bytes is not null)
            _reader.ReadBytes(_images.Position, _bytes.AsSpan(slot * _imageSize, _imageSize));
        else
            _reader.ReadFloats(_images.Position, _floats.AsSpan(slot * _imageSize, _imageSize));
    }

    private static InvalidOperationException Diverged(long position, string detail) => new(
        $"Batched scoring read row {position} of the input through two cursors and they disagree: {detail}. A data view must give " +
        "every unshuffled cursor the same rows in the same order with the same ids; this input does not (for example, " +
        "LoadFromEnumerable over a sequence that changes from one enumeration to the next). Cache it first (mlContext.Data.Cache) " +
        "or make it repeatable.");

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (_disposed)
            return;
        if (disposing)
        {
            _reader.Dispose();
            _images.Dispose();
            _rows.Dispose();
        }
        _disposed = true;
        base.Dispose(disposing);
    }
}

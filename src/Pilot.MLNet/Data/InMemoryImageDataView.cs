using Microsoft.ML;
using Microsoft.ML.Data;

namespace Pilot.MLNet.Data;

/// <summary>
/// A read-only <see cref="IDataView"/> over labelled images held once in memory: one contiguous array of pixels
/// (row-major, each image CHW) and one label index per row. Columns: <see cref="PilotDatasets.LabelColumnName"/> (text,
/// the class name) and <see cref="PilotDatasets.ImageColumnName"/> (known-size vector of <see cref="byte"/> with
/// dimensions C, H, W). Re-enumerable, knows its row count and supports shuffled cursors.
/// </summary>
/// <remarks>The arrays are never written after construction, so any number of cursors may run at once.</remarks>
internal sealed class InMemoryImageDataView : IDataView
{
    private readonly byte[] _pixels;
    private readonly byte[] _labels;
    private readonly ReadOnlyMemory<char>[] _classNames;
    private readonly int _imageSize;

    /// <summary>Wraps the arrays without copying them; the caller must not change them afterwards.</summary>
    /// <param name="pixels">Images one after another, <c>labels.Length × shape.Size</c> bytes.</param>
    /// <param name="labels">Class index of each image, each below <c>classNames.Count</c>.</param>
    /// <param name="shape">The shape of every image.</param>
    /// <param name="classNames">Class names in label order.</param>
    internal InMemoryImageDataView(byte[] pixels, byte[] labels, ImageShape shape, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        shape.Validate(nameof(shape));
        if ((long)labels.Length * shape.Size != pixels.Length)
            throw new ArgumentException($"{nameof(pixels)} holds {pixels.Length} bytes; {labels.Length} images of {shape} need {(long)labels.Length * shape.Size}.", nameof(pixels));
        int bad = Array.FindIndex(labels, l => l >= classNames.Count);
        if (bad >= 0)
            throw new ArgumentException($"Label {labels[bad]} of row {bad} has no class name ({classNames.Count} given).", nameof(labels));

        _pixels = pixels;
        _labels = labels;
        _imageSize = shape.Size;
        _classNames = classNames.Select(n => n.AsMemory()).ToArray();
        Shape = shape;
        ClassNames = classNames;

        var builder = new DataViewSchema.Builder();
        builder.AddColumn(PilotDatasets.LabelColumnName, TextDataViewType.Instance);
        builder.AddColumn(PilotDatasets.ImageColumnName, new VectorDataViewType(NumberDataViewType.Byte, shape.Channels, shape.Height, shape.Width));
        Schema = builder.ToSchema();
    }

    /// <summary>The shape of every image.</summary>
    internal ImageShape Shape { get; }

    /// <summary>Class names in label order.</summary>
    internal IReadOnlyList<string> ClassNames { get; }

    /// <summary>Number of rows.</summary>
    internal int Count => _labels.Length;

    /// <summary>All pixels, image after image, each CHW (a fast path for readers that know this type).</summary>
    internal ReadOnlyMemory<byte> Pixels => _pixels;

    /// <summary>The class index of each row (a fast path for readers that know this type).</summary>
    internal ReadOnlyMemory<byte> Labels => _labels;

    /// <inheritdoc/>
    public DataViewSchema Schema { get; }

    /// <inheritdoc/>
    public bool CanShuffle => true;

    /// <inheritdoc/>
    public long? GetRowCount() => _labels.Length;

    /// <inheritdoc/>
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        ArgumentNullException.ThrowIfNull(columnsNeeded);
        var active = new bool[Schema.Count];
        foreach (var column in columnsNeeded)
        {
            if (column.Index < 0 || column.Index >= Schema.Count || Schema[column.Index].Name != column.Name)
                throw new ArgumentException($"Column '{column.Name}' does not belong to this data view's schema.", nameof(columnsNeeded));
            active[column.Index] = true;
        }

        int[]? order = null;
        if (rand is not null)
        {
            order = new int[_labels.Length];
            for (int i = 0; i < order.Length; i++)
                order[i] = i;
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = rand.Next(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
        return new Cursor(this, active, order);
    }

    /// <inheritdoc/>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(InMemoryImageDataView view, bool[] active, int[]? order) : DataViewRowCursor
    {
        private const int LabelColumn = 0;
        private const int ImageColumn = 1;

        private long _position = -1;
        private int _row = -1;
        private bool _done;

        public override DataViewSchema Schema => view.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (_done)
                return false;
            long next = _position + 1;
            if (next >= view._labels.Length)
            {
                _done = true;
                _position = -1;
                _row = -1;
                return false;
            }
            _position = next;
            _row = order is null ? (int)next : order[next];
            return true;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter()
            => (ref DataViewRowId value) =>
            {
                EnsureOnRow();
                value = new DataViewRowId((ulong)_row, 0);
            };

        public override bool IsColumnActive(DataViewSchema.Column column) => active[CheckColumn(column)];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int index = CheckColumn(column);
            if (!active[index])
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");

            if (index == LabelColumn)
            {
                if (typeof(TValue) != typeof(ReadOnlyMemory<char>))
                    throw TypeMismatch<TValue>(column, typeof(ReadOnlyMemory<char>));
                ValueGetter<ReadOnlyMemory<char>> getter = (ref ReadOnlyMemory<char> value) =>
                {
                    EnsureOnRow();
                    value = view._classNames[view._labels[_row]];
                };
                return (ValueGetter<TValue>)(Delegate)getter;
            }

            if (typeof(TValue) != typeof(VBuffer<byte>))
                throw TypeMismatch<TValue>(column, typeof(VBuffer<byte>));
            ValueGetter<VBuffer<byte>> imageGetter = (ref VBuffer<byte> value) =>
            {
                EnsureOnRow();
                var editor = VBufferEditor.Create(ref value, view._imageSize);
                view._pixels.AsSpan(_row * view._imageSize, view._imageSize).CopyTo(editor.Values);
                value = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)imageGetter;
        }

        private int CheckColumn(DataViewSchema.Column column)
        {
            if (column.Index is not (LabelColumn or ImageColumn) || column.Name != view.Schema[column.Index].Name)
                throw new ArgumentOutOfRangeException(nameof(column), column.Name, $"Column '{column.Name}' (index {column.Index}) is not a column of this data view.");
            return column.Index;
        }

        private void EnsureOnRow()
        {
            if (_row < 0)
                throw new InvalidOperationException("The cursor is not on a row: call MoveNext first, and not after it returned false.");
        }

        private static InvalidOperationException TypeMismatch<TValue>(DataViewSchema.Column column, Type expected)
            => new($"Column '{column.Name}' holds {column.Type}; ask for {expected.Name} values, not {typeof(TValue).Name}.");
    }
}

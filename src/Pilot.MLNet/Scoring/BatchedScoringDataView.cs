using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Images;

namespace Pilot.MLNet.Scoring;

/// <summary>
/// What <see cref="PilotImageClassificationTransformer.Transform"/> returns: the transformer's per-row view of the input
/// (ML.NET's row-to-row mapper transform, the same schema and rows), except that a cursor that reads the score or
/// predicted-label column in the input's order runs the images through the network in batches
/// (<see cref="BatchedScoringCursor"/>).
/// </summary>
/// <remarks>
/// The per-row view serves everything else unchanged: shuffled cursors (a <see cref="Random"/> given), and cursors that
/// need neither output column (no network work at all). A cursor set is a single batched cursor, which the
/// <see cref="IDataView.GetRowCursorSet"/> contract allows (it may return fewer cursors than asked for); a transform after
/// this one may still split it across threads.
/// </remarks>
internal sealed class BatchedScoringDataView : IDataView
{
    private readonly IDataView _perRow;
    private readonly IDataView _input;
    private readonly PilotImageModel _model;
    private readonly DataViewSchema.Column _image;
    private readonly ImageColumnSpec _spec;
    private readonly int _scoreIndex, _predictedLabelIndex;
    private readonly int _batchSize;

    /// <param name="perRow">The transformer's per-row view of <paramref name="input"/>.</param>
    /// <param name="input">The data being scored.</param>
    /// <param name="model">The network.</param>
    /// <param name="image">The image column of <paramref name="input"/>.</param>
    /// <param name="spec">What the image column holds.</param>
    /// <param name="scoreColumnName">Name of the score column <paramref name="perRow"/> adds.</param>
    /// <param name="predictedLabelColumnName">Name of the predicted-label column <paramref name="perRow"/> adds (another name).</param>
    /// <param name="batchSize">Images per forward pass, 1 or more.</param>
    public BatchedScoringDataView(IDataView perRow, IDataView input, PilotImageModel model, DataViewSchema.Column image,
        ImageColumnSpec spec, string scoreColumnName, string predictedLabelColumnName, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (scoreColumnName == predictedLabelColumnName)
            throw new ArgumentException($"The score and predicted-label columns must have different names; both are '{scoreColumnName}'.",
                nameof(predictedLabelColumnName));
        _perRow = perRow;
        _input = input;
        _model = model;
        _image = image;
        _spec = spec;
        _batchSize = batchSize;
        // An added column comes after every input column of the same name, so each name finds the column the model adds.
        _scoreIndex = perRow.Schema[scoreColumnName].Index;
        _predictedLabelIndex = perRow.Schema[predictedLabelColumnName].Index;
    }

    /// <inheritdoc/>
    public DataViewSchema Schema => _perRow.Schema;

    /// <inheritdoc/>
    public bool CanShuffle => _perRow.CanShuffle;

    /// <inheritdoc/>
    public long? GetRowCount() => _perRow.GetRowCount();

    /// <inheritdoc/>
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        ArgumentNullException.ThrowIfNull(columnsNeeded);
        var columns = columnsNeeded.ToArray();
        bool score = columns.Any(c => c.Index == _scoreIndex), predictedLabel = columns.Any(c => c.Index == _predictedLabelIndex);
        if (rand is not null || !score && !predictedLabel)
            return _perRow.GetRowCursor(columns, rand);

        // The per-row view's cursor without the output columns runs no network; it decides the rows and serves the rest.
        var rows = _perRow.GetRowCursor(columns.Where(c => c.Index != _scoreIndex && c.Index != _predictedLabelIndex));
        DataViewRowCursor? images = null;
        try
        {
            images = _input.GetRowCursor([_image]);
            return new BatchedScoringCursor(rows, images, _image, _spec, _model,
                score ? Schema[_scoreIndex] : null, predictedLabel ? Schema[_predictedLabelIndex] : null, _batchSize);
        }
        catch
        {
            images?.Dispose();
            rows.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        ArgumentNullException.ThrowIfNull(columnsNeeded);
        var columns = columnsNeeded.ToArray();
        if (rand is not null || !columns.Any(c => c.Index == _scoreIndex || c.Index == _predictedLabelIndex))
            return _perRow.GetRowCursorSet(columns, n, rand);
        return [GetRowCursor(columns)];
    }
}

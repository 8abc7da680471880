using Microsoft.ML;
using Microsoft.ML.Data;

namespace Pilot.MLNet.Tests.Scoring;

/// <summary>A synthetic row with its index, to tell rows apart after shuffling.</summary>
internal sealed class IndexedRow
{
    public int Index { get; set; }

    public string Label { get; set; } = "";

    [VectorType(1, 12, 12)]
    public byte[] Image { get; set; } = [];
}

/// <summary>The same with float pixels in [0, 1].</summary>
internal sealed class IndexedFloatRow
{
    public int Index { get; set; }

    public string Label { get; set; } = "";

    [VectorType(1, 12, 12)]
    public float[] Image { get; set; } = [];
}

internal sealed class IndexedPrediction
{
    public int Index { get; set; }

    public float[] Score { get; set; } = [];

    public uint PredictedLabel { get; set; }
}

/// <summary>
/// <see cref="PilotImageClassificationTransformer.Transform"/> scores in batches when its result is read in order: the
/// scores must be those of row-by-row scoring (a <see cref="PredictionEngine{TSrc, TDst}"/>, or the transformer with
/// batches of 1), every row must keep its own columns, and the other cursor kinds must still work.
/// </summary>
[TestClass]
public sealed class BatchedScoringTests
{
    /// <summary>More than two default batches and not a multiple of the batch size.</summary>
    private const int Rows = 2 * PilotImageClassificationDefaults.ScoringBatchSize + 45;

    /// <summary>Largest difference allowed between a batched and a one-image score (libtorch may pick other kernels by batch size).</summary>
    private const float ScoreTolerance = 1e-6f;

    private static readonly MLContext Ml = new(seed: 1);
    private static PilotImageClassificationTransformer _model = null!;
    private static ITransformer _toKey = null!;

    [ClassInitialize]
    public static void Train(TestContext _)
    {
        var training = Ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(90, seed: 1));
        _toKey = Ml.Transforms.Conversion.MapValueToKey("Label").Fit(training);
        _model = new MLContext(seed: 1).Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 2)).Fit(_toKey.Transform(training));
    }

    [ClassCleanup]
    public static void Cleanup() => _model?.Dispose();

    private static IndexedRow[] Indexed(int count, int seed = 2) => TrainerTestData.Synthetic(count, seed)
        .Select((r, i) => new IndexedRow { Index = i, Label = r.Label, Image = r.Image })
        .ToArray();

    /// <summary>Each row's prediction from a <see cref="PredictionEngine{TSrc, TDst}"/> (row by row, no batching).</summary>
    private static IndexedPrediction[] PredictEach(IEnumerable<IndexedRow> rows)
    {
        // An engine disposes its transformer unless told otherwise; the model is shared by the tests.
        using var engine = Ml.Model.CreatePredictionEngine<IndexedRow, IndexedPrediction>(_model, new PredictionEngineOptions { OwnsTransformer = false });
        return rows.Select(r =>
        {
            var p = engine.Predict(r);
            return new IndexedPrediction { Index = p.Index, Score = p.Score.ToArray(), PredictedLabel = p.PredictedLabel };
        }).ToArray();
    }

    /// <summary>Asserts equal predicted labels and scores within <see cref="ScoreTolerance"/>; returns the largest score difference.</summary>
    private static float AssertSamePrediction(IndexedPrediction expected, float[] score, uint predicted, string where)
    {
        Assert.AreEqual(expected.PredictedLabel, predicted, $"{where}: predicted label");
        Assert.HasCount(expected.Score.Length, score, $"{where}: score length");
        float largest = 0;
        for (int k = 0; k < score.Length; k++)
        {
            float difference = Math.Abs(expected.Score[k] - score[k]);
            Assert.IsTrue(difference <= ScoreTolerance, $"{where}: class {k} scores {score[k]}, row by row {expected.Score[k]}");
            largest = Math.Max(largest, difference);
        }
        return largest;
    }

    [TestMethod]
    public void TransformGivesEachRowThePredictionEngineScores()
    {
        var rows = Indexed(Rows);
        var expected = PredictEach(rows);
        var scored = _model.Transform(Ml.Data.LoadFromEnumerable(rows));

        // Only the output columns: the cursor Evaluate and GetColumn make.
        using var cursor = scored.GetRowCursor([scored.Schema["Score"], scored.Schema["PredictedLabel"]]);
        Assert.IsInstanceOfType<Pilot.MLNet.Scoring.BatchedScoringCursor>(cursor, "a cursor in order must be the batched one");
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var getPredicted = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
        VBuffer<float> score = default;
        uint predicted = 0;
        int row = 0;
        float largest = 0;
        while (cursor.MoveNext())
        {
            getPredicted(ref predicted);
            getScore(ref score);
            largest = Math.Max(largest, AssertSamePrediction(expected[row], score.DenseValues().ToArray(), predicted, $"row {row}"));
            row++;
        }
        Assert.AreEqual(Rows, row);
        Console.WriteLine($"largest |batched - row-by-row| score difference over {Rows} rows: {largest:G3}");
    }

    [TestMethod]
    public void PassThroughColumnsStayWithTheirRows()
    {
        var rows = Indexed(Rows);
        var expected = PredictEach(rows);
        var scored = _model.Transform(_toKey.Transform(Ml.Data.LoadFromEnumerable(rows)));

        using var cursor = scored.GetRowCursor(scored.Schema);
        var getIndex = cursor.GetGetter<int>(scored.Schema["Index"]);
        var getImage = cursor.GetGetter<VBuffer<byte>>(scored.Schema["Image"]);
        var getLabel = cursor.GetGetter<uint>(scored.Schema["Label"]);
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var getPredicted = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
        Assert.IsTrue(scored.Schema.All(cursor.IsColumnActive));
        int index = 0;
        VBuffer<byte> image = default;
        VBuffer<float> score = default;
        uint label = 0, predicted = 0;
        int row = 0;
        while (cursor.MoveNext())
        {
            // Pass-through columns read before and after the scores, which read ahead in another cursor.
            getIndex(ref index);
            getScore(ref score);
            getPredicted(ref predicted);
            getImage(ref image);
            getLabel(ref label);
            Assert.AreEqual(row, index);
            CollectionAssert.AreEqual(rows[row].Image, image.DenseValues().ToArray(), $"row {row}: image");
            Assert.AreEqual((uint)("hvs".IndexOf(rows[row].Label[0]) + 1), label, $"row {row}: label key");
            AssertSamePrediction(expected[row], score.DenseValues().ToArray(), predicted, $"row {row}");
            row++;
        }
        Assert.AreEqual(Rows, row);
    }

    [TestMethod]
    public void RowsWhoseScoresAreSkippedDoNotShiftTheOthers()
    {
        var rows = Indexed(Rows);
        var expected = PredictEach(rows);
        var scored = _model.Transform(Ml.Data.LoadFromEnumerable(rows));
        using var cursor = scored.GetRowCursor(scored.Schema);
        var getIndex = cursor.GetGetter<int>(scored.Schema["Index"]);
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var getPredicted = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
        VBuffer<float> score = default;
        uint predicted = 0;
        int index = 0, checkedRows = 0;
        // Scores asked for rows 0, 3, 6, ... in the first batch, then for one row 40 rows later: the next batch starts there.
        const int batch = PilotImageClassificationDefaults.ScoringBatchSize;
        static bool Asked(int row) => row < batch ? row % 3 == 0 : row == batch + 40;
        while (cursor.MoveNext())
        {
            getIndex(ref index);
            if (!Asked(index))
                continue;
            getScore(ref score);
            getScore(ref score); // a getter may be called again on the same row
            getPredicted(ref predicted);
            AssertSamePrediction(expected[index], score.DenseValues().ToArray(), predicted, $"row {index}");
            checkedRows++;
        }
        Assert.AreEqual(Enumerable.Range(0, Rows).Count(Asked), checkedRows);
    }

    [TestMethod]
    public void ShuffledCursorScoresEachRowAsItsOwn()
    {
        var rows = Indexed(Rows);
        var expected = PredictEach(rows);
        // A cached view can be shuffled (an enumerable's view cannot).
        var data = Ml.Data.Cache(Ml.Data.LoadFromEnumerable(rows));
        var scored = _model.Transform(data);
        Assert.IsTrue(scored.CanShuffle);

        using var cursor = scored.GetRowCursor(scored.Schema, new Random(5));
        Assert.IsNotInstanceOfType<Pilot.MLNet.Scoring.BatchedScoringCursor>(cursor, "a shuffled cursor scores row by row");
        var getIndex = cursor.GetGetter<int>(scored.Schema["Index"]);
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var getPredicted = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
        VBuffer<float> score = default;
        uint predicted = 0;
        int index = 0, row = 0, outOfPlace = 0;
        var seen = new HashSet<int>();
        while (cursor.MoveNext())
        {
            getIndex(ref index);
            getScore(ref score);
            getPredicted(ref predicted);
            AssertSamePrediction(expected[index], score.DenseValues().ToArray(), predicted, $"row {index} (cursor row {row})");
            Assert.IsTrue(seen.Add(index), $"row {index} twice");
            outOfPlace += index != row ? 1 : 0;
            row++;
        }
        Assert.AreEqual(Rows, seen.Count);
        Assert.IsGreaterThan(Rows / 2, outOfPlace, "the cursor was not shuffled");
    }

    [TestMethod]
    public void CursorSetIsOneBatchedCursorAndAnAppendedTransformGetsTheSameScores()
    {
        var rows = Indexed(Rows);
        var expected = PredictEach(rows);
        var scored = _model.Transform(Ml.Data.LoadFromEnumerable(rows));
        var set = scored.GetRowCursorSet(scored.Schema, 4);
        try
        {
            Assert.HasCount(1, set);
            Assert.IsInstanceOfType<Pilot.MLNet.Scoring.BatchedScoringCursor>(set[0]);
        }
        finally
        {
            foreach (var c in set)
                c.Dispose();
        }

        // A transform after the model (as pilot codegen writes) splits the one cursor across threads.
        var data = Ml.Data.LoadFromEnumerable(rows);
        var withClassNames = _model.Append(Ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel").Fit(_model.Transform(data)));
        var predictions = Ml.Data.CreateEnumerable<IndexedPrediction>(withClassNames.Transform(data), reuseRowObject: false).ToArray();
        Assert.HasCount(Rows, predictions);
        for (int i = 0; i < Rows; i++)
        {
            Assert.AreEqual(i, predictions[i].Index);
            AssertSamePrediction(expected[i], predictions[i].Score, predictions[i].PredictedLabel, $"row {i}");
        }
    }

    [TestMethod]
    public void OnlyPassThroughColumnsReadNoImages()
    {
        var probe = new ProbeDataView(Ml.Data.LoadFromEnumerable(Indexed(Rows)));
        var scored = _model.Transform(probe);
        var indices = scored.GetColumn<int>(scored.Schema["Index"]).ToArray();
        CollectionAssert.AreEqual(Enumerable.Range(0, Rows).ToArray(), indices);
        Assert.AreEqual(0, probe.ImageReads);
        Assert.AreEqual(0, probe.OpenCursors);
    }

    [TestMethod]
    public void CursorStoppedMidBatchDisposesBothCursorsAndANewOneStartsAfresh()
    {
        var rows = Indexed(Rows);
        var expected = PredictEach(rows);
        var probe = new ProbeDataView(Ml.Data.LoadFromEnumerable(rows));
        var scored = _model.Transform(probe);

        var cursor = scored.GetRowCursor(scored.Schema);
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        VBuffer<float> score = default;
        for (int i = 0; i < 10; i++)
        {
            Assert.IsTrue(cursor.MoveNext());
            getScore(ref score);
        }
        Assert.AreEqual(2, probe.OpenCursors, "the row cursor and the image cursor");
        Assert.AreEqual(PilotImageClassificationDefaults.ScoringBatchSize, probe.ImageReads, "one batch read ahead");
        cursor.Dispose();
        Assert.AreEqual(0, probe.OpenCursors, "disposing the cursor disposes both");
        Assert.ThrowsExactly<ObjectDisposedException>(() => getScore(ref score));

        var again = ScoredRows.Read(scored);
        Assert.HasCount(Rows, again);
        for (int i = 0; i < Rows; i++)
            AssertSamePrediction(expected[i], again[i].Score, again[i].Predicted, $"row {i}");
        Assert.AreEqual(0, probe.OpenCursors);
    }

    [TestMethod]
    public void CursorsThatDisagreeOnRowIdsThrowInsteadOfMixingRows()
    {
        var probe = new ProbeDataView(Ml.Data.LoadFromEnumerable(Indexed(Rows))) { ImageCursorIdShift = 1 };
        var scored = _model.Transform(probe);
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => scored.GetColumn<float[]>(scored.Schema["Score"]).ToArray());
        StringAssert.Contains(e.Message, "row 0");
        StringAssert.Contains(e.Message, "disagree");
        StringAssert.Contains(e.Message, "mlContext.Data.Cache");
        Assert.AreEqual(0, probe.OpenCursors);
    }

    [TestMethod]
    public void InputWithFewerRowsForTheImageCursorThrows()
    {
        const int limit = PilotImageClassificationDefaults.ScoringBatchSize + 10;
        var probe = new ProbeDataView(Ml.Data.LoadFromEnumerable(Indexed(Rows))) { ImageCursorRowLimit = limit };
        var scored = _model.Transform(probe);
        // Only the output column: the row limit applies to the image cursor alone.
        using var cursor = scored.GetRowCursor([scored.Schema["PredictedLabel"]]);
        var getPredicted = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
        uint predicted = 0;
        for (int i = 0; i < limit; i++)
        {
            Assert.IsTrue(cursor.MoveNext());
            getPredicted(ref predicted);
        }
        Assert.IsTrue(cursor.MoveNext());
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => getPredicted(ref predicted));
        StringAssert.Contains(e.Message, $"row {limit}");
        StringAssert.Contains(e.Message, "ended");
    }

    [TestMethod]
    public void BadImageThrowsAtItsOwnRowWithTheRowByRowMessage()
    {
        using var model = new MLContext(seed: 1).Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 1))
            .Fit(_toKey.Transform(Ml.Data.LoadFromEnumerable(FloatRows(60, seed: 1))));
        int[] bad = [5, PilotImageClassificationDefaults.ScoringBatchSize, PilotImageClassificationDefaults.ScoringBatchSize + 20];
        var rows = FloatRows(Rows, seed: 2);
        foreach (int b in bad)
            rows[b].Image[9] = float.NaN;
        var data = Ml.Data.LoadFromEnumerable(rows);

        model.ScoringBatchSize = 1;
        var (expectedErrors, expectedScores) = ScoreCatchingErrors(model.Transform(data), serial: true);
        model.ScoringBatchSize = PilotImageClassificationDefaults.ScoringBatchSize;
        var (errors, scores) = ScoreCatchingErrors(model.Transform(data), serial: false);

        CollectionAssert.AreEqual(bad, expectedErrors.Keys.ToArray(), "row by row");
        CollectionAssert.AreEqual(bad, errors.Keys.ToArray(), "batched");
        foreach (int b in bad)
        {
            StringAssert.StartsWith(errors[b], $"Row {b}: column 'Image' has the pixel value NaN at position 9");
            Assert.AreEqual(expectedErrors[b], errors[b]);
        }
        Assert.HasCount(Rows - bad.Length, scores);
        foreach (var (row, score) in scores)
            CollectionAssert.AreEqual(expectedScores[row], score, ScoreComparer.Instance, $"row {row}");
    }

    /// <summary>
    /// Reads every row's score, catching the exception of a bad row and going on: per row, its score or its error message
    /// (<see cref="InvalidDataException"/>, thrown by the score getter at that row). <paramref name="serial"/> asks for a
    /// cursor set of one, so that row-by-row scoring runs on one thread and its messages number the rows of the input.
    /// </summary>
    private static (SortedDictionary<int, string> Errors, Dictionary<int, float[]> Scores) ScoreCatchingErrors(IDataView scored, bool serial)
    {
        var columns = new[] { scored.Schema["Index"], scored.Schema["Score"] };
        using var cursor = serial ? scored.GetRowCursorSet(columns, 1).Single() : scored.GetRowCursor(columns);
        var getIndex = cursor.GetGetter<int>(scored.Schema["Index"]);
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var errors = new SortedDictionary<int, string>();
        var scores = new Dictionary<int, float[]>();
        int index = 0;
        VBuffer<float> score = default;
        while (cursor.MoveNext())
        {
            getIndex(ref index);
            try
            {
                getScore(ref score);
                scores.Add(index, score.DenseValues().ToArray());
            }
            catch (InvalidDataException e)
            {
                Assert.AreEqual(index, cursor.Position, "thrown at another row");
                errors.Add(index, e.Message);
            }
        }
        return (errors, scores);
    }

    private static IndexedFloatRow[] FloatRows(int count, int seed) => TrainerTestData.Synthetic(count, seed)
        .Select((r, i) => new IndexedFloatRow { Index = i, Label = r.Label, Image = r.Image.Select(b => b / 255f).ToArray() })
        .ToArray();

    [TestMethod]
    public void EvaluateGivesTheRowByRowMetrics()
    {
        var data = _toKey.Transform(Ml.Data.LoadFromEnumerable(Indexed(Rows)));
        try
        {
            _model.ScoringBatchSize = 1;
            var expected = Ml.MulticlassClassification.Evaluate(_model.Transform(data));
            _model.ScoringBatchSize = PilotImageClassificationDefaults.ScoringBatchSize;
            var actual = Ml.MulticlassClassification.Evaluate(_model.Transform(data));

            Assert.AreEqual(expected.MicroAccuracy, actual.MicroAccuracy);
            Assert.AreEqual(expected.MacroAccuracy, actual.MacroAccuracy);
            Assert.AreEqual(expected.TopKAccuracy, actual.TopKAccuracy);
            CollectionAssert.AreEqual(expected.PerClassLogLoss.ToArray(), actual.PerClassLogLoss.ToArray(), DoubleComparer.Instance);
            Assert.AreEqual(expected.LogLoss, actual.LogLoss, 1e-6 * Math.Max(1, expected.LogLoss));
            Assert.AreEqual(expected.LogLossReduction, actual.LogLossReduction, 1e-6);
            for (int i = 0; i < expected.ConfusionMatrix.NumberOfClasses; i++)
                CollectionAssert.AreEqual(expected.ConfusionMatrix.Counts[i].ToArray(), actual.ConfusionMatrix.Counts[i].ToArray(), $"confusion row {i}");
        }
        finally
        {
            _model.ScoringBatchSize = PilotImageClassificationDefaults.ScoringBatchSize;
        }
    }

    private sealed class ScoreComparer : System.Collections.IComparer
    {
        public static readonly ScoreComparer Instance = new();

        public int Compare(object? x, object? y) => Math.Abs((float)x! - (float)y!) <= ScoreTolerance ? 0 : 1;
    }

    private sealed class DoubleComparer : System.Collections.IComparer
    {
        public static readonly DoubleComparer Instance = new();

        public int Compare(object? x, object? y) => Math.Abs((double)x! - (double)y!) <= 1e-6 * Math.Max(1, Math.Abs((double)x!)) ? 0 : 1;
    }
}

/// <summary>
/// Wraps a data view to watch its cursors: how many are open, how many image values were read, and, to simulate an
/// input that breaks the data-view contract, a shift of the row ids or a row limit for cursors that read the image column
/// (in batched scoring, the image cursor; the row cursor too when the image column is asked for).
/// </summary>
internal sealed class ProbeDataView(IDataView inner) : IDataView
{
    private int _openCursors, _imageReads;

    public int OpenCursors => Volatile.Read(ref _openCursors);

    public int ImageReads => Volatile.Read(ref _imageReads);

    public ulong ImageCursorIdShift { get; init; }

    public long ImageCursorRowLimit { get; init; } = long.MaxValue;

    public DataViewSchema Schema => inner.Schema;

    public bool CanShuffle => inner.CanShuffle;

    public long? GetRowCount() => inner.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var cursor = inner.GetRowCursor(columnsNeeded, rand);
        Interlocked.Increment(ref _openCursors);
        return new Cursor(this, cursor);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(ProbeDataView parent, DataViewRowCursor inner) : DataViewRowCursor
    {
        private readonly bool _readsImages = inner.IsColumnActive(inner.Schema["Image"]);
        private bool _disposed;

        public override DataViewSchema Schema => inner.Schema;

        public override long Position => inner.Position;

        public override long Batch => inner.Batch;

        public override bool MoveNext() => (!_readsImages || inner.Position + 1 < parent.ImageCursorRowLimit) && inner.MoveNext();

        public override ValueGetter<DataViewRowId> GetIdGetter()
        {
            var getter = inner.GetIdGetter();
            ulong shift = _readsImages ? parent.ImageCursorIdShift : 0;
            return (ref DataViewRowId value) =>
            {
                getter(ref value);
                value = new DataViewRowId(value.Low + shift, value.High);
            };
        }

        public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            var getter = inner.GetGetter<TValue>(column);
            if (column.Name != "Image")
                return getter;
            return (ref TValue value) =>
            {
                Interlocked.Increment(ref parent._imageReads);
                getter(ref value);
            };
        }

        protected override void Dispose(bool disposing)
        {
            if (!_disposed && disposing)
            {
                inner.Dispose();
                Interlocked.Decrement(ref parent._openCursors);
            }
            _disposed = true;
            base.Dispose(disposing);
        }
    }
}

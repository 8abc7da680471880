using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;

namespace Pilot.MLNet.Tests.Reliability;

/// <summary>A row with encoded image bytes (a variable-size byte vector, as LoadRawImageBytes produces).</summary>
internal sealed class EncodedRow
{
    public string Label { get; set; } = "";
    public byte[] Image { get; set; } = [];
}

/// <summary>A row with a 1×12×12 float pixel vector.</summary>
internal sealed class FloatRow
{
    public string Label { get; set; } = "";

    [VectorType(1, 12, 12)]
    public float[] Image { get; set; } = [];
}

/// <summary>A row whose image column holds a path (a common mistake: the column before LoadRawImageBytes).</summary>
internal sealed class PathRow
{
    public string Label { get; set; } = "";
    public string Image { get; set; } = "";
}

/// <summary>A row with a numeric label (not a key).</summary>
internal sealed class FloatLabelRow
{
    public float Label { get; set; }

    [VectorType(1, 12, 12)]
    public byte[] Image { get; set; } = [];
}

/// <summary>A row with a variable-size float vector.</summary>
internal sealed class VariableFloatRow
{
    public string Label { get; set; } = "";
    public float[] Image { get; set; } = [];
}

/// <summary>A row with a key label (3 classes) that has no key values.</summary>
internal sealed class KeyRow
{
    [KeyType(3)]
    public uint Label { get; set; }

    [VectorType(1, 12, 12)]
    public byte[] Image { get; set; } = [];
}

/// <summary>A row of another trainer's data (two numeric features).</summary>
internal sealed class FeatureRow
{
    public string Label { get; set; } = "";

    [VectorType(2)]
    public float[] Features { get; set; } = [];
}

/// <summary>
/// Data, trained models and file surgery for the reliability cases. One instance per test class (its folder is deleted on
/// dispose); the models are trained on first use (SmallCnn, one epoch on 60 synthetic 12×12 images: about a second).
/// </summary>
internal sealed class ReliabilityFixture : IDisposable
{
    private readonly TestFolder _folder = new();
    private readonly Lazy<string> _pixelModel, _encodedModel, _otherTrainerModel, _noKeyValuesModel;

    public ReliabilityFixture()
    {
        _pixelModel = new(() => Save("pixel-model.zip", PixelData(Ml, 60), Fast()));
        _encodedModel = new(() => Save("encoded-model.zip", Keyed(Ml, EncodedRows(60)), FastEncoded()));
        _otherTrainerModel = new(SaveOtherTrainerModel);
        _noKeyValuesModel = new(() => Save("no-key-values-model.zip",
            Ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(60, 1).Select(r => new KeyRow { Label = (uint)("hvs".IndexOf(r.Label[0]) + 1), Image = r.Image })),
            Fast()));
    }

    /// <summary>A context for building data; cases that train make their own (MLContext is not thread-safe for training).</summary>
    public MLContext Ml { get; } = new(seed: 1);

    public string Folder => _folder.Path;

    public string File(string name) => _folder.File(name);

    /// <summary>model.zip of a SmallCnn trained on 1×12×12 byte pixel vectors (label key values "h", "v", "s").</summary>
    public string PixelModelPath => _pixelModel.Value;

    /// <summary>model.zip of a SmallCnn trained on PNG bytes, resized to 12×12.</summary>
    public string EncodedModelPath => _encodedModel.Value;

    /// <summary>model.zip of a SmallCnn trained on 1×12×12 byte vectors with a key label that has no key values.</summary>
    public string NoKeyValuesModelPath => _noKeyValuesModel.Value;

    /// <summary>model.zip of ML.NET's SdcaMaximumEntropy (MapValueToKey + trainer) on two numeric features.</summary>
    public string OtherTrainerModelPath => _otherTrainerModel.Value;

    public static Options Fast(int epochs = 1) => TrainerTestData.FastOptions(epochs);

    /// <summary>Options for encoded images, resized to 12×12 (the default 32×32 would only cost time).</summary>
    public static Options FastEncoded(int epochs = 1)
    {
        var o = Fast(epochs);
        o.ImageHeight = 12;
        o.ImageWidth = 12;
        return o;
    }

    /// <summary>Synthetic 1×12×12 byte-vector images with the label mapped to a key.</summary>
    public static IDataView PixelData(MLContext ml, int count, int seed = 1) => TrainerTestData.SyntheticKeyed(ml, count, seed);

    public static IDataView Keyed<T>(MLContext ml, IEnumerable<T> rows) where T : class
    {
        var data = ml.Data.LoadFromEnumerable(rows);
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
    }

    /// <summary>The synthetic images as gray PNGs.</summary>
    public static EncodedRow[] EncodedRows(int count, int seed = 1) => TrainerTestData.Synthetic(count, seed)
        .Select(r => new EncodedRow { Label = r.Label, Image = Png.Encode(12, 12, Png.Gray, (x, y, _) => r.Image[y * 12 + x]) })
        .ToArray();

    /// <summary>The synthetic images as floats in [0, 1].</summary>
    public static FloatRow[] FloatRows(int count, int seed = 1) => TrainerTestData.Synthetic(count, seed)
        .Select(r => new FloatRow { Label = r.Label, Image = r.Image.Select(b => b / 255f).ToArray() })
        .ToArray();

    /// <summary>Trains a fresh model (own context) and returns it.</summary>
    public static PilotImageClassificationTransformer Train(IDataView data, Options options, IDataView? validation = null) =>
        new MLContext(seed: 1).Pilot.ImageClassification(options).Fit(data, validation);

    private string Save(string name, IDataView data, Options options)
    {
        using var model = Train(data, options);
        string path = File(name);
        Ml.Model.Save(model, data.Schema, path);
        return path;
    }

    private string SaveOtherTrainerModel()
    {
        var rows = Enumerable.Range(0, 40).Select(i => new FeatureRow { Label = (i % 2).ToString(), Features = [i % 2 + 0.1f * (i % 5), 1 - i % 2] });
        var data = Ml.Data.LoadFromEnumerable(rows);
        var model = Ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(Ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(maximumNumberOfIterations: 5))
            .Fit(data);
        string path = File("sdca-model.zip");
        Ml.Model.Save(model, data.Schema, path);
        return path;
    }

    /// <summary>Scores every row; asserts each score vector is a finite probability distribution and the prediction a valid key.</summary>
    public static int ScoreAll(ITransformer model, IDataView data, int classCount)
    {
        var scored = model.Transform(data);
        using var cursor = scored.GetRowCursor(scored.Schema);
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var getPredicted = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
        VBuffer<float> score = default;
        uint predicted = 0;
        int rows = 0;
        while (cursor.MoveNext())
        {
            getScore(ref score);
            getPredicted(ref predicted);
            var values = score.DenseValues().ToArray();
            Assert.HasCount(classCount, values);
            Assert.IsTrue(values.All(v => float.IsFinite(v) && v >= 0), $"row {rows}: scores {string.Join(", ", values)}");
            Assert.AreEqual(1, values.Sum(), 1e-4, $"row {rows}: scores do not sum to 1");
            Assert.IsTrue(predicted >= 1 && predicted <= classCount, $"row {rows}: predicted key {predicted}");
            rows++;
        }
        return rows;
    }

    /// <summary>A copy of <paramref name="source"/> named <paramref name="name"/>.</summary>
    public string Copy(string source, string name)
    {
        string path = File(name);
        System.IO.File.Copy(source, path, overwrite: true);
        return path;
    }

    /// <summary>Rewrites the zip entry whose name ends with <paramref name="entrySuffix"/> (a valid zip with the new content).</summary>
    public static void RewriteEntry(string zipPath, string entrySuffix, Func<byte[], byte[]> change)
    {
        using var zip = ZipFile.Open(zipPath, ZipArchiveMode.Update);
        var entry = zip.Entries.Single(e => e.FullName.EndsWith(entrySuffix, StringComparison.Ordinal));
        byte[] bytes;
        using (var stream = entry.Open())
        using (var copy = new MemoryStream())
        {
            stream.CopyTo(copy);
            bytes = copy.ToArray();
        }
        string name = entry.FullName;
        entry.Delete();
        using var output = zip.CreateEntry(name).Open();
        output.Write(change(bytes));
    }

    /// <summary>The bytes of a zip entry.</summary>
    public static byte[] ReadEntry(string zipPath, string entrySuffix)
    {
        using var zip = ZipFile.OpenRead(zipPath);
        using var stream = zip.Entries.Single(e => e.FullName.EndsWith(entrySuffix, StringComparison.Ordinal)).Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Offset of ML.NET's model data in a Model.key stream (after its 256-byte header).</summary>
    public const int ModelDataOffset = 0x100;

    /// <summary>Offsets in ML.NET's model header of the version the model was written with and the oldest that reads it.</summary>
    public const int ModelVerWrittenOffset = 0x48, ModelVerReadableOffset = 0x4C;

    /// <summary>Offset of what the classifier reads (HeadInput, a byte) in our model data: after 4 string ids and the architecture.</summary>
    public const int HeadInputOffset = ModelDataOffset + 16 + 4;

    /// <summary>
    /// Offset of the class count in our model data, for a model trained on pixel vectors: 4 string ids, architecture,
    /// head input (byte), input shape (3 ints), pixel units (byte), pixel-vector flag (byte, 1) and its shape (3 ints).
    /// </summary>
    public const int ClassCountOffset = HeadInputOffset + 1 + 12 + 1 + 1 + 12;

    /// <summary>Writes a little-endian int into a Model.key stream.</summary>
    public static byte[] PatchInt(byte[] bytes, int offset, int value)
    {
        var copy = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(copy.AsSpan(offset), value);
        return copy;
    }

    public void Dispose() => _folder.Dispose();
}

using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Data;

namespace Pilot.MLNet.Tests.Data;

internal static class DataTestHelpers
{
    /// <summary>Set (to 1) by CI, which installs the full FashionMNIST (<c>eng/setup.sh --data</c>): its absence is then a failure, not a skip.</summary>
    public const string RequireDataVariable = "PILOT_REQUIRE_FULL_FASHION_MNIST";

    /// <summary>
    /// Skips the calling test (inconclusive) when the Debian package dataset-fashion-mnist is not installed, or fails it
    /// when <see cref="RequireDataVariable"/> is 1.
    /// </summary>
    public static void RequireFullFashionMnist()
    {
        if (File.Exists(System.IO.Path.Combine(PilotDatasets.DebianFashionMnistFolder, "train-images-idx3-ubyte.gz")))
            return;
        string message = $"The full FashionMNIST is not installed in {PilotDatasets.DebianFashionMnistFolder} (Debian package " +
            "dataset-fashion-mnist; bash eng/setup.sh --data installs it).";
        if (Environment.GetEnvironmentVariable(RequireDataVariable) == "1")
            Assert.Fail(message + $" {RequireDataVariable}=1 says it must be.");
        Assert.Inconclusive(message);
    }

    /// <summary>Writes an IDX file: big-endian magic, sizes, then <paramref name="payload"/>; gzip-compressed when asked.</summary>
    public static void WriteIdx(string path, uint magic, int[] sizes, byte[] payload, bool gzip = false)
    {
        using var file = System.IO.File.Create(path);
        using Stream output = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, magic);
        output.Write(word);
        foreach (int size in sizes)
        {
            BinaryPrimitives.WriteUInt32BigEndian(word, (uint)size);
            output.Write(word);
        }
        output.Write(payload);
    }

    /// <summary>N deterministic images of h×w and labels cycling through <paramref name="classes"/>.</summary>
    public static (byte[] Pixels, byte[] Labels) MakeImages(int n, int h, int w, int classes, int seed = 1)
    {
        var random = new Random(seed);
        var pixels = new byte[n * h * w];
        random.NextBytes(pixels);
        var labels = Enumerable.Range(0, n).Select(i => (byte)((i * 7 + 3) % classes)).ToArray();
        return (pixels, labels);
    }

    /// <summary>Writes an IDX image and label pair and returns their paths.</summary>
    public static (string Images, string Labels) WriteIdxPair(string folder, string prefix, byte[] pixels, byte[] labels, int h, int w, bool gzip = false)
    {
        string suffix = gzip ? ".gz" : "";
        string images = Path.Combine(folder, $"{prefix}-images-idx3-ubyte{suffix}");
        string labelPath = Path.Combine(folder, $"{prefix}-labels-idx1-ubyte{suffix}");
        WriteIdx(images, 0x803, [labels.Length, h, w], pixels, gzip);
        WriteIdx(labelPath, 0x801, [labels.Length], labels, gzip);
        return (images, labelPath);
    }

    /// <summary>The rows of a loaded set (all, or the first <paramref name="limit"/>), in cursor order.</summary>
    public static List<(string Label, byte[] Image)> ReadRows(IDataView data, int limit = int.MaxValue)
    {
        var rows = new List<(string, byte[])>();
        var label = data.Schema[PilotDatasets.LabelColumnName];
        var image = data.Schema[PilotDatasets.ImageColumnName];
        using var cursor = data.GetRowCursor([label, image]);
        var getLabel = cursor.GetGetter<ReadOnlyMemory<char>>(label);
        var getImage = cursor.GetGetter<VBuffer<byte>>(image);
        ReadOnlyMemory<char> l = default;
        VBuffer<byte> v = default;
        while (rows.Count < limit && cursor.MoveNext())
        {
            getLabel(ref l);
            getImage(ref v);
            Assert.IsTrue(v.IsDense);
            rows.Add((l.ToString(), v.GetValues().ToArray()));
        }
        return rows;
    }

    /// <summary>The text values of one column.</summary>
    public static List<string> ReadText(IDataView data, string column)
        => data.GetColumn<ReadOnlyMemory<char>>(column).Select(v => v.ToString()).ToList();
}

using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.ModelFile;
using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.MLNet.Images;

/// <summary>
/// A data set read once from an <see cref="IDataView"/> into compact CPU tensors: images N × C × H × W (bytes, or floats for
/// float pixel vectors) and labels N (class index 0 … K−1, int64). Rows with a missing label (key value 0) are skipped and
/// counted. Owns its tensors.
/// </summary>
internal sealed class InMemoryImageSet : IDisposable
{
    /// <summary>Most images per chunk while reading (the chunks are concatenated once at the end).</summary>
    private const int ChunkImages = 1024;

    /// <summary>Most values per chunk (64 Mi: 64 MB of bytes, 256 MB of floats), so large images get fewer per chunk.</summary>
    private const int MaxChunkValues = 1 << 26;

    private InMemoryImageSet(Tensor images, Tensor labels, ImageShape shape, int skippedMissingLabels, ChannelStatistics statistics)
    {
        Images = images;
        Labels = labels;
        Shape = shape;
        SkippedMissingLabels = skippedMissingLabels;
        Statistics = statistics;
    }

    /// <summary>N × C × H × W, <see cref="ScalarType.Byte"/> or <see cref="ScalarType.Float32"/>, on the CPU.</summary>
    public Tensor Images { get; }

    /// <summary>N class indices (int64), on the CPU.</summary>
    public Tensor Labels { get; }

    /// <summary>Number of images.</summary>
    public int Count => (int)Labels.shape[0];

    /// <summary>Shape of one image.</summary>
    public ImageShape Shape { get; }

    /// <summary>Rows skipped because their label was missing.</summary>
    public int SkippedMissingLabels { get; }

    /// <summary>Per-channel mean and standard deviation of the images' pixel values.</summary>
    public ChannelStatistics Statistics { get; }

    /// <summary>
    /// Reads every row of <paramref name="data"/>.
    /// </summary>
    /// <param name="data">The data.</param>
    /// <param name="labelColumn">Name of the label column (a key type with <paramref name="classCount"/> values).</param>
    /// <param name="imageColumn">Name of the image column.</param>
    /// <param name="spec">What the image column holds.</param>
    /// <param name="channels">Channels for encoded images and <see cref="MLImage"/>s, or <see langword="null"/> to choose: 1 when every image is gray, else 3.</param>
    /// <param name="height">Network input height.</param>
    /// <param name="width">Network input width.</param>
    /// <param name="classCount">Number of classes (the label key count).</param>
    /// <param name="what">"training" or "validation", for messages.</param>
    /// <exception cref="InvalidDataException">An image cannot be decoded, or no row has a label.</exception>
    public static InMemoryImageSet Read(IDataView data, string labelColumn, string imageColumn, ImageColumnSpec spec,
        int? channels, int height, int width, int classCount, string what)
    {
        var label = data.Schema[labelColumn];
        var image = data.Schema[imageColumn];
        var chunks = new List<Array>();
        var labels = new List<long>();
        bool allGray = true;
        int skipped = 0;
        int imageSize = 0, decidedChannels = 0, chunkImages = ChunkImages;
        bool decides = false;
        bool floats = spec.Domain == PixelDomain.Floats;
        using (var cursor = data.GetRowCursor([label, image]))
        using (var reader = new ImagePixelReader(cursor, image, spec, channels, height, width))
        {
            var getLabel = LabelReader.Create(cursor, label);
            imageSize = reader.ImageSize;
            chunkImages = Math.Clamp(MaxChunkValues / imageSize, 1, ChunkImages);
            decidedChannels = reader.Channels;
            decides = reader.DecidesChannels;
            Array? chunk = null;
            int inChunk = 0;
            long row = -1;
            while (cursor.MoveNext())
            {
                row++;
                uint key = getLabel();
                if (key == 0)
                {
                    skipped++;
                    continue;
                }
                if (key > classCount)
                    throw new InvalidDataException($"Row {row}: label key {key} in column '{labelColumn}' of the {what} data exceeds the key count {classCount}.");
                if (chunk is null || inChunk == chunkImages)
                {
                    chunk = floats ? new float[chunkImages * imageSize] : new byte[chunkImages * imageSize];
                    chunks.Add(chunk);
                    inChunk = 0;
                }
                if (floats)
                    reader.ReadFloats(row, ((float[])chunk).AsSpan(inChunk * imageSize, imageSize));
                else
                    reader.ReadBytes(row, ((byte[])chunk).AsSpan(inChunk * imageSize, imageSize));
                allGray &= reader.LastWasGray;
                inChunk++;
                labels.Add(key - 1);
            }
        }
        if (labels.Count == 0)
            throw new InvalidDataException(skipped == 0
                ? $"The {what} data has no rows."
                : $"Every one of the {skipped} rows of the {what} data has a missing label in column '{labelColumn}'.");

        int count = labels.Count;
        var full = new ImageShape(decidedChannels, height, width);
        var statistics = ChannelStatistics.Compute(chunks, count, full);
        Tensor images;
        using (var scope = NewDisposeScope())
        {
            var parts = new List<Tensor>();
            for (int c = 0; c < chunks.Count; c++)
            {
                long n = Math.Min(chunkImages, count - (long)c * chunkImages);
                var t = floats ? torch.tensor((float[])chunks[c], [chunkImages, full.Channels, height, width])
                               : torch.tensor((byte[])chunks[c], [chunkImages, full.Channels, height, width]);
                parts.Add(t.narrow(0, 0, n));
            }
            images = parts.Count == 1 ? parts[0].contiguous() : torch.cat(parts, 0);
            if (decides && allGray)
            {
                // Every image was gray: keep one plane (red = green = blue) and its statistics.
                images = images.narrow(1, 0, 1).contiguous();
                full = full with { Channels = 1 };
                statistics = statistics.FirstChannel();
            }
            images.MoveToOuterDisposeScope();
        }
        return new InMemoryImageSet(images, torch.tensor(labels.ToArray()), full, skipped, statistics);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>Per-channel mean and (population) standard deviation of pixel values, in the pixels' own units.</summary>
internal sealed record ChannelStatistics(float[] Mean, float[] Std)
{
    /// <summary>Smallest standard deviation used for normalising; a constant channel is divided by 1 instead.</summary>
    public const double MinStd = 1e-6;

    /// <summary>Computes the statistics of the first <paramref name="count"/> images stored in <paramref name="chunks"/>.</summary>
    public static ChannelStatistics Compute(IReadOnlyList<Array> chunks, int count, ImageShape shape)
    {
        int plane = shape.Height * shape.Width, imageSize = shape.Size;
        var sum = new double[shape.Channels];
        var sumSquares = new double[shape.Channels];
        int seen = 0;
        foreach (var chunk in chunks)
        {
            int inChunk = Math.Min(chunk.Length / imageSize, count - seen);
            for (int i = 0; i < inChunk; i++)
                for (int c = 0; c < shape.Channels; c++)
                {
                    int start = i * imageSize + c * plane;
                    if (chunk is byte[] bytes)
                    {
                        // Exact integer sums per plane, then doubles.
                        long s = 0, s2 = 0;
                        foreach (byte v in bytes.AsSpan(start, plane)) { s += v; s2 += v * v; }
                        sum[c] += s;
                        sumSquares[c] += s2;
                    }
                    else
                    {
                        double s = 0, s2 = 0;
                        foreach (float v in ((float[])chunk).AsSpan(start, plane)) { s += v; s2 += (double)v * v; }
                        sum[c] += s;
                        sumSquares[c] += s2;
                    }
                }
            seen += inChunk;
        }
        double n = (double)count * plane;
        var mean = new float[shape.Channels];
        var std = new float[shape.Channels];
        for (int c = 0; c < shape.Channels; c++)
        {
            double m = sum[c] / n;
            double variance = Math.Max(0, sumSquares[c] / n - m * m);
            double sd = Math.Sqrt(variance);
            if (!double.IsFinite(m) || !double.IsFinite(sd))
                throw new InvalidDataException($"The pixel values of channel {c} are not finite (NaN or infinity in the image column).");
            mean[c] = (float)m;
            std[c] = (float)(sd < MinStd ? 1 : sd);
        }
        return new ChannelStatistics(mean, std);
    }

    /// <summary>The statistics of channel 0 alone.</summary>
    public ChannelStatistics FirstChannel() => new([Mean[0]], [Std[0]]);
}

/// <summary>Reads a key-typed label column as <see cref="uint"/> whatever its raw type (0 = missing).</summary>
internal static class LabelReader
{
    public static Func<uint> Create(DataViewRow row, DataViewSchema.Column column)
    {
        switch (column.Type.RawType)
        {
            case var t when t == typeof(byte):
                { var g = row.GetGetter<byte>(column); byte v = 0; return () => { g(ref v); return v; }; }
            case var t when t == typeof(ushort):
                { var g = row.GetGetter<ushort>(column); ushort v = 0; return () => { g(ref v); return v; }; }
            case var t when t == typeof(uint):
                { var g = row.GetGetter<uint>(column); uint v = 0; return () => { g(ref v); return v; }; }
            case var t when t == typeof(ulong):
                { var g = row.GetGetter<ulong>(column); ulong v = 0; return () => { g(ref v); return v > uint.MaxValue ? uint.MaxValue : (uint)v; }; }
            default:
                throw new ArgumentOutOfRangeException(nameof(column), $"Label column '{column.Name}' has unsupported key type {column.Type}.");
        }
    }
}

using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Pilot.MLNet.Tests.Reliability;

/// <summary>
/// A minimal PNG writer (8-bit gray, RGB or RGBA, no interlacing, filter 0) for crafting test images byte by byte: real
/// images of any size, and damaged or hostile ones (a header claiming huge dimensions, a truncated stream).
/// </summary>
internal static class Png
{
    public const byte Gray = 0, Rgb = 2, Rgba = 6;

    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Channels per pixel of a PNG colour type.</summary>
    public static int Channels(byte colorType) => colorType switch { Gray => 1, Rgb => 3, Rgba => 4, _ => throw new ArgumentOutOfRangeException(nameof(colorType)) };

    /// <summary>Encodes a <paramref name="width"/>×<paramref name="height"/> image whose sample c of pixel (x, y) is <paramref name="sample"/>(x, y, c).</summary>
    public static byte[] Encode(int width, int height, byte colorType, Func<int, int, int, byte> sample)
    {
        int channels = Channels(colorType);
        var raw = new byte[height * (1 + width * channels)];
        int i = 0;
        for (int y = 0; y < height; y++)
        {
            raw[i++] = 0; // filter: none
            for (int x = 0; x < width; x++)
                for (int c = 0; c < channels; c++)
                    raw[i++] = sample(x, y, c);
        }
        return Build(width, height, colorType, Deflate(raw));
    }

    /// <summary>A seeded noise image.</summary>
    public static byte[] Noise(int width, int height, byte colorType, int seed)
    {
        var random = new Random(seed);
        return Encode(width, height, colorType, (_, _, c) => c == 3 ? (byte)255 : (byte)random.Next(256));
    }

    /// <summary>
    /// A valid PNG header claiming <paramref name="width"/>×<paramref name="height"/> gray pixels, followed by the first
    /// <paramref name="rows"/> rows of zeros and the end chunk: what a "decompression bomb" or a lying file looks like.
    /// </summary>
    public static byte[] Claiming(int width, int height, int rows = 1)
    {
        var raw = new byte[rows * (1 + width)];
        return Build(width, height, Gray, Deflate(raw));
    }

    /// <summary>zlib-compressed <paramref name="raw"/>.</summary>
    private static byte[] Deflate(byte[] raw)
    {
        using var output = new MemoryStream();
        using (var z = new ZLibStream(output, CompressionLevel.Optimal, leaveOpen: true))
            z.Write(raw);
        return output.ToArray();
    }

    private static byte[] Build(int width, int height, byte colorType, byte[] idat)
    {
        using var png = new MemoryStream();
        png.Write(Signature);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(0), width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;          // bit depth
        header[9] = colorType;  // compression, filter, interlace: 0
        WriteChunk(png, "IHDR", header);
        WriteChunk(png, "IDAT", idat);
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream output, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var typeAndData = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        output.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typeAndData));
        output.Write(word);
    }

    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>The CRC-32 of PNG chunks (ISO 3309, as zlib's).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in data)
            c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}

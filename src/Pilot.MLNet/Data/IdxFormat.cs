using System.Buffers.Binary;

namespace Pilot.MLNet.Data;

/// <summary>
/// Reader for the IDX format of MNIST and FashionMNIST (http://yann.lecun.com/exdb/mnist/): a big-endian header
/// — magic number <c>0x0000TTDD</c> (TT = element type, 0x08 unsigned byte; DD = number of dimensions), then one 32-bit
/// size per dimension — followed by the elements in row-major order. Images are 3-dimensional (N×H×W, magic
/// <see cref="ImagesMagic"/>), labels 1-dimensional (N, magic <see cref="LabelsMagic"/>).
/// </summary>
internal static class IdxFormat
{
    /// <summary>Magic number of an unsigned-byte 3-dimensional IDX file (images).</summary>
    internal const uint ImagesMagic = 0x00000803;

    /// <summary>Magic number of an unsigned-byte 1-dimensional IDX file (labels).</summary>
    internal const uint LabelsMagic = 0x00000801;

    /// <summary>IDX element type code of unsigned bytes.</summary>
    private const int UnsignedByteType = 0x08;

    /// <summary>Largest image side accepted, as <see cref="ImageShape.Validate"/>.</summary>
    private const int MaxSide = 4096;

    /// <summary>First allocation when the data length is not known up front (compressed files); doubled as data arrives.</summary>
    private const int InitialBufferBytes = 1 << 20;

    /// <summary>
    /// Reads an image file and its label file. Both headers are checked (magic numbers, dimensions, equal counts) and, for
    /// uncompressed files, the file lengths, before any data is read; a compressed file is read in growing blocks, so a
    /// header that promises more than the file holds never causes a large allocation.
    /// </summary>
    /// <returns>The pixels of all images one after another (each H×W), one label per image, and the image shape (1×H×W).</returns>
    /// <exception cref="InvalidDataException">Anything wrong with either file; the message names the file.</exception>
    internal static (byte[] Pixels, byte[] Labels, ImageShape Shape) Read(DataSource images, DataSource labels)
    {
        using var labelStream = labels.OpenDecompressed(out bool labelsCompressed, out long labelsStored);
        using var imageStream = images.OpenDecompressed(out bool imagesCompressed, out long imagesStored);

        Span<byte> labelHeader = stackalloc byte[8];
        ReadHeader(labels, labelStream, labelHeader, "label");
        CheckMagic(labels, BinaryPrimitives.ReadUInt32BigEndian(labelHeader), LabelsMagic, dimensions: 1, "label", other: (ImagesMagic, "image"));
        int labelCount = ReadCount(labels, labelHeader[4..], "label count");

        Span<byte> imageHeader = stackalloc byte[16];
        ReadHeader(images, imageStream, imageHeader, "image");
        CheckMagic(images, BinaryPrimitives.ReadUInt32BigEndian(imageHeader), ImagesMagic, dimensions: 3, "image", other: (LabelsMagic, "label"));
        int imageCount = ReadCount(images, imageHeader[4..], "image count");
        int height = ReadSide(images, imageHeader[8..], "height");
        int width = ReadSide(images, imageHeader[12..], "width");

        if (imageCount != labelCount)
            throw new InvalidDataException($"{images} holds {imageCount} images but {labels} holds {labelCount} labels; the two files must describe the same items.");

        long imageBytes = (long)imageCount * height * width;
        if (imageBytes > Array.MaxLength)
            throw new InvalidDataException($"{images}: {imageCount} images of {height}×{width} are {imageBytes} bytes, more than one array can hold ({Array.MaxLength}).");
        if (!labelsCompressed)
            CheckStoredLength(labels, labelsStored, labelHeader.Length + (long)labelCount, $"{labelCount} labels");
        if (!imagesCompressed)
            CheckStoredLength(images, imagesStored, imageHeader.Length + imageBytes, $"{imageCount} images of {height}×{width}");

        byte[] labelData = ReadPayload(labels, labelStream, labelCount, labelsCompressed, "labels", 1);
        byte[] pixels = ReadPayload(images, imageStream, imageBytes, imagesCompressed, "images", height * width);
        return (pixels, labelData, new ImageShape(1, height, width));
    }

    private static void ReadHeader(DataSource source, Stream stream, Span<byte> header, string kind)
    {
        int n = source.ReadBlock(stream, header);
        if (n < header.Length)
            throw new InvalidDataException($"{source}: the data is {n} bytes long, shorter than the {header.Length}-byte header of an IDX {kind} file.");
    }

    private static void CheckMagic(DataSource source, uint magic, uint expected, int dimensions, string kind, (uint Magic, string Kind) other)
    {
        if (magic == expected)
            return;
        string expectation = $"an IDX {kind} file starts with 0x{expected:X8} (unsigned bytes, {dimensions} dimension{(dimensions == 1 ? "" : "s")})";
        if (magic == other.Magic)
            throw new InvalidDataException($"{source} is an IDX {other.Kind} file (magic 0x{magic:X8}), but {expectation}: are the image and label paths swapped?");
        if ((magic & 0xFFFF0000) != 0)
            throw new InvalidDataException($"{source} is not an IDX file: it starts with 0x{magic:X8}, but {expectation}.");
        if (((magic >> 8) & 0xFF) != UnsignedByteType)
            throw new InvalidDataException($"{source} holds IDX element type 0x{(magic >> 8) & 0xFF:X2}; only unsigned bytes (0x{UnsignedByteType:X2}) are supported, and {expectation}.");
        throw new InvalidDataException($"{source} has {magic & 0xFF} dimensions (magic 0x{magic:X8}), but {expectation}.");
    }

    private static int ReadCount(DataSource source, ReadOnlySpan<byte> bytes, string what)
    {
        uint count = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        if (count is 0 or > int.MaxValue)
            throw new InvalidDataException($"{source}: the header's {what} is {count}; it must be in [1, {int.MaxValue}].");
        return (int)count;
    }

    private static int ReadSide(DataSource source, ReadOnlySpan<byte> bytes, string what)
    {
        uint side = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        if (side is 0 or > MaxSide)
            throw new InvalidDataException($"{source}: the header's image {what} is {side}; it must be in [1, {MaxSide}].");
        return (int)side;
    }

    private static void CheckStoredLength(DataSource source, long actual, long expected, string content)
    {
        if (actual < expected)
            throw new InvalidDataException($"{source} is truncated: it is {actual} bytes long, but its header announces {content}, which need {expected} bytes.");
        if (actual > expected)
            throw new InvalidDataException($"{source} is {actual} bytes long, but its header announces {content}, which need exactly {expected} bytes: the data is followed by {actual - expected} more byte{(actual - expected == 1 ? "" : "s")}.");
    }

    private static byte[] ReadPayload(DataSource source, Stream stream, long length, bool compressed, string items, int itemBytes)
    {
        // Uncompressed: the length was checked against the file. Compressed: grow with the data actually present.
        var buffer = new byte[compressed ? (int)Math.Min(length, InitialBufferBytes) : (int)length];
        int filled = 0;
        while (true)
        {
            filled += source.ReadBlock(stream, buffer.AsSpan(filled));
            if (filled < buffer.Length)
                throw new InvalidDataException($"{source} is truncated: its data ends after {filled} of {length} bytes ({filled / itemBytes} complete {items} of {length / itemBytes}).");
            if (filled == length)
                break;
            Array.Resize(ref buffer, (int)Math.Min(length, 2L * buffer.Length));
        }
        if (!source.AtEnd(stream))
            throw new InvalidDataException($"{source}: more data follows the {length / itemBytes} {items} that its header announces.");
        return buffer;
    }
}

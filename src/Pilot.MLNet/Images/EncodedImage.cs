using Microsoft.ML.Data;
using SkiaSharp;

namespace Pilot.MLNet.Images;

/// <summary>
/// Decodes encoded image bytes (PNG, JPEG, BMP, GIF, WEBP, ...) into an <see cref="MLImage"/> with the same pixels
/// <c>MLImage.CreateFromStream</c> gives, but checked first: empty input, bytes no decoder recognises, a header claiming more
/// than <see cref="MaxPixels"/> pixels (checked before any pixel memory is allocated) and a truncated stream (which
/// <c>MLImage.CreateFromStream</c> silently accepts, leaving the missing rows blank) each throw
/// <see cref="InvalidDataException"/> naming the row and the column.
/// </summary>
internal static class EncodedImage
{
    /// <summary>Largest image, in pixels, that is decoded: 8192 × 8192 = 67,108,864 (about 0.8 GB as float planes).</summary>
    public const long MaxPixels = 8192L * 8192;

    /// <summary>Decodes the image in row <paramref name="rowIndex"/> of column <paramref name="columnName"/>; the caller owns (disposes) it.</summary>
    /// <exception cref="InvalidDataException">The bytes are empty, not an image, too large or truncated; the message names the row and column.</exception>
    public static MLImage Decode(ReadOnlySpan<byte> bytes, long rowIndex, string columnName) =>
        Decode(bytes, $"Row {rowIndex}: the image in column '{columnName}'");

    /// <summary>Decodes <paramref name="bytes"/>; the caller owns (disposes) the image.</summary>
    /// <param name="bytes">The encoded image.</param>
    /// <param name="source">Where the bytes come from, the subject of every message: "Row 3: the image in column 'Image'", "'/data/cat.png'".</param>
    /// <exception cref="InvalidDataException">The bytes are empty, not an image, too large or truncated.</exception>
    public static MLImage Decode(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.IsEmpty)
            throw new InvalidDataException($"{source} is empty (0 bytes); expected an encoded image (PNG, JPEG, BMP, GIF, WEBP, ...).");
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data)
            ?? throw new InvalidDataException($"{source} ({bytes.Length} bytes) is not a decodable image (PNG, JPEG, BMP, GIF, WEBP, ...).");
        var info = codec.Info;
        string format = codec.EncodedFormat.ToString().ToUpperInvariant();
        if (info.Width < 1 || info.Height < 1 || (long)info.Width * info.Height > MaxPixels)
            throw new InvalidDataException(
                $"{source} is a {info.Width}×{info.Height} {format} image; the largest image this trainer decodes has {MaxPixels} pixels " +
                "(8192×8192). Shrink the image first.");

        // The pixel layout SKBitmap.Decode (and so MLImage.CreateFromStream) produces: premultiplied alpha, no colour space.
        if (info.AlphaType == SKAlphaType.Unpremul)
            info.AlphaType = SKAlphaType.Premul;
        info.ColorSpace = null;
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result == SKCodecResult.IncompleteInput)
            throw new InvalidDataException($"{source} is a truncated {format} image ({info.Width}×{info.Height}): the data ends before the last pixel.");
        if (result != SKCodecResult.Success)
            throw new InvalidDataException($"{source} is a damaged {format} image ({info.Width}×{info.Height}): {result}.");

        // MLImage keeps 32-bit RGBA or BGRA; other decoded layouts (e.g. 8-bit gray) are converted to BGRA, as MLImage does.
        if (bitmap.ColorType is SKColorType.Rgba8888 or SKColorType.Bgra8888)
            return FromBitmap(bitmap);
        using var converted = bitmap.Copy(SKColorType.Bgra8888)
            ?? throw new InvalidDataException($"{source} is a {format} image with an unsupported pixel layout ({bitmap.ColorType}).");
        return FromBitmap(converted);
    }

    private static MLImage FromBitmap(SKBitmap bitmap)
    {
        var format = bitmap.ColorType == SKColorType.Rgba8888 ? MLPixelFormat.Rgba32 : MLPixelFormat.Bgra32;
        int size = checked(bitmap.Width * bitmap.Height * 4);
        return MLImage.CreateFromPixels(bitmap.Width, bitmap.Height, format, bitmap.GetPixelSpan()[..size]);
    }
}

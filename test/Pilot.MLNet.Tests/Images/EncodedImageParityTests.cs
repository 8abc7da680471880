using Microsoft.ML.Data;
using Pilot.MLNet.Images;
using Pilot.MLNet.Tests.Reliability;
using SkiaSharp;

namespace Pilot.MLNet.Tests.Internal;

/// <summary>
/// The trainer's checked decoder (<see cref="EncodedImage"/>) gives the pixels of ML.NET's own <c>MLImage.CreateFromStream</c>
/// for the formats users feed it: the promise that kept image decoding unchanged across the ML.NET 6.0 (SkiaSharp 3) upgrade.
/// </summary>
[TestClass]
public sealed class EncodedImageParityTests
{
    public static IEnumerable<object[]> Images()
    {
        yield return ["PNG gray", Png.Noise(13, 7, Png.Gray, 1)];
        yield return ["PNG RGB", Png.Noise(13, 7, Png.Rgb, 2)];
        yield return ["PNG RGBA, half transparent", Png.Encode(9, 5, Png.Rgba, (x, y, c) => c == 3 ? (byte)(x * 28) : (byte)(x * 20 + y * 30 + c * 7))];
        yield return ["JPEG", Reencode(Png.Noise(16, 16, Png.Rgb, 3), SKEncodedImageFormat.Jpeg)];
        yield return ["WEBP", Reencode(Png.Noise(16, 16, Png.Rgb, 4), SKEncodedImageFormat.Webp)];
    }

    [TestMethod]
    [DynamicData(nameof(Images))]
    public void SamePixelsAsMLImage(string name, byte[] bytes)
    {
        using var expected = MLImage.CreateFromStream(new MemoryStream(bytes));
        using var actual = EncodedImage.Decode(bytes, name);
        Assert.AreEqual((expected.Width, expected.Height, expected.PixelFormat), (actual.Width, actual.Height, actual.PixelFormat), name);
        CollectionAssert.AreEqual(expected.Pixels.ToArray(), actual.Pixels.ToArray(), name);
    }

    private static byte[] Reencode(byte[] png, SKEncodedImageFormat format)
    {
        using var bitmap = SKBitmap.Decode(png);
        using var data = bitmap.Encode(format, 90);
        return data.ToArray();
    }
}

using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Images;

namespace Pilot.MLNet.Tests.Reliability;

/// <summary>
/// Seeded fuzzing of the image decode path: random byte strings (some behind a real format signature, so the decoders get
/// past format sniffing) and mutated real images (bit flips, truncation, inserted and deleted bytes, damaged chunk lengths).
/// Every input must either decode to a sane image or throw <see cref="InvalidDataException"/> naming the row and column —
/// no other exception, no crash, no hang. Iteration counts are fixed (deterministic) and sized for a few seconds each.
/// </summary>
[TestClass]
public sealed class ImageFuzzTests
{
    private const string Column = "Image";

    /// <summary>Iterations of each run (fixed, so every run sees the same inputs).</summary>
    internal const int RandomIterations = 20_000, MutatedIterations = 20_000, ScoringIterations = 3_000;

    /// <summary>
    /// A run fails as a hang when no input finishes within this time (one input takes milliseconds). No limit on the whole
    /// run: on a busy machine 20,000 decodes took more than 90 s without any input hanging.
    /// </summary>
    private static readonly TimeSpan StallLimit = TimeSpan.FromSeconds(60);

    /// <summary>Signatures of the formats Skia decodes: PNG, JPEG, GIF, BMP, WEBP (RIFF....WEBP), ICO, WBMP.</summary>
    private static readonly byte[][] Signatures =
    [
        [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A],
        [0xFF, 0xD8, 0xFF, 0xE0],
        "GIF89a"u8.ToArray(),
        "BM"u8.ToArray(),
        [.. "RIFF"u8, 0x40, 0, 0, 0, .. "WEBPVP8 "u8],
        [0, 0, 1, 0, 1, 0],
        [0, 0],
    ];

    /// <summary>What a fuzz run saw.</summary>
    private sealed class Tally
    {
        public int Decoded, Rejected;
        public readonly List<string> Failures = [];
        public int Total => Decoded + Rejected + Failures.Count;

        public override string ToString() => $"{Total} inputs: {Decoded} decoded, {Rejected} rejected with InvalidDataException, {Failures.Count} failures";
    }

    /// <summary>Decodes one input the way the trainer and the scorer do, and classifies the outcome.</summary>
    private static void DecodeOne(byte[] bytes, long row, Tally tally)
    {
        try
        {
            using var image = EncodedImage.Decode(bytes, row, Column);
            if (image.Width < 1 || image.Height < 1 || (long)image.Width * image.Height > EncodedImage.MaxPixels)
                tally.Failures.Add($"row {row}: decoded to an impossible {image.Width}×{image.Height} image");
            else
            {
                // The rest of the decode path: planes (gray and colour) from the decoded pixels.
                var planes = new float[3 * image.Width * image.Height];
                ImagePixelReader.ToPlanes(image, 3, planes);
                ImagePixelReader.ToPlanes(image, 1, planes);
                tally.Decoded++;
            }
        }
        catch (InvalidDataException e) when (e.Message.Contains($"Row {row}:") && e.Message.Contains($"'{Column}'"))
        {
            tally.Rejected++;
        }
        catch (Exception e)
        {
            tally.Failures.Add($"row {row} ({bytes.Length} bytes, starting {Convert.ToHexString(bytes.AsSpan(0, Math.Min(16, bytes.Length)))}): {e.GetType().Name}: {e.Message}");
        }
    }

    private static Tally Run(int iterations, Func<Random, int, byte[]> input, int seed)
    {
        var tally = new Tally();
        var clock = Stopwatch.StartNew();
        var run = Task.Run(() =>
        {
            var random = new Random(seed);
            for (int i = 0; i < iterations; i++)
                DecodeOne(input(random, i), i, tally);
        });
        int finished = -1;
        while (!run.Wait(StallLimit))
        {
            int now = tally.Total; // read after Wait, a full fence
            Assert.AreNotEqual(finished, now, $"no input finished within {StallLimit.TotalSeconds} s (a hang?); {tally}");
            finished = now;
        }
        Console.WriteLine($"{tally} in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.IsEmpty(tally.Failures, string.Join(Environment.NewLine, tally.Failures.Take(10)));
        Assert.AreEqual(iterations, tally.Total);
        return tally;
    }

    [TestMethod]
    public void RandomBytesAreRejectedWithAClearMessage()
    {
        var tally = Run(RandomIterations, (random, i) =>
        {
            var bytes = new byte[random.Next(0, 2048)];
            random.NextBytes(bytes);
            // Two inputs in three start with a real signature, so that each decoder parses the random rest.
            if (i % 3 != 0)
            {
                var signature = Signatures[random.Next(Signatures.Length)];
                if (bytes.Length >= signature.Length)
                    signature.CopyTo(bytes, 0);
            }
            return bytes;
        }, seed: 20260523);
        Assert.IsGreaterThan(RandomIterations * 9 / 10, tally.Rejected, "random bytes should almost never be an image");
    }

    [TestMethod]
    public void MutatedRealImagesDecodeOrAreRejectedWithAClearMessage()
    {
        byte[][] originals =
        [
            Png.Noise(12, 12, Png.Gray, 1), Png.Noise(17, 9, Png.Rgb, 2), Png.Noise(8, 20, Png.Rgba, 3),
            Png.Encode(32, 32, Png.Rgb, (x, y, c) => (byte)(x * 8 + y * c)), .. ReliabilityCases.MixedImages().Select(r => r.Image).Distinct(),
        ];
        var tally = Run(MutatedIterations, (random, i) => Mutate(originals[i % originals.Length], random), seed: 4711);
        Assert.IsGreaterThan(0, tally.Decoded, "some mutations (in pixel data) still decode");
        Assert.IsGreaterThan(0, tally.Rejected, "some mutations (in headers, or truncations) are rejected");
    }

    /// <summary>One random damage: flipped bits, a truncation, inserted or deleted bytes, or a chunk length set to a huge value.</summary>
    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = original.ToList();
        switch (random.Next(5))
        {
            case 0:
                for (int k = random.Next(1, 9); k > 0; k--)
                {
                    int at = random.Next(bytes.Count);
                    bytes[at] ^= (byte)(1 << random.Next(8));
                }
                break;
            case 1:
                return original[..random.Next(original.Length)];
            case 2:
                var inserted = new byte[random.Next(1, 64)];
                random.NextBytes(inserted);
                bytes.InsertRange(random.Next(bytes.Count + 1), inserted);
                break;
            case 3:
                int start = random.Next(bytes.Count);
                bytes.RemoveRange(start, Math.Min(bytes.Count - start, random.Next(1, 64)));
                break;
            default:
                // A 4-byte field (a chunk length, a dimension) set to a large value.
                int field = random.Next(Math.Max(1, bytes.Count - 4));
                byte[] huge = [0x7F, (byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)];
                for (int k = 0; k < 4 && field + k < bytes.Count; k++)
                    bytes[field + k] = huge[k];
                break;
        }
        return bytes.ToArray();
    }

    /// <summary>Input and output of the prediction engine.</summary>
    private sealed class Input
    {
        public byte[] Image { get; set; } = [];
    }

    private sealed class Output
    {
        public float[] Score { get; set; } = [];
        public uint PredictedLabel { get; set; }
    }

    [TestMethod]
    public void FuzzedImagesThroughThePublicScoringApi()
    {
        using var fixture = new ReliabilityFixture();
        var ml = new MLContext(seed: 1);
        using var model = (PilotImageClassificationTransformer)ml.Model.Load(fixture.EncodedModelPath, out _);
        using var engine = ml.Model.CreatePredictionEngine<Input, Output>(model);
        var originals = ReliabilityCases.MixedImages().Select(r => r.Image).Distinct().ToArray();
        var random = new Random(99);
        int scored = 0, rejected = 0;
        const int iterations = ScoringIterations;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            byte[] bytes = i % 2 == 0 ? Mutate(originals[i % originals.Length], random) : RandomBytes(random);
            try
            {
                var output = engine.Predict(new Input { Image = bytes });
                Assert.HasCount(3, output.Score);
                Assert.IsTrue(output.Score.All(float.IsFinite), $"input {i}: non-finite scores");
                Assert.AreEqual(1, output.Score.Sum(), 1e-4);
                Assert.IsTrue(output.PredictedLabel is >= 1 and <= 3);
                scored++;
            }
            catch (InvalidDataException e)
            {
                StringAssert.Contains(e.Message, "'Image'");
                rejected++;
            }
        }
        Console.WriteLine($"{iterations} inputs through PredictionEngine: {scored} scored, {rejected} rejected with InvalidDataException, in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.AreEqual(iterations, scored + rejected);
        Assert.IsGreaterThan(0, scored);
        Assert.IsGreaterThan(0, rejected);
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 512)];
        random.NextBytes(bytes);
        var signature = Signatures[random.Next(Signatures.Length)];
        if (bytes.Length >= signature.Length)
            signature.CopyTo(bytes, 0);
        return bytes;
    }
}

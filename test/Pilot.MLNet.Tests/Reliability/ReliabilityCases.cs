using System.IO.Compression;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Images;
using Pilot.MLNet.ModelFile;
using Pilot.TorchSharp;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;
using F = Pilot.MLNet.Tests.Reliability.ReliabilityFixture;

namespace Pilot.MLNet.Tests.Reliability;

/// <summary>
/// The reliability table: every bad input the public API can get, one row each, with the exception and message it must
/// produce (or, for awkward but valid input, that it works). docs/reliability.md lists the same rows.
/// </summary>
internal static class ReliabilityCases
{
    /// <summary>Every case, built against <paramref name="f"/>.</summary>
    public static IReadOnlyList<ReliabilityCase> All(F f) =>
    [
        .. LabelCases(f), .. ImageColumnCases(f), .. ImageBytesCases(f), .. FloatPixelCases(f), .. DataSetCases(f),
        .. ScoringCases(f), .. ModelFileCases(f), .. OptionCases(), .. OptimizerCases(), .. PretrainedCases(f),
    ];

    private static ReliabilityCase Throws<T>(string name, string input, Action act, string? paramName, params string[] fragments)
        where T : Exception => ReliabilityCase.Throws<T>(name, input, act, paramName, fragments);

    private static void Fit(IDataView data, Options? options = null, IDataView? validation = null) =>
        F.Train(data, options ?? F.Fast(), validation).Dispose();

    /// <summary>The synthetic rows as encoded PNGs, with row <paramref name="row"/> replaced by <paramref name="bytes"/>.</summary>
    private static IDataView EncodedWith(MLContext ml, int row, byte[] bytes)
    {
        var rows = F.EncodedRows(12);
        rows[row].Image = bytes;
        return F.Keyed(ml, rows);
    }

    private static IEnumerable<ReliabilityCase> LabelCases(F f)
    {
        var ml = f.Ml;
        yield return Throws<ArgumentOutOfRangeException>("label-not-a-key", "string label column, no MapValueToKey",
            () => Fit(ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(30, 1))), nameof(Options.LabelColumnName),
            "'Label'", "key type", "MapValueToKey(\"Label\")");
        yield return Throws<ArgumentOutOfRangeException>("label-numeric", "float label column",
            () => Fit(ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(30, 1).Select(r => new FloatLabelRow { Label = r.Label[0], Image = r.Image }))),
            nameof(Options.LabelColumnName), "'Label'", "Single", "MapValueToKey");
        yield return Throws<ArgumentOutOfRangeException>("label-missing", "LabelColumnName = \"Class\", no such column",
            () => Fit(F.PixelData(ml, 30), new Options { LabelColumnName = "Class" }), nameof(Options.LabelColumnName),
            "'Class'", "not found", "Options.LabelColumnName");
        yield return Throws<ArgumentOutOfRangeException>("label-one-class", "every row has the same label",
            () => Fit(F.Keyed(ml, TrainerTestData.Synthetic(30, 1).Where(r => r.Label == "h"))), nameof(Options.LabelColumnName),
            "'Label'", "1 class", "2 or greater");
        yield return ReliabilityCase.Working("label-key-without-key-values", "a key label ([KeyType(3)] uint) with no key values",
            "trains; classes are named \"0\", \"1\", \"2\"",
            () =>
            {
                var data = ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(30, 1).Select(r => new KeyRow { Label = (uint)("hvs".IndexOf(r.Label[0]) + 1), Image = r.Image }));
                using var model = F.Train(data, F.Fast());
                CollectionAssert.AreEqual(new[] { "0", "1", "2" }, model.ClassNames.ToArray());
                Assert.AreEqual(30, F.ScoreAll(model, data, 3));
            });
        yield return Throws<InvalidDataException>("label-all-missing", "a key column whose every value is missing (0)",
            () =>
            {
                var mapper = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(30, 1)));
                var unseen = TrainerTestData.Synthetic(9, 2).Select(r => new SyntheticRow { Label = "z", Image = r.Image });
                Fit(mapper.Transform(ml.Data.LoadFromEnumerable(unseen)));
            }, null, "9 rows", "missing label", "'Label'");
    }

    private static IEnumerable<ReliabilityCase> ImageColumnCases(F f)
    {
        var ml = f.Ml;
        yield return Throws<ArgumentOutOfRangeException>("image-column-missing", "ImageColumnName = \"Pixels\", no such column",
            () => Fit(F.PixelData(ml, 30), new Options { ImageColumnName = "Pixels" }), nameof(Options.ImageColumnName),
            "'Pixels'", "not found", "Options.ImageColumnName");
        yield return Throws<ArgumentOutOfRangeException>("image-column-is-a-path", "image column holds file paths (String)",
            () => Fit(F.Keyed(ml, TrainerTestData.Synthetic(9, 1).Select(r => new PathRow { Label = r.Label, Image = "images/a.png" }))),
            nameof(Options.ImageColumnName), "'Image'", "String", "LoadRawImageBytes");
        yield return Throws<ArgumentOutOfRangeException>("image-column-variable-floats", "variable-size Single vector",
            () => Fit(F.Keyed(ml, F.FloatRows(9).Select(r => new VariableFloatRow { Label = r.Label, Image = r.Image }))),
            nameof(Options.ImageColumnName), "'Image'", "variable-size vector of Single", "known size");
        yield return Throws<ArgumentOutOfRangeException>("pixel-vector-wrong-size", "1×12×12 vectors with ImageShape 1×10×10",
            () => { var o = F.Fast(); o.ImageShape = new ImageShape(1, 10, 10); Fit(F.PixelData(ml, 30), o); },
            nameof(Options.ImageColumnName), "'Image'", "size 144", "= 100");
        yield return Throws<ArgumentException>("pixel-vector-no-shape", "flat 432-value vectors, no ImageShape",
            () => Fit(F.Keyed(ml, F.FloatRows(9).Select(r => new FlatFloatRow { Label = r.Label, Image = [.. r.Image, .. r.Image, .. r.Image] }))),
            nameof(Options.ImageShape), "'Image'", "432", "Options.ImageShape");
    }

    private static IEnumerable<ReliabilityCase> ImageBytesCases(F f)
    {
        var ml = f.Ml;
        var png = Png.Noise(12, 12, Png.Rgb, seed: 3);
        yield return Throws<InvalidDataException>("image-bytes-empty", "0 bytes in row 2",
            () => Fit(EncodedWith(ml, 2, []), F.FastEncoded()), null, "Row 2", "'Image'", "empty (0 bytes)");
        yield return Throws<InvalidDataException>("image-bytes-truncated", "a PNG cut to 60 % of its bytes",
            () => Fit(EncodedWith(ml, 2, png[..(png.Length * 6 / 10)]), F.FastEncoded()), null, "Row 2", "'Image'", "truncated");
        yield return Throws<InvalidDataException>("image-bytes-not-an-image", "text bytes",
            () => Fit(EncodedWith(ml, 2, "this is not an image"u8.ToArray()), F.FastEncoded()), null, "Row 2", "'Image'", "not a decodable image");
        yield return Throws<InvalidDataException>("image-bytes-png-signature-only", "the 8-byte PNG signature and nothing else",
            () => Fit(EncodedWith(ml, 2, png[..8]), F.FastEncoded()), null, "Row 2", "'Image'", "not a decodable image");
        yield return Throws<InvalidDataException>("image-bytes-huge-dimensions", "a 70-byte PNG whose header claims 100000×100000",
            () => Fit(EncodedWith(ml, 2, Png.Claiming(100_000, 100_000)), F.FastEncoded()), null, "Row 2", "100000×100000", "8192×8192");
        yield return Throws<InvalidDataException>("image-bytes-decompression-bomb", "a small PNG claiming 20000×20000 (400 megapixels)",
            () => Fit(EncodedWith(ml, 2, Png.Claiming(20_000, 20_000, rows: 16)), F.FastEncoded()), null, "Row 2", "20000×20000", "Shrink");
        yield return Throws<InvalidDataException>("mlimage-too-large", "an MLImage column (LoadImages) holding an 8200×8200 PNG",
            () =>
            {
                string folder = f.File("large-images");
                Directory.CreateDirectory(folder);
                File.WriteAllBytes(Path.Combine(folder, "large.png"), Png.Encode(8200, 8200, Png.Gray, (_, _, _) => 0));
                var rows = F.EncodedRows(6).Select((r, i) => new PathRow { Label = r.Label, Image = i == 3 ? "large.png" : $"small{i}.png" }).ToArray();
                foreach (var (r, i) in F.EncodedRows(6).Select((r, i) => (r, i)))
                    File.WriteAllBytes(Path.Combine(folder, $"small{i}.png"), r.Image);
                var data = F.Keyed(ml, rows);
                data = ml.Transforms.LoadImages("Picture", folder, "Image").Fit(data).Transform(data);
                var o = F.FastEncoded();
                o.ImageColumnName = "Picture";
                Fit(data, o);
            }, null, "Row 3", "'Picture'", "8200×8200", "8192×8192");
        yield return ReliabilityCase.Working("images-mixed-sizes-and-channels",
            "PNG gray 10×14, RGB 20×8, RGBA 12×12 with transparency, JPEG 16×16, in one column",
            "trains (colour network) and scores every row",
            () =>
            {
                var rows = MixedImages();
                var data = F.Keyed(ml, rows);
                using var model = F.Train(data, F.FastEncoded());
                Assert.AreEqual(3, model.InputShape.Channels, "mixed gray and colour images give a colour network");
                Assert.AreEqual(rows.Length, F.ScoreAll(model, data, 3));
            });
        yield return ReliabilityCase.Working("images-all-gray-different-sizes", "gray PNGs of 8×8 … 40×24",
            "trains a 1-channel network, resizing each image",
            () =>
            {
                var rows = Enumerable.Range(0, 12).Select(i => new EncodedRow
                {
                    Label = "abc"[i % 3].ToString(),
                    Image = Png.Noise(8 + 4 * (i % 9), 8 + 2 * (i % 9), Png.Gray, seed: i),
                }).ToArray();
                var data = F.Keyed(ml, rows);
                using var model = F.Train(data, F.FastEncoded());
                Assert.AreEqual(1, model.InputShape.Channels);
                Assert.AreEqual(rows.Length, F.ScoreAll(model, data, 3));
            });
    }

    /// <summary>Images of several formats, sizes and channel counts; labels a, b, c.</summary>
    internal static EncodedRow[] MixedImages()
    {
        byte[] jpeg;
        var rgba = new byte[16 * 16 * 4];
        new Random(5).NextBytes(rgba);
        using (var image = MLImage.CreateFromPixels(16, 16, MLPixelFormat.Rgba32, rgba))
        {
            string path = Path.Combine(Path.GetTempPath(), $"pilot-reliability-{Guid.NewGuid():N}.jpg");
            try
            {
                image.Save(path);
                jpeg = File.ReadAllBytes(path);
            }
            finally
            {
                File.Delete(path);
            }
        }
        byte[][] images =
        [
            Png.Noise(10, 14, Png.Gray, 1), Png.Noise(20, 8, Png.Rgb, 2), Png.Noise(12, 12, Png.Rgba, 3), jpeg,
            Png.Encode(12, 12, Png.Rgba, (x, y, c) => c == 3 ? (byte)(x * 20) : (byte)(y * 20)), Png.Noise(33, 5, Png.Rgb, 6),
        ];
        return Enumerable.Range(0, 12).Select(i => new EncodedRow { Label = "abc"[i % 3].ToString(), Image = images[i % images.Length] }).ToArray();
    }

    private static FloatRow[] FloatRowsWith(int row, int index, float value)
    {
        var rows = F.FloatRows(12);
        rows[row].Image[index] = value;
        return rows;
    }

    private static IEnumerable<ReliabilityCase> FloatPixelCases(F f)
    {
        var ml = f.Ml;
        yield return Throws<InvalidDataException>("float-pixels-nan", "a NaN pixel in row 1 of a float vector column",
            () => Fit(F.Keyed(ml, FloatRowsWith(1, 17, float.NaN))), null, "Row 1", "'Image'", "NaN", "position 17", "finite");
        yield return Throws<InvalidDataException>("float-pixels-infinity", "+∞ in row 3",
            () => Fit(F.Keyed(ml, FloatRowsWith(3, 0, float.PositiveInfinity))), null, "Row 3", "'Image'", "position 0", "finite");
        yield return Throws<InvalidDataException>("float-pixels-nan-in-validation", "a NaN pixel in row 4 of the validation set",
            () => Fit(F.Keyed(ml, F.FloatRows(12)), validation: F.Keyed(ml, FloatRowsWith(4, 5, float.NaN))), null, "Row 4", "'Image'", "NaN");
        yield return Throws<InvalidDataException>("float-pixels-nan-at-scoring", "a NaN pixel in row 2 of the data scored",
            () =>
            {
                using var model = F.Train(F.Keyed(ml, F.FloatRows(30)), F.Fast());
                F.ScoreAll(model, F.Keyed(ml, FloatRowsWith(2, 9, float.NaN)), 3);
            }, null, "Row 2", "'Image'", "NaN");
        yield return ReliabilityCase.Working("float-pixels-large-finite", "float pixels of ±1e30 (finite)",
            "trains; normalisation brings them to a usable range",
            () =>
            {
                var rows = F.FloatRows(30);
                foreach (var r in rows)
                    for (int i = 0; i < r.Image.Length; i++)
                        r.Image[i] = (r.Image[i] - 0.5f) * 2e30f;
                var data = F.Keyed(ml, rows);
                using var model = F.Train(data, F.Fast());
                Assert.AreEqual(rows.Length, F.ScoreAll(model, data, 3));
            });
    }

    private static IEnumerable<ReliabilityCase> DataSetCases(F f)
    {
        var ml = f.Ml;
        yield return Throws<InvalidDataException>("training-set-empty", "a keyed data view with no rows",
            () =>
            {
                var mapper = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(30, 1)));
                Fit(mapper.Transform(ml.Data.LoadFromEnumerable(Array.Empty<SyntheticRow>())));
            }, null, "training data has no rows");
        yield return Throws<InvalidDataException>("training-set-empty-key-from-no-rows", "no rows, MapValueToKey(\"Label\") fitted on them (a key of 1 class)",
            () =>
            {
                var empty = ml.Data.LoadFromEnumerable(Array.Empty<SyntheticRow>());
                Fit(ml.Transforms.Conversion.MapValueToKey("Label").Fit(empty).Transform(empty));
            }, null, "training data has no rows", "'Label' has 1 class");
        yield return Throws<ArgumentOutOfRangeException>("validation-missing-image-column", "validation set without the image column",
            () =>
            {
                var validation = ml.Transforms.DropColumns("Image").Fit(F.PixelData(ml, 9, 2)).Transform(F.PixelData(ml, 9, 2));
                Fit(F.PixelData(ml, 30), validation: validation);
            }, nameof(Options.ImageColumnName), "'Image'", "validation data");
        yield return Throws<ArgumentOutOfRangeException>("validation-different-image-type", "training: PNG bytes; validation: 1×12×12 byte vectors",
            () => Fit(F.Keyed(ml, F.EncodedRows(12)), F.FastEncoded(), F.PixelData(ml, 9, 2)), nameof(Options.ValidationSet),
            "'Image'", "validation data", "training data");
        yield return Throws<ArgumentOutOfRangeException>("validation-different-classes", "validation label mapped separately (2 classes, training 3)",
            () => Fit(F.PixelData(ml, 30), validation: F.Keyed(ml, TrainerTestData.Synthetic(9, 2).Where(r => r.Label != "s"))),
            nameof(Options.ValidationSet), "'Label'", "2 classes in the validation data", "3 in the training data", "same MapValueToKey");
        yield return Throws<ArgumentOutOfRangeException>("validation-label-not-a-key", "validation label is a string",
            () => Fit(F.PixelData(ml, 30), validation: ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(9, 2))),
            nameof(Options.LabelColumnName), "'Label'", "validation data", "MapValueToKey");
    }

    private static IEnumerable<ReliabilityCase> ScoringCases(F f)
    {
        var ml = f.Ml;
        yield return ReliabilityCase.Working("scoring-unseen-label", "scoring rows whose label (\"z\") was never seen in training",
            "scores every row (the label is not read; MapValueToKey maps \"z\" to missing)",
            () =>
            {
                var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(new MLContext(seed: 1).Pilot.ImageClassification(F.Fast()));
                var model = pipeline.Fit(ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(30, 1)));
                var unseen = TrainerTestData.Synthetic(6, 2).Select(r => new SyntheticRow { Label = "z", Image = r.Image });
                Assert.AreEqual(6, F.ScoreAll(model, ml.Data.LoadFromEnumerable(unseen), 3));
                var metrics = ml.MulticlassClassification.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(6, 2).Concat(unseen))));
                Assert.IsTrue(metrics.MicroAccuracy is >= 0 and <= 1);
            });
        yield return ReliabilityCase.Working("scoring-without-label-column", "scoring data with only the image column",
            "scores every row",
            () =>
            {
                var model = (PilotImageClassificationTransformer)ml.Model.Load(f.PixelModelPath, out _);
                using var disposeModel = model;
                var imagesOnly = ml.Transforms.DropColumns("Label").Fit(F.PixelData(ml, 6, 2)).Transform(F.PixelData(ml, 6, 2));
                Assert.AreEqual(6, F.ScoreAll(model, imagesOnly, 3));
            });
        yield return Throws<ArgumentOutOfRangeException>("scoring-wrong-vector-size", "a 1×12×12 byte-vector model scoring 1×10×10 byte vectors",
            () =>
            {
                using var model = (PilotImageClassificationTransformer)ml.Model.Load(f.PixelModelPath, out _);
                model.Transform(F.Keyed(ml, Enumerable.Range(0, 3).Select(i => new SmallByteRow { Label = "hvs"[i].ToString(), Image = new byte[100] })));
            }, nameof(Options.ImageColumnName), "'Image'", "size 100", "= 144");
        yield return Throws<ArgumentOutOfRangeException>("scoring-floats-into-byte-model", "a model trained on byte pixels scoring float pixels",
            () =>
            {
                using var model = (PilotImageClassificationTransformer)ml.Model.Load(f.PixelModelPath, out _);
                model.Transform(F.Keyed(ml, F.FloatRows(3)));
            }, "inputSchema", "'Image'", "float pixel vectors", "byte pixels");
        yield return Throws<InvalidDataException>("scoring-undecodable-image", "row 1 of the scored PNG column is text",
            () =>
            {
                using var model = (PilotImageClassificationTransformer)ml.Model.Load(f.EncodedModelPath, out _);
                F.ScoreAll(model, EncodedWith(ml, 1, "plain text, not an image"u8.ToArray()), 3);
            }, null, "Row 1", "'Image'", "not a decodable image");
        yield return Throws<InvalidDataException>("scoring-undecodable-image-prediction-engine", "a PredictionEngine given 5 bytes that are not an image",
            () =>
            {
                using var model = (PilotImageClassificationTransformer)ml.Model.Load(f.EncodedModelPath, out _);
                using var engine = ml.Model.CreatePredictionEngine<ImageInput, ScoreOutput>(model);
                engine.Predict(new ImageInput { Image = [1, 2, 3, 4, 5] });
            }, null, "Row", "'Image'", "not a decodable image");
        yield return Throws<ArgumentOutOfRangeException>("scoring-image-column-missing", "scoring data without the image column",
            () =>
            {
                using var model = (PilotImageClassificationTransformer)ml.Model.Load(f.PixelModelPath, out _);
                model.Transform(ml.Transforms.DropColumns("Image").Fit(F.PixelData(ml, 3)).Transform(F.PixelData(ml, 3)));
            }, "inputSchema", "'Image'", "not found");
    }

    private static IEnumerable<ReliabilityCase> ModelFileCases(F f)
    {
        var ml = f.Ml;
        void Load(string path) => ((IDisposable)ml.Model.Load(path, out _)).Dispose();

        yield return Throws<FormatException>("model-zip-truncated", "model.zip cut to half its length",
            () =>
            {
                var bytes = File.ReadAllBytes(f.PixelModelPath);
                string path = f.File("half.zip");
                File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
                Load(path);
            }, null, "zip archive");
        yield return ReliabilityCase.LoadThrows<InvalidDataException>("model-zip-bytes-flipped", "8 bytes flipped inside the compressed weights of model.zip",
            () =>
            {
                string path = f.Copy(f.PixelModelPath, "flipped.zip");
                FlipInsideEntry(path, "TorchSharpWeights");
                Load(path);
            }, "network weights are damaged", "SHA-256");
        yield return ReliabilityCase.LoadThrows<InvalidDataException>("model-weights-altered", "one weight byte changed, zip rewritten (valid CRC)",
            () =>
            {
                string path = f.Copy(f.PixelModelPath, "altered.zip");
                F.RewriteEntry(path, "TorchSharpWeights", b => { b[^100] ^= 0x40; return b; });
                Load(path);
            }, "network weights are damaged", "SHA-256");
        yield return ReliabilityCase.LoadThrows<InvalidDataException>("model-weights-truncated", "weights stream cut to half, zip rewritten",
            () =>
            {
                string path = f.Copy(f.PixelModelPath, "short-weights.zip");
                F.RewriteEntry(path, "TorchSharpWeights", b => b[..(b.Length / 2)]);
                Load(path);
            }, "linear layers alone need", "weights stream has 187047");
        yield return ReliabilityCase.LoadThrows<InvalidDataException>("model-weights-missing", "the weights entry removed from the zip",
            () =>
            {
                string path = f.Copy(f.PixelModelPath, "no-weights.zip");
                using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
                    zip.Entries.Single(e => e.FullName.EndsWith("TorchSharpWeights", StringComparison.Ordinal)).Delete();
                Load(path);
            }, "'TorchSharpWeights'");
        yield return Throws<InvalidCastException>("model-from-another-trainer-cast", "an SdcaMaximumEntropy model.zip loaded and cast to ours",
            () => _ = (PilotImageClassificationTransformer)ml.Model.Load(f.OtherTrainerModelPath, out _), null,
            "TransformerChain", nameof(PilotImageClassificationTransformer));
        yield return Throws<InvalidOperationException>("model-from-another-trainer-scoring", "an SdcaMaximumEntropy model.zip scoring our image data",
            () => ml.Model.Load(f.OtherTrainerModelPath, out _).Transform(F.PixelData(ml, 3)), null, "'Label'");
        yield return ReliabilityCase.LoadThrows<FormatException>("model-newer-version", "model header patched to format version 0x00020001 (written and readable)",
            () =>
            {
                string path = f.Copy(f.PixelModelPath, "newer.zip");
                F.RewriteEntry(path, "Model.key", b => F.PatchInt(F.PatchInt(b, F.ModelVerWrittenOffset, 0x00020001), F.ModelVerReadableOffset, 0x00020001));
                Load(path);
            }, "'PILOTIMG'", "too new") with { Via = ReliabilityCase.ModelLoadMLNetCheck };
        yield return ReliabilityCase.LoadThrows<InvalidDataException>("model-huge-class-count", "model header patched to claim 2147483647 classes",
            () =>
            {
                string path = f.Copy(f.PixelModelPath, "classes.zip");
                F.RewriteEntry(path, "Model.key", b => F.PatchInt(b, F.ClassCountOffset, int.MaxValue));
                Load(path);
            }, "2147483647 classes", "expected 2 to");
        yield return ReliabilityCase.LoadThrows<InvalidDataException>("model-head-input-unknown", "model header patched to name classifier input 7",
            () =>
            {
                string path = f.Copy(f.PixelModelPath, "head-input.zip");
                F.RewriteEntry(path, "Model.key", b => { var copy = (byte[])b.Clone(); copy[F.HeadInputOffset] = 7; return copy; });
                Load(path);
            }, "classifier input 7", "unknown to this version");
        yield return ReliabilityCase.LoadThrows<InvalidDataException>("model-class-count-beyond-weights", "header claims 1000000 classes (in range), weights are for 3",
            () =>
            {
                string path = f.Copy(f.NoKeyValuesModelPath, "classes-1m.zip");
                F.RewriteEntry(path, "Model.key", b => F.PatchInt(b, F.ClassCountOffset, 1_000_000));
                Load(path);
            }, "1000000 classes", "linear layers alone need", "weights stream has");
        yield return ReliabilityCase.LoadThrows<InvalidDataException>("model-class-count-changed", "header claims 4 classes, weights are for 3",
            () =>
            {
                string path = f.Copy(f.PixelModelPath, "classes-4.zip");
                F.RewriteEntry(path, "Model.key", b => F.PatchInt(b, F.ClassCountOffset, 4));
                Load(path);
            }, "key values");
        yield return ReliabilityCase.LoadThrows<InvalidDataException>("model-training-options-inflated", "a 2-million-character TrainingOptions.json (compresses to a few KB)",
            () =>
            {
                string path = f.Copy(f.PixelModelPath, "inflated-options.zip");
                F.RewriteEntry(path, "TrainingOptions.json", _ => System.Text.Encoding.UTF8.GetBytes(new string(' ', 2_000_000)));
                Load(path);
            }, "TrainingOptions.json", "longer than 1048576 characters");
        yield return ReliabilityCase.LoadThrows<InvalidDataException>("model-training-options-not-json", "TrainingOptions.json replaced by text",
            () =>
            {
                string path = f.Copy(f.PixelModelPath, "garbled-options.zip");
                F.RewriteEntry(path, "TrainingOptions.json", _ => "not json"u8.ToArray());
                Load(path);
            }, "TrainingOptions.json", "not valid");
        yield return Throws<InvalidDataException>("model-weights-of-another-network", "ResNet18 weights given to a SmallCnn (internal loader)",
            () =>
            {
                using var resnet = Pilot.MLNet.Models.Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(1, 12, 12), 3);
                using var small = Pilot.MLNet.Models.Backbones.Create(PilotArchitecture.SmallCnn, new ImageShape(1, 12, 12), 3);
                NetworkWeights.Load(small, NetworkWeights.Save(resnet), null, "SmallCnn for 1x12x12 images and 3 classes");
            }, null, "do not fit a SmallCnn", "tensors");
        yield return Throws<InvalidDataException>("model-weights-huge-rank", "weights stream whose first tensor claims 2^40 dimensions (internal loader)",
            () =>
            {
                using var small = Pilot.MLNet.Models.Backbones.Create(PilotArchitecture.SmallCnn, new ImageShape(1, 12, 12), 3);
                var weights = NetworkWeights.Save(small);
                NetworkWeights.Load(small, CraftHugeRank(weights, small), null, "SmallCnn");
            }, null, "dimensions in the weights stream");
    }

    /// <summary>Flips 8 bytes in the middle of the compressed data of a zip entry, in place (the central directory stays valid).</summary>
    private static void FlipInsideEntry(string zipPath, string entrySuffix)
    {
        long start, length;
        using (var zip = ZipFile.OpenRead(zipPath))
        {
            var entry = zip.Entries.Single(e => e.FullName.EndsWith(entrySuffix, StringComparison.Ordinal));
            length = entry.CompressedLength;
            // The local header's offset is not public: find the entry name in the file (it precedes the data).
            var bytes = File.ReadAllBytes(zipPath);
            var name = System.Text.Encoding.UTF8.GetBytes(entry.FullName);
            start = bytes.AsSpan().IndexOf(name) + name.Length;
        }
        var file = File.ReadAllBytes(zipPath);
        long at = start + length / 2;
        for (long i = at; i < at + 8; i++)
            file[i] ^= 0xA5;
        File.WriteAllBytes(zipPath, file);
    }

    /// <summary>The weights stream with the rank of its first tensor replaced by 2^40 (LEB128).</summary>
    private static byte[] CraftHugeRank(byte[] weights, nn.Module network)
    {
        using var input = new BinaryReader(new MemoryStream(weights));
        using var output = new MemoryStream();
        using var writer = new BinaryWriter(output);
        output.WriteByte(input.ReadByte());            // tensor count (< 128: one byte)
        writer.Write(input.ReadString());              // first name
        output.WriteByte(input.ReadByte());            // element type
        input.ReadByte();                              // rank (one byte): replaced
        long rank = 1L << 40;
        while (rank >= 0x80) { output.WriteByte((byte)(rank | 0x80)); rank >>= 7; }
        output.WriteByte((byte)rank);
        input.BaseStream.CopyTo(output);
        writer.Flush();
        return output.ToArray();
    }

    private static IEnumerable<ReliabilityCase> OptionCases()
    {
        ReliabilityCase Option(string name, string input, Action<Options> set, string param, params string[] fragments) =>
            Throws<ArgumentOutOfRangeException>(name, input, () =>
            {
                var o = F.Fast();
                set(o);
                new MLContext(seed: 1).Pilot.ImageClassification(o);
            }, param, [$"{param}", .. fragments]);

        yield return Option("options-epochs-0", "Epochs = 0", o => o.Epochs = 0, nameof(Options.Epochs), "[1, 100000]", "got 0");
        yield return Option("options-learning-rate-negative", "LearningRate = -0.001", o => o.LearningRate = -1e-3, nameof(Options.LearningRate), "> 0", "-0.001");
        yield return Option("options-learning-rate-nan", "LearningRate = NaN", o => o.LearningRate = double.NaN, nameof(Options.LearningRate), "finite");
        yield return Option("options-learning-rate-infinity", "LearningRate = +∞", o => o.LearningRate = double.PositiveInfinity, nameof(Options.LearningRate), "finite");
        yield return Option("options-batch-size-0", "BatchSize = 0", o => o.BatchSize = 0, nameof(Options.BatchSize), "[1, 65536]", "got 0");
        yield return Option("options-policy-degree-0", "PolicyDegree = 0", o => o.PolicyDegree = 0, nameof(Options.PolicyDegree), "[1, 8]", "got 0");
        yield return Option("options-gamma-1", "Gamma = 1", o => o.Gamma = 1, nameof(Options.Gamma), "[0, 1)", "got 1");
        yield return Option("options-beta1-1", "Beta1 = 1", o => o.Beta1 = 1, nameof(Options.Beta1), "[0, 1)");
        yield return Option("options-beta2-above-1", "Beta2 = 1.5", o => o.Beta2 = 1.5, nameof(Options.Beta2), "[0, 1)", "1.5");
        yield return Option("options-weight-decay-negative", "WeightDecay = -1", o => o.WeightDecay = -1, nameof(Options.WeightDecay), "≥ 0");
        yield return Option("options-eta-phi-nan", "EtaPhi = NaN", o => o.EtaPhi = double.NaN, nameof(Options.EtaPhi), "finite");
        yield return Option("options-warmup-beyond-epochs", "WarmupEpochs = 3 with Epochs = 1", o => o.WarmupEpochs = 3, nameof(Options.WarmupEpochs), "[0, 1]");
        yield return Option("options-image-width-0", "ImageWidth = 0", o => o.ImageWidth = 0, nameof(Options.ImageWidth), "[1, 4096]");
        yield return Option("options-image-shape-2-channels", "ImageShape = (2, 12, 12)", o => o.ImageShape = new ImageShape(2, 12, 12), nameof(Options.ImageShape), "1 (gray) or 3 (colour)");
        yield return Option("options-architecture-undefined", "Architecture = (PilotArchitecture)99", o => o.Architecture = (PilotArchitecture)99, nameof(Options.Architecture), "SmallCnn", "99");
        yield return Option("options-early-stopping-0", "EarlyStoppingPatience = 0", o => o.EarlyStoppingPatience = 0, nameof(Options.EarlyStoppingPatience), "[1, 100000]");
        yield return Throws<ArgumentException>("options-checkpoint-directory-blank", "CheckpointDirectory = \" \"",
            () => new MLContext().Pilot.ImageClassification(new Options { CheckpointDirectory = " " }), nameof(Options.CheckpointDirectory), "CheckpointDirectory");
        yield return Throws<ArgumentException>("options-same-output-columns", "ScoreColumnName = PredictedLabelColumnName = \"Out\"",
            () => new MLContext().Pilot.ImageClassification(new Options { ScoreColumnName = "Out", PredictedLabelColumnName = "Out" }),
            nameof(Options.PredictedLabelColumnName), "must differ", "'Out'");
        yield return Throws<ArgumentOutOfRangeException>("options-smallcnn-huge-input", "SmallCnn with ImageWidth = ImageHeight = 4096 (a 34 GB linear layer)",
            () =>
            {
                var o = F.Fast();
                o.ImageWidth = o.ImageHeight = 4096;
                Fit(F.PixelData(new MLContext(seed: 1), 9), o);
            }, nameof(Options.Architecture), "SmallCnn", "4096×4096", "too large", "ImageHeight/ImageWidth");
        yield return Throws<ArgumentOutOfRangeException>("options-resnet-input-too-small", "ResNet18 with ImageWidth = ImageHeight = 4",
            () =>
            {
                var o = F.Fast();
                o.Architecture = PilotArchitecture.ResNet18;
                o.ImageWidth = o.ImageHeight = 4;
                Fit(F.PixelData(new MLContext(seed: 1), 9), o);
            }, nameof(Options.Architecture), "ResNet18", "4×4", "at least 8");
        yield return Throws<ArgumentOutOfRangeException>("options-too-many-classes", "ResNet18 with a 200000-value key label (a 102-million-weight classifier)",
            () =>
            {
                var o = F.Fast();
                o.Architecture = PilotArchitecture.ResNet18;
                Fit(new MLContext(seed: 1).Data.LoadFromEnumerable(TrainerTestData.Synthetic(9, 1).Select((r, i) => new ManyClassRow { Label = (uint)(i + 1), Image = r.Image })), o);
            }, nameof(Options.Architecture), "200000 classes", "too many");
        yield return Throws<ArgumentException>("options-pretrained-weights-blank", "PretrainedWeightsPath = \" \"",
            () => new MLContext(seed: 1).Pilot.ImageClassification(new Options { PretrainedWeightsPath = " " }),
            nameof(Options.PretrainedWeightsPath), "PretrainedWeightsPath");
        yield return Throws<FileNotFoundException>("pretrained-weights-missing", "PretrainedResNet18 with PretrainedWeightsPath naming no file",
            () =>
            {
                var o = F.Fast();
                o.Architecture = PilotArchitecture.PretrainedResNet18;
                o.ImageWidth = o.ImageHeight = 32;
                o.PretrainedWeightsPath = Path.Combine(Path.GetTempPath(), "pilot-no-such-folder-" + Guid.NewGuid().ToString("N"), "ResNet18.onnx");
                Fit(F.PixelData(new MLContext(seed: 1), 9), o);
            }, null, "ResNet18.onnx", "does not exist", "Microsoft.ML.DnnImageFeaturizer.ResNet18");
        yield return Throws<InvalidDataException>("pretrained-weights-damaged", "PretrainedResNet18 with a weights file whose bytes differ (the first 1 MB of the real one)",
            () =>
            {
                using var folder = new TestFolder();
                string damaged = folder.File("damaged-ResNet18.onnx");
                using (var source = File.OpenRead(Pilot.MLNet.Models.PretrainedWeights.Locate(null)))
                using (var target = File.Create(damaged))
                {
                    var buffer = new byte[1 << 20];
                    target.Write(buffer, 0, source.Read(buffer));
                }
                var o = F.Fast();
                o.Architecture = PilotArchitecture.PretrainedResNet18;
                o.ImageWidth = o.ImageHeight = 32;
                o.PretrainedWeightsPath = damaged;
                Fit(F.PixelData(new MLContext(seed: 1), 9), o);
            }, null, "damaged-ResNet18.onnx", "damaged", "SHA-256");
        yield return ReliabilityCase.Working("training-large-network-input", "3 images read at 3×1200×1200 (a 4.4-billion-value chunk before the fix)",
            "reads them into one 3×3×1200×1200 tensor",
            () =>
            {
                var data = F.Keyed(new MLContext(seed: 1), MixedImages().Take(3));
                var spec = ImageColumnSpec.FromType("Image", data.Schema["Image"].Type, null);
                using var set = InMemoryImageSet.Read(data, "Label", "Image", spec, 3, 1200, 1200, 3, "training");
                CollectionAssert.AreEqual(new long[] { 3, 3, 1200, 1200 }, set.Images.shape);
            });
    }

    /// <summary>A Linear(3, 2) with gradients from one backward pass.</summary>
    private static nn.Module<Tensor, Tensor> Network(int inputs = 3)
    {
        var network = nn.Linear(inputs, 2);
        using var x = torch.ones(4, inputs);
        using var loss = network.forward(x).sum();
        loss.backward();
        return network;
    }

    /// <summary>Saves an optimizer's state after one step and loads it into another one.</summary>
    private static void Transfer(Func<IEnumerable<Parameter>, OptimizerHelper> from, Action<IEnumerable<Parameter>, BinaryReader> into, int intoInputs = 3)
    {
        using var source = Network();
        using var sourceOptimizer = from(source.parameters());
        sourceOptimizer.step();
        using var target = Network(intoInputs);
        using var reader = new BinaryReader(new MemoryStream(SaveState(sourceOptimizer)));
        into(target.parameters(), reader);
    }

    private static byte[] SaveState(OptimizerHelper optimizer)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            optimizer.save_state_dict(writer);
        return stream.ToArray();
    }

    private static void IntoPilot(IEnumerable<Parameter> p, BinaryReader r) { using var o = Optimizers.PILOT(p); o.load_state_dict(r); }
    private static void IntoLion(IEnumerable<Parameter> p, BinaryReader r) { using var o = Optimizers.Lion(p); o.load_state_dict(r); }
    private static void IntoAdaBelief(IEnumerable<Parameter> p, BinaryReader r) { using var o = Optimizers.AdaBelief(p); o.load_state_dict(r); }
    private static void IntoAdam(IEnumerable<Parameter> p, BinaryReader r) { using var o = optim.Adam(p); o.load_state_dict(r); }

    /// <summary>PretrainedResNet18 and its fine-tuning modes: the same promises, with its own limits.</summary>
    private static IEnumerable<ReliabilityCase> PretrainedCases(F f)
    {
        var ml = f.Ml;
        Options Pretrained(PilotFineTuning? fineTuning = null)
        {
            var o = F.Fast();
            o.Architecture = PilotArchitecture.PretrainedResNet18;
            o.FineTuning = fineTuning;
            o.ImageWidth = o.ImageHeight = 32;
            return o;
        }
        yield return Throws<ArgumentException>("pretrained-head-on-scratch-network", "FineTuning = Head with ResNet18 (random weights)",
            () =>
            {
                var o = F.Fast();
                o.Architecture = PilotArchitecture.ResNet18;
                o.FineTuning = PilotFineTuning.Head;
                new MLContext(seed: 1).Pilot.ImageClassification(o);
            }, nameof(Options.FineTuning), "FineTuning Head", "ResNet18", "random weights");
        yield return Throws<ArgumentException>("pretrained-head-with-augment", "PretrainedResNet18, FineTuning Head (default), Augment = true",
            () =>
            {
                var o = Pretrained();
                o.Augment = true;
                new MLContext(seed: 1).Pilot.ImageClassification(o);
            }, nameof(Options.Augment), "Augment", "FineTuning Head", "Full");
        yield return Throws<ArgumentException>("pretrained-laststage-on-scratch-network", "FineTuning = LastStage with SmallCnn (random weights)",
            () =>
            {
                var o = F.Fast();
                o.FineTuning = PilotFineTuning.LastStage;
                new MLContext(seed: 1).Pilot.ImageClassification(o);
            }, nameof(Options.FineTuning), "FineTuning LastStage", "SmallCnn", "random weights");
        yield return Throws<ArgumentException>("pretrained-laststage-with-augment", "PretrainedResNet18, FineTuning LastStage, Augment = true",
            () =>
            {
                var o = Pretrained(PilotFineTuning.LastStage);
                o.Augment = true;
                new MLContext(seed: 1).Pilot.ImageClassification(o);
            }, nameof(Options.Augment), "Augment", "FineTuning LastStage", "Full");
        yield return Throws<ArgumentOutOfRangeException>("pretrained-backbone-scale-0", "BackboneLearningRateScale = 0",
            () =>
            {
                var o = Pretrained(PilotFineTuning.Full);
                o.BackboneLearningRateScale = 0;
                new MLContext(seed: 1).Pilot.ImageClassification(o);
            }, nameof(Options.BackboneLearningRateScale), "(0, 1]", "got 0");
        yield return Throws<ArgumentOutOfRangeException>("pretrained-input-too-small", "PretrainedResNet18 with ImageWidth = ImageHeight = 16",
            () =>
            {
                var o = Pretrained();
                o.ImageWidth = o.ImageHeight = 16;
                Fit(F.PixelData(new MLContext(seed: 1), 9), o);
            }, nameof(Options.Architecture), "PretrainedResNet18", "16×16", "at least 32");
        yield return ReliabilityCase.Working("pretrained-head-mixed-images",
            "PretrainedResNet18 (Head) on PNG gray 10×14, RGB 20×8, RGBA 12×12, JPEG 16×16 in one column",
            "trains the head on a colour network and scores every row",
            () =>
            {
                var rows = MixedImages();
                var data = F.Keyed(ml, rows);
                var o = Pretrained();
                o.BatchSize = 4;
                using var model = F.Train(data, o);
                Assert.AreEqual(3, model.InputShape.Channels);
                Assert.AreEqual(rows.Length, F.ScoreAll(model, data, 3));
            });
        yield return ReliabilityCase.Working("pretrained-laststage-gray-pixels", "PretrainedResNet18 (LastStage) on 1×12×12 gray byte vectors",
            "trains layer4 and the head over the cached layer3 activations at 32×32 and scores every row",
            () =>
            {
                var data = F.PixelData(ml, 12);
                using var model = F.Train(data, Pretrained(PilotFineTuning.LastStage));
                Assert.AreEqual(1, model.InputShape.Channels);
                Assert.AreEqual(12, F.ScoreAll(model, data, 3));
            });
        yield return ReliabilityCase.Working("pretrained-full-gray-pixels", "PretrainedResNet18 (Full) on 1×12×12 gray byte vectors",
            "trains every layer at 32×32 (gray repeated to 3 channels inside the network) and scores every row",
            () =>
            {
                var data = F.PixelData(ml, 12);
                using var model = F.Train(data, Pretrained(PilotFineTuning.Full));
                Assert.AreEqual(1, model.InputShape.Channels);
                Assert.AreEqual(12, F.ScoreAll(model, data, 3));
            });
    }

    private static IEnumerable<ReliabilityCase> OptimizerCases()
    {
        yield return Throws<InvalidDataException>("state-lion-into-pilot", "a Lion state file loaded by PilotOptimizer",
            () => Transfer(p => Optimizers.Lion(p), IntoPilot), null, "expected PilotOptimizer state", "found 'Lion'");
        yield return Throws<InvalidDataException>("state-adabelief-into-pilot", "an AdaBelief state file loaded by PilotOptimizer",
            () => Transfer(p => Optimizers.AdaBelief(p), IntoPilot), null, "expected PilotOptimizer state", "found 'AdaBelief'");
        yield return Throws<InvalidDataException>("state-adam-into-pilot", "a TorchSharp Adam state file loaded by PilotOptimizer",
            () => Transfer(p => optim.Adam(p), IntoPilot), null, "expected PilotOptimizer state", "found 'Adam'");
        yield return Throws<InvalidDataException>("state-pilot-into-lion", "a PILOT state file loaded by Lion",
            () => Transfer(p => Optimizers.PILOT(p), IntoLion), null, "expected Lion state", "found 'PilotOptimizer'");
        yield return Throws<InvalidDataException>("state-pilot-into-adabelief", "a PILOT state file loaded by AdaBelief",
            () => Transfer(p => Optimizers.PILOT(p), IntoAdaBelief), null, "expected AdaBelief state", "found 'PilotOptimizer'");
        yield return Throws<InvalidDataException>("state-pilot-into-adam", "a PILOT state file loaded by TorchSharp's Adam",
            () => Transfer(p => Optimizers.PILOT(p), IntoAdam), null, "expected 'Adam'", "found 'PilotOptimizer'");
        yield return Throws<InvalidDataException>("state-pilot-other-model", "PILOT state of Linear(3, 2) loaded for Linear(5, 2)",
            () => Transfer(p => Optimizers.PILOT(p), IntoPilot, intoInputs: 5), null, "does not fit");
        yield return Throws<InvalidDataException>("state-pilot-empty", "an empty stream loaded by PilotOptimizer",
            () => { using var net = Network(); IntoPilot(net.parameters(), new BinaryReader(new MemoryStream())); }, null, "expected PilotOptimizer state", "empty");
        yield return Throws<InvalidDataException>("state-pilot-truncated", "a PILOT state file cut to half",
            () =>
            {
                using var net = Network();
                using var optimizer = Optimizers.PILOT(net.parameters());
                optimizer.step();
                var state = SaveState(optimizer);
                var half = state[..(state.Length / 2)];
                optimizer.load_state_dict(new BinaryReader(new MemoryStream(half)));
            }, null, "truncated");
        yield return Throws<InvalidDataException>("state-pilot-newer-version", "a PILOT state file whose options record says version 9",
            () =>
            {
                using var net = Network();
                using var optimizer = Optimizers.PILOT(net.parameters());
                var bytes = SaveState(optimizer);
                int magic = bytes.AsSpan().IndexOf("PLOT"u8);
                bytes[magic + 4] = 9; // the version int follows the magic
                optimizer.load_state_dict(new BinaryReader(new MemoryStream(bytes)));
            }, null, "version 9 is not supported", "1 to 1");

        ReliabilityCase Bad(string name, string input, Action<IEnumerable<Parameter>> make, string param, params string[] fragments) =>
            Throws<ArgumentOutOfRangeException>(name, input, () => { using var net = Network(); make(net.parameters()); }, param, [param, .. fragments]);
        yield return Bad("optimizer-lr-negative", "PilotOptimizer(lr: -1)", p => Optimizers.PILOT(p, lr: -1).Dispose(), "lr", "≥ 0", "-1");
        yield return Bad("optimizer-lr-nan", "PilotOptimizer(lr: NaN)", p => Optimizers.PILOT(p, lr: double.NaN).Dispose(), "lr", "NaN");
        yield return Bad("optimizer-gamma-1", "PilotOptimizer(gamma: 1)", p => Optimizers.PILOT(p, gamma: 1).Dispose(), "gamma", "[0, 1)", "got 1");
        yield return Bad("optimizer-degree-0", "PilotOptimizer(degree: 0)", p => Optimizers.PILOT(p, degree: 0).Dispose(), "degree", "≥ 1", "got 0");
        yield return Bad("optimizer-beta1-1", "PilotOptimizer(beta1: 1)", p => Optimizers.PILOT(p, beta1: 1).Dispose(), "beta1", "[0, 1)");
        yield return Bad("optimizer-beta2-above-1", "PilotOptimizer(beta2: 1.2)", p => Optimizers.PILOT(p, beta2: 1.2).Dispose(), "beta2", "[0, 1)", "1.2");
        yield return Bad("optimizer-eps-negative", "PilotOptimizer(eps: -1e-8)", p => Optimizers.PILOT(p, eps: -1e-8).Dispose(), "eps", "> 0");
        yield return Bad("optimizer-eps-0", "PilotOptimizer(eps: 0) (0/0 for an all-zero gradient)", p => Optimizers.PILOT(p, eps: 0).Dispose(), "eps", "> 0", "got 0");
        yield return Bad("optimizer-eta-phi-infinity", "PilotOptimizer(eta_phi: +∞)", p => Optimizers.PILOT(p, eta_phi: double.PositiveInfinity).Dispose(), "eta_phi", "finite");
        yield return Bad("lion-beta2-1", "Lion(beta2: 1)", p => Optimizers.Lion(p, beta2: 1).Dispose(), "beta2", "[0, 1)");
        yield return Bad("adabelief-lr-negative", "AdaBelief(lr: -1)", p => Optimizers.AdaBelief(p, lr: -1).Dispose(), "lr", "≥ 0");
    }
}

/// <summary>A row with a flat (dimension-less) 432-value float vector.</summary>
internal sealed class FlatFloatRow
{
    public string Label { get; set; } = "";

    [VectorType(432)]
    public float[] Image { get; set; } = [];
}

/// <summary>A row with a key label of 200000 values.</summary>
internal sealed class ManyClassRow
{
    [KeyType(200_000)]
    public uint Label { get; set; }

    [VectorType(1, 12, 12)]
    public byte[] Image { get; set; } = [];
}

/// <summary>Input of a prediction engine: encoded image bytes.</summary>
internal sealed class ImageInput
{
    public byte[] Image { get; set; } = [];
}

/// <summary>Output of a prediction engine.</summary>
internal sealed class ScoreOutput
{
    public float[] Score { get; set; } = [];
    public uint PredictedLabel { get; set; }
}

/// <summary>A row with a 1×10×10 byte pixel vector.</summary>
internal sealed class SmallByteRow
{
    public string Label { get; set; } = "";

    [VectorType(1, 10, 10)]
    public byte[] Image { get; set; } = [];
}

using System.IO.Compression;
using System.Buffers.Binary;
using Microsoft.ML;
using Pilot.MLNet.Tests.Reliability;

namespace Pilot.Cli.Tests.Reliability;

/// <summary>
/// The reliability table through <c>pilot</c>: every bad input is exit code 2 with a message naming the option or the file
/// (never exit 1, "unexpected error", with a stack trace), and awkward but valid input works. One row per case, each run
/// in-process with a time limit.
/// </summary>
[TestClass]
public sealed class CliReliabilityTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(180);
    private static TempFolder? s_folder;
    private static string? s_model;

    /// <summary>A row: arguments built against the fixture, the exit code and the stderr fragments expected.</summary>
    internal sealed record CliCase(string Name, string Input, Func<CliFixture, string[]> Arguments, int ExitCode, params string[] Fragments)
    {
        public override string ToString() => Name;
    }

    /// <summary>Folders and files for the cases, made on first use.</summary>
    internal sealed class CliFixture(TempFolder folder, Func<string> model)
    {
        public string Model => model();

        public string Path(string relative) => folder[relative];

        /// <summary>The tiny 3-class image folder plus <paramref name="extra"/> files (relative path → bytes).</summary>
        public string ImagesWith(string name, params (string Relative, byte[] Bytes)[] extra)
        {
            string root = folder[name];
            if (!Directory.Exists(root))
            {
                TinyImageFolder.Write(root, perClass: 6);
                foreach (var (relative, bytes) in extra)
                {
                    string file = System.IO.Path.Combine(root, relative);
                    Directory.CreateDirectory(System.IO.Path.GetDirectoryName(file)!);
                    File.WriteAllBytes(file, bytes);
                }
            }
            return root;
        }

        /// <summary>A copy of the model with <paramref name="change"/> applied to its bytes or entries.</summary>
        public string ModelCopy(string name, Action<string> change)
        {
            string path = folder[name];
            if (!File.Exists(path))
            {
                File.Copy(Model, path);
                change(path);
            }
            return path;
        }
    }

    private static CliFixture Fixture()
    {
        s_folder ??= new TempFolder();
        return new CliFixture(s_folder, () => s_model ??= TrainModel(s_folder));
    }

    private static string TrainModel(TempFolder folder)
    {
        string images = folder["model-images"], model = folder["model.zip"];
        TinyImageFolder.Write(images, perClass: 6);
        var result = CliRunner.Run("train", "--data", images, "--arch", "SmallCnn", "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--seed", "1",
            "--out", model, "--plots", folder["model-plots"]);
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        return model;
    }

    [ClassCleanup]
    public static void Cleanup() => s_folder?.Dispose();

    private static byte[] RealPng(CliFixture f)
    {
        string images = f.ImagesWith("clean");
        return File.ReadAllBytes(Directory.EnumerateFiles(images, "*.png", SearchOption.AllDirectories).Order().First());
    }

    private static string[] Train(CliFixture f, string data, params string[] more) =>
        ["train", "--data", data, "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--out", f.Path($"out-{Guid.NewGuid():N}.zip"),
         "--plots", f.Path("plots"), .. (more.Contains("--arch") ? [] : (string[])["--arch", "SmallCnn"]), .. more];

    /// <summary>A checkpoint directory left by an interrupted run of other options (seed 5).</summary>
    private static string ForeignCheckpoint(CliFixture f)
    {
        string directory = f.Path("foreign-checkpoints");
        if (!Directory.Exists(directory))
        {
            var result = CliRunner.Run(Train(f, f.ImagesWith("clean"), "--seed", "5", "--checkpoint-dir", directory));
            Assert.AreEqual(0, result.ExitCode, result.ToString());
        }
        return directory;
    }

    internal static IEnumerable<CliCase> Cases()
    {
        yield return new("train-truncated-png", "an image folder with a PNG cut to 60 %",
            f => Train(f, f.ImagesWith("truncated", ("Bag/zz-truncated.png", RealPng(f)[..(RealPng(f).Length * 6 / 10)]))), 2,
            "zz-truncated.png", "truncated");
        yield return new("train-text-as-png", "an image folder with a text file named .png",
            f => Train(f, f.ImagesWith("text", ("Bag/zz-notes.png", "not an image"u8.ToArray()))), 2,
            "zz-notes.png", "not a decodable image");
        yield return new("train-empty-png", "an image folder with an empty .png",
            f => Train(f, f.ImagesWith("empty-file", ("Sneaker/zz-empty.png", []))), 2,
            "zz-empty.png", "empty (0 bytes)");
        yield return new("train-huge-png", "an image folder with a PNG whose header claims 100000×100000",
            f => Train(f, f.ImagesWith("huge", ("Trouser/zz-huge.png", Png.Claiming(100_000, 100_000)))), 2,
            "zz-huge.png", "100000×100000", "8192×8192");
        yield return new("train-mixed-images", "an image folder with extra RGB 40×20, RGBA 9×9 and gray 50×50 PNGs",
            f => Train(f, f.ImagesWith("mixed", ("Bag/zz-rgb.png", Png.Noise(40, 20, Png.Rgb, 1)), ("Sneaker/zz-rgba.png", Png.Noise(9, 9, Png.Rgba, 2)),
                ("Trouser/zz-gray.png", Png.Noise(50, 50, Png.Gray, 3)))), 0);
        yield return new("train-one-class", "an image folder with one class sub-folder",
            f =>
            {
                string root = f.Path("one-class");
                if (!Directory.Exists(root))
                {
                    Directory.CreateDirectory(System.IO.Path.Combine(root, "Bag"));
                    for (int i = 0; i < 4; i++)
                        File.WriteAllBytes(System.IO.Path.Combine(root, "Bag", $"{i}.png"), Png.Noise(12, 12, Png.Gray, i));
                }
                return Train(f, root);
            }, 2, "--data", "one class");
        yield return new("train-empty-folder", "an empty data folder",
            f => { Directory.CreateDirectory(f.Path("empty")); return Train(f, f.Path("empty")); }, 2, "--data", "empty");
        yield return new("train-epochs-0", "--epochs 0", f => Train(f, f.ImagesWith("clean"), "--epochs", "0"), 2, "--epochs");
        yield return new("train-lr-negative", "--lr -1", f => Train(f, f.ImagesWith("clean"), "--lr", "-1"), 2, "--lr");
        yield return new("train-lr-nan", "--lr NaN", f => Train(f, f.ImagesWith("clean"), "--lr", "NaN"), 2, "--lr");
        yield return new("train-batch-size-0", "--batch-size 0", f => Train(f, f.ImagesWith("clean"), "--batch-size", "0"), 2, "--batch-size");
        yield return new("train-image-size-too-large-for-smallcnn", "--arch SmallCnn --image-size 4096",
            f => Train(f, f.ImagesWith("clean"), "--arch", "SmallCnn", "--image-size", "4096"), 2, "SmallCnn", "too large");
        yield return new("train-checkpoint-of-other-options", "--checkpoint-dir holding a checkpoint of --seed 5, run with --seed 1",
            f => Train(f, f.ImagesWith("clean"), "--seed", "1", "--checkpoint-dir", ForeignCheckpoint(f)), 2, "--checkpoint-dir", "Seed was 5, now 1");
        yield return new("train-checkpoints-unreadable", "--checkpoint-dir whose checkpoint files are both cut short",
            f =>
            {
                string directory = f.Path("damaged-checkpoints");
                if (!Directory.Exists(directory))
                {
                    Directory.CreateDirectory(directory);
                    foreach (var file in new[] { "pilot-checkpoint.bin", "pilot-checkpoint.prev.bin" })
                        File.WriteAllBytes(System.IO.Path.Combine(directory, file), "PILOTCKP"u8.ToArray());
                }
                return Train(f, f.ImagesWith("clean"), "--checkpoint-dir", directory);
            }, 2, "--checkpoint-dir", "Delete the checkpoint files");
        yield return new("train-policy-not-a-policy", "--policy pointing at a model.zip",
            f => Train(f, f.ImagesWith("clean"), "--policy", f.Model), 2, "--policy", "not a PILOT policy file");
        yield return new("evaluate-truncated-model", "--model cut to half its length",
            f => ["evaluate", "--data", f.ImagesWith("clean"), "--model", f.ModelCopy("half.zip", p => File.WriteAllBytes(p, File.ReadAllBytes(p)[..(int)(new FileInfo(p).Length / 2)]))],
            2, "--model", "half.zip");
        yield return new("evaluate-damaged-weights", "--model with one weight byte changed (zip rewritten)",
            f => ["evaluate", "--data", f.ImagesWith("clean"), "--model", f.ModelCopy("altered.zip", p => RewriteEntry(p, "TorchSharpWeights", b => { b[^50] ^= 0x20; return b; }))],
            2, "--model", "altered.zip", "damaged", "SHA-256");
        yield return new("evaluate-newer-model", "--model whose header says format 0x00020001",
            f => ["evaluate", "--data", f.ImagesWith("clean"), "--model", f.ModelCopy("newer.zip", p => RewriteEntry(p, "Model.key", b =>
            {
                BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(0x48), 0x00020001);
                BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(0x4C), 0x00020001);
                return b;
            }))], 2, "--model", "newer.zip", "too new");
        yield return new("evaluate-other-trainer-model", "--model written by ML.NET's SdcaMaximumEntropy",
            f => ["evaluate", "--data", f.ImagesWith("clean"), "--model", SdcaModel(f)], 2, "--model", "without a Pilot image classifier");
        yield return new("evaluate-folder-with-truncated-png", "evaluate --data a folder holding a truncated PNG",
            f => ["evaluate", "--model", f.Model, "--data", f.ImagesWith("truncated", ("Bag/zz-truncated.png", RealPng(f)[..(RealPng(f).Length * 6 / 10)]))],
            2, "zz-truncated.png", "truncated");
        yield return new("evaluate-unseen-class", "evaluate --data a folder with an extra class the model never saw",
            f => ["evaluate", "--model", f.Model, "--data", f.ImagesWith("unseen", ("Coat/a.png", Png.Noise(28, 28, Png.Gray, 7)), ("Coat/b.png", Png.Noise(28, 28, Png.Gray, 8)))], 0);
        yield return new("predict-truncated-image", "predict a PNG cut to 60 %",
            f =>
            {
                string image = f.Path("cut.png");
                File.WriteAllBytes(image, RealPng(f)[..(RealPng(f).Length * 6 / 10)]);
                return ["predict", "--model", f.Model, image];
            }, 2, "cut.png", "truncated");
        yield return new("predict-huge-image", "predict a PNG whose header claims 100000×100000",
            f =>
            {
                string image = f.Path("huge.png");
                File.WriteAllBytes(image, Png.Claiming(100_000, 100_000));
                return ["predict", "--model", f.Model, image];
            }, 2, "huge.png", "8192×8192");
        yield return new("predict-missing-model", "predict with --model that does not exist",
            f => ["predict", "--model", f.Path("nothing.zip"), f.Path("cut.png")], 2, "--model", "does not exist");
    }

    private static string SdcaModel(CliFixture f)
    {
        string path = f.Path("sdca.zip");
        if (!File.Exists(path))
        {
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 20).Select(i => new SdcaRow { Label = (i % 2).ToString(), Features = [i % 2, 1 - i % 2] }));
            var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(maximumNumberOfIterations: 3)).Fit(data);
            ml.Model.Save(model, data.Schema, path);
        }
        return path;
    }

    private sealed class SdcaRow
    {
        public string Label { get; set; } = "";

        [Microsoft.ML.Data.VectorType(2)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>Rewrites the entry ending with <paramref name="entrySuffix"/>; for "Model.key", the one of the Pilot classifier.</summary>
    private static void RewriteEntry(string zipPath, string entrySuffix, Func<byte[], byte[]> change)
    {
        using var zip = ZipFile.Open(zipPath, ZipArchiveMode.Update);
        var entry = zip.Entries.Where(e => e.FullName.EndsWith(entrySuffix, StringComparison.Ordinal))
            .Single(e => entrySuffix != "Model.key" || IsPilotModel(e));
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

    /// <summary>Whether a Model.key entry's ML.NET header names the Pilot classifier's signature (at offset 0x40).</summary>
    private static bool IsPilotModel(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        var header = new byte[0x48];
        stream.ReadExactly(header);
        return header.AsSpan(0x40, 8).SequenceEqual("PILOTIMG"u8);
    }

    public static IEnumerable<object[]> CaseNames => Cases().Select(c => new object[] { c.Name });

    private const string Begin = "<!-- cli-cases:begin -->", End = "<!-- cli-cases:end -->";

    /// <summary>The CLI table of docs/reliability.md, generated from the cases.</summary>
    internal static string MarkdownTable()
    {
        var lines = new List<string> { "| # | Case | Input | Exit code | Standard error contains |", "|---|---|---|---|---|" };
        int i = 0;
        foreach (var c in Cases())
            lines.Add($"| {++i} | `{c.Name}` | {c.Input.Replace("|", "\\|")} | {c.ExitCode} | " +
                (c.Fragments.Length == 0 ? "—" : string.Join(" … ", c.Fragments.Select(f => $"“{f}”"))) + " |");
        return string.Join("\n", lines);
    }

    /// <summary>docs/reliability.md lists every CLI case; PILOT_UPDATE_DOCS=1 rewrites the table between the markers.</summary>
    [TestMethod]
    public void DocsListEveryCliCase()
    {
        string? root = null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null && root is null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Pilot.MLNet.sln")))
                root = dir.FullName;
        Assert.IsNotNull(root, "Pilot.MLNet.sln not found above the test directory");
        string path = System.IO.Path.Combine(root, "docs", "reliability.md");
        string text = File.ReadAllText(path).ReplaceLineEndings("\n");
        int begin = text.IndexOf(Begin, StringComparison.Ordinal), end = text.IndexOf(End, StringComparison.Ordinal);
        Assert.IsTrue(begin >= 0 && end > begin, $"{path} lacks the markers {Begin} … {End}");
        string expected = MarkdownTable(), actual = text[(begin + Begin.Length)..end].Trim('\n');
        if (actual != expected && Environment.GetEnvironmentVariable("PILOT_UPDATE_DOCS") == "1")
        {
            File.WriteAllText(path, text[..(begin + Begin.Length)] + "\n" + expected + "\n" + text[end..]);
            return;
        }
        Assert.AreEqual(expected, actual, "docs/reliability.md's CLI table differs from the cases; rerun with PILOT_UPDATE_DOCS=1 to rewrite it");
    }

    [TestMethod]
    [DynamicData(nameof(CaseNames))]
    public void Case(string name)
    {
        var c = Cases().Single(x => x.Name == name);
        var fixture = Fixture();
        var run = Task.Run(() => CliRunner.Run(c.Arguments(fixture)));
        Assert.IsTrue(run.Wait(Limit), $"{name}: pilot did not finish within {Limit.TotalSeconds} s (a hang)");
        var result = run.Result;
        Assert.AreEqual(c.ExitCode, result.ExitCode, $"{name}: {result}");
        foreach (var fragment in c.Fragments)
            Assert.Contains(fragment, result.Error, $"{name}: stderr lacks “{fragment}”: {result}");
        if (c.ExitCode == 2)
            Assert.DoesNotContain("   at ", result.Error, $"{name}: a bad input gets a message, not a stack trace: {result}");
    }
}

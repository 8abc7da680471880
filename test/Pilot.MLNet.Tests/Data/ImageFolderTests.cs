using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Data;
using static Pilot.MLNet.Tests.Data.DataTestHelpers;

namespace Pilot.MLNet.Tests.Data;

[TestClass]
public sealed class ImageFolderTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private static void Touch(string root, string relative)
    {
        string path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [1, 2, 3]);
    }

    [TestMethod]
    public void LoadImageFolderListsClassesAndImagesInOrdinalOrder()
    {
        using var temp = new TestFolder();
        foreach (var f in new[] { "b/z.bmp", "a/2.png", "a/10.PNG", "a/sub/x.jpg", "a/notes.txt", "a/.hidden.png", ".git/objects/p.png",
                                  "loose.png", "b/y.JpEg", "b/w.gif" })
            Touch(temp.Path, f);
        Directory.CreateDirectory(Path.Combine(temp.Path, "empty"));

        var view = PilotDatasets.LoadImageFolder(Ml, temp.Path);

        CollectionAssert.AreEqual(new[] { "a", "a", "a", "b", "b", "b" }, ReadText(view, PilotDatasets.LabelColumnName));
        string S(string p) => p.Replace('/', Path.DirectorySeparatorChar);
        CollectionAssert.AreEqual(new[] { S("a/10.PNG"), S("a/2.png"), S("a/sub/x.jpg"), S("b/w.gif"), S("b/y.JpEg"), S("b/z.bmp") },
            ReadText(view, PilotDatasets.ImagePathColumnName));
        Assert.IsInstanceOfType<TextDataViewType>(view.Schema[PilotDatasets.LabelColumnName].Type);
    }

    [TestMethod]
    public void LoadImageFolderExplainsWhatIsWrong()
    {
        using var temp = new TestFolder();
        Assert.ThrowsExactly<DirectoryNotFoundException>(() => PilotDatasets.LoadImageFolder(Ml, temp.File("absent")));
        Assert.ThrowsExactly<ArgumentNullException>(() => PilotDatasets.LoadImageFolder(null!, temp.Path));

        var noSubFolders = Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.LoadImageFolder(Ml, temp.Path));
        StringAssert.Contains(noSubFolders.Message, $"'{temp.Path}'");
        StringAssert.Contains(noSubFolders.Message, "it has no sub-folders");
        StringAssert.Contains(noSubFolders.Message, "one sub-folder per class");

        Touch(temp.Path, "loose.jpg");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.LoadImageFolder(Ml, temp.Path)).Message,
            "the 1 images directly in it belong in class sub-folders");

        Touch(temp.Path, "cats/readme.txt");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.LoadImageFolder(Ml, temp.Path)).Message,
            "its sub-folders hold no images");

        Touch(temp.Path, "cats/1.png");
        Touch(temp.Path, "dogs/notes.txt");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.LoadImageFolder(Ml, temp.Path)).Message,
            "images of only one class ('cats')");

        Touch(temp.Path, "dogs/1.png");
        Assert.AreEqual(2, ReadText(PilotDatasets.LoadImageFolder(Ml, temp.Path), PilotDatasets.LabelColumnName).Count);
    }

    [TestMethod]
    public void GrayImagesRoundTripThroughPngFiles()
    {
        using var temp = new TestFolder();
        var sample = PilotDatasets.EmbeddedFashionMnist(Ml, train: false);
        var rows = ReadRows(sample.Data);

        int written = PilotDatasets.WriteImageFolder(sample, temp.Path, maxPerClass: 3);

        Assert.AreEqual(30, written);
        CollectionAssert.AreEquivalent(PilotDatasets.FashionMnistClassNames.Select(n => n.Replace('/', '_')).ToArray(),
            Directory.GetDirectories(temp.Path).Select(Path.GetFileName).ToArray());
        foreach (var file in Directory.EnumerateFiles(temp.Path, "*.png", SearchOption.AllDirectories))
        {
            int row = int.Parse(Path.GetFileNameWithoutExtension(file));
            Assert.AreEqual(rows[row].Label.Replace('/', '_'), Path.GetFileName(Path.GetDirectoryName(file)));
            using var image = MLImage.CreateFromFile(file);
            Assert.AreEqual(28, image.Width);
            Assert.AreEqual(28, image.Height);
            var (r, g, b) = Planes(image);
            CollectionAssert.AreEqual(rows[row].Image, r, file);
            CollectionAssert.AreEqual(r, g);
            CollectionAssert.AreEqual(r, b);
        }
        // The first three rows of each class were written.
        var expectedRows = rows.Select((r, i) => (r.Label, i)).GroupBy(x => x.Label).SelectMany(g => g.Take(3).Select(x => x.i)).Order();
        CollectionAssert.AreEqual(expectedRows.ToArray(),
            Directory.EnumerateFiles(temp.Path, "*.png", SearchOption.AllDirectories).Select(f => int.Parse(Path.GetFileNameWithoutExtension(f))).Order().ToArray());

        // The folder reads back through the Model Builder pipeline.
        var view = PilotDatasets.LoadImageFolder(Ml, temp.Path);
        var bytes = Ml.Transforms.LoadRawImageBytes("Image", temp.Path, PilotDatasets.ImagePathColumnName).Fit(view).Transform(view)
            .GetColumn<byte[]>("Image").ToArray();
        Assert.AreEqual(30, bytes.Length);
        Assert.IsTrue(bytes.All(b => b.Length > 8 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G'));
    }

    [TestMethod]
    public void ColourImagesRoundTripThroughPngFiles()
    {
        using var temp = new TestFolder();
        var shape = new ImageShape(3, 5, 4);
        var (pixels, labels) = MakeImages(6, 1, shape.Size, 2, seed: 7); // 6 images of 60 bytes
        var set = new LabeledImages(new InMemoryImageDataView(pixels, labels, shape, ["red/ish", "blue"]), shape, ["red/ish", "blue"]);

        Assert.AreEqual(6, PilotDatasets.WriteImageFolder(set, temp.Path));

        foreach (var file in Directory.EnumerateFiles(temp.Path, "*.png", SearchOption.AllDirectories))
        {
            int row = int.Parse(Path.GetFileNameWithoutExtension(file));
            using var image = MLImage.CreateFromFile(file);
            var (r, g, b) = Planes(image);
            var original = pixels.AsSpan(row * shape.Size, shape.Size).ToArray();
            CollectionAssert.AreEqual(original[..20], r, "red plane");
            CollectionAssert.AreEqual(original[20..40], g, "green plane");
            CollectionAssert.AreEqual(original[40..], b, "blue plane");
        }
        CollectionAssert.AreEquivalent(new[] { "red_ish", "blue" }, Directory.GetDirectories(temp.Path).Select(Path.GetFileName).ToArray());
    }

    [TestMethod]
    public void WriteImageFolderRejectsBadArguments()
    {
        using var temp = new TestFolder();
        var sample = PilotDatasets.EmbeddedFashionMnist(Ml, train: false);

        Assert.AreEqual("maxPerClass", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => PilotDatasets.WriteImageFolder(sample, temp.Path, 0)).ParamName);
        Touch(temp.Path, "existing.txt");
        StringAssert.Contains(Assert.ThrowsExactly<IOException>(() => PilotDatasets.WriteImageFolder(sample, temp.Path)).Message, "is not empty");

        string fresh = temp.File("fresh");
        var noImage = sample with { Data = Ml.Transforms.DropColumns(PilotDatasets.ImageColumnName).Fit(sample.Data).Transform(sample.Data) };
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => PilotDatasets.WriteImageFolder(noImage, fresh)).Message, "no 'Image' column");
        var wrongShape = sample with { Shape = new ImageShape(1, 27, 28) };
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => PilotDatasets.WriteImageFolder(wrongShape, fresh)).Message, "vector of 756 bytes");

        var shape = new ImageShape(1, 2, 2);
        var clash = new LabeledImages(new InMemoryImageDataView(new byte[8], [0, 1], shape, ["a/b", "a_b"]), shape, ["a/b", "a_b"]);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => PilotDatasets.WriteImageFolder(clash, temp.File("clash"))).Message, "sub-folder 'a_b'");
    }

    private sealed class SparseRow
    {
        public string Label { get; set; } = "";

        [VectorType(4)]
        public VBuffer<byte> Image { get; set; }
    }

    [TestMethod]
    public void SparseImageVectorsAreWrittenAsDense()
    {
        using var temp = new TestFolder();
        var rows = new[]
        {
            new SparseRow { Label = "x", Image = new VBuffer<byte>(4, 1, [200], [2]) },
            new SparseRow { Label = "y", Image = new VBuffer<byte>(4, [1, 2, 3, 4]) },
        };
        var set = new LabeledImages(Ml.Data.LoadFromEnumerable(rows), new ImageShape(1, 2, 2), ["x", "y"]);

        Assert.AreEqual(2, PilotDatasets.WriteImageFolder(set, temp.Path));

        using var image = MLImage.CreateFromFile(Path.Combine(temp.Path, "x", "000000.png"));
        CollectionAssert.AreEqual(new byte[] { 0, 0, 200, 0 }, Planes(image).R);
    }

    [TestMethod]
    [DataRow("T-shirt/top", "T-shirt_top")]
    [DataRow("a\\b:c*d?e\"f<g>h|i", "a_b_c_d_e_f_g_h_i")]
    [DataRow("tab\there", "tab_here")]
    [DataRow("trailing. ", "trailing")]
    [DataRow("..", "_")]
    [DataRow("Ankle boot", "Ankle boot")]
    public void ClassNamesBecomeSafeFolderNames(string className, string folder)
        => Assert.AreEqual(folder, PilotDatasets.SafeFolderName(className));

    /// <summary>The red, green and blue planes of a decoded image, whatever its pixel order.</summary>
    private static (byte[] R, byte[] G, byte[] B) Planes(MLImage image)
    {
        var pixels = image.Pixels;
        int n = image.Width * image.Height;
        var (r, g, b) = (new byte[n], new byte[n], new byte[n]);
        bool bgra = image.PixelFormat == MLPixelFormat.Bgra32;
        Assert.IsTrue(bgra || image.PixelFormat == MLPixelFormat.Rgba32, $"unexpected pixel format {image.PixelFormat}");
        for (int i = 0; i < n; i++)
        {
            r[i] = pixels[4 * i + (bgra ? 2 : 0)];
            g[i] = pixels[4 * i + 1];
            b[i] = pixels[4 * i + (bgra ? 0 : 2)];
            Assert.AreEqual(byte.MaxValue, pixels[4 * i + 3], "alpha");
        }
        return (r, g, b);
    }
}

using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Data;
using static Pilot.MLNet.Tests.Data.DataTestHelpers;

namespace Pilot.MLNet.Tests.Data;

[TestClass]
public sealed class IdxLoaderTests
{
    private static readonly MLContext Ml = new(seed: 1);

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void LoadsImagesAndLabelsInFileOrder(bool gzip)
    {
        using var temp = new TestFolder();
        var (pixels, labels) = MakeImages(n: 12, h: 5, w: 7, classes: 10);
        var (images, labelPath) = WriteIdxPair(temp.Path, "train", pixels, labels, 5, 7, gzip);

        var set = PilotDatasets.LoadIdx(Ml, images, labelPath);

        Assert.AreEqual(new ImageShape(1, 5, 7), set.Shape);
        CollectionAssert.AreEqual(Enumerable.Range(0, 10).Select(i => i.ToString()).ToArray(), set.ClassNames.ToArray());
        Assert.AreEqual(12L, set.Data.GetRowCount());
        var imageType = (VectorDataViewType)set.Data.Schema[PilotDatasets.ImageColumnName].Type;
        Assert.AreEqual(NumberDataViewType.Byte, imageType.ItemType);
        CollectionAssert.AreEqual(new[] { 1, 5, 7 }, imageType.Dimensions.ToArray());
        Assert.IsInstanceOfType<TextDataViewType>(set.Data.Schema[PilotDatasets.LabelColumnName].Type);

        var rows = ReadRows(set.Data);
        Assert.AreEqual(12, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.AreEqual(labels[i].ToString(), rows[i].Label);
            CollectionAssert.AreEqual(pixels.AsSpan(i * 35, 35).ToArray(), rows[i].Image);
        }
        // Re-enumerable: a second pass gives the same rows.
        CollectionAssert.AreEqual(rows.Select(r => r.Label).ToArray(), ReadRows(set.Data).Select(r => r.Label).ToArray());
    }

    [TestMethod]
    public void GzipIsRecognisedByContentNotByName()
    {
        using var temp = new TestFolder();
        var (pixels, labels) = MakeImages(4, 3, 3, 2);
        WriteIdx(temp.File("images.bin"), 0x803, [4, 3, 3], pixels, gzip: true);
        WriteIdx(temp.File("labels.gz"), 0x801, [4], labels, gzip: false);

        var set = PilotDatasets.LoadIdx(Ml, temp.File("images.bin"), temp.File("labels.gz"));

        CollectionAssert.AreEqual(pixels, ReadRows(set.Data).SelectMany(r => r.Image).ToArray());
    }

    [TestMethod]
    public void GivenClassNamesLabelTheRows()
    {
        using var temp = new TestFolder();
        var (pixels, labels) = MakeImages(10, 2, 2, 3);
        var (images, labelPath) = WriteIdxPair(temp.Path, "t10k", pixels, labels, 2, 2);
        string[] names = ["cat", "dog", "bird"];

        var set = PilotDatasets.LoadIdx(Ml, images, labelPath, names);

        CollectionAssert.AreEqual(names, set.ClassNames.ToArray());
        CollectionAssert.AreEqual(labels.Select(l => names[l]).ToArray(), ReadText(set.Data, PilotDatasets.LabelColumnName));
    }

    [TestMethod]
    public void DefaultClassNamesCoverLabelsAboveNine()
    {
        using var temp = new TestFolder();
        var (pixels, _) = MakeImages(3, 2, 2, 1);
        var (images, labelPath) = WriteIdxPair(temp.Path, "train", pixels, [0, 25, 4], 2, 2);

        var set = PilotDatasets.LoadIdx(Ml, images, labelPath);

        Assert.AreEqual(26, set.ClassNames.Count);
        CollectionAssert.AreEqual(new[] { "0", "25", "4" }, ReadText(set.Data, PilotDatasets.LabelColumnName));
    }

    [TestMethod]
    public void LoadIdxFolderFindsTheTrainAndTestPairs()
    {
        using var temp = new TestFolder();
        var (trainPixels, trainLabels) = MakeImages(6, 4, 4, 10, seed: 2);
        var (testPixels, testLabels) = MakeImages(3, 4, 4, 10, seed: 3);
        WriteIdxPair(temp.Path, "train", trainPixels, trainLabels, 4, 4, gzip: true);
        // The test pair with the other common naming: "t10k-images.idx3-ubyte".
        WriteIdx(temp.File("t10k-images.idx3-ubyte"), 0x803, [3, 4, 4], testPixels);
        WriteIdx(temp.File("t10k-labels.idx1-ubyte"), 0x801, [3], testLabels);

        var train = PilotDatasets.LoadIdxFolder(Ml, temp.Path, train: true);
        var test = PilotDatasets.LoadFashionMnist(Ml, temp.Path, train: false);

        Assert.AreEqual(6L, train.Data.GetRowCount());
        CollectionAssert.AreEqual(trainPixels, ReadRows(train.Data).SelectMany(r => r.Image).ToArray());
        CollectionAssert.AreEqual(PilotDatasets.FashionMnistClassNames.ToArray(), test.ClassNames.ToArray());
        CollectionAssert.AreEqual(testLabels.Select(l => PilotDatasets.FashionMnistClassNames[l]).ToArray(), ReadText(test.Data, PilotDatasets.LabelColumnName));
    }

    [TestMethod]
    public void LoadIdxFolderNamesTheMissingFile()
    {
        using var temp = new TestFolder();
        var (pixels, labels) = MakeImages(2, 2, 2, 2);
        WriteIdx(temp.File("train-images-idx3-ubyte"), 0x803, [2, 2, 2], pixels);

        var e = Assert.ThrowsExactly<FileNotFoundException>(() => PilotDatasets.LoadIdxFolder(Ml, temp.Path, train: true));
        StringAssert.Contains(e.Message, "train-labels-idx1-ubyte");
        StringAssert.Contains(e.Message, temp.Path);
        Assert.ThrowsExactly<DirectoryNotFoundException>(() => PilotDatasets.LoadIdxFolder(Ml, temp.File("absent"), train: true));
    }

    // Each case writes a valid pair, then damages one file; the error must be InvalidDataException naming that file.
    public static IEnumerable<object[]> BrokenPairs =>
    [
        ["bad image magic", "images", "not an IDX file"],
        ["paths swapped", "images", "are the image and label paths swapped"], // reported on the image file passed as labels
        ["float element type", "images", "element type 0x0D"],
        ["wrong dimension count", "images", "has 2 dimensions"],
        ["truncated images", "images", "is truncated"],
        ["truncated gzip images", "images", "is truncated"],
        ["extra bytes", "labels", "followed by 1 more byte."],
        ["extra gzip bytes", "images", "more data follows"],
        ["count mismatch", "images", "holds 6 images but"],
        ["zero count", "labels", "label count is 0"],
        ["huge height", "images", "image height is 100000"],
        ["header only", "images", "shorter than the 16-byte header"],
        ["corrupt gzip", "images", "gzip data is corrupt"],
        ["cut gzip file", "images", ""], // truncated or corrupt, depending on where the cut falls
        ["label beyond class names", "labels", "only 3 class names"],
    ];

    [TestMethod]
    [DynamicData(nameof(BrokenPairs))]
    public void BrokenFilesGiveInvalidDataExceptionNamingTheFile(string damage, string culprit, string message)
    {
        using var temp = new TestFolder();
        string images = temp.File("images-idx3-ubyte"), labels = temp.File("labels-idx1-ubyte");
        var (pixels, labelData) = MakeImages(6, 4, 4, 3);
        WriteIdx(images, 0x803, [6, 4, 4], pixels);
        WriteIdx(labels, 0x801, [6], labelData);
        string[]? names = null;
        string loadImages = images, loadLabels = labels;

        switch (damage)
        {
            case "bad image magic": WriteIdx(images, 0x12345678, [6, 4, 4], pixels); break;
            case "paths swapped": (loadImages, loadLabels) = (labels, images); break;
            case "float element type": WriteIdx(images, 0x0D03, [6, 4, 4], pixels); break;
            case "wrong dimension count": WriteIdx(images, 0x802, [6, 16], pixels); break;
            case "truncated images": WriteIdx(images, 0x803, [6, 4, 4], pixels[..^5]); break;
            case "truncated gzip images": WriteIdx(images, 0x803, [6, 4, 4], pixels[..^16], gzip: true); break;
            case "extra bytes": WriteIdx(labels, 0x801, [6], [.. labelData, 1]); break;
            case "extra gzip bytes": WriteIdx(images, 0x803, [6, 4, 4], [.. pixels, 9, 9], gzip: true); break;
            case "count mismatch": WriteIdx(labels, 0x801, [5], labelData[..5]); break;
            case "zero count": WriteIdx(labels, 0x801, [0], []); break;
            case "huge height": WriteIdx(images, 0x803, [6, 100_000, 4], pixels); break;
            case "header only": File.WriteAllBytes(images, [0, 0, 8, 3, 0, 0, 0, 6]); break;
            case "corrupt gzip": File.WriteAllBytes(images, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, .. Enumerable.Repeat((byte)0xff, 40)]); break;
            case "cut gzip file":
                WriteIdx(images, 0x803, [6, 4, 4], pixels, gzip: true);
                File.WriteAllBytes(images, File.ReadAllBytes(images)[..40]);
                break;
            case "label beyond class names": WriteIdx(labels, 0x801, [6], [0, 1, 2, 3, 1, 0]); names = ["a", "b", "c"]; break;
            default: Assert.Fail($"unknown case {damage}"); break;
        }

        var e = Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.LoadIdx(Ml, loadImages, loadLabels, names));
        StringAssert.Contains(e.Message, message);
        StringAssert.Contains(e.Message, $"'{(culprit == "images" ? images : labels)}'");
    }

    [TestMethod]
    public void BadArgumentsAreRejected()
    {
        using var temp = new TestFolder();
        var (pixels, labels) = MakeImages(2, 2, 2, 2);
        var (images, labelPath) = WriteIdxPair(temp.Path, "train", pixels, labels, 2, 2);

        Assert.ThrowsExactly<ArgumentNullException>(() => PilotDatasets.LoadIdx(null!, images, labelPath));
        Assert.AreEqual("imagesPath", Assert.ThrowsExactly<ArgumentException>(() => PilotDatasets.LoadIdx(Ml, "", labelPath)).ParamName);
        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => PilotDatasets.LoadIdx(Ml, images, temp.File("nope")));
        StringAssert.Contains(missing.Message, temp.File("nope"));
        Assert.AreEqual("classNames", Assert.ThrowsExactly<ArgumentException>(() => PilotDatasets.LoadIdx(Ml, images, labelPath, ["a", "a"])).ParamName);
        Assert.AreEqual("classNames", Assert.ThrowsExactly<ArgumentException>(() => PilotDatasets.LoadIdx(Ml, images, labelPath, ["a", " "])).ParamName);
    }

    [TestMethod]
    public void ShuffledCursorVisitsEveryRowOnce()
    {
        using var temp = new TestFolder();
        var (pixels, labels) = MakeImages(50, 2, 2, 10);
        var (images, labelPath) = WriteIdxPair(temp.Path, "train", pixels, labels, 2, 2);
        var set = PilotDatasets.LoadIdx(Ml, images, labelPath);
        Assert.IsTrue(set.Data.CanShuffle);

        var image = set.Data.Schema[PilotDatasets.ImageColumnName];
        using var cursor = set.Data.GetRowCursor([image], new Random(5));
        var getId = cursor.GetIdGetter();
        var getImage = cursor.GetGetter<VBuffer<byte>>(image);
        var order = new List<int>();
        DataViewRowId id = default;
        VBuffer<byte> value = default;
        while (cursor.MoveNext())
        {
            getId(ref id);
            getImage(ref value);
            int row = (int)id.Low;
            CollectionAssert.AreEqual(pixels.AsSpan(row * 4, 4).ToArray(), value.DenseValues().ToArray());
            order.Add(row);
        }
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 50).ToArray(), order);
        CollectionAssert.AreNotEqual(Enumerable.Range(0, 50).ToArray(), order);

        // Asking for a column that was not requested, or for the wrong type, fails clearly.
        var label = set.Data.Schema[PilotDatasets.LabelColumnName];
        Assert.ThrowsExactly<InvalidOperationException>(() => cursor.GetGetter<ReadOnlyMemory<char>>(label));
        using var all = set.Data.GetRowCursor(set.Data.Schema);
        Assert.ThrowsExactly<InvalidOperationException>(() => all.GetGetter<VBuffer<float>>(image));
        var early = all.GetGetter<VBuffer<byte>>(image);
        Assert.ThrowsExactly<InvalidOperationException>(() => early(ref value)); // before MoveNext
    }

    [TestMethod]
    public void WorksAsTheInputOfAnMLNetPipeline()
    {
        using var temp = new TestFolder();
        var (pixels, labels) = MakeImages(20, 3, 3, 4);
        var (images, labelPath) = WriteIdxPair(temp.Path, "train", pixels, labels, 3, 3);
        var set = PilotDatasets.LoadIdx(Ml, images, labelPath);

        var transformed = Ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(Ml.Transforms.Conversion.ConvertType("Pixels", "Image", DataKind.Single))
            .Fit(set.Data).Transform(set.Data);
        var keys = transformed.GetColumn<uint>("Label").ToArray();
        var floats = transformed.GetColumn<float[]>("Pixels").ToArray();

        Assert.AreEqual(4, keys.Distinct().Count());
        CollectionAssert.AreEqual(pixels.Select(p => (float)p).ToArray(), floats.SelectMany(f => f).ToArray());
        var split = Ml.Data.TrainTestSplit(set.Data, testFraction: 0.25, seed: 3);
        Assert.AreEqual(20, ReadRows(split.TrainSet).Count + ReadRows(split.TestSet).Count);
    }
}

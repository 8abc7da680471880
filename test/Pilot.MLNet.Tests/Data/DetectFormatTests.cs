using Pilot.MLNet.Data;
using static Pilot.MLNet.Tests.Data.DataTestHelpers;

namespace Pilot.MLNet.Tests.Data;

[TestClass]
public sealed class DetectFormatTests
{
    [TestMethod]
    public void IdxFolderIsDetectedByEitherPair()
    {
        using var temp = new TestFolder();
        var (pixels, labels) = MakeImages(2, 2, 2, 2);
        WriteIdxPair(temp.Path, "t10k", pixels, labels, 2, 2, gzip: true);
        Assert.AreEqual(DatasetFormat.Idx, PilotDatasets.DetectFormat(temp.Path));
    }

    [TestMethod]
    public void HalfAnIdxPairIsNotAnIdxFolder()
    {
        using var temp = new TestFolder();
        WriteIdx(temp.File("train-images-idx3-ubyte"), 0x803, [1, 1, 1], [0]);
        Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.DetectFormat(temp.Path));
    }

    [TestMethod]
    public void CifarFolderIsDetectedDirectlyOrThroughTheArchiveFolder()
    {
        using var temp = new TestFolder();
        string nested = Path.Combine(temp.Path, "cifar-10-batches-bin");
        Directory.CreateDirectory(nested);
        File.WriteAllBytes(Path.Combine(nested, "data_batch_1.bin"), new byte[3073]);
        Assert.AreEqual(DatasetFormat.Cifar10Binary, PilotDatasets.DetectFormat(temp.Path));
        Assert.AreEqual(DatasetFormat.Cifar10Binary, PilotDatasets.DetectFormat(nested));
    }

    [TestMethod]
    public void ImageFolderIsDetectedByAnImageInAClassFolder()
    {
        using var temp = new TestFolder();
        Directory.CreateDirectory(temp.File("cat"));
        File.WriteAllText(temp.File("cat/notes.txt"), "");
        Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.DetectFormat(temp.Path));
        File.WriteAllBytes(temp.File("cat/1.JPG"), [0]);
        Assert.AreEqual(DatasetFormat.ImageFolder, PilotDatasets.DetectFormat(temp.Path));
    }

    [TestMethod]
    public void UnknownLayoutNamesThePathAndTheAcceptedFormats()
    {
        using var temp = new TestFolder();
        File.WriteAllText(temp.File("data.csv"), "a,b");

        var e = Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.DetectFormat(temp.Path));
        StringAssert.Contains(e.Message, $"'{temp.Path}'");
        StringAssert.Contains(e.Message, "one sub-folder of images per class");
        StringAssert.Contains(e.Message, "train-images-idx3-ubyte");
        StringAssert.Contains(e.Message, "data_batch_1.bin");

        var file = Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.DetectFormat(temp.File("data.csv")));
        StringAssert.Contains(file.Message, "is a file");
        var missing = Assert.ThrowsExactly<DirectoryNotFoundException>(() => PilotDatasets.DetectFormat(temp.File("absent")));
        StringAssert.Contains(missing.Message, temp.File("absent"));
        Assert.ThrowsExactly<ArgumentException>(() => PilotDatasets.DetectFormat(" "));
    }

    [TestMethod]
    public void DebianFashionMnistIsAnIdxFolder()
    {
        DataTestHelpers.RequireFullFashionMnist();
        Assert.AreEqual(DatasetFormat.Idx, PilotDatasets.DetectFormat(PilotDatasets.DebianFashionMnistFolder));
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Data;
using static Pilot.MLNet.Tests.Data.DataTestHelpers;

namespace Pilot.MLNet.Tests.Data;

[TestClass]
public sealed class Cifar10LoaderTests
{
    private const int RecordBytes = 3073;
    private static readonly MLContext Ml = new(seed: 1);

    /// <summary>Writes <paramref name="count"/> records whose pixels encode (file, record, channel, position) and returns them.</summary>
    private static List<(byte Label, byte[] Image)> WriteBatch(string path, int fileIndex, int count)
    {
        var records = new List<(byte, byte[])>();
        using var file = File.Create(path);
        for (int r = 0; r < count; r++)
        {
            byte label = (byte)((fileIndex * 3 + r) % 10);
            var image = new byte[3072];
            for (int i = 0; i < image.Length; i++)
                image[i] = (byte)(fileIndex * 40 + r * 7 + i / 1024 * 50 + i % 1024);
            file.WriteByte(label);
            file.Write(image);
            records.Add((label, image));
        }
        return records;
    }

    private static List<(byte Label, byte[] Image)> WriteTrainingSet(string folder, int perFile = 2)
    {
        var all = new List<(byte, byte[])>();
        for (int f = 1; f <= 5; f++)
            all.AddRange(WriteBatch(Path.Combine(folder, $"data_batch_{f}.bin"), f, perFile + f % 2));
        return all;
    }

    [TestMethod]
    public void LoadsTheFiveTrainingFilesInOrder()
    {
        using var temp = new TestFolder();
        var written = WriteTrainingSet(temp.Path);
        WriteBatch(temp.File("test_batch.bin"), 9, 4);

        var set = PilotDatasets.LoadCifar10(Ml, temp.Path, train: true);

        Assert.AreEqual(new ImageShape(3, 32, 32), set.Shape);
        CollectionAssert.AreEqual(PilotDatasets.Cifar10ClassNames.ToArray(), set.ClassNames.ToArray());
        CollectionAssert.AreEqual(new[] { 3, 32, 32 }, ((VectorDataViewType)set.Data.Schema[PilotDatasets.ImageColumnName].Type).Dimensions.ToArray());
        var rows = ReadRows(set.Data);
        Assert.AreEqual(written.Count, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.AreEqual(PilotDatasets.Cifar10ClassNames[written[i].Label], rows[i].Label);
            CollectionAssert.AreEqual(written[i].Image, rows[i].Image); // CHW as stored: the red plane first
        }
        Assert.AreEqual(4L, PilotDatasets.LoadCifar10(Ml, temp.Path, train: false).Data.GetRowCount());
    }

    [TestMethod]
    public void ClassNamesComeFromBatchesMetaWhenPresent()
    {
        using var temp = new TestFolder();
        string nested = Path.Combine(temp.Path, "cifar-10-batches-bin"); // the official archive's folder
        Directory.CreateDirectory(nested);
        var written = WriteBatch(Path.Combine(nested, "test_batch.bin"), 0, 5);
        string[] names = ["a0", "b1", "c2", "d3", "e4", "f5", "g6", "h7", "i8", "j9"];
        File.WriteAllText(Path.Combine(nested, "batches.meta.txt"), string.Join("\n", names) + "\n\n");

        var set = PilotDatasets.LoadCifar10(Ml, temp.Path, train: false);

        CollectionAssert.AreEqual(names, set.ClassNames.ToArray());
        CollectionAssert.AreEqual(written.Select(r => names[r.Label]).ToArray(), ReadText(set.Data, PilotDatasets.LabelColumnName));
    }

    [TestMethod]
    public void TruncatedFileIsRejectedWithItsName()
    {
        using var temp = new TestFolder();
        WriteTrainingSet(temp.Path);
        string damaged = temp.File("data_batch_3.bin");
        var bytes = File.ReadAllBytes(damaged);
        File.WriteAllBytes(damaged, bytes[..^100]);

        var e = Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.LoadCifar10(Ml, temp.Path, train: true));
        StringAssert.Contains(e.Message, $"'{damaged}'");
        StringAssert.Contains(e.Message, "not a multiple of the CIFAR-10 record size 3073");
        StringAssert.Contains(e.Message, "truncated");
    }

    [TestMethod]
    public void WrongRecordSizeIsRejectedWithItsName()
    {
        using var temp = new TestFolder();
        // CIFAR-100's binary records: coarse label, fine label, 3072 pixels.
        File.WriteAllBytes(temp.File("test_batch.bin"), new byte[3 * 3074]);

        var e = Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.LoadCifar10(Ml, temp.Path, train: false));
        StringAssert.Contains(e.Message, $"'{temp.File("test_batch.bin")}'");
        StringAssert.Contains(e.Message, "CIFAR-100");
    }

    [TestMethod]
    public void EmptyFileAndBadLabelAreRejected()
    {
        using var temp = new TestFolder();
        File.WriteAllBytes(temp.File("test_batch.bin"), []);
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.LoadCifar10(Ml, temp.Path, train: false)).Message, "is empty");

        var records = new byte[2 * RecordBytes];
        records[RecordBytes] = 10; // the second record's label
        File.WriteAllBytes(temp.File("test_batch.bin"), records);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.LoadCifar10(Ml, temp.Path, train: false));
        StringAssert.Contains(e.Message, "record 1 has label 10");
        StringAssert.Contains(e.Message, temp.File("test_batch.bin"));
    }

    [TestMethod]
    public void MissingFilesAndBadMetaAreReported()
    {
        using var temp = new TestFolder();
        WriteTrainingSet(temp.Path);
        File.Delete(temp.File("data_batch_4.bin"));
        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => PilotDatasets.LoadCifar10(Ml, temp.Path, train: true));
        StringAssert.Contains(missing.Message, "data_batch_4.bin");
        Assert.ThrowsExactly<FileNotFoundException>(() => PilotDatasets.LoadCifar10(Ml, temp.Path, train: false));
        Assert.ThrowsExactly<DirectoryNotFoundException>(() => PilotDatasets.LoadCifar10(Ml, temp.File("absent"), train: false));

        WriteBatch(temp.File("test_batch.bin"), 0, 1);
        File.WriteAllLines(temp.File("batches.meta.txt"), ["one", "two"]);
        var meta = Assert.ThrowsExactly<InvalidDataException>(() => PilotDatasets.LoadCifar10(Ml, temp.Path, train: false));
        StringAssert.Contains(meta.Message, "batches.meta.txt");
        StringAssert.Contains(meta.Message, "lists 2 class names");
    }
}

namespace Pilot.MLNet.Data;

/// <summary>
/// Reader for the binary version of CIFAR-10 (https://www.cs.toronto.edu/~kriz/cifar.html): each file is a sequence of
/// 3,073-byte records, one label byte (0–9) followed by a 3×32×32 image stored channel by channel (red, green, blue), each
/// channel row by row — the CHW order the network uses. Training files <c>data_batch_1.bin</c> … <c>data_batch_5.bin</c>,
/// test file <c>test_batch.bin</c>, class names in <c>batches.meta.txt</c> (one per line).
/// </summary>
internal static class Cifar10BinaryFormat
{
    /// <summary>The shape of every CIFAR-10 image.</summary>
    internal static readonly ImageShape Shape = new(3, 32, 32);

    /// <summary>Bytes per record: one label byte and the image.</summary>
    internal const int RecordBytes = 1 + 3 * 32 * 32;

    /// <summary>Bytes per record of CIFAR-100's binary version (coarse label, fine label, image), named in errors.</summary>
    private const int Cifar100RecordBytes = 2 + 3 * 32 * 32;

    /// <summary>Number of classes.</summary>
    internal const int ClassCount = 10;

    /// <summary>The training files, in the order they are read.</summary>
    internal static readonly IReadOnlyList<string> TrainFiles = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

    /// <summary>The test files.</summary>
    internal static readonly IReadOnlyList<string> TestFiles = ["test_batch.bin"];

    /// <summary>The optional file of class names, one per line.</summary>
    internal const string MetaFile = "batches.meta.txt";

    /// <summary>The folder the official archive extracts to; accepted in place of the folder that contains it.</summary>
    internal const string ArchiveFolder = "cifar-10-batches-bin";

    private const int RecordsPerRead = 256;

    /// <summary>Reads all records of <paramref name="files"/> in order; file lengths are checked before anything is allocated.</summary>
    /// <exception cref="InvalidDataException">A file is empty, not a whole number of records, or holds a label ≥ 10; the message names it.</exception>
    internal static (byte[] Pixels, byte[] Labels) Read(IReadOnlyList<DataSource> files)
    {
        var counts = new int[files.Count];
        long total = 0;
        for (int f = 0; f < files.Count; f++)
        {
            using var stream = files[f].Open();
            counts[f] = RecordCount(files[f], stream.Length);
            total += counts[f];
        }
        if (total * Shape.Size > Array.MaxLength)
            throw new InvalidDataException($"{string.Join(", ", files)} hold {total} images, more than one array can hold.");

        var pixels = new byte[total * Shape.Size];
        var labels = new byte[total];
        var buffer = new byte[RecordsPerRead * RecordBytes];
        int row = 0;
        for (int f = 0; f < files.Count; f++)
        {
            using var stream = files[f].Open();
            for (int first = 0; first < counts[f]; first += RecordsPerRead)
            {
                int records = Math.Min(RecordsPerRead, counts[f] - first);
                var block = buffer.AsSpan(0, records * RecordBytes);
                if (files[f].ReadBlock(stream, block) != block.Length)
                    throw new InvalidDataException($"{files[f]} became shorter while it was read.");
                for (int r = 0; r < records; r++, row++)
                {
                    var record = block.Slice(r * RecordBytes, RecordBytes);
                    if (record[0] >= ClassCount)
                        throw new InvalidDataException($"{files[f]}: record {first + r} has label {record[0]}; CIFAR-10 labels are 0 to {ClassCount - 1}.");
                    labels[row] = record[0];
                    record[1..].CopyTo(pixels.AsSpan(row * Shape.Size, Shape.Size));
                }
            }
        }
        return (pixels, labels);
    }

    /// <summary>Reads the class names of <see cref="MetaFile"/>: the non-blank lines, trimmed; there must be exactly ten, all different.</summary>
    internal static IReadOnlyList<string> ReadClassNames(string path)
    {
        var names = File.ReadLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        if (names.Length != ClassCount)
            throw new InvalidDataException($"'{path}' lists {names.Length} class names; CIFAR-10 has {ClassCount} (one per line).");
        var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidDataException($"'{path}' lists the class name '{duplicate.Key}' more than once.");
        return Array.AsReadOnly(names);
    }

    private static int RecordCount(DataSource file, long length)
    {
        if (length == 0)
            throw new InvalidDataException($"{file} is empty; a CIFAR-10 binary file holds {RecordBytes}-byte records (1 label byte + 3×32×32 pixel bytes).");
        if (length % RecordBytes != 0)
        {
            string hint = length % Cifar100RecordBytes == 0
                ? $"it looks like CIFAR-100's binary version ({Cifar100RecordBytes}-byte records with two label bytes), which is not supported"
                : $"the file is truncated or not the binary version of CIFAR-10 ({length / RecordBytes} whole records and {length % RecordBytes} bytes left over)";
            throw new InvalidDataException($"{file} is {length} bytes long, not a multiple of the CIFAR-10 record size {RecordBytes} (1 label byte + 3×32×32 pixel bytes): {hint}.");
        }
        if (length / RecordBytes > int.MaxValue)
            throw new InvalidDataException($"{file} holds more than {int.MaxValue} records.");
        return (int)(length / RecordBytes);
    }
}

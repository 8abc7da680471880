using System.Globalization;
using Microsoft.ML;

namespace Pilot.MLNet.Data;

/// <summary>
/// Loaders for the image data sets the trainer, the <c>pilot</c> command and the samples use: MNIST/FashionMNIST IDX files,
/// the binary version of CIFAR-10, the FashionMNIST sample embedded in this assembly, and folders of image files (Model
/// Builder layout); plus <see cref="WriteImageFolder"/> to turn a loaded set into a folder of PNG files.
/// </summary>
/// <remarks>
/// <para>
/// IDX and CIFAR-10 data are read once into memory (one byte per pixel) and returned as a <see cref="LabeledImages"/> whose
/// <see cref="IDataView"/> has a <see cref="LabelColumnName"/> column (text: the class name) and an
/// <see cref="ImageColumnName"/> column (known-size vector of <see cref="byte"/>, dimensions C, H, W, values in CHW order).
/// The view can be enumerated any number of times, knows its row count and can be shuffled.
/// </para>
/// <para>
/// Errors: a missing file or folder gives <see cref="FileNotFoundException"/> or <see cref="DirectoryNotFoundException"/>;
/// content that is not what the format requires gives <see cref="InvalidDataException"/>; both name the path and what is
/// wrong. Everything read from a file is validated before memory is allocated for it.
/// </para>
/// </remarks>
public static partial class PilotDatasets
{
    /// <summary>Name of the class-name column of every loaded data set: <c>"Label"</c>.</summary>
    public const string LabelColumnName = "Label";

    /// <summary>Name of the pixel column of <see cref="LabeledImages"/>: <c>"Image"</c>.</summary>
    public const string ImageColumnName = "Image";

    /// <summary>Name of the image-file column of <see cref="LoadImageFolder"/>: <c>"ImagePath"</c>.</summary>
    public const string ImagePathColumnName = "ImagePath";

    /// <summary>
    /// Where the Debian package <c>dataset-fashion-mnist</c> installs the full FashionMNIST (60,000 training and 10,000 test
    /// images, IDX .gz files): <c>/usr/share/datasets/fashion-mnist</c>.
    /// </summary>
    public const string DebianFashionMnistFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>Training images in the embedded FashionMNIST sample: the first 6,000 of the full training set.</summary>
    public const int EmbeddedTrainCount = 6000;

    /// <summary>Test images in the embedded FashionMNIST sample: the first 1,000 of the full test set.</summary>
    public const int EmbeddedTestCount = 1000;

    /// <summary>The ten FashionMNIST classes in label order (label 0 is "T-shirt/top", 9 is "Ankle boot").</summary>
    public static IReadOnlyList<string> FashionMnistClassNames { get; } = Array.AsReadOnly(
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]);

    /// <summary>The ten CIFAR-10 classes in label order, as its <c>batches.meta.txt</c> lists them.</summary>
    public static IReadOnlyList<string> Cifar10ClassNames { get; } = Array.AsReadOnly(
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]);

    /// <summary>File extensions <see cref="LoadImageFolder"/> treats as images (compared without regard to case).</summary>
    public static IReadOnlyList<string> ImageExtensions { get; } = Array.AsReadOnly([".png", ".jpg", ".jpeg", ".bmp", ".gif"]);

    /// <summary>Class names of IDX files when the caller gives none: the label numbers, "0" to "9" for the MNIST family.</summary>
    private const int DefaultIdxClassCount = 10;

    private const string EmbeddedResourcePrefix = "Pilot.MLNet.Data.FashionMnistSample.";

    /// <summary>
    /// Loads an IDX image file (magic 0x00000803: N×H×W unsigned bytes) and its IDX label file (magic 0x00000801: N unsigned
    /// bytes), each plain or gzip-compressed (recognised by the gzip magic number, not by the file name).
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="imagesPath">The image file, e.g. <c>train-images-idx3-ubyte.gz</c>.</param>
    /// <param name="labelsPath">The label file, e.g. <c>train-labels-idx1-ubyte.gz</c>.</param>
    /// <param name="classNames">
    /// The class name of each label value, in label order (e.g. <see cref="FashionMnistClassNames"/>); non-empty and all
    /// different. Default <see langword="null"/>: the label numbers as text, "0" to "9" (or up to the largest label when it
    /// exceeds 9).
    /// </param>
    /// <returns>The images (shape 1×H×W) with their class names.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="mlContext"/> is null.</exception>
    /// <exception cref="ArgumentException">A path is empty, or <paramref name="classNames"/> has an empty or repeated name.</exception>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// A file is not an unsigned-byte IDX file of the right kind, is truncated or has extra data, the two counts differ,
    /// or a label has no class name; the message names the file.
    /// </exception>
    public static LabeledImages LoadIdx(MLContext mlContext, string imagesPath, string labelsPath, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrWhiteSpace(imagesPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelsPath);
        if (classNames is not null)
            ValidateClassNames(classNames, nameof(classNames));
        return LoadIdx(DataSource.FromFile(imagesPath, "IDX image file"), DataSource.FromFile(labelsPath, "IDX label file"), classNames);
    }

    /// <summary>
    /// Loads the training or test pair of IDX files from a folder in the MNIST layout: <c>train-images-idx3-ubyte</c> and
    /// <c>train-labels-idx1-ubyte</c>, or <c>t10k-images-idx3-ubyte</c> and <c>t10k-labels-idx1-ubyte</c>. Each name may
    /// end in <c>.gz</c> and may use <c>.idx</c> for <c>-idx</c> (e.g. <c>train-images.idx3-ubyte</c>).
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="folder">The folder holding the files.</param>
    /// <param name="train"><see langword="true"/> for the <c>train-</c> files, <see langword="false"/> for the <c>t10k-</c> (test) files.</param>
    /// <param name="classNames">As for <see cref="LoadIdx(MLContext, string, string, IReadOnlyList{string}?)"/>; default the label numbers.</param>
    /// <returns>The images (shape 1×H×W) with their class names.</returns>
    /// <exception cref="DirectoryNotFoundException"><paramref name="folder"/> does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder lacks the image or the label file; the message lists the names tried.</exception>
    /// <exception cref="InvalidDataException">As for <see cref="LoadIdx(MLContext, string, string, IReadOnlyList{string}?)"/>.</exception>
    public static LabeledImages LoadIdxFolder(MLContext mlContext, string folder, bool train, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        RequireFolder(folder, nameof(folder));
        if (classNames is not null)
            ValidateClassNames(classNames, nameof(classNames));
        var (images, labels) = FindIdxFiles(folder, train);
        return LoadIdx(DataSource.FromFile(images, "IDX image file"), DataSource.FromFile(labels, "IDX label file"), classNames);
    }

    /// <summary>
    /// Loads FashionMNIST from a folder of IDX files (see <see cref="LoadIdxFolder"/> for the file names), with the class
    /// names <see cref="FashionMnistClassNames"/>. The full data set is installed in <see cref="DebianFashionMnistFolder"/>
    /// by the Debian package <c>dataset-fashion-mnist</c>; <see cref="EmbeddedFashionMnist"/> needs no files.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="folder">The folder holding the files, e.g. <see cref="DebianFashionMnistFolder"/>.</param>
    /// <param name="train"><see langword="true"/> for the 60,000 training images, <see langword="false"/> for the 10,000 test images.</param>
    /// <returns>The images (shape 1×28×28 for FashionMNIST) with their class names.</returns>
    /// <exception cref="DirectoryNotFoundException"><paramref name="folder"/> does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder lacks the image or the label file.</exception>
    /// <exception cref="InvalidDataException">A file is not valid IDX data or a label is above 9; the message names the file.</exception>
    public static LabeledImages LoadFashionMnist(MLContext mlContext, string folder, bool train)
        => LoadIdxFolder(mlContext, folder, train, FashionMnistClassNames);

    /// <summary>
    /// The FashionMNIST sample embedded in this assembly: the first <see cref="EmbeddedTrainCount"/> training or the first
    /// <see cref="EmbeddedTestCount"/> test images of the full data set (about 600 and 100 per class), 1×28×28, with the class
    /// names <see cref="FashionMnistClassNames"/>.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="train"><see langword="true"/> for the training sample, <see langword="false"/> for the test sample.</param>
    /// <returns>The images with their class names.</returns>
    public static LabeledImages EmbeddedFashionMnist(MLContext mlContext, bool train)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        string prefix = train ? "train" : "t10k";
        var assembly = typeof(PilotDatasets).Assembly;
        return LoadIdx(
            DataSource.FromResource(assembly, $"{EmbeddedResourcePrefix}{prefix}-images-idx3-ubyte.gz"),
            DataSource.FromResource(assembly, $"{EmbeddedResourcePrefix}{prefix}-labels-idx1-ubyte.gz"),
            FashionMnistClassNames);
    }

    /// <summary>
    /// Loads the binary version of CIFAR-10 (3×32×32 colour images, 10 classes): <c>data_batch_1.bin</c> to
    /// <c>data_batch_5.bin</c> (50,000 images, read in that order) or <c>test_batch.bin</c> (10,000). Each file is a sequence
    /// of 3,073-byte records: a label byte (0–9), then the red, green and blue planes of 32×32 bytes. Class names come from
    /// <c>batches.meta.txt</c> (one per line) when the folder has it, else <see cref="Cifar10ClassNames"/>.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="folder">The folder holding the files, or the folder the official archive was extracted into (containing <c>cifar-10-batches-bin</c>).</param>
    /// <param name="train"><see langword="true"/> for the five training files, <see langword="false"/> for the test file.</param>
    /// <returns>The images (shape 3×32×32, CHW) with their class names.</returns>
    /// <exception cref="DirectoryNotFoundException"><paramref name="folder"/> does not exist.</exception>
    /// <exception cref="FileNotFoundException">A required file is missing; the message names it.</exception>
    /// <exception cref="InvalidDataException">
    /// A file is empty or not a whole number of records (truncated, or another format such as CIFAR-100's), a label is above
    /// 9, or <c>batches.meta.txt</c> does not list ten different names; the message names the file.
    /// </exception>
    public static LabeledImages LoadCifar10(MLContext mlContext, string folder, bool train)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        RequireFolder(folder, nameof(folder));
        string root = FindCifar10Folder(folder) ?? folder;
        var files = (train ? Cifar10BinaryFormat.TrainFiles : Cifar10BinaryFormat.TestFiles)
            .Select(name => DataSource.FromFile(Path.Combine(root, name), "CIFAR-10 binary file"))
            .ToArray();
        string meta = Path.Combine(root, Cifar10BinaryFormat.MetaFile);
        var classNames = File.Exists(meta) ? Cifar10BinaryFormat.ReadClassNames(meta) : Cifar10ClassNames;
        var (pixels, labels) = Cifar10BinaryFormat.Read(files);
        return new LabeledImages(new InMemoryImageDataView(pixels, labels, Cifar10BinaryFormat.Shape, classNames), Cifar10BinaryFormat.Shape, classNames);
    }

    /// <summary>
    /// Finds out which of the <see cref="DatasetFormat"/>s the folder <paramref name="path"/> holds, checking in this order:
    /// IDX files (a train or test pair), CIFAR-10 binary files (<c>data_batch_1.bin</c> or <c>test_batch.bin</c>, in the folder
    /// or its <c>cifar-10-batches-bin</c> sub-folder), then a folder of class sub-folders with at least one image file.
    /// Only names are looked at; the loaders check the contents.
    /// </summary>
    /// <param name="path">The data folder.</param>
    /// <returns>The format to load it with.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="path"/> does not exist.</exception>
    /// <exception cref="InvalidDataException"><paramref name="path"/> is a file, or a folder in none of the formats; the message lists them.</exception>
    public static DatasetFormat DetectFormat(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (File.Exists(path))
            throw new InvalidDataException($"'{path}' is a file; a data set is a folder. {AcceptedFormats}");
        RequireFolder(path, nameof(path));
        if (TryFindIdxFiles(path, train: true) is not null || TryFindIdxFiles(path, train: false) is not null)
            return DatasetFormat.Idx;
        if (FindCifar10Folder(path) is not null)
            return DatasetFormat.Cifar10Binary;
        if (ScanImageFolder(path, stopAtFirstImage: true).Count > 0)
            return DatasetFormat.ImageFolder;
        throw new InvalidDataException($"'{path}' holds no data set in a format this program reads. {AcceptedFormats}");
    }

    /// <summary>The accepted formats, for error messages.</summary>
    private static string AcceptedFormats =>
        "Accepted: (1) a folder with one sub-folder of images per class (" + string.Join(" ", ImageExtensions) + "); " +
        "(2) an MNIST/FashionMNIST folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (optionally .gz); " +
        "(3) a CIFAR-10 binary folder with data_batch_1.bin … data_batch_5.bin and test_batch.bin (or its parent holding cifar-10-batches-bin).";

    private static LabeledImages LoadIdx(DataSource images, DataSource labels, IReadOnlyList<string>? classNames)
    {
        var (pixels, labelData, shape) = IdxFormat.Read(images, labels);
        int maxLabel = labelData.Length == 0 ? 0 : labelData.Max();
        if (classNames is null)
        {
            int count = Math.Max(DefaultIdxClassCount, maxLabel + 1);
            classNames = Array.AsReadOnly(Enumerable.Range(0, count).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray());
        }
        else if (maxLabel >= classNames.Count)
        {
            int index = Array.IndexOf(labelData, (byte)maxLabel);
            throw new InvalidDataException($"{labels}: item {index} has label {maxLabel}, but only {classNames.Count} class names were given (labels 0 to {classNames.Count - 1}).");
        }
        return new LabeledImages(new InMemoryImageDataView(pixels, labelData, shape, classNames), shape, classNames);
    }

    /// <summary>The image and label files of the train or test pair in <paramref name="folder"/>, or a <see cref="FileNotFoundException"/>.</summary>
    private static (string Images, string Labels) FindIdxFiles(string folder, bool train)
    {
        string prefix = train ? "train" : "t10k";
        var imageNames = IdxFileNames(prefix, "images", 3);
        var labelNames = IdxFileNames(prefix, "labels", 1);
        string? images = FirstExisting(folder, imageNames);
        string? labels = FirstExisting(folder, labelNames);
        if (images is null || labels is null)
        {
            var missing = images is null ? imageNames : labelNames;
            throw new FileNotFoundException(
                $"'{folder}' has no IDX {(images is null ? "image" : "label")} file for the {(train ? "training" : "test")} set; looked for {string.Join(", ", missing)}.",
                Path.Combine(folder, missing[0]));
        }
        return (images, labels);
    }

    private static (string Images, string Labels)? TryFindIdxFiles(string folder, bool train)
    {
        string prefix = train ? "train" : "t10k";
        string? images = FirstExisting(folder, IdxFileNames(prefix, "images", 3));
        string? labels = FirstExisting(folder, IdxFileNames(prefix, "labels", 1));
        return images is not null && labels is not null ? (images, labels) : null;
    }

    private static string[] IdxFileNames(string prefix, string kind, int dimensions) =>
    [
        $"{prefix}-{kind}-idx{dimensions}-ubyte", $"{prefix}-{kind}-idx{dimensions}-ubyte.gz",
        $"{prefix}-{kind}.idx{dimensions}-ubyte", $"{prefix}-{kind}.idx{dimensions}-ubyte.gz",
    ];

    private static string? FirstExisting(string folder, IEnumerable<string> names)
        => names.Select(n => Path.Combine(folder, n)).FirstOrDefault(File.Exists);

    /// <summary>The folder with the CIFAR-10 files: <paramref name="folder"/> itself or its <c>cifar-10-batches-bin</c>; null when neither has any.</summary>
    private static string? FindCifar10Folder(string folder)
    {
        static bool HasFiles(string f) => Cifar10BinaryFormat.TrainFiles.Take(1).Concat(Cifar10BinaryFormat.TestFiles).Any(n => File.Exists(Path.Combine(f, n)));
        if (HasFiles(folder))
            return folder;
        string nested = Path.Combine(folder, Cifar10BinaryFormat.ArchiveFolder);
        return Directory.Exists(nested) && HasFiles(nested) ? nested : null;
    }

    private static void RequireFolder(string folder, string argumentName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder, argumentName);
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"The data folder '{folder}' does not exist.");
    }

    private static void ValidateClassNames(IReadOnlyList<string> classNames, string argumentName)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < classNames.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(classNames[i]))
                throw new ArgumentException($"{argumentName}[{i}] is empty; every class needs a name.", argumentName);
            if (!seen.Add(classNames[i]))
                throw new ArgumentException($"{argumentName} lists '{classNames[i]}' more than once; class names must be different.", argumentName);
        }
    }
}

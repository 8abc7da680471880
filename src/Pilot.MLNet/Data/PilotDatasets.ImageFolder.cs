using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Pilot.MLNet.Data;

public static partial class PilotDatasets
{
    /// <summary>Digits of the file names <see cref="WriteImageFolder"/> gives (the row number, zero-padded, more digits when needed).</summary>
    private const int ImageFileNameDigits = 6;

    private const int MinClasses = 2;

    /// <summary>
    /// Lists a folder of images in the Model Builder layout: one sub-folder per class, named after the class, holding that
    /// class's image files (extensions in <see cref="ImageExtensions"/>, any case, also in nested folders). Sub-folders without
    /// images, hidden files and folders, and files directly in <paramref name="folder"/> are ignored.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="folder">The folder holding the class sub-folders.</param>
    /// <returns>
    /// A view with a <see cref="LabelColumnName"/> column (text: the sub-folder name) and an <see cref="ImagePathColumnName"/>
    /// column (text: the file's path relative to <paramref name="folder"/>), so that
    /// <c>mlContext.Transforms.LoadRawImageBytes("Image", folder, "ImagePath")</c> reads the images. Rows are in a fixed order:
    /// classes in ordinal order of their names, files in ordinal order of their paths; shuffle before splitting.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="mlContext"/> is null.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="folder"/> does not exist.</exception>
    /// <exception cref="InvalidDataException">The folder has no class sub-folders, no images in them, or images of only one class.</exception>
    public static IDataView LoadImageFolder(MLContext mlContext, string folder)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        RequireFolder(folder, nameof(folder));
        var classes = ScanImageFolder(folder, stopAtFirstImage: false);
        string layout = $"an image-folder data set has one sub-folder per class, named after the class, holding that class's images ({string.Join(" ", ImageExtensions)})";
        if (classes.Count == 0)
        {
            bool hasSubFolders = Directory.EnumerateDirectories(folder, "*", FolderOptions(recurse: false)).Any();
            int loose = Directory.EnumerateFiles(folder, "*", FolderOptions(recurse: false)).Count(IsImageFile);
            string problem = hasSubFolders ? "its sub-folders hold no images" : "it has no sub-folders";
            string hint = loose > 0 ? $" (the {loose} images directly in it belong in class sub-folders)" : "";
            throw new InvalidDataException($"'{folder}' is not an image-folder data set: {problem}{hint}; {layout}.");
        }
        if (classes.Count < MinClasses)
            throw new InvalidDataException($"'{folder}' has images of only one class ('{classes[0].ClassName}'); classification needs at least {MinClasses} class sub-folders with images: {layout}.");

        var rows = classes.SelectMany(c => c.Files.Select(f => new ImageFileRow { Label = c.ClassName, ImagePath = f })).ToArray();
        return mlContext.Data.LoadFromEnumerable(rows);
    }

    /// <summary>
    /// Writes the images of <paramref name="data"/> as PNG files into <paramref name="folder"/>, one sub-folder per class, so
    /// that <see cref="LoadImageFolder"/> (and any Model Builder style pipeline) can read them. Gray images are written as
    /// colour PNGs with equal red, green and blue values; decoding gives back the exact pixels.
    /// </summary>
    /// <param name="data">The images; its view needs the <see cref="LabelColumnName"/> (text) and <see cref="ImageColumnName"/>
    /// (byte vector of <see cref="LabeledImages.Shape"/>) columns, as the loaders of this class produce.</param>
    /// <param name="folder">Where to write; created when missing, and must be empty when it exists (so data sets are never mixed).</param>
    /// <param name="maxPerClass">Write at most this many images of each class (the first ones in row order), ≥ 1; default
    /// <see langword="null"/>: all.</param>
    /// <returns>The number of images written.</returns>
    /// <remarks>
    /// Sub-folders are named after the class, with characters that are not allowed in file names on Windows, macOS or Linux
    /// (<c>/ \ : * ? " &lt; &gt; |</c> and control characters) replaced by <c>_</c>: FashionMNIST's "T-shirt/top" becomes
    /// <c>T-shirt_top</c>. Files are named after the row number (<c>000042.png</c>).
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="folder"/> is empty, the view lacks a column or has the wrong type, or two class names give the same folder name.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxPerClass"/> is below 1.</exception>
    /// <exception cref="IOException"><paramref name="folder"/> exists and is not empty.</exception>
    public static int WriteImageFolder(LabeledImages data, string folder, int? maxPerClass = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (maxPerClass is < 1)
            throw new ArgumentOutOfRangeException(nameof(maxPerClass), maxPerClass, $"{nameof(maxPerClass)} must be at least 1 (or null for all images); got {maxPerClass}.");
        data.Shape.Validate($"{nameof(data)}.{nameof(data.Shape)}");

        var schema = data.Data.Schema;
        var labelColumn = schema.GetColumnOrNull(LabelColumnName)
            ?? throw new ArgumentException($"{nameof(data)} has no '{LabelColumnName}' column.", nameof(data));
        var imageColumn = schema.GetColumnOrNull(ImageColumnName)
            ?? throw new ArgumentException($"{nameof(data)} has no '{ImageColumnName}' column.", nameof(data));
        if (labelColumn.Type is not TextDataViewType)
            throw new ArgumentException($"Column '{LabelColumnName}' of {nameof(data)} must be text (the class name); it is {labelColumn.Type}.", nameof(data));
        if (imageColumn.Type is not VectorDataViewType vector || vector.ItemType != NumberDataViewType.Byte || vector.Size != data.Shape.Size)
            throw new ArgumentException($"Column '{ImageColumnName}' of {nameof(data)} must be a vector of {data.Shape.Size} bytes ({data.Shape}); it is {imageColumn.Type}.", nameof(data));

        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            throw new IOException($"The folder '{folder}' already exists and is not empty; write the images into a new or empty folder.");
        Directory.CreateDirectory(folder);

        long? rowCount = data.Data.GetRowCount();
        int digits = Math.Max(ImageFileNameDigits, rowCount is > 0 ? (rowCount.Value - 1).ToString(CultureInfo.InvariantCulture).Length : 0);
        var folderOfClass = new Dictionary<string, string>(StringComparer.Ordinal);
        var classOfFolder = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase); // case-insensitive: safe on every file system
        var writtenPerClass = new Dictionary<string, int>(StringComparer.Ordinal);
        int plane = data.Shape.Height * data.Shape.Width;
        var rgba = new byte[plane * 4];
        int written = 0;

        using var cursor = data.Data.GetRowCursor([labelColumn, imageColumn]);
        var getLabel = cursor.GetGetter<ReadOnlyMemory<char>>(labelColumn);
        var getImage = cursor.GetGetter<VBuffer<byte>>(imageColumn);
        ReadOnlyMemory<char> label = default;
        VBuffer<byte> image = default, dense = default;
        while (cursor.MoveNext())
        {
            getLabel(ref label);
            string className = label.ToString();
            int count = writtenPerClass.GetValueOrDefault(className);
            if (count >= maxPerClass)
                continue;

            if (!folderOfClass.TryGetValue(className, out var classFolder))
            {
                string name = SafeFolderName(className);
                if (classOfFolder.TryGetValue(name, out var other))
                    throw new ArgumentException($"The classes '{other}' and '{className}' would both be written to the sub-folder '{name}'.", nameof(data));
                classOfFolder[name] = className;
                classFolder = Path.Combine(folder, name);
                Directory.CreateDirectory(classFolder);
                folderOfClass[className] = classFolder;
            }

            getImage(ref image);
            if (!image.IsDense)
                image.CopyToDense(ref dense); // into its own buffer: never aliases the getter's
            ToRgba(image.IsDense ? image.GetValues() : dense.GetValues(), data.Shape.Channels, plane, rgba);
            using (var png = MLImage.CreateFromPixels(data.Shape.Width, data.Shape.Height, MLPixelFormat.Rgba32, rgba))
                png.Save(Path.Combine(classFolder, cursor.Position.ToString("D" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + ".png"));
            writtenPerClass[className] = count + 1;
            written++;
        }
        return written;
    }

    /// <summary>Interleaves CHW planes (1 gray or 3 RGB) into RGBA with alpha 255.</summary>
    private static void ToRgba(ReadOnlySpan<byte> chw, int channels, int plane, Span<byte> rgba)
    {
        if (chw.Length != channels * plane)
            throw new InvalidDataException($"An image has {chw.Length} values; expected {channels * plane}.");
        for (int i = 0; i < plane; i++)
        {
            byte r = chw[i];
            rgba[4 * i] = r;
            rgba[4 * i + 1] = channels == 1 ? r : chw[plane + i];
            rgba[4 * i + 2] = channels == 1 ? r : chw[2 * plane + i];
            rgba[4 * i + 3] = byte.MaxValue;
        }
    }

    /// <summary>The class name with every character not allowed in a file name on common systems replaced by '_'.</summary>
    internal static string SafeFolderName(string className)
    {
        if (string.IsNullOrWhiteSpace(className))
            throw new ArgumentException("A class name is empty; it cannot name a folder.", nameof(className));
        var chars = className.Select(c => c is '/' or '\\' or ':' or '*' or '?' or '"' or '<' or '>' or '|' || char.IsControl(c) ? '_' : c).ToArray();
        string name = new string(chars).TrimEnd('.', ' '); // Windows drops trailing dots and spaces
        return name.Length == 0 || name is "." or ".." ? "_" : name;
    }

    /// <summary>
    /// The classes of an image folder: each non-hidden sub-folder with at least one image file, in ordinal order, with its
    /// image files as paths relative to <paramref name="folder"/>, in ordinal order. With <paramref name="stopAtFirstImage"/>,
    /// returns as soon as one class with one image is found (for format detection).
    /// </summary>
    private static List<(string ClassName, List<string> Files)> ScanImageFolder(string folder, bool stopAtFirstImage)
    {
        var classes = new List<(string, List<string>)>();
        foreach (var classFolder in Directory.EnumerateDirectories(folder, "*", FolderOptions(recurse: false)).Order(StringComparer.Ordinal))
        {
            var images = Directory.EnumerateFiles(classFolder, "*", FolderOptions(recurse: true)).Where(IsImageFile);
            if (stopAtFirstImage)
            {
                var first = images.FirstOrDefault();
                if (first is null)
                    continue;
                classes.Add((Path.GetFileName(classFolder), [first]));
                return classes;
            }
            var files = images.Select(f => Path.GetRelativePath(folder, f)).Order(StringComparer.Ordinal).ToList();
            if (files.Count > 0)
                classes.Add((Path.GetFileName(classFolder), files));
        }
        return classes;
    }

    private static bool IsImageFile(string path)
        => ImageExtensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>Enumeration that skips hidden and system entries (on Unix, names starting with '.') and unreadable folders.</summary>
    private static EnumerationOptions FolderOptions(bool recurse) => new()
    {
        RecurseSubdirectories = recurse,
        AttributesToSkip = FileAttributes.Hidden | FileAttributes.System,
        IgnoreInaccessible = true,
        MatchType = MatchType.Simple,
    };

    /// <summary>A row of <see cref="LoadImageFolder"/>.</summary>
    private sealed class ImageFileRow
    {
        [ColumnName(LabelColumnName)]
        public string Label { get; set; } = "";

        [ColumnName(ImagePathColumnName)]
        public string ImagePath { get; set; } = "";
    }
}

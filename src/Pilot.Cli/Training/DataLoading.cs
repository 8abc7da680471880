using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet;
using Pilot.MLNet.Data;
using Pilot.MLNet.Images;

namespace Pilot.Cli.Training;

/// <summary>Rows for one training run, with the class names in key order.</summary>
/// <param name="Train">Training rows: a <c>Label</c> text column and an <c>Image</c> column.</param>
/// <param name="Validation">Rows scored after each epoch (the test rows unless <c>--validation-fraction</c> is set); null for none.</param>
/// <param name="Test">Rows of the final metrics.</param>
/// <param name="ClassNames">Class names in label-key order.</param>
/// <param name="Shape">Shape of pixel-vector images (IDX, CIFAR-10); null for encoded image files.</param>
/// <param name="TrainDescription">Training rows in words (count).</param>
/// <param name="ValidationDescription">Validation rows in words.</param>
/// <param name="TestDescription">Test rows in words.</param>
internal sealed record TrainingSplit(
    IDataView Train, IDataView? Validation, IDataView Test, IReadOnlyList<string> ClassNames, ImageShape? Shape,
    string TrainDescription, string ValidationDescription, string TestDescription)
{
    /// <summary>The image folder the rows' <c>ImagePath</c> values are relative to; null for pixel-vector data.</summary>
    public string? ImageFolder { get; init; }

    /// <summary>One line for the console.</summary>
    public string Describe() => $"train {TrainDescription}; validation after each epoch: {ValidationDescription}; test {TestDescription}";
}

/// <summary>Rows to evaluate a model on.</summary>
/// <param name="Data">Rows with <c>Label</c> text and <c>Image</c> columns.</param>
/// <param name="Description">The rows in words.</param>
internal sealed record EvaluationRows(IDataView Data, string Description)
{
    /// <summary>The image folder the rows' <c>ImagePath</c> values are relative to; null for pixel-vector data.</summary>
    public string? ImageFolder { get; init; }
}

/// <summary>
/// Turns <c>--data</c> into ML.NET data views with a <c>Label</c> text column and an <c>Image</c> column: pixel vectors for IDX
/// and CIFAR-10 folders (through <see cref="PilotDatasets"/>), encoded image bytes (<c>LoadRawImageBytes</c>) for image
/// folders. Errors in the data become <see cref="CliInputException"/>s that name <c>--data</c>.
/// </summary>
internal static class DataLoading
{
    private const string Option = "--data";

    /// <summary>Loads the training, validation and test rows.</summary>
    /// <param name="ml">The context (its seed drives the splits).</param>
    /// <param name="data">The data to load.</param>
    /// <param name="testFraction">Share of an image folder held out for testing, in (0, 1).</param>
    /// <param name="validationFraction">Share of the training rows held out for per-epoch validation, in [0, 1); 0 validates on the test rows.</param>
    /// <param name="seed">Seed of the splits.</param>
    public static TrainingSplit LoadForTraining(MLContext ml, DataChoice data, double testFraction, double validationFraction, int seed)
        => Guard(() =>
        {
            IDataView train, test;
            IReadOnlyList<string> classNames;
            ImageShape? shape;
            string testWhat;
            Func<IDataView, IDataView> withImages;
            var format = data.IsEmbedded ? DatasetFormat.Idx : PilotDatasets.DetectFormat(data.Folder!);
            if (format == DatasetFormat.ImageFolder)
            {
                var all = PilotDatasets.LoadImageFolder(ml, data.Folder!);
                classNames = DistinctLabels(all);
                var split = ml.Data.TrainTestSplit(ml.Data.ShuffleRows(all, seed: seed), testFraction, seed: seed);
                (train, test, shape) = (split.TrainSet, split.TestSet, null);
                testWhat = $"{Count(test):N0} images ({testFraction:P0} of the folder, seed {seed})";
                withImages = RawImages(ml, data.Folder!);
                if (Count(train) == 0 || Count(test) == 0)
                    throw new CliInputException(
                        $"{Option}: '{data.Folder}' has too few images to split {testFraction:P0} off for testing ({Count(all)} images); add images or change --test-fraction.");
            }
            else
            {
                var trainSet = LoadLabeled(ml, data, format, train: true);
                var testSet = LoadLabeled(ml, data, format, train: false);
                (train, test, classNames, shape) = (trainSet.Data, testSet.Data, trainSet.ClassNames, trainSet.Shape);
                testWhat = $"{Count(test):N0} images (the test split)";
                withImages = v => v;
            }

            var testView = withImages(test);
            IDataView validation = testView;
            string validationWhat = "the test rows";
            if (validationFraction > 0)
            {
                var split = ml.Data.TrainTestSplit(train, validationFraction, seed: seed + 1);
                (train, validation) = (split.TrainSet, withImages(split.TestSet));
                validationWhat = $"{Count(split.TestSet):N0} images ({validationFraction:P0} of the training rows)";
            }
            return new TrainingSplit(withImages(train), validation, testView, classNames, shape,
                $"{Count(train):N0} images", validationWhat, testWhat) { ImageFolder = format == DatasetFormat.ImageFolder ? data.Folder : null };
        });

    /// <summary>Loads the rows to evaluate on: every image of an image folder, the test split of IDX/CIFAR-10 data.</summary>
    public static EvaluationRows LoadForEvaluation(MLContext ml, DataChoice data)
        => Guard(() =>
        {
            var format = data.IsEmbedded ? DatasetFormat.Idx : PilotDatasets.DetectFormat(data.Folder!);
            if (format == DatasetFormat.ImageFolder)
            {
                var all = PilotDatasets.LoadImageFolder(ml, data.Folder!);
                return new EvaluationRows(RawImages(ml, data.Folder!)(all), $"{Count(all):N0} images (every image of the folder)") { ImageFolder = data.Folder };
            }
            var test = LoadLabeled(ml, data, format, train: false);
            return new EvaluationRows(test.Data, $"{Count(test.Data):N0} images (the test split)");
        });

    private static LabeledImages LoadLabeled(MLContext ml, DataChoice data, DatasetFormat format, bool train)
    {
        if (data.IsEmbedded)
            return PilotDatasets.EmbeddedFashionMnist(ml, train);
        return format switch
        {
            DatasetFormat.Cifar10Binary => PilotDatasets.LoadCifar10(ml, data.Folder!, train),
            // IDX files do not name their classes: FashionMNIST's names for a folder that says it is FashionMNIST, label numbers otherwise.
            _ when IsFashionMnist(data.Folder!) => PilotDatasets.LoadFashionMnist(ml, data.Folder!, train),
            _ => PilotDatasets.LoadIdxFolder(ml, data.Folder!, train),
        };
    }

    /// <summary>Whether an IDX folder is FashionMNIST: its name says so (e.g. <c>fashion-mnist</c>, <c>FashionMNIST</c>).</summary>
    internal static bool IsFashionMnist(string folder)
        => Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)).Replace("-", "").Replace("_", "")
            .Contains("fashionmnist", StringComparison.OrdinalIgnoreCase);

    /// <summary>Adds the <c>Image</c> column (encoded bytes) read from <c>ImagePath</c> relative to <paramref name="folder"/>.</summary>
    private static Func<IDataView, IDataView> RawImages(MLContext ml, string folder)
    {
        var loader = ml.Transforms.LoadRawImageBytes(PilotDatasets.ImageColumnName, folder, PilotDatasets.ImagePathColumnName);
        return view => loader.Fit(view).Transform(view);
    }

    /// <summary>The distinct values of the <c>Label</c> column, in ordinal order.</summary>
    private static IReadOnlyList<string> DistinctLabels(IDataView view)
        => view.GetColumn<string>(PilotDatasets.LabelColumnName).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>Number of rows (counted when the view does not know it).</summary>
    internal static long Count(IDataView view)
    {
        if (view.GetRowCount() is long n)
            return n;
        long count = 0;
        using var cursor = view.GetRowCursor([]);
        while (cursor.MoveNext())
            count++;
        return count;
    }

    /// <summary>
    /// After the trainer or the scorer reported a bad image ("Row 17: …" of a view it read), the message of the first image
    /// file of <paramref name="views"/> that does not decode or cannot be read, naming the file; <see langword="null"/> when
    /// there is no image folder or every file decodes. Only run on that error path: it reads every file.
    /// </summary>
    /// <param name="folder">The folder the views' <c>ImagePath</c> values are relative to (null: pixel-vector data).</param>
    /// <param name="views">The views the error may have come from.</param>
    internal static string? FindUndecodableImage(string? folder, params IDataView?[] views)
    {
        if (folder is null)
            return null;
        foreach (var view in views)
        {
            if (view?.Schema.GetColumnOrNull(PilotDatasets.ImagePathColumnName) is not { Type: TextDataViewType })
                continue;
            foreach (var relative in view.GetColumn<string>(PilotDatasets.ImagePathColumnName))
            {
                if (ImageFileProblem(Path.Combine(folder, relative)) is { } problem)
                    return problem;
            }
        }
        return null;
    }

    /// <summary>
    /// Why the image file <paramref name="path"/> cannot be used — it cannot be read, or it does not decode with the checks
    /// the trainer and scorer apply (empty, not an image, too large, truncated) — naming the file; <see langword="null"/>
    /// when it decodes.
    /// </summary>
    internal static string? ImageFileProblem(string path)
    {
        string full = Path.GetFullPath(path);
        try
        {
            using var image = EncodedImage.Decode(File.ReadAllBytes(full), $"'{full}'");
            return null;
        }
        catch (InvalidDataException e)
        {
            return e.Message;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"'{full}' cannot be read: {e.Message}";
        }
    }

    /// <summary>Runs <paramref name="load"/>, turning the data layer's errors about files and formats into <c>--data</c> errors.</summary>
    private static T Guard<T>(Func<T> load)
    {
        try
        {
            return load();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
        {
            throw new CliInputException($"{Option}: {e.Message}", e);
        }
    }
}

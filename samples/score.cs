// Scores a folder of images with a saved model, in a program that never trains: the way an app uses a trained model.
//
// Loads model.zip (written by train-folder.cs), reads the images in batches, runs each batch through the model with
// Transform (one call per batch, not one PredictionEngine call per image) and writes a CSV: the image's path, the
// predicted label and the three most probable labels with their probabilities.
//
// Run from the repository root (after train-folder.cs):
//   dotnet run samples/score.cs                                     # the embedded FashionMNIST test images
//   dotnet run samples/score.cs -- MODEL.zip IMAGES [PREDICTIONS.csv]
// Settings (environment variables):
//   PILOT_SAMPLE_IMAGES_PER_CLASS  test images per class written from the embedded sample (default: all 1,000 images)
//   PILOT_SAMPLE_BATCH_SIZE        images per Transform call (default 256)
//   PILOT_SAMPLE_OUTPUT            folder of model.zip, the written images and predictions.csv (default: <temp>/pilot-samples)
#:project ../src/Pilot.MLNet/Pilot.MLNet.csproj
// File-based apps are native-AOT apps by default, which forbids the run-time code generation ML.NET uses: turn it off.
#:property PublishAot=false

using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Data;

int imagesPerClass = Setting("PILOT_SAMPLE_IMAGES_PER_CLASS", int.MaxValue);
int batchSize = Setting("PILOT_SAMPLE_BATCH_SIZE", 256);
string output = Environment.GetEnvironmentVariable("PILOT_SAMPLE_OUTPUT") ?? Path.Combine(Path.GetTempPath(), "pilot-samples");
string modelPath = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine(output, "model.zip"));
if (!File.Exists(modelPath))
{
    Console.Error.WriteLine($"No model at {modelPath}: run 'dotnet run samples/train-folder.cs' first, or pass a model.zip.");
    return 1;
}
string imageFolder = args.Length > 1 ? Path.GetFullPath(args[1]) : WriteEmbeddedTestImages(Path.Combine(output, "test-images"), imagesPerClass);
string csvPath = Path.GetFullPath(args.Length > 2 ? args[2] : Path.Combine(output, "predictions.csv"));

var mlContext = new MLContext();

// 1. Load the model. It reads the column "Image" (the bytes of an image file) and adds "Score" (one probability per
//    class) and "PredictedLabel" (the most probable class). The class names are the "slot names" of the Score column.
ITransformer model = mlContext.Model.Load(modelPath, out _);

// 2. The images to score: every image file under the folder, in a fixed order.
string[] paths = Directory.EnumerateFiles(imageFolder, "*", SearchOption.AllDirectories)
    .Where(p => PilotDatasets.ImageExtensions.Contains(Path.GetExtension(p).ToLowerInvariant()))
    .Order(StringComparer.Ordinal)
    .ToArray();

// 3. LoadRawImageBytes reads each file into the "Image" column; it has nothing to learn, so fitting it is instant.
var readImages = mlContext.Transforms.LoadRawImageBytes(outputColumnName: "Image", imageFolder: null, inputColumnName: "ImagePath");

// 4. Score batch by batch: Transform is lazy, and enumerating its result runs the network on each row of the batch.
var clock = Stopwatch.StartNew();
string[]? classNames = null;
int sameAsFolder = 0;
using var csv = new StreamWriter(csvPath);
csv.WriteLine("path,predicted_label,label_1,probability_1,label_2,probability_2,label_3,probability_3");
for (int start = 0; start < paths.Length; start += batchSize)
{
    var batch = paths.Skip(start).Take(batchSize).Select(path => new ImageFile { ImagePath = path });
    IDataView files = mlContext.Data.LoadFromEnumerable(batch);
    IDataView scored = model.Transform(readImages.Fit(files).Transform(files));
    classNames ??= ClassNames(scored.Schema);
    foreach (var row in mlContext.Data.CreateEnumerable<ScoredImage>(scored, reuseRowObject: false))
    {
        // The classes by probability; the first is the predicted label. (Reading it from the scores works for every model:
        // in models that end with the classifier, as `pilot train` writes them, PredictedLabel is a class number, a key.)
        var top3 = row.Score.Select((probability, k) => (Label: classNames[k], Probability: probability))
            .OrderByDescending(p => p.Probability).Take(3).ToList();
        var fields = new List<string> { Path.GetRelativePath(imageFolder, row.ImagePath), top3[0].Label };
        foreach (var (label, probability) in top3)
            fields.AddRange([label, probability.ToString("0.0000", CultureInfo.InvariantCulture)]);
        csv.WriteLine(string.Join(",", fields.Select(Csv)));
        if (top3[0].Label == Path.GetFileName(Path.GetDirectoryName(row.ImagePath)))
            sameAsFolder++;
    }
}
csv.Close();
clock.Stop();
(model as IDisposable)?.Dispose(); // the network's native memory

Console.WriteLine($"Scored {paths.Length} images from {imageFolder} in {clock.Elapsed.TotalSeconds:F1} s " +
                  $"({paths.Length / clock.Elapsed.TotalSeconds:F0} images/s, batches of {batchSize})");
// In a folder laid out like the training folder, the sub-folder names are the true classes.
Console.WriteLine($"The predicted label is the image's sub-folder name for {sameAsFolder} of {paths.Length} images ({(double)sameAsFolder / paths.Length:P1})");
Console.WriteLine($"Wrote {csvPath}; its first lines:");
foreach (string line in File.ReadLines(csvPath).Take(6))
    Console.WriteLine("  " + line);
return 0;

// Writes the first imagesPerClass images of each class of the embedded FashionMNIST test sample as PNG files.
static string WriteEmbeddedTestImages(string folder, int imagesPerClass)
{
    if (Directory.Exists(folder))
        Directory.Delete(folder, recursive: true); // WriteImageFolder needs an empty folder
    var sample = PilotDatasets.EmbeddedFashionMnist(new MLContext(), train: false);
    int written = PilotDatasets.WriteImageFolder(sample, folder, maxPerClass: imagesPerClass);
    Console.WriteLine($"Wrote {written} FashionMNIST test images to {folder}");
    return folder;
}

// The class names, in the order of the Score vector: the "slot names" of the Score column.
static string[] ClassNames(DataViewSchema schema)
{
    VBuffer<ReadOnlyMemory<char>> slotNames = default;
    schema["Score"].GetSlotNames(ref slotNames);
    return slotNames.DenseValues().Select(name => name.ToString()).ToArray();
}

// A CSV field, quoted when it holds a comma, a quote or a line break.
static string Csv(string field) =>
    field.IndexOfAny([',', '"', '\n', '\r']) < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";

static int Setting(string name, int defaultValue)
{
    string? text = Environment.GetEnvironmentVariable(name);
    if (string.IsNullOrEmpty(text))
        return defaultValue;
    return int.TryParse(text, out int value) && value > 0
        ? value
        : throw new ArgumentOutOfRangeException(name, text, $"{name} must be a whole number ≥ 1; got '{text}'.");
}

// The input rows: one image file each. Models whose pipeline starts with MapValueToKey("Label") (those of `pilot train`
// and of the code `pilot codegen` writes) read a Label column even when scoring: an empty one will do.
sealed class ImageFile
{
    public string ImagePath { get; set; } = "";
    public string Label { get; set; } = "";
}

// The output rows: the columns of the scored data that the CSV needs (ML.NET matches them by name).
sealed class ScoredImage
{
    public string ImagePath { get; set; } = "";
    public float[] Score { get; set; } = [];
}

// Sample output (dotnet run samples/score.cs, after dotnet run samples/train-folder.cs):
//   Wrote 1000 FashionMNIST test images to <temp>/pilot-samples/test-images
//   Scored 1000 images from <temp>/pilot-samples/test-images in 1.7 s (588 images/s, batches of 256)
//   The predicted label is the image's sub-folder name for 788 of 1000 images (78.8 %)
//   Wrote <temp>/pilot-samples/predictions.csv; its first lines:
//     path,predicted_label,label_1,probability_1,label_2,probability_2,label_3,probability_3
//     Ankle boot/000000.png,Ankle boot,Ankle boot,0.8831,Sneaker,0.0890,Sandal,0.0132
//     Ankle boot/000023.png,Sandal,Sandal,0.7051,Sneaker,0.2793,Ankle boot,0.0104
//     Ankle boot/000028.png,Ankle boot,Ankle boot,0.9712,Sneaker,0.0210,Bag,0.0064
//     Ankle boot/000039.png,Ankle boot,Ankle boot,0.9935,Sneaker,0.0034,Bag,0.0018
//     Ankle boot/000068.png,Sneaker,Sneaker,0.8153,Ankle boot,0.1152,Sandal,0.0543

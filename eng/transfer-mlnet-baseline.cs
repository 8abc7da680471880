// ML.NET's own pretrained route, the anchor of docs/transfer.md: LoadImages → ResizeImages 224 → ExtractPixels →
// DnnFeaturizeImage (ResNet18 of the Microsoft.ML.DnnImageFeaturizer.ResNet18 package, run by ONNX Runtime) →
// LbfgsMaximumEntropy on the 512 features, trained on the first N images of each class of the FashionMNIST training set and
// evaluated on the 10,000 test images, from PNG folders (the Model Builder scenario: a folder of images per class).
//
// Run from the repository root (after bash eng/setup.sh):
//   dotnet run -c Release eng/transfer-mlnet-baseline.cs -- --per-class N [--fashion-mnist FOLDER] [--work DIR] [--out FILE.json]
// --per-class      training images per class (first ones in file order): 100 or 600 in docs/transfer.md
// --fashion-mnist  folder with the IDX files (default: the Debian package's, /usr/share/datasets/fashion-mnist)
// --work           where the PNG folders go (default: transfer-data/ in the current folder); written once, reused;
//                  the same folders feed eng/transfer-bench.cs
// --test-rows      evaluate on this many test images: every (10,000 / N)-th file, as eng/transfer-bench.cs draws them
// --out            JSON lines file the result row is appended to (default: docs/transfer/results.jsonl)
// --folders-only   true: write the PNG folders (train-N and test) and stop, without running ML.NET's route
// Prints accuracy, macro-F1, the training wall time (feature pass + L-BFGS), the test scoring wall time and the feature
// throughput of ONNX Runtime (images/s over the test set).
#:project ../src/Pilot.MLNet/Pilot.MLNet.csproj
#:package Microsoft.ML.DnnImageFeaturizer.ResNet18@0.24.0
#:package Microsoft.ML.OnnxRuntime@1.31.1
#:property ManagePackageVersionsCentrally=false
// File-based apps are native-AOT apps by default, which forbids the run-time code generation ML.NET uses: turn it off.
#:property PublishAot=false

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Pilot.MLNet.Data;

var options = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2)
    options[args[i].TrimStart('-')] = args[i + 1];
int perClass = int.Parse(options.GetValueOrDefault("per-class") ?? throw new ArgumentException("--per-class N is required"), CultureInfo.InvariantCulture);
string source = options.GetValueOrDefault("fashion-mnist", PilotDatasets.DebianFashionMnistFolder);
string work = options.GetValueOrDefault("work", "transfer-data");
string outFile = options.GetValueOrDefault("out", Path.Combine("docs", "transfer", "results.jsonl"));

var ml = new MLContext(seed: 0);
string trainFolder = TransferData.Folder(ml, source, work, train: true, perClass);
string testFolder = TransferData.Folder(ml, source, work, train: false, perClass: null);
if (bool.Parse(options.GetValueOrDefault("folders-only", "false")))
{
    Console.WriteLine($"PNG folders ready: {trainFolder}, {testFolder}");
    return;
}

var train = Absolute(ml, PilotDatasets.LoadImageFolder(ml, trainFolder), trainFolder);
int? testRows = options.TryGetValue("test-rows", out var tr) ? int.Parse(tr, CultureInfo.InvariantCulture) : null;
var test = Absolute(ml, PilotDatasets.LoadImageFolder(ml, testFolder), testFolder, testRows);
const string Pixels = "Pixels", Features = "Features", ImageObject = "ImageObject";
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.LoadImages(ImageObject, imageFolder: null, "ImagePath"))
    .Append(ml.Transforms.ResizeImages(ImageObject, 224, 224))
    .Append(ml.Transforms.ExtractPixels(Pixels, ImageObject))
    .Append(ml.Transforms.DnnFeaturizeImage(Features, m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), Pixels))
    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", Features));

var clock = Stopwatch.StartNew();
var model = pipeline.Fit(train);
double trainSeconds = clock.Elapsed.TotalSeconds;

clock.Restart();
var scored = model.Transform(test);
var metrics = ml.MulticlassClassification.Evaluate(scored);
double testSeconds = clock.Elapsed.TotalSeconds;
double macroF1 = MacroF1(metrics.ConfusionMatrix);
long testCount = test.GetRowCount() ?? 0;

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"ML.NET DnnFeaturizeImage(ResNet18) + LbfgsMaximumEntropy, {perClass}/class: accuracy {metrics.MicroAccuracy:P2}, macro-F1 {macroF1:F4}, " +
    $"training {trainSeconds:F1} s, test scoring {testSeconds:F1} s ({testCount / testSeconds:F1} images/s)"));
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
File.AppendAllText(outFile, JsonSerializer.Serialize(new
{
    run = "ML.NET DnnFeaturizeImage + LbfgsMaximumEntropy",
    perClass,
    epochs = (int?)null,
    seed = 0,
    testRows = testRows ?? 10000,
    accuracy = metrics.MicroAccuracy,
    macroF1,
    trainSeconds,
    testSeconds,
    testImagesPerSecond = testCount / testSeconds,
    // The machine's 1-minute load average when the run ended (Linux), which says how comparable its wall times are.
    loadAverage = File.Exists("/proc/loadavg") ? double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture) : (double?)null,
    date = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture),
}) + "\n");

// Training and test images live in different folders: absolute paths let one fitted pipeline read both.
// With keep = N, every (count / N)-th row (the folder's rows are in class order: a stratified sample).
static IDataView Absolute(MLContext ml, IDataView rows, string folder, int? keep = null)
{
    var list = ml.Data.CreateEnumerable<ImageRow>(rows, reuseRowObject: false)
        .Select(r => new ImageRow { Label = r.Label, ImagePath = Path.GetFullPath(Path.Combine(folder, r.ImagePath)) })
        .ToList();
    if (keep is { } n)
        list = list.Where((_, i) => i % Math.Max(1, list.Count / n) == 0).Take(n).ToList();
    return ml.Data.LoadFromEnumerable(list);
}

// Macro-F1: each class's F1 (harmonic mean of ML.NET's per-class precision and recall), averaged over the classes.
static double MacroF1(ConfusionMatrix matrix) => matrix.PerClassPrecision.Zip(matrix.PerClassRecall,
    (precision, recall) => precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)).Average();

sealed class ImageRow
{
    public string Label { get; set; } = "";
    public string ImagePath { get; set; } = "";
}

/// <summary>The PNG folders of the transfer measurements, written once from the IDX files.</summary>
static class TransferData
{
    public static string Folder(MLContext ml, string source, string work, bool train, int? perClass)
    {
        string folder = Path.Combine(work, train ? $"train-{perClass}" : "test");
        string done = Path.Combine(folder, ".complete");
        if (File.Exists(done))
            return folder;
        if (Directory.Exists(folder))
            Directory.Delete(folder, recursive: true);
        var data = PilotDatasets.LoadFashionMnist(ml, source, train);
        PilotDatasets.WriteImageFolder(data, folder, perClass);
        File.WriteAllText(done, "");
        return folder;
    }
}

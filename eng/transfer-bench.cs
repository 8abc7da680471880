// One row of the docs/transfer.md table: trains a Pilot image classifier on the first N images of each class of the
// FashionMNIST training set and evaluates it on the 10,000 test images, from the PNG folders written by
// eng/transfer-mlnet-baseline.cs (the same images ML.NET's own pretrained route is measured on).
//
// Run from the repository root (after bash eng/setup.sh, and eng/transfer-mlnet-baseline.cs once for the folders):
//   dotnet run -c Release eng/transfer-bench.cs -- --per-class N --arch A [--fine-tuning Head|Full] [--optimizer O]
//       [--epochs E] [--lr LR] [--batch-size B] [--side S] [--seed S] [--update-bn true] [--work DIR] [--out FILE.json]
// --per-class    training images per class: 100 or 600 in docs/transfer.md
// --arch         PilotArchitecture (SmallCnn, ResNet18, PretrainedResNet18, ...)
// --fine-tuning  Head, LastStage or Full (default: the architecture's)
// --side         network input side (default: the trainer's, 32, for the networks trained from scratch use 28, native)
// --update-bn    Full and LastStage fine-tuning: update the trained backbone layers' batch-norm statistics (an internal option, set by reflection:
//                this is how docs/transfer.md measured the choice)
// --test-rows    evaluate on this many test images instead of all 10,000: every (10,000 / N)-th file of the test folder,
//                whose files are in class order, so each class keeps its share; for the cheaper comparisons of
//                docs/transfer.md, which says where it was used
// other options as in PilotImageClassificationTrainer.Options (defaults: the trainer's); --work as for the baseline;
// --out: JSON lines file the result row is appended to (default: docs/transfer/results.jsonl)
// Prints accuracy, macro-F1, the training wall time (decoding, feature pass and epochs: the whole Fit) and the test
// scoring time.
#:project ../src/Pilot.MLNet/Pilot.MLNet.csproj
// File-based apps are native-AOT apps by default, which forbids the run-time code generation ML.NET uses: turn it off.
#:property PublishAot=false

using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet;
using Pilot.MLNet.Data;

var inv = CultureInfo.InvariantCulture;
var options = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2)
    options[args[i].TrimStart('-')] = args[i + 1];
string Need(string name) => options.GetValueOrDefault(name) ?? throw new ArgumentException($"--{name} is required");
int perClass = int.Parse(Need("per-class"), inv);
string work = options.GetValueOrDefault("work", "transfer-data");
string outFile = options.GetValueOrDefault("out", Path.Combine("docs", "transfer", "results.jsonl"));
string trainFolder = Path.Combine(work, $"train-{perClass}"), testFolder = Path.Combine(work, "test");
foreach (var f in new[] { trainFolder, testFolder })
    if (!File.Exists(Path.Combine(f, ".complete")))
        throw new DirectoryNotFoundException($"'{f}' is missing or incomplete: run eng/transfer-mlnet-baseline.cs --per-class {perClass} first.");

var o = new PilotImageClassificationTrainer.Options { Architecture = Enum.Parse<PilotArchitecture>(Need("arch")) };
if (options.TryGetValue("fine-tuning", out var ft)) o.FineTuning = Enum.Parse<PilotFineTuning>(ft);
if (options.TryGetValue("optimizer", out var opt)) o.Optimizer = Enum.Parse<PilotOptimizerKind>(opt);
if (options.TryGetValue("epochs", out var ep)) o.Epochs = int.Parse(ep, inv);
if (options.TryGetValue("lr", out var lr)) o.LearningRate = double.Parse(lr, inv);
if (options.TryGetValue("batch-size", out var bs)) o.BatchSize = int.Parse(bs, inv);
if (options.TryGetValue("backbone-lr-scale", out var scale)) o.BackboneLearningRateScale = double.Parse(scale, inv);
if (options.TryGetValue("side", out var side)) o.ImageHeight = o.ImageWidth = int.Parse(side, inv);
o.Seed = int.Parse(options.GetValueOrDefault("seed", "0"), inv);
bool updateBn = bool.Parse(options.GetValueOrDefault("update-bn", "false"));
typeof(PilotImageClassificationTrainer.Options).GetField("UpdateBatchNormStatistics", BindingFlags.NonPublic | BindingFlags.Instance)!
    .SetValue(o, updateBn);

var ml = new MLContext(seed: 0) { GpuDeviceId = -1 };
ml.Log += (_, e) =>
{
    if (e.Message.Contains("Feature pass", StringComparison.Ordinal) || e.Message.Contains("Epoch ", StringComparison.Ordinal))
        Console.WriteLine(e.Message);
};
int? testRows = options.TryGetValue("test-rows", out var tr) ? int.Parse(tr, inv) : null;
IDataView Load(string folder, int? keep)
{
    var rows = PilotDatasets.LoadImageFolder(ml, folder);
    if (keep is { } n)
    {
        // Every k-th file: the folder's rows are in class order, so the sample is stratified (ShuffleRows would not do:
        // it shuffles within a pool of 1,000 rows, and the first N rows would hold only the first classes).
        var all = ml.Data.CreateEnumerable<ImageRow>(rows, reuseRowObject: false).ToList();
        int k = Math.Max(1, all.Count / n);
        rows = ml.Data.LoadFromEnumerable(all.Where((_, i) => i % k == 0).Take(n).ToList());
    }
    return ml.Transforms.LoadRawImageBytes("Image", folder, PilotDatasets.ImagePathColumnName).Fit(rows).Transform(rows);
}
var train = Load(trainFolder, null);
var test = Load(testFolder, testRows);

var clock = Stopwatch.StartNew();
var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Pilot.ImageClassification(o)).Fit(train);
double trainSeconds = clock.Elapsed.TotalSeconds;
clock.Restart();
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
double testSeconds = clock.Elapsed.TotalSeconds;
double macroF1 = MacroF1(metrics.ConfusionMatrix);
string fineTuning = o.FineTuning?.ToString() ?? "default";
// The values the trainer used where the options leave them to the fine-tuning mode (null: the mode's default).
var mode = o.FineTuning ?? (o.Architecture == PilotArchitecture.PretrainedResNet18 ? PilotImageClassificationDefaults.PretrainedFineTuning : PilotFineTuning.Full);
int epochs = o.Epochs ?? PilotImageClassificationDefaults.EpochsFor(mode);
double backboneScale = o.BackboneLearningRateScale ?? PilotImageClassificationDefaults.BackboneLearningRateScaleFor(mode);
string run = $"{o.Architecture} {fineTuning} {o.Optimizer}{(updateBn ? " BN-update" : "")}";
// What the classifier read (Layer4, or Layer3AndLayer4 for PretrainedResNet18's Head since model format 0x00010003): the
// internal PilotImageModel.HeadInput, read by reflection like --update-bn.
object network = typeof(PilotImageClassificationTransformer).GetProperty("Model", BindingFlags.NonPublic | BindingFlags.Instance)!
    .GetValue(model.LastTransformer)!;
string headInput = network.GetType().GetProperty("HeadInput")!.GetValue(network)!.ToString()!;
// The deviation Layer3AndLayer4's standardised features have (StandardizedLinear.FeatureDeviation; 1 in the first runs).
double? headFeatureDeviation = headInput == "Layer3AndLayer4"
    ? (double)typeof(PilotImageClassificationTransformer).Assembly.GetType("Pilot.MLNet.Models.StandardizedLinear", throwOnError: true)!
        .GetField("FeatureDeviation", BindingFlags.NonPublic | BindingFlags.Static)!.GetRawConstantValue()!
    : null;

Console.WriteLine(string.Create(inv,
    $"{run}, {perClass}/class, {epochs} epochs, seed {o.Seed}: accuracy {metrics.MicroAccuracy:P2}, macro-F1 {macroF1:F4}, " +
    $"training {trainSeconds:F1} s, test scoring {testSeconds:F1} s"));
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
File.AppendAllText(outFile, JsonSerializer.Serialize(new
{
    run,
    perClass,
    architecture = o.Architecture.ToString(),
    fineTuning,
    optimizer = o.Optimizer.ToString(),
    epochs,
    lr = o.LearningRate,
    side = o.ImageHeight ?? (o.Architecture == PilotArchitecture.PretrainedResNet18 ? PilotImageClassificationDefaults.PretrainedImageSide : (int?)null),
    backboneLearningRateScale = backboneScale,
    headInput,
    headFeatureDeviation,
    updateBatchNorm = updateBn,
    seed = o.Seed,
    testRows = testRows ?? 10000,
    accuracy = metrics.MicroAccuracy,
    macroF1,
    trainSeconds,
    testSeconds,
    // The machine's 1-minute load average when the run ended (Linux), which says how comparable its wall times are.
    loadAverage = File.Exists("/proc/loadavg") ? double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture) : (double?)null,
    date = DateTime.UtcNow.ToString("u", inv),
}) + "\n");

// Macro-F1: each class's F1 (harmonic mean of ML.NET's per-class precision and recall), averaged over the classes.
static double MacroF1(ConfusionMatrix matrix) => matrix.PerClassPrecision.Zip(matrix.PerClassRecall,
    (precision, recall) => precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)).Average();

sealed class ImageRow
{
    public string Label { get; set; } = "";
    public string ImagePath { get; set; } = "";
}

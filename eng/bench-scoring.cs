// Times model.Transform(data) + mlContext.MulticlassClassification.Evaluate(...) of a Pilot image classifier: the scoring
// path whose speed batched scoring (PilotImageClassificationDefaults.ScoringBatchSize) is for.
//
// Run from the repository root (after bash eng/setup.sh):
//   dotnet run -c Release eng/bench-scoring.cs -- --model M.zip [--arch SmallCnn|ResNet18] [--side S] [--train-rows T]
//       [--rows N] [--fashion-mnist FOLDER] [--repeats R]
// --model      the model file; when it does not exist, a model is trained (1 epoch on the first --train-rows images,
//              default 2,000, of the embedded FashionMNIST training sample) and saved there, so that two builds can be
//              timed on the same model
// --arch       network when training (default SmallCnn)
// --side       network input height and width when training (default 28, FashionMNIST's own size; other sizes resize)
// --rows       rows scored (default 10,000): the test images, repeated when there are fewer
// --fashion-mnist  folder with the full FashionMNIST (t10k-images-idx3-ubyte.gz, ...); default: the embedded test sample
// --repeats    timed runs (default 3), after one untimed warm-up on 256 rows; prints each run and the medians of the
//              wall time and of the process's CPU time
// Uses only the public API, so the same file times any build of Pilot.MLNet.
#:project ../src/Pilot.MLNet/Pilot.MLNet.csproj
// File-based apps are native-AOT apps by default, which forbids the run-time code generation ML.NET uses: turn it off.
#:property PublishAot=false

using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet;
using Pilot.MLNet.Data;

var options = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2)
    options[args[i].TrimStart('-')] = args[i + 1];
if (!options.TryGetValue("model", out var modelPath))
{
    Console.Error.WriteLine("usage: dotnet run -c Release eng/bench-scoring.cs -- --model M.zip [--arch A] [--side S] [--rows N] [--fashion-mnist FOLDER] [--repeats R]");
    return 2;
}
int rows = int.Parse(options.GetValueOrDefault("rows", "10000"), CultureInfo.InvariantCulture);
int repeats = int.Parse(options.GetValueOrDefault("repeats", "3"), CultureInfo.InvariantCulture);

var ml = new MLContext(seed: 1);
var test = options.TryGetValue("fashion-mnist", out var folder)
    ? PilotDatasets.LoadFashionMnist(ml, folder, train: false)
    : PilotDatasets.EmbeddedFashionMnist(ml, train: false);

ITransformer model;
if (File.Exists(modelPath))
    model = ml.Model.Load(modelPath, out _);
else
{
    var train = PilotDatasets.EmbeddedFashionMnist(ml, train: true);
    var trainRows = ml.Data.TakeRows(train.Data, int.Parse(options.GetValueOrDefault("train-rows", "2000"), CultureInfo.InvariantCulture));
    int side = int.Parse(options.GetValueOrDefault("side", "28"), CultureInfo.InvariantCulture);
    var trainer = ml.Pilot.ImageClassification(new PilotImageClassificationTrainer.Options
    {
        Architecture = Enum.Parse<PilotArchitecture>(options.GetValueOrDefault("arch", "SmallCnn")),
        Epochs = 1,
        ImageShape = train.Shape,
        ImageHeight = side,
        ImageWidth = side,
        Seed = 1,
    });
    var clock = Stopwatch.StartNew();
    model = ml.Transforms.Conversion.MapValueToKey("Label").Append(trainer).Fit(trainRows);
    ml.Model.Save(model, trainRows.Schema, modelPath);
    Console.WriteLine($"trained and saved {modelPath} in {clock.Elapsed.TotalSeconds:F0} s");
}

// The test images, repeated up to the row count, in memory.
var source = ml.Data.CreateEnumerable<Row>(test.Data, reuseRowObject: false).ToArray();
var schema = SchemaDefinition.Create(typeof(Row));
schema["Image"].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, test.Shape.Channels, test.Shape.Height, test.Shape.Width);
var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(i => source[i % source.Length]).ToArray(), schema);

ml.MulticlassClassification.Evaluate(model.Transform(ml.Data.TakeRows(data, 256)));
// Wall time, and the CPU time of the whole process (all threads): on a busy machine the wall time mostly measures the
// wait for a core, the CPU time the work (including threads that spin while waiting for each other).
var seconds = new List<double>();
var cpuSeconds = new List<double>();
using var process = Process.GetCurrentProcess();
for (int r = 0; r < repeats; r++)
{
    process.Refresh();
    var cpu = process.TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    var metrics = ml.MulticlassClassification.Evaluate(model.Transform(data));
    seconds.Add(clock.Elapsed.TotalSeconds);
    process.Refresh();
    cpuSeconds.Add((process.TotalProcessorTime - cpu).TotalSeconds);
    Console.WriteLine(FormattableString.Invariant(
        $"run {r + 1}: {seconds[^1]:F2} s wall, {cpuSeconds[^1]:F2} s CPU for {rows} rows; micro-accuracy {metrics.MicroAccuracy:F4}, log-loss {metrics.LogLoss:R}"));
}
seconds.Sort();
cpuSeconds.Sort();
Console.WriteLine(FormattableString.Invariant($"median: {seconds[seconds.Count / 2]:F2} s wall, {cpuSeconds[cpuSeconds.Count / 2]:F2} s CPU"));
return 0;

/// <summary>A test image: its class name and its pixels (CHW bytes).</summary>
internal sealed class Row
{
    public string Label { get; set; } = "";

    public byte[] Image { get; set; } = [];
}

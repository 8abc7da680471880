// Which features should Head's classifier read? A linear probe on PretrainedResNet18's pooled layer4 output (what Head
// trains on today: 512 values) against the pooled outputs of layer3 and layer4 side by side (256 + 512 values), each
// with and without standardising every feature by its training mean and standard deviation (a Linear layer over
// standardised features folds back into a Linear layer over raw ones: W/σ, b − W·μ/σ).
//
// FashionMNIST from the Debian package dataset-fashion-mnist: the first N training images of each class in file order
// and every fifth test image of each class (2,000), the images of docs/transfer.md's 2,000-image rows; gray repeated to 3
// channels, bilinear resize to --side. The probe: a Linear layer, AdamW at 1e-3 with a cosine schedule, weight decay
// 1e-4, batch 128, 100 epochs (Head's defaults, with AdamW standing in for PILOT), seeds 0, 1, 2.
//
//   dotnet run -c Release eng/probe-head-features.cs -- [--side 64] [--per-class 100] [--data /usr/share/datasets/fashion-mnist]
#:project ../src/Pilot.MLNet/Pilot.MLNet.csproj
#:property PublishAot=false

using System.Globalization;
using System.IO.Compression;
using Pilot.MLNet;
using Pilot.MLNet.Models;
using TorchSharp;
using static TorchSharp.torch;

var options = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2)
    options[args[i].TrimStart('-')] = args[i + 1];
int side = int.Parse(options.GetValueOrDefault("side", "64"), CultureInfo.InvariantCulture);
int perClass = int.Parse(options.GetValueOrDefault("per-class", "100"), CultureInfo.InvariantCulture);
string data = options.GetValueOrDefault("data", "/usr/share/datasets/fashion-mnist");

var (trainPixels, trainLabels) = ReadIdx(data, "train");
var (testPixels, testLabels) = ReadIdx(data, "t10k");
int[] trainRows = [.. Enumerable.Range(0, 10).SelectMany(c => Enumerable.Range(0, trainLabels.Length).Where(i => trainLabels[i] == c).Take(perClass))];
int[] testRows = [.. Enumerable.Range(0, 10).SelectMany(c => Enumerable.Range(0, testLabels.Length).Where(i => testLabels[i] == c).Where((_, k) => k % 5 == 0))];

var network = (ResNet)Backbones.CreateForTraining(PilotArchitecture.PretrainedResNet18, new ImageShape(3, side, side), 10, PilotFineTuning.Full, PretrainedWeights.Locate(null));
network.eval();
var layer4 = (nn.Module<Tensor, Tensor>)network.named_children().Single(c => c.name == "layer4").module;
var (train4, train34) = Features(trainPixels, trainRows);
var (test4, test34) = Features(testPixels, testRows);
var trainY = tensor(trainRows.Select(i => (long)trainLabels[i]).ToArray());
var testY = tensor(testRows.Select(i => (long)testLabels[i]).ToArray());

Console.WriteLine($"{perClass} training images per class, {testRows.Length} test images, {side}×{side}; test accuracy % over seeds 0, 1, 2");
Console.WriteLine("| features | values | raw | standardised |");
Console.WriteLine("|---|---:|---:|---:|");
foreach (var (name, train, test) in new[] { ("layer4 (Head today)", train4, test4), ("layer3 + layer4", train34, test34) })
{
    string Row(bool standardise)
    {
        var accuracies = Enumerable.Range(0, 3).Select(seed => 100 * Probe(train, test, seed, standardise)).ToArray();
        double mean = accuracies.Average(), sd = Math.Sqrt(accuracies.Sum(a => (a - mean) * (a - mean)) / 2);
        return string.Create(CultureInfo.InvariantCulture, $"{mean:F2} ± {sd:F2}");
    }
    Console.WriteLine($"| {name} | {train.shape[1]} | {Row(false)} | {Row(true)} |");
}

// Pooled layer4 output, and pooled layer3 and layer4 outputs side by side, of the images in rows.
(Tensor Layer4, Tensor Layer34) Features(byte[] pixels, int[] rows)
{
    var only4 = new List<Tensor>();
    var both = new List<Tensor>();
    using var noGrad = no_grad();
    for (int start = 0; start < rows.Length; start += 64)
    {
        int[] part = [.. rows.Skip(start).Take(64)];
        var raw = new float[part.Length * 784];
        for (int n = 0; n < part.Length; n++)
            for (int j = 0; j < 784; j++)
                raw[n * 784 + j] = pixels[part[n] * 784 + j];
        using var gray = tensor(raw, [part.Length, 1, 28, 28]);
        using var resized = nn.functional.interpolate(gray, [side, side], mode: InterpolationMode.Bilinear, align_corners: false);
        using var input = resized.expand(-1, 3, -1, -1).contiguous();
        using var x3 = network.EarlyStages(input);
        using var x4 = layer4.forward(x3);
        var pooled3 = x3.mean([2, 3]);
        var pooled4 = x4.mean([2, 3]);
        only4.Add(pooled4);
        both.Add(cat([pooled3, pooled4], 1));
    }
    return (cat(only4, 0), cat(both, 0));
}

double Probe(Tensor train, Tensor test, int seed, bool standardise)
{
    manual_seed(seed);
    if (standardise)
    {
        var mean = train.mean([0]);
        var std = train.std([0]) + 1e-6;
        train = (train - mean) / std;
        test = (test - mean) / std;
    }
    var linear = nn.Linear(train.shape[1], 10);
    var optimizer = optim.AdamW(linear.parameters(), 1e-3, weight_decay: 1e-4);
    const int Epochs = 100, Batch = 128;
    int n = (int)train.shape[0];
    long steps = (long)(n + Batch - 1) / Batch * Epochs, step = 0;
    var generator = new Generator((ulong)seed);
    for (int epoch = 0; epoch < Epochs; epoch++)
    {
        using var order = randperm(n, generator: generator);
        for (int start = 0; start < n; start += Batch)
        {
            using var scope = NewDisposeScope();
            var batch = order[TensorIndex.Slice(start, Math.Min(n, start + Batch))];
            foreach (var group in optimizer.ParamGroups)
                group.LearningRate = 1e-3 * 0.5 * (1 + Math.Cos(Math.PI * step / steps));
            optimizer.zero_grad();
            nn.functional.cross_entropy(linear.forward(train[batch]), trainY[batch]).backward();
            optimizer.step();
            step++;
        }
    }
    using var evaluation = no_grad();
    return linear.forward(test).argmax(1).eq(testY).to_type(ScalarType.Float32).mean().item<float>();
}

static (byte[] Pixels, byte[] Labels) ReadIdx(string folder, string prefix)
{
    static byte[] Unzip(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"'{path}' is missing: install the Debian package dataset-fashion-mnist or pass --data.", path);
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gzip.CopyTo(memory);
        return memory.ToArray();
    }
    // IDX: a 16-byte header before the images, 8 bytes before the labels.
    return (Unzip(Path.Combine(folder, prefix + "-images-idx3-ubyte.gz"))[16..], Unzip(Path.Combine(folder, prefix + "-labels-idx1-ubyte.gz"))[8..]);
}

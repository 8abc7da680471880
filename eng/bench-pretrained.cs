// Throughput (images/s) of PretrainedResNet18's feature pass: the TorchSharp trunk (ResNet.Features, evaluation mode, no
// gradients) against ONNX Runtime running the package's own ResNet18.onnx (Microsoft.ML.DnnImageFeaturizer.ResNet18
// 0.24.0) on the same prepared images, in the same process, at several input sizes.
//
// Run from the repository root (after bash eng/setup.sh):
//   dotnet run -c Release eng/bench-pretrained.cs -- [--sizes 224,160,128,96,64] [--images 256] [--batch 32] [--repeats 3] [--threads T]
// --sizes    input sides (square images)
// --images   images per timed run: FashionMNIST test images from the embedded sample, three per colour image (one per
//            channel), resized by nearest neighbour; the same tensors go to both engines
// --batch    images per forward call, both engines
// --repeats  timed runs per engine and size, after one untimed warm-up batch, the engines taking turns; prints the median
// --threads  intra-op threads of both engines (default: TorchSharp's default, which ONNX Runtime is then given too)
//
// The package's model has a fixed input [1,3,224,224] and a fixed 7x7 average pool; to run it at other sizes and batches
// the program rewrites, in memory, the input and output dimensions to symbolic ones and the AveragePool to a
// GlobalAveragePool (the same operation at 224; at any size, what the TorchSharp trunk computes). It also prints the
// largest difference between the two engines' features: equal to about 1e-5 where every stride-2 layer sees an even size
// (sides that are multiples of 32); elsewhere CNTK's asymmetric padding makes the package's model differ.
#:project ../src/Pilot.MLNet/Pilot.MLNet.csproj
#:package Microsoft.ML.OnnxRuntime@1.31.1
#:property PublishAot=false
#:property ManagePackageVersionsCentrally=false

using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Pilot.MLNet;
using Pilot.MLNet.Data;
using Pilot.MLNet.Models;
using Pilot.MLNet.Onnx.Proto;
using TorchSharp;
using static TorchSharp.torch;

var options = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2)
    options[args[i].TrimStart('-')] = args[i + 1];
int[] sizes = [.. options.GetValueOrDefault("sizes", "224,160,128,96,64").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
int count = int.Parse(options.GetValueOrDefault("images", "256"), CultureInfo.InvariantCulture);
int batch = int.Parse(options.GetValueOrDefault("batch", "32"), CultureInfo.InvariantCulture);
int repeats = int.Parse(options.GetValueOrDefault("repeats", "3"), CultureInfo.InvariantCulture);
if (options.TryGetValue("threads", out var t))
    torch.set_num_threads(int.Parse(t, CultureInfo.InvariantCulture));
int threads = torch.get_num_threads();

string weights = PretrainedWeights.Locate(null);
Console.WriteLine($"weights: {weights}");
Console.WriteLine($"{Environment.ProcessorCount} logical CPUs, {threads} intra-op threads for both engines; {count} images per run, batch {batch}, median of {repeats}; " +
    $"OMP_WAIT_POLICY={Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "unset"}");

// Source images: FashionMNIST test sample, 28x28 gray bytes.
var fashion = PilotDatasets.EmbeddedFashionMnist(new MLContext(seed: 1), train: false);
var planes = new List<byte[]>();
using (var cursor = fashion.Data.GetRowCursor(fashion.Data.Schema))
{
    var get = cursor.GetGetter<VBuffer<byte>>(fashion.Data.Schema[PilotDatasets.ImageColumnName]);
    VBuffer<byte> image = default;
    while (planes.Count < 3 * count && cursor.MoveNext())
    {
        get(ref image);
        planes.Add(image.DenseValues().ToArray());
    }
}

var network = (ResNet)Backbones.CreateForTraining(PilotArchitecture.PretrainedResNet18, new ImageShape(3, 224, 224), 2, PilotFineTuning.Full, weights);
network.eval();
var packageModel = ModelProto.Parser.ParseFrom(File.ReadAllBytes(weights));
var graph = packageModel.Graph;
foreach (var value in graph.Input.Concat(graph.Output))
{
    var dims = value.Type.TensorType.Shape.Dim;
    dims[0] = new TensorShapeProto.Types.Dimension { DimParam = "N" };
    if (graph.Input.Contains(value))
    {
        dims[2] = new TensorShapeProto.Types.Dimension { DimParam = "H" };
        dims[3] = new TensorShapeProto.Types.Dimension { DimParam = "W" };
    }
}
graph.ValueInfo.Clear();
foreach (var node in graph.Node.Where(n => n.OpType == "AveragePool"))
{
    node.OpType = "GlobalAveragePool";
    node.Attribute.Clear();
}
using var sessionOptions = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
using var session = new InferenceSession(packageModel.ToByteArray(), sessionOptions);
string inputName = session.InputMetadata.Keys.Single(), outputName = session.OutputMetadata.Keys.Single();

Console.WriteLine();
Console.WriteLine("| input | TorchSharp trunk (images/s) | ONNX Runtime, package model (images/s) | ratio | max abs feature difference |");
Console.WriteLine("|---|---:|---:|---:|---:|");
foreach (int side in sizes)
{
    // Prepared batches (BGR minus means), computed once: both engines time only the network.
    var raw = new float[count * 3 * side * side];
    for (int n = 0; n < count; n++)
        for (int c = 0; c < 3; c++)
        {
            var plane = planes[(3 * n + c) % planes.Count];
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                    raw[((n * 3 + c) * side + y) * side + x] = plane[y * 28 / side * 28 + x * 28 / side];
        }
    // TorchSharp gets raw RGB 0-255 (its trunk prepares it: a few element-wise operations); ONNX Runtime gets the same
    // images prepared (BGR minus means), as the package's model expects them, computed once outside the timing.
    var rawBatches = new List<float[]>();
    var preparedBatches = new List<float[]>();
    for (int start = 0; start < count; start += batch)
    {
        int n = Math.Min(batch, count - start);
        using var scope = NewDisposeScope();
        var part = raw.AsSpan(start * 3 * side * side, n * 3 * side * side).ToArray();
        rawBatches.Add(part);
        preparedBatches.Add(ResNet.PrepareImageNetInput(tensor(part, [n, 3, side, side])).contiguous().data<float>().ToArray());
    }

    float[] Torch(int index)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var rgb = rawBatches[index];
        return network.Features(tensor(rgb, [rgb.Length / (3 * side * side), 3, side, side])).data<float>().ToArray();
    }

    float[] Ort(int index)
    {
        var prepared = preparedBatches[index];
        int n = prepared.Length / (3 * side * side);
        using var input = OrtValue.CreateTensorValueFromMemory(prepared, [n, 3, side, side]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [input], [outputName]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    // The engines take turns (TorchSharp, ONNX Runtime, TorchSharp, ...): on a shared machine whose load drifts, timing
    // all of one engine's runs before the other's would hand the drift to one of them.
    (double Torch, double Ort) Medians()
    {
        Torch(0); // warm-up
        Ort(0);
        var times = (Torch: new List<double>(), Ort: new List<double>());
        for (int r = 0; r < repeats; r++)
        {
            times.Torch.Add(Time(Torch));
            times.Ort.Add(Time(Ort));
        }
        return (count / Median(times.Torch), count / Median(times.Ort));
    }

    double Time(Func<int, float[]> run)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < rawBatches.Count; i++)
            run(i);
        return clock.Elapsed.TotalSeconds;
    }

    static double Median(List<double> times)
    {
        times.Sort();
        return times[times.Count / 2];
    }

    var (torchRate, ortRate) = Medians();
    float[] a = Torch(0), b = Ort(0);
    float difference = a.Zip(b, (p, q) => Math.Abs(p - q)).Max();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {side}x{side} | {torchRate:F1} | {ortRate:F1} | {torchRate / ortRate:F2} | {difference:E1} |"));
}
network.Dispose();
return 0;

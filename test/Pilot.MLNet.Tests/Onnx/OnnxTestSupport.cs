using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Pilot.MLNet.Data;
using Pilot.MLNet.Models;
using Pilot.MLNet.Onnx;
using Pilot.MLNet.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.MLNet.Tests.Onnx;

/// <summary>Networks with non-trivial batch-norm statistics, their TorchSharp reference outputs, and ONNX Runtime scoring.</summary>
internal static class OnnxTestSupport
{
    /// <summary>FashionMNIST's pixel mean and standard deviation in pixel units (0–255), as the trainer computes and stores them.</summary>
    public static readonly float[] GrayMean = [72.94f], GrayStd = [90.02f];

    /// <summary>CIFAR-10's per-channel mean and standard deviation in pixel units: three different values each.</summary>
    public static readonly float[] ColorMean = [125.31f, 122.95f, 113.87f], ColorStd = [62.99f, 62.09f, 66.70f];

    public static OnnxExportDescription Describe(PilotArchitecture architecture, ImageShape shape, IReadOnlyList<string> classNames) =>
        new(architecture, shape, shape.Channels == 1 ? GrayMean : ColorMean, shape.Channels == 1 ? GrayStd : ColorStd, classNames);

    public static string[] ClassNames(int count) => [.. Enumerable.Range(0, count).Select(k => $"class {k}")];

    /// <summary>
    /// A network whose batch norms have random affine parameters and running statistics moved by a few training-mode
    /// forwards on shifted, scaled noise, returned in evaluation mode: folding them is then far from the identity. The last
    /// linear layer is scaled up so that, as in a trained network, the probabilities are far from uniform.
    /// </summary>
    public static nn.Module<Tensor, Tensor> CreateTrainedStatistics(PilotArchitecture architecture, ImageShape shape, int classes, long seed)
    {
        // Backbones.Create draws from the default generator: a private seeded stream of it, so parallel tests do not interfere;
        // the rest uses its own generator.
        var net = new DefaultGeneratorSession(seed).Use(() => Backbones.Create(architecture, shape, classes));
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)seed);
        using (no_grad())
        {
            foreach (var bn in net.modules().OfType<BatchNorm2d>())
            {
                bn.weight!.uniform_(0.5, 1.5, generator);
                bn.bias!.normal_(0.0, 0.2, generator);
            }
            // Sharpen the classifier, as training does, so the probabilities are far from uniform and a comparison means something.
            net.modules().OfType<Linear>().Last().weight!.mul_(8);
            net.train();
            for (int i = 0; i < 3; i++)
                net.forward(randn([4, shape.Channels, shape.Height, shape.Width], generator: generator) * 1.5 + 0.3);
        }
        net.eval();
        return net;
    }

    /// <summary>
    /// A SmallCnn for FashionMNIST trained briefly with Adam on the first <paramref name="images"/> images of the embedded
    /// training sample, returned in evaluation mode: a model whose predictions mean something (about 70–80 % accuracy).
    /// </summary>
    public static nn.Module<Tensor, Tensor> TrainFashionSmallCnn(OnnxExportDescription d, int images, int epochs, long seed)
    {
        // Initialisation and dropout draw from the default generator: one private seeded stream of it for the whole run.
        return new DefaultGeneratorSession(seed).Use(() => TrainFashionSmallCnnCore(d, images, epochs));
    }

    private static nn.Module<Tensor, Tensor> TrainFashionSmallCnnCore(OnnxExportDescription d, int images, int epochs)
    {
        const int batchSize = 64;
        var net = Backbones.Create(PilotArchitecture.SmallCnn, d.InputShape, d.ClassNames.Count);
        var (pixels, labels) = FashionMnistTrain;
        using var optimizer = optim.Adam(net.parameters(), lr: 2e-3);
        using var mean = tensor(d.Mean.ToArray(), [1, d.InputShape.Channels, 1, 1]);
        using var std = tensor(d.Std.ToArray(), [1, d.InputShape.Channels, 1, 1]);
        net.train();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            for (int start = 0; start < images; start += batchSize)
            {
                using var scope = NewDisposeScope();
                int n = Math.Min(batchSize, images - start);
                var x = tensor(pixels.AsSpan(start * d.InputShape.Size, n * d.InputShape.Size).ToArray(),
                    [n, d.InputShape.Channels, d.InputShape.Height, d.InputShape.Width]);
                var y = tensor(labels.AsSpan(start, n).ToArray().Select(l => (long)l).ToArray());
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(net.forward((x - mean) / std), y);
                loss.backward();
                optimizer.step();
            }
        }
        net.eval();
        return net;
    }

    /// <summary>Softmax of the network in evaluation mode on <c>(pixels − mean) / std</c>, as float[N·K].</summary>
    public static float[] TorchProbabilities(nn.Module<Tensor, Tensor> net, OnnxExportDescription d, float[] pixels, int batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var s = d.InputShape;
        var x = tensor(pixels, [batch, s.Channels, s.Height, s.Width]);
        var mean = tensor(d.Mean.ToArray(), [1, s.Channels, 1, 1]);
        var std = tensor(d.Std.ToArray(), [1, s.Channels, 1, 1]);
        var probabilities = nn.functional.softmax(net.forward((x - mean) / std), 1);
        return probabilities.data<float>().ToArray();
    }

    /// <summary>Runs the ONNX model on a batch of raw pixels with ONNX Runtime; returns the probabilities and their shape.</summary>
    public static (float[] Values, long[] Shape) OrtProbabilities(InferenceSession session, ImageShape s, float[] pixels, int batch)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [batch, s.Channels, s.Height, s.Width]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [PilotOnnxModel.InputName], [input], [PilotOnnxModel.OutputName]);
        return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[0].GetTensorTypeAndShape().Shape);
    }

    private static readonly Lazy<(float[] Pixels, int[] Labels)> FashionTest = new(() => ReadAll(PilotDatasets.EmbeddedFashionMnist(new MLContext(seed: 1), train: false)));
    private static readonly Lazy<(float[] Pixels, int[] Labels)> FashionTrain = new(() => ReadAll(PilotDatasets.EmbeddedFashionMnist(new MLContext(seed: 1), train: true)));

    /// <summary>The embedded FashionMNIST test sample (1×28×28, pixel values 0–255) and its label indices.</summary>
    public static (float[] Pixels, int[] Labels) FashionMnistTest => FashionTest.Value;

    /// <summary>The embedded FashionMNIST training sample (1×28×28, pixel values 0–255) and its label indices.</summary>
    public static (float[] Pixels, int[] Labels) FashionMnistTrain => FashionTrain.Value;

    /// <summary>
    /// <paramref name="count"/> real images for a network of input <paramref name="shape"/>: FashionMNIST test images from
    /// <paramref name="first"/> on, resized to H×W by nearest neighbour and repeated over the channels (pixel values 0–255).
    /// </summary>
    public static float[] RealImages(ImageShape shape, int count, int first = 0)
    {
        const int side = 28;
        var source = FashionMnistTest.Pixels;
        var pixels = new float[count * shape.Size];
        for (int n = 0; n < count; n++)
        {
            int from = (first + n) * side * side;
            for (int c = 0; c < shape.Channels; c++)
            {
                for (int y = 0; y < shape.Height; y++)
                {
                    for (int x = 0; x < shape.Width; x++)
                        pixels[n * shape.Size + (c * shape.Height + y) * shape.Width + x] = source[from + y * side / shape.Height * side + x * side / shape.Width];
                }
            }
        }
        return pixels;
    }

    /// <summary>The pixels (as float) and label indices of a loaded data set, in row order.</summary>
    public static (float[] Pixels, int[] Labels) ReadAll(LabeledImages data)
    {
        var pixels = new List<float>();
        var labels = new List<int>();
        var classIndex = data.ClassNames.Select((name, k) => (name, k)).ToDictionary(p => p.name, p => p.k);
        using var cursor = data.Data.GetRowCursor(data.Data.Schema);
        var getImage = cursor.GetGetter<VBuffer<byte>>(data.Data.Schema[PilotDatasets.ImageColumnName]);
        var getLabel = cursor.GetGetter<ReadOnlyMemory<char>>(data.Data.Schema[PilotDatasets.LabelColumnName]);
        VBuffer<byte> image = default;
        ReadOnlyMemory<char> label = default;
        while (cursor.MoveNext())
        {
            getImage(ref image);
            getLabel(ref label);
            pixels.AddRange(image.DenseValues().Select(b => (float)b));
            labels.Add(classIndex[label.ToString()]);
        }
        return (pixels.ToArray(), labels.ToArray());
    }

    public static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int k = 1; k < row.Length; k++)
        {
            if (row[k] > row[best])
                best = k;
        }
        return best;
    }

    public static int[] ArgMaxRows(float[] values, int classes) =>
        [.. Enumerable.Range(0, values.Length / classes).Select(i => ArgMax(values.AsSpan(i * classes, classes)))];

    public static byte[] ExportToBytes(nn.Module<Tensor, Tensor> net, OnnxExportDescription d)
    {
        using var stream = new MemoryStream();
        OnnxExporter.Export(net, d, stream);
        return stream.ToArray();
    }
}

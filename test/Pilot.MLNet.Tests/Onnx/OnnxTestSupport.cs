using Microsoft.ML.OnnxRuntime;
using Pilot.MLNet.Models;
using Pilot.MLNet.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.MLNet.Tests.Onnx;

/// <summary>Networks with non-trivial batch-norm statistics, their TorchSharp reference outputs, and ONNX Runtime scoring.</summary>
internal static class OnnxTestSupport
{
    /// <summary>FashionMNIST's pixel mean and standard deviation (units of pixel / 255), the usual gray normalisation.</summary>
    public static readonly float[] GrayMean = [0.2860f], GrayStd = [0.3530f];

    /// <summary>CIFAR-10's per-channel mean and standard deviation (units of pixel / 255): three different values each.</summary>
    public static readonly float[] ColorMean = [0.4914f, 0.4822f, 0.4465f], ColorStd = [0.2470f, 0.2435f, 0.2616f];

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
        // Backbones.Create draws from the global generator; the rest uses our own, so the data does not depend on test order.
        random.manual_seed(seed);
        var net = Backbones.Create(architecture, shape, classes);
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

    /// <summary>Softmax of the network in evaluation mode on <c>(pixels / 255 − mean) / std</c>, as float[N·K].</summary>
    public static float[] TorchProbabilities(nn.Module<Tensor, Tensor> net, OnnxExportDescription d, float[] pixels, int batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var s = d.InputShape;
        var x = tensor(pixels, [batch, s.Channels, s.Height, s.Width]);
        var mean = tensor(d.Mean.ToArray(), [1, s.Channels, 1, 1]);
        var std = tensor(d.Std.ToArray(), [1, s.Channels, 1, 1]);
        var probabilities = nn.functional.softmax(net.forward((x / 255f - mean) / std), 1);
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

    /// <summary>Uniform random pixel values in {0, …, 255} for <paramref name="count"/> images.</summary>
    public static float[] NoiseImages(ImageShape s, int count, int seed)
    {
        var random = new Random(seed);
        var pixels = new float[count * s.Size];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = random.Next(256);
        return pixels;
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

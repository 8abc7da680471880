using Pilot.MLNet.Images;
using Pilot.MLNet.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.MLNet.Scoring;

/// <summary>
/// A trained network with everything needed to turn an image into class probabilities: architecture, input shape, pixel
/// units, normalisation and class count. Owns the network (and its device tensors); thread-safe for scoring.
/// This is also what exporters (for example to ONNX) read: <see cref="Network"/> computes logits from normalised input
/// <c>(pixels − Mean[c]) / Std[c]</c>, N × C × H × W.
/// </summary>
internal sealed class PilotImageModel : IDisposable
{
    private readonly Tensor _mean, _std;
    private bool _disposed;

    public PilotImageModel(nn.Module<Tensor, Tensor> network, Device device, PilotArchitecture architecture, ImageShape inputShape,
        int classCount, PixelDomain domain, ImageShape? vectorShape, ChannelStatistics normalization)
    {
        Network = network;
        Device = device;
        Architecture = architecture;
        InputShape = inputShape;
        ClassCount = classCount;
        Domain = domain;
        VectorShape = vectorShape;
        Normalization = normalization;
        Network.eval();
        _mean = torch.tensor(normalization.Mean, [1, inputShape.Channels, 1, 1]).to(device);
        _std = torch.tensor(normalization.Std, [1, inputShape.Channels, 1, 1]).to(device);
    }

    /// <summary>The network: N × C × H × W normalised input → N × <see cref="ClassCount"/> logits; in evaluation mode.</summary>
    public nn.Module<Tensor, Tensor> Network { get; }

    /// <summary>Where the network lives.</summary>
    public Device Device { get; }

    public PilotArchitecture Architecture { get; }

    /// <summary>What the network's classifier reads (<see cref="HeadInput.Layer4"/> for every network but a ResNet built otherwise).</summary>
    public HeadInput HeadInput => Network is ResNet resNet ? resNet.HeadInput : HeadInput.Layer4;

    /// <summary>Shape of the network input (after resizing).</summary>
    public ImageShape InputShape { get; }

    public int ClassCount { get; }

    /// <summary>Units of the pixel values the model was trained on.</summary>
    public PixelDomain Domain { get; }

    /// <summary>Shape of the pixel vectors the model was trained on, or <see langword="null"/> (trained on encoded images or MLImages).</summary>
    public ImageShape? VectorShape { get; }

    /// <summary>Per-channel mean and standard deviation, in <see cref="Domain"/> units, from the training data.</summary>
    public ChannelStatistics Normalization { get; }

    /// <summary>Class probabilities (softmax of the logits) of one image given as <see cref="InputShape"/> bytes.</summary>
    public void Score(byte[] pixels, Span<float> probabilities) => Score(pixels, 1, probabilities);

    /// <summary>Class probabilities of one image given as <see cref="InputShape"/> floats.</summary>
    public void Score(float[] pixels, Span<float> probabilities) => Score(pixels, 1, probabilities);

    /// <summary>
    /// Class probabilities of the first <paramref name="count"/> images in <paramref name="pixels"/> (images of
    /// <see cref="InputShape"/> bytes one after another; the array may hold more), run through the network as one batch;
    /// image i's probabilities go to <c>probabilities[i × ClassCount ..]</c>, which holds exactly <c>count × ClassCount</c>
    /// values.
    /// </summary>
    public void Score(byte[] pixels, int count, Span<float> probabilities)
    {
        CheckBatch(pixels.Length, count, probabilities.Length);
        using var scope = NewDisposeScope();
        Score(torch.tensor(pixels, BatchDimensions(pixels.Length)).narrow(0, 0, count), probabilities);
    }

    /// <summary>The same for images given as <see cref="InputShape"/> floats.</summary>
    public void Score(float[] pixels, int count, Span<float> probabilities)
    {
        CheckBatch(pixels.Length, count, probabilities.Length);
        using var scope = NewDisposeScope();
        Score(torch.tensor(pixels, BatchDimensions(pixels.Length)).narrow(0, 0, count), probabilities);
    }

    private void CheckBatch(int pixelCount, int count, int probabilityCount)
    {
        if (pixelCount % InputShape.Size != 0 || count < 1 || count > pixelCount / InputShape.Size)
            throw new ArgumentOutOfRangeException(nameof(count),
                $"{count} images of {InputShape} do not fit a pixel array of {pixelCount} values (or it is not whole images).");
        if (probabilityCount != count * ClassCount)
            throw new ArgumentException(
                $"{count} images of {ClassCount} classes have {count * ClassCount} probabilities; the destination holds {probabilityCount}.",
                "probabilities");
    }

    private long[] BatchDimensions(int pixelCount) =>
        [pixelCount / InputShape.Size, InputShape.Channels, InputShape.Height, InputShape.Width];

    /// <summary>Runs an N × C × H × W batch (in <see cref="Domain"/> units) and copies its N × K probabilities out.</summary>
    private void Score(Tensor pixels, Span<float> probabilities)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var noGrad = no_grad();
        var x = (pixels.to(Device).to(ScalarType.Float32) - _mean) / _std;
        var p = nn.functional.softmax(Network.forward(x), 1).cpu();
        p.data<float>().CopyTo(probabilities);
    }

    /// <summary>The predicted class as a key value (class index + 1): the first class with the largest probability.</summary>
    public static uint PredictedKey(ReadOnlySpan<float> probabilities)
    {
        int best = 0;
        for (int k = 1; k < probabilities.Length; k++)
            if (probabilities[k] > probabilities[best])
                best = k;
        return (uint)best + 1;
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Network.Dispose();
        _mean.Dispose();
        _std.Dispose();
    }
}

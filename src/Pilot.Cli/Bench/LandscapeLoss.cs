using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.Cli.Bench;

/// <summary>A network's trainable parameters as one flat vector (in <c>parameters()</c> order), and back.</summary>
internal static class FlatWeights
{
    /// <summary>
    /// The parameters of <paramref name="network"/> concatenated into one float32 vector on the CPU; the caller disposes it
    /// (it belongs to no dispose scope, so it outlives the training loop's per-batch scope it may be read in).
    /// </summary>
    public static Tensor Read(nn.Module network)
    {
        using var scope = NewDisposeScope();
        using (no_grad())
            return torch.cat(network.parameters().Select(p => p.detach().flatten().cpu().to(ScalarType.Float32)).ToArray()).DetachFromDisposeScope();
    }

    /// <summary>Number of trainable weights of <paramref name="network"/>.</summary>
    public static long Count(nn.Module network) => network.parameters().Sum(p => p.numel());

    /// <summary>Copies <paramref name="weights"/> (as <see cref="Read"/> lays them out) into the parameters of <paramref name="network"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="weights"/> is not a vector of the network's weight count.</exception>
    public static void Write(nn.Module network, Tensor weights)
    {
        long count = Count(network);
        if (weights.dim() != 1 || weights.shape[0] != count)
            throw new ArgumentException($"{nameof(weights)} must be a 1-D tensor of the network's {count} weights; got shape [{string.Join(", ", weights.shape)}].", nameof(weights));
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            long offset = 0;
            foreach (var p in network.parameters())
            {
                long n = p.numel();
                p.copy_(weights.narrow(0, offset, n).view(p.shape).to(p.dtype).to(p.device));
                offset += n;
            }
        }
    }
}

/// <summary>
/// The loss L(θ) of the landscape figure: mean cross-entropy of a network with weights θ over a fixed set of (already
/// normalised) images, in fixed batches, with dropout off and batch normalisation using each batch's own statistics.
/// </summary>
/// <remarks>
/// With batch statistics L depends on the trainable weights alone: the running means and variances that evaluation mode
/// would use are not weights, differ per optimizer and have no value between trajectories. The fixed batches make L
/// deterministic (the same θ, the same loss). It is close to, not equal to, the evaluation-mode loss of a trained model.
/// </remarks>
internal sealed class LandscapeLoss : IDisposable
{
    /// <summary>Images per evaluation batch (and per batch-normalisation statistics).</summary>
    public const int BatchSize = 500;

    private readonly nn.Module<Tensor, Tensor> _network;
    private readonly Tensor _images, _labels;

    /// <summary>Evaluates with <paramref name="network"/> (its weights are overwritten by each call; the caller keeps ownership) on <paramref name="images"/>.</summary>
    /// <param name="network">A network of the architecture the weights belong to, on the device of the images.</param>
    /// <param name="images">N × C × H × W float32, normalised as in training.</param>
    /// <param name="labels">N class indices (int64).</param>
    public LandscapeLoss(nn.Module<Tensor, Tensor> network, Tensor images, Tensor labels)
    {
        if (images.shape[0] == 0 || images.shape[0] != labels.shape[0])
            throw new ArgumentException($"{nameof(images)} ({images.shape[0]}) and {nameof(labels)} ({labels.shape[0]}) must hold the same, non-zero number of rows.", nameof(labels));
        _network = network;
        _images = images.alias();
        _labels = labels.alias();
    }

    /// <summary>Number of images the loss is averaged over.</summary>
    public long Count => _images.shape[0];

    /// <summary>L(<paramref name="weights"/>): loads the flat weights into the network and averages the cross-entropy.</summary>
    public double At(Tensor weights)
    {
        FlatWeights.Write(_network, weights);
        _network.train();
        foreach (var module in _network.modules())
        {
            if (module is Dropout or Dropout2d)
                module.eval();
        }
        long n = Count;
        double sum = 0;
        using (no_grad())
        {
            for (long start = 0; start < n; start += BatchSize)
            {
                using var scope = NewDisposeScope();
                long count = Math.Min(BatchSize, n - start);
                var logits = _network.forward(_images.narrow(0, start, count));
                sum += nn.functional.cross_entropy(logits, _labels.narrow(0, start, count), reduction: nn.Reduction.Sum).to(ScalarType.Float64).item<double>();
            }
        }
        return sum / n;
    }

    /// <summary>L at every point (αᵢ, βⱼ) of <paramref name="plane"/>: result[i, j] (i along α, j along β).</summary>
    /// <param name="plane">The plane.</param>
    /// <param name="alphas">α values.</param>
    /// <param name="betas">β values.</param>
    /// <param name="onRow">Called after each α with the number done (progress).</param>
    public double[,] Grid(LandscapePlane plane, IReadOnlyList<double> alphas, IReadOnlyList<double> betas, Action<int>? onRow = null)
    {
        var loss = new double[alphas.Count, betas.Count];
        for (int i = 0; i < alphas.Count; i++)
        {
            for (int j = 0; j < betas.Count; j++)
            {
                using var weights = plane.At(alphas[i], betas[j]);
                loss[i, j] = At(weights);
            }
            onRow?.Invoke(i + 1);
        }
        return loss;
    }

    public void Dispose()
    {
        _images.Dispose();
        _labels.Dispose();
    }
}

using Pilot.MLNet.Images;
using static TorchSharp.torch;

namespace Pilot.MLNet.Training;

/// <summary>
/// Watches a training run from inside <see cref="TrainingLoop"/>: tools that need the weights during training (the
/// trajectories of <c>pilot bench landscape</c>) set it through <see cref="PilotImageClassificationTrainer.Options.Observer"/>.
/// Not part of the public API. The observer must not change the network's weights or modes.
/// </summary>
internal interface ITrainingObserver
{
    /// <summary>
    /// Called once, before the first optimizer step of a fresh run (not when resuming from a checkpoint), with the network at
    /// its initial weights on the training device.
    /// </summary>
    /// <param name="network">The network being trained.</param>
    /// <param name="train">The training images as the loop holds them (the rows in the order of the training data, and the channel statistics it normalises with).</param>
    /// <param name="totalSteps">Optimizer steps the run will take: epochs × batches per epoch.</param>
    void OnStart(nn.Module<Tensor, Tensor> network, InMemoryImageSet train, long totalSteps);

    /// <summary>Called after each optimizer step with the updated network.</summary>
    /// <param name="step">1-based step over the whole run.</param>
    /// <param name="network">The network being trained.</param>
    void OnStep(long step, nn.Module<Tensor, Tensor> network);
}

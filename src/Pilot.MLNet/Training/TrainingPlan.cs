using TorchSharp;

namespace Pilot.MLNet.Training;

/// <summary>
/// Everything a training run needs, fixed when <c>Fit</c> starts: the trainer's private copy of the options and the values
/// derived from them and from the data. Immutable; never shown to the caller.
/// </summary>
/// <param name="Options">The trainer's validated private copy of the options (never the caller's object).</param>
/// <param name="Seed">The seed actually used: <c>Options.Seed</c>, else the MLContext's, else a random one.</param>
/// <param name="Device">Where to train.</param>
/// <param name="ImageSpec">What the image column holds.</param>
/// <param name="RequestedChannels">Channels for encoded images and MLImages (1 or 3), or <see langword="null"/> to decide from the data.</param>
/// <param name="Height">Network input height.</param>
/// <param name="Width">Network input width.</param>
/// <param name="ClassCount">Number of classes (the label's key count).</param>
/// <param name="HasValidation">Whether a validation set is used.</param>
internal sealed record TrainingPlan(
    PilotImageClassificationTrainer.Options Options,
    int Seed,
    torch.Device Device,
    ImageColumnSpec ImageSpec,
    int? RequestedChannels,
    int Height,
    int Width,
    int ClassCount,
    bool HasValidation);

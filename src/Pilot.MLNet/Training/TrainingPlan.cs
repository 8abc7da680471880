using TorchSharp;

namespace Pilot.MLNet.Training;

/// <summary>
/// What a training run needs besides the data, fixed when <c>Fit</c> starts: the trainer's private copy of the options and
/// the values derived from them and from the data. Immutable; never shown to the caller.
/// </summary>
/// <param name="Options">The trainer's validated private copy of the options (never the caller's object).</param>
/// <param name="Seed">The seed actually used: <c>Options.Seed</c>, else the MLContext's, else a random one.</param>
/// <param name="Device">Where to train.</param>
/// <param name="ClassCount">Number of classes (the label's key count).</param>
/// <param name="FineTuning">The resolved <see cref="PilotImageClassificationTrainer.Options.FineTuning"/> (never null).</param>
internal sealed record TrainingPlan(PilotImageClassificationTrainer.Options Options, int Seed, torch.Device Device, int ClassCount,
    PilotFineTuning FineTuning)
{
    /// <summary>The epochs to train: <c>Options.Epochs</c>, else the fine-tuning mode's default.</summary>
    public int Epochs => Options.EpochsToTrain;

    /// <summary>
    /// The learning-rate factor of the pretrained layers that train (Full, LastStage): <c>Options.BackboneLearningRateScale</c>,
    /// else the fine-tuning mode's default.
    /// </summary>
    public double BackboneLearningRateScale => Options.BackboneLearningRateScale ?? PilotImageClassificationDefaults.BackboneLearningRateScaleFor(FineTuning);
}

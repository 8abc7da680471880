namespace Pilot.MLNet;

/// <summary>
/// Which weights of a pretrained network <see cref="PilotImageClassificationTrainer"/> trains
/// (<see cref="PilotImageClassificationTrainer.Options.FineTuning"/>).
/// </summary>
public enum PilotFineTuning
{
    /// <summary>
    /// Only the new classifier (the head) trains; the pretrained backbone is frozen. <c>Fit</c> runs every training and
    /// validation image through the backbone once, keeps the features in memory (ML.NET Vision's "bottleneck" values), and
    /// trains the head on them for every epoch: after the feature pass, an epoch takes milliseconds. Augmentation does not
    /// apply (each image's features are computed once). The default for pretrained architectures.
    /// </summary>
    Head,

    /// <summary>
    /// Every layer trains: the backbone at <see cref="PilotImageClassificationTrainer.Options.LearningRate"/> ×
    /// <see cref="PilotImageClassificationTrainer.Options.BackboneLearningRateScale"/>, the new head at the full learning
    /// rate, with the backbone's batch-norm statistics kept as pretrained (see docs/transfer.md for the measurements behind
    /// both choices). Every image goes forward and backward through the whole network each epoch. The only mode for
    /// networks trained from scratch.
    /// </summary>
    Full,
}

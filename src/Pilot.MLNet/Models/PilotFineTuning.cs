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
    /// trains the head on them for every epoch: after the feature pass, an epoch takes milliseconds. The features are the
    /// global averages of the last two stages (<c>layer3</c>'s 256 and <c>layer4</c>'s 512 for PretrainedResNet18), each
    /// standardised by its mean and deviation over the training images, which the model keeps with the head; the head
    /// starts at zero weights. Augmentation does not apply (each image's features are computed once). The default for
    /// pretrained architectures.
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

    /// <summary>
    /// The last stage of the backbone (<c>layer4</c>, three basic blocks of the pretrained ResNet) and the new head train;
    /// the earlier stages (stem, <c>layer1</c>–<c>layer3</c>) are frozen in evaluation mode. <c>Fit</c> runs every training
    /// and validation image through the frozen stages once and keeps their output in memory (256 × ⌈H/16⌉ × ⌈W/16⌉ values
    /// per image: 16 KB at 64 × 64, 64 KB at 128 × 128), then trains the last stage at
    /// <see cref="PilotImageClassificationTrainer.Options.LearningRate"/> ×
    /// <see cref="PilotImageClassificationTrainer.Options.BackboneLearningRateScale"/> and the head at the full rate over
    /// the cache for every epoch, the last stage's batch-norm statistics kept as pretrained (see docs/transfer.md for the
    /// measurements behind both choices). The cached activations must fit in memory (the trainer refuses a cache larger than
    /// half the memory available to the process, see docs/transfer.md). Augmentation does not apply. Pretrained
    /// architectures only.
    /// </summary>
    LastStage,
}

namespace Pilot.MLNet;

/// <summary>
/// What <see cref="PilotImageClassificationTrainer"/> reports after each epoch (to
/// <see cref="PilotImageClassificationTrainer.Options.ProgressCallback"/>), and what
/// <see cref="PilotImageClassificationTransformer.TrainingHistory"/> keeps.
/// </summary>
/// <param name="Epoch">The epoch just completed, 1-based.</param>
/// <param name="Epochs">The number of epochs the run was configured for.</param>
/// <param name="TrainLoss">Mean cross-entropy over every training image of the epoch (in training mode, as the batches were seen).</param>
/// <param name="TrainAccuracy">Fraction of training images of the epoch classified correctly, in [0, 1].</param>
/// <param name="ValidationLoss">Mean cross-entropy over the whole validation set after the epoch; <see langword="null"/> without one.</param>
/// <param name="ValidationAccuracy">Validation accuracy in [0, 1] after the epoch; <see langword="null"/> without a validation set.</param>
/// <param name="LearningRate">The learning rate of the epoch's last step.</param>
/// <param name="Seconds">Wall-clock seconds the epoch took (training and validation).</param>
/// <param name="ImagesPerSecond">Training images per second of the epoch.</param>
/// <param name="MeanPm">PILOT only: mean of the momentum knob p_m over the epoch's steps; otherwise <see langword="null"/>.</param>
/// <param name="MeanPv">PILOT only: mean of the variance knob p_v over the epoch's steps.</param>
/// <param name="MeanPs">PILOT only: mean of the sign knob p_s over the epoch's steps.</param>
/// <param name="Rho">PILOT only: the gradient-agreement score ρ after the epoch's last step.</param>
public sealed record PilotEpochReport(
    int Epoch,
    int Epochs,
    double TrainLoss,
    double TrainAccuracy,
    double? ValidationLoss,
    double? ValidationAccuracy,
    double LearningRate,
    double Seconds,
    double ImagesPerSecond,
    double? MeanPm = null,
    double? MeanPv = null,
    double? MeanPs = null,
    double? Rho = null);

/// <summary>
/// Progress inside an epoch, reported after every training batch to
/// <see cref="PilotImageClassificationTrainer.Options.BatchProgressCallback"/> (for a live progress bar), and after every
/// batch of the feature pass of <see cref="PilotFineTuning.Head"/> and <see cref="PilotFineTuning.LastStage"/> fine-tuning.
/// </summary>
/// <param name="Epoch">The current epoch, 1-based; 0 during the feature pass, which comes before the first epoch.</param>
/// <param name="Epochs">The number of epochs the run was configured for.</param>
/// <param name="Batch">Batches completed in this epoch (or feature pass), in [1, <paramref name="BatchCount"/>].</param>
/// <param name="BatchCount">Batches per epoch; in the feature pass, its batches over the training and validation images.</param>
/// <param name="RunningLoss">Mean training loss over the epoch's batches so far; <see cref="double.NaN"/> in the feature pass.</param>
/// <param name="Stage">What the batch belongs to. Default <see cref="PilotTrainingStage.Training"/>.</param>
public readonly record struct PilotBatchProgress(int Epoch, int Epochs, int Batch, int BatchCount, double RunningLoss,
    PilotTrainingStage Stage = PilotTrainingStage.Training);

/// <summary>What a <see cref="PilotBatchProgress"/> reports on.</summary>
public enum PilotTrainingStage
{
    /// <summary>A training step of an epoch.</summary>
    Training,

    /// <summary>
    /// A batch of images run through the frozen layers before the first epoch of <see cref="PilotFineTuning.Head"/> (the
    /// whole backbone) or <see cref="PilotFineTuning.LastStage"/> (the early stages) fine-tuning, whose outputs are cached
    /// (training images first, then validation images).
    /// </summary>
    FeaturePass,
}

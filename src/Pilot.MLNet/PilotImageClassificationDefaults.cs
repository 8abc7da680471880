using Pilot.TorchSharp;

namespace Pilot.MLNet;

/// <summary>
/// The defaults and valid ranges of <see cref="PilotImageClassificationTrainer.Options"/>, defined once and used by the
/// options, the catalog overloads, validation and the documentation.
/// </summary>
/// <remarks>
/// Training defaults follow the settings the PILOT paper publishes for its image benchmarks (batch 128, learning rate 1e-3,
/// 30 epochs, cosine learning rate). The PILOT hyper-parameters (<see cref="Gamma"/>, <see cref="EtaPhi"/>,
/// <see cref="PolicyDegree"/>) are Pilot.TorchSharp's <see cref="PilotDefaults"/>, the defaults of the reference implementation
/// (<c>pilot-optimizer</c> 0.1.0.post3). β1 and β2 default to each optimizer's own defaults. <see cref="WeightDecay"/> is
/// 1e-4 (the reference optimizer's own default is 0.01).
/// </remarks>
public static class PilotImageClassificationDefaults
{
    /// <summary>Default label column: <c>"Label"</c>.</summary>
    public const string LabelColumnName = "Label";

    /// <summary>Default image column: <c>"Image"</c>.</summary>
    public const string ImageColumnName = "Image";

    /// <summary>Default score column: <c>"Score"</c>.</summary>
    public const string ScoreColumnName = "Score";

    /// <summary>Default predicted-label column: <c>"PredictedLabel"</c>.</summary>
    public const string PredictedLabelColumnName = "PredictedLabel";

    /// <summary>Default network: <see cref="PilotArchitecture.ResNet18"/>.</summary>
    public const PilotArchitecture Architecture = PilotArchitecture.ResNet18;

    /// <summary>
    /// Default number of epochs: 30, except when only the head trains (<see cref="HeadEpochs"/>); see
    /// <see cref="EpochsFor"/>.
    /// </summary>
    public const int Epochs = 30;

    /// <summary>
    /// Default number of epochs when only the new classifier trains over cached features
    /// (<see cref="PilotFineTuning.Head"/>): 100.
    /// </summary>
    /// <remarks>
    /// An epoch over cached features is a few small matrix products, so epochs cost next to nothing after the feature
    /// pass, but a step is what trains: 1,000 images at batch 128 make 8 steps an epoch, and 30 epochs left the classifier
    /// under-fitted (training accuracy 95.6 %). On FashionMNIST with 100 images per class at 64 × 64 (docs/transfer.md),
    /// 100 epochs gave 82.28 % ± 0.20 over three seeds against 81.45 % for 30 (seed 0), for under a second more of training.
    /// </remarks>
    public const int HeadEpochs = 100;

    /// <summary>The default number of epochs for <paramref name="fineTuning"/>: <see cref="HeadEpochs"/> for Head, else <see cref="Epochs"/>.</summary>
    /// <param name="fineTuning">The fine-tuning mode (networks trained from scratch use <see cref="PilotFineTuning.Full"/>).</param>
    public static int EpochsFor(PilotFineTuning fineTuning) => fineTuning == PilotFineTuning.Head ? HeadEpochs : Epochs;

    /// <summary>Largest number of epochs: 100,000.</summary>
    public const int MaxEpochs = 100_000;

    /// <summary>Default mini-batch size: 128.</summary>
    public const int BatchSize = 128;

    /// <summary>Largest mini-batch size: 65,536.</summary>
    public const int MaxBatchSize = 65_536;

    /// <summary>
    /// Images that <see cref="PilotImageClassificationTransformer.Transform"/> runs through the network together when a
    /// cursor reads its rows in order: 64.
    /// </summary>
    /// <remarks>
    /// Measured on a CPU with one libtorch thread, scoring 512 images with ResNet18 at 32×32 took half the CPU time of
    /// scoring them one by one with batches of 8 to 64, and about 40% more than that with 128 or 256 (a larger batch's
    /// activations no longer fit the processor's caches); a network as small as SmallCnn takes about the same time either
    /// way. On a GPU, where every forward pass costs kernel launches whatever its size, a batch shares them among 64
    /// images. A scoring cursor holds one batch of images and scores.
    /// </remarks>
    public const int ScoringBatchSize = 64;

    /// <summary>Default peak learning rate: 1e-3.</summary>
    public const double LearningRate = 1e-3;

    /// <summary>Default weight decay: 1e-4.</summary>
    public const double WeightDecay = 1e-4;

    /// <summary>Default optimizer: <see cref="PilotOptimizerKind.Pilot"/>.</summary>
    public const PilotOptimizerKind Optimizer = PilotOptimizerKind.Pilot;

    /// <summary>Default smoothing γ of PILOT's gradient-agreement signal: <see cref="PilotDefaults.Gamma"/> (0.95).</summary>
    public const double Gamma = PilotDefaults.Gamma;

    /// <summary>Default learning rate η_φ of PILOT's policy: <see cref="PilotDefaults.EtaPhi"/> (0.01).</summary>
    public const double EtaPhi = PilotDefaults.EtaPhi;

    /// <summary>Default polynomial degree of each PILOT policy head: <see cref="PilotDefaults.Degree"/> (2).</summary>
    public const int PolicyDegree = PilotDefaults.Degree;

    /// <summary>Largest polynomial degree of a PILOT policy head: 8.</summary>
    public const int MaxPolicyDegree = 8;

    /// <summary>Default for freezing the PILOT policy: off (the policy learns).</summary>
    public const bool FreezePolicy = false;

    /// <summary>Default number of linear learning-rate warm-up epochs: 0 (cosine decay from the first step).</summary>
    public const int WarmupEpochs = 0;

    /// <summary>Default for augmentation (random crop with 4-pixel padding and horizontal flip): off.</summary>
    public const bool Augment = false;

    /// <summary>Padding, in pixels, of the random-crop augmentation: 4.</summary>
    public const int AugmentPadding = 4;

    /// <summary>
    /// Default <see cref="PilotImageClassificationTrainer.Options.FineTuning"/> of a pretrained architecture:
    /// <see cref="PilotFineTuning.Head"/> (backbone frozen, features cached, only the new classifier trains), what a CPU
    /// can afford; networks trained from scratch always use <see cref="PilotFineTuning.Full"/>.
    /// </summary>
    public const PilotFineTuning PretrainedFineTuning = PilotFineTuning.Head;

    /// <summary>
    /// Size of the cache of activations (<see cref="PilotFineTuning.Head"/>, <see cref="PilotFineTuning.LastStage"/>) above
    /// which training logs a warning: 1 GiB. (A cache above half the memory available to the process is refused.)
    /// </summary>
    public const long ActivationCacheWarningBytes = 1L << 30;

    /// <summary>
    /// Default factor on <see cref="PilotImageClassificationTrainer.Options.LearningRate"/> for the pretrained backbone's
    /// parameters in <see cref="PilotFineTuning.Full"/> fine-tuning: 0.1 (the new head trains at the full rate).
    /// </summary>
    /// <remarks>
    /// Of 1, 0.3, 0.1 and 0.01, measured with 3 epochs at 64 × 64 (docs/transfer.md): 1 destroyed the pretrained features
    /// (10 %, chance), 0.3 got 78.25 %, 0.1 81.83 % ± 0.45 (three seeds), 0.01 72.7 %.
    /// </remarks>
    public const double FullBackboneLearningRateScale = 0.1;

    /// <summary>
    /// Default factor on <see cref="PilotImageClassificationTrainer.Options.LearningRate"/> for the last stage of the
    /// backbone in <see cref="PilotFineTuning.LastStage"/> fine-tuning: 0.3 (the new head trains at the full rate).
    /// </summary>
    /// <remarks>
    /// Measured with 10 epochs (docs/transfer.md): at 64 × 64, 0.3 got 85.37 % ± 0.71 over three seeds against
    /// 83.58 % ± 0.67 for 0.1; at 128 × 128, 86.60 % against 85.55 % (seed 0). A factor of 1 nearly diverged at 128 × 128.
    /// (A plausible reason, not tested: with the early stages frozen, a larger step changes only the last stage, whose
    /// ImageNet features are the least general, while in Full it moves every layer.)
    /// </remarks>
    public const double LastStageBackboneLearningRateScale = 0.3;

    /// <summary>
    /// The default backbone learning-rate factor for <paramref name="fineTuning"/>: <see cref="LastStageBackboneLearningRateScale"/>
    /// for LastStage, else <see cref="FullBackboneLearningRateScale"/> (Head trains no backbone layer and ignores it).
    /// </summary>
    /// <param name="fineTuning">The fine-tuning mode.</param>
    public static double BackboneLearningRateScaleFor(PilotFineTuning fineTuning)
        => fineTuning == PilotFineTuning.LastStage ? LastStageBackboneLearningRateScale : FullBackboneLearningRateScale;

    /// <summary>
    /// How the command line and the documentation describe the default of an option that is resolved per fine-tuning mode
    /// (the option's field is null by default), or null for any other option.
    /// </summary>
    internal static string? ModeDefaultText(string optionName) => optionName switch
    {
        nameof(PilotImageClassificationTrainer.Options.Epochs) =>
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{HeadEpochs} for Head, else {Epochs}"),
        nameof(PilotImageClassificationTrainer.Options.BackboneLearningRateScale) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{FullBackboneLearningRateScale} for Full, {LastStageBackboneLearningRateScale} for LastStage"),
        _ => null,
    };

    /// <summary>Default network input height and width for encoded images and <c>MLImage</c> columns: 32 pixels.</summary>
    public const int ImageSide = 32;

    /// <summary>
    /// Default network input height and width of a pretrained architecture (<see cref="PilotArchitecture.PretrainedResNet18"/>),
    /// for every kind of image column, unless <see cref="PilotImageClassificationTrainer.Options.ImageHeight"/>/<see cref="PilotImageClassificationTrainer.Options.ImageWidth"/>
    /// (or, for encoded images, <see cref="PilotImageClassificationTrainer.Options.ImageShape"/>) say otherwise: 128 pixels.
    /// </summary>
    /// <remarks>
    /// The ImageNet weights were trained at 224, and on a CPU the network's cost grows with the square of the side. On
    /// FashionMNIST (28×28 images, docs/transfer.md) 64 and 128 gave the same accuracy (128 took three times as long); 128 is
    /// the default because a folder of photos has detail that 64 pixels lose, a judgment that no photo data set on the
    /// measuring machine could check. Set ImageWidth/ImageHeight to 64 for small images, 224 for the most detail.
    /// </remarks>
    public const int PretrainedImageSide = 128;

    /// <summary>Largest network input height or width: 4096 pixels (the limit of <see cref="ImageShape.Validate"/>).</summary>
    public const int MaxImageSide = 4096;
}

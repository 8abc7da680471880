using Microsoft.ML;
using Pilot.TorchSharp;
using D = Pilot.MLNet.PilotImageClassificationDefaults;

namespace Pilot.MLNet;

public sealed partial class PilotImageClassificationTrainer
{
    /// <summary>
    /// Options of <see cref="PilotImageClassificationTrainer"/>. Every field has its default from
    /// <see cref="PilotImageClassificationDefaults"/>; ranges are checked when the trainer is created (option values) and
    /// in <c>Fit</c> (anything that depends on the data). The trainer copies the options: changing them afterwards does not
    /// affect a trainer already created, and the trainer never writes to them.
    /// </summary>
    public sealed class Options
    {
        /// <summary>Name of the label column, a key type (use <c>MapValueToKey</c>). Default <c>"Label"</c>.</summary>
        [PilotOption("Name of the label column (a key type: use MapValueToKey).")]
        public string LabelColumnName = D.LabelColumnName;

        /// <summary>
        /// Name of the image column. Default <c>"Image"</c>. It may hold encoded image bytes (a variable-size byte vector, as
        /// <c>LoadRawImageBytes</c> produces, or <c>byte[]</c>), images (<c>MLImage</c>, as <c>LoadImages</c> produces) or
        /// pixels (a fixed-size vector of <see cref="float"/> or <see cref="byte"/> in channel × height × width order, with
        /// <see cref="ImageShape"/>).
        /// </summary>
        [PilotOption("Name of the image column: encoded image bytes, MLImage, or a fixed-size pixel vector (CHW) with ImageShape.")]
        public string ImageColumnName = D.ImageColumnName;

        /// <summary>Name of the output column of class probabilities (a vector of <see cref="float"/>, one per class). Default <c>"Score"</c>.</summary>
        [PilotOption("Name of the output column of class probabilities.")]
        public string ScoreColumnName = D.ScoreColumnName;

        /// <summary>Name of the output column of the predicted class (the label's key type). Default <c>"PredictedLabel"</c>.</summary>
        [PilotOption("Name of the output column of the predicted class.")]
        public string PredictedLabelColumnName = D.PredictedLabelColumnName;

        /// <summary>The network to train. Default <see cref="PilotArchitecture.ResNet18"/>.</summary>
        [PilotOption("The network to train.", ShortName = "arch")]
        public PilotArchitecture Architecture = D.Architecture;

        /// <summary>
        /// Number of passes over the training data. Default <see langword="null"/>: the fine-tuning mode's
        /// (<see cref="PilotImageClassificationDefaults.EpochsFor"/>: 100 when only the head of a pretrained network trains
        /// over cached features, else 30); range [1, 100000].
        /// </summary>
        [PilotOption("Number of passes over the training data (cosine learning-rate schedule over all of them).", Min = 1, Max = D.MaxEpochs)]
        public int? Epochs;

        /// <summary>Images per training step. Default 128; range [1, 65536].</summary>
        [PilotOption("Images per training step.", Min = 1, Max = D.MaxBatchSize)]
        public int BatchSize = D.BatchSize;

        /// <summary>
        /// Peak learning rate, reached after <see cref="WarmupEpochs"/> and then decayed to 0 along a cosine over the remaining
        /// steps. Default 1e-3; range (0, ∞), finite.
        /// </summary>
        [PilotOption("Peak learning rate (linear warm-up, then cosine decay to 0).", ShortName = "lr", Min = 0, MinExclusive = true)]
        public double LearningRate = D.LearningRate;

        /// <summary>
        /// Weight decay: decoupled (AdamW-style) for every optimizer except <see cref="PilotOptimizerKind.Adam"/>, where it is
        /// an L2 term added to the gradient. Applied to every parameter. Default 1e-4; range [0, ∞), finite.
        /// </summary>
        [PilotOption("Weight decay (decoupled, except L2 for Adam).", Min = 0)]
        public double WeightDecay = D.WeightDecay;

        /// <summary>The optimizer. Default <see cref="PilotOptimizerKind.Pilot"/>.</summary>
        [PilotOption("The optimizer.")]
        public PilotOptimizerKind Optimizer = D.Optimizer;

        /// <summary>
        /// First-moment decay β1 (Pilot, Adam, AdamW, AdaBelief, Sophia; Lion's interpolation β1). Default <see langword="null"/>: the
        /// optimizer's own default (0.9; 0.965 for Sophia). Range [0, 1).
        /// </summary>
        [PilotOption("First-moment decay beta1 (none: the optimizer's own default).", Min = 0, Max = 1, MaxExclusive = true)]
        public double? Beta1;

        /// <summary>
        /// Second-moment decay β2 (Pilot, Adam, AdamW, AdaBelief; Lion's momentum decay β2; the decay of Sophia's Hessian estimate).
        /// Default <see langword="null"/>: the optimizer's own default (0.999; 0.99 for Lion and Sophia). Range [0, 1).
        /// </summary>
        [PilotOption("Second-moment decay beta2 (none: the optimizer's own default).", Min = 0, Max = 1, MaxExclusive = true)]
        public double? Beta2;

        /// <summary>PILOT only: smoothing γ of the gradient-agreement signal ρ. Default 0.95; range [0, 1).</summary>
        [PilotOption("PILOT: smoothing gamma of the gradient-agreement signal.", Min = 0, Max = 1, MaxExclusive = true)]
        public double Gamma = D.Gamma;

        /// <summary>PILOT only: learning rate η_φ of the policy coefficients (0 freezes the policy). Default 0.01; range [0, ∞), finite.</summary>
        [PilotOption("PILOT: learning rate of the policy coefficients (0 freezes the policy).", Min = 0)]
        public double EtaPhi = D.EtaPhi;

        /// <summary>
        /// PILOT only: polynomial degree of each policy head. Default 2; range [1, 8]. Ignored when <see cref="InitialPolicy"/> is
        /// set (the policy's own degree is used).
        /// </summary>
        [PilotOption("PILOT: polynomial degree of each policy head (ignored with an initial policy).", Min = 1, Max = D.MaxPolicyDegree)]
        public int PolicyDegree = D.PolicyDegree;

        /// <summary>
        /// PILOT only: the policy to start from (for example one exported from another run with <c>pilot policy export</c>);
        /// <see langword="null"/> (the default) starts from PILOT's initial policy.
        /// </summary>
        [PilotOption("PILOT: policy to start from, e.g. one written by 'pilot policy export' (none: PILOT's initial policy).", ShortName = "policy")]
        public PilotPolicy? InitialPolicy;

        /// <summary>PILOT only: keep the policy fixed (η_φ = 0), for policy transfer. Default <see langword="false"/>.</summary>
        [PilotOption("PILOT: keep the policy fixed (policy transfer).")]
        public bool FreezePolicy = D.FreezePolicy;

        /// <summary>
        /// Epochs of linear learning-rate warm-up (from <see cref="LearningRate"/>/steps up to <see cref="LearningRate"/>) before
        /// the cosine decay. Default 0; range [0, <see cref="Epochs"/>].
        /// </summary>
        [PilotOption("Epochs of linear learning-rate warm-up before the cosine decay (at most Epochs).", Min = 0)]
        public int WarmupEpochs = D.WarmupEpochs;

        /// <summary>
        /// Which weights train: <see cref="PilotFineTuning.Head"/> (a pretrained backbone frozen, its features computed once
        /// and cached, only the new classifier trains), <see cref="PilotFineTuning.LastStage"/> (the early stages frozen and
        /// their output cached; the last stage and the classifier train) or <see cref="PilotFineTuning.Full"/> (every layer).
        /// Default <see langword="null"/>: <see cref="PilotImageClassificationDefaults.PretrainedFineTuning"/> for a pretrained
        /// architecture, Full for a network trained from scratch (which accepts only Full). Head and LastStage cannot be
        /// combined with <see cref="Augment"/>.
        /// </summary>
        [PilotOption("Which weights train: Head (pretrained backbone frozen, features cached), LastStage (early stages frozen, their output cached; last stage and head train) or Full (default: the pretrained default for pretrained networks, Full otherwise).")]
        public PilotFineTuning? FineTuning;

        /// <summary>
        /// Factor on <see cref="LearningRate"/> for the pretrained backbone in <see cref="PilotFineTuning.Full"/> fine-tuning,
        /// and for its last stage in <see cref="PilotFineTuning.LastStage"/> (the new classifier trains at
        /// <see cref="LearningRate"/>; docs/transfer.md has the measurements behind the defaults). Ignored by networks trained
        /// from scratch and by Head.
        /// Default <see langword="null"/>: the mode's (<see cref="PilotImageClassificationDefaults.BackboneLearningRateScaleFor"/>:
        /// 0.1 for Full, 0.3 for LastStage); range (0, 1].
        /// </summary>
        [PilotOption("Full and LastStage fine-tuning: learning-rate factor of the pretrained layers that train (the new head trains at the full rate).", Min = 0, MinExclusive = true, Max = 1)]
        public double? BackboneLearningRateScale;

        /// <summary>
        /// Augment training images: random crop with 4-pixel zero padding and random horizontal flip (validation and scoring
        /// images are never augmented). Default <see langword="false"/>.
        /// </summary>
        [PilotOption("Augment training images (random crop with 4-pixel padding, horizontal flip).")]
        public bool Augment = D.Augment;

        /// <summary>
        /// Network input width in pixels; images are resized (bilinear) to it. Default <see langword="null"/>: 32 for encoded
        /// images and <c>MLImage</c> columns (unless <see cref="ImageShape"/> is set), the native width for pixel vectors;
        /// <see cref="PilotImageClassificationDefaults.PretrainedImageSide"/> (128) for a pretrained architecture.
        /// Range [1, 4096] (the architecture may need more: 4 for SmallCnn, 8 for the ResNets, 32 for PretrainedResNet18).
        /// </summary>
        [PilotOption("Network input width in pixels (default: 32 for encoded images, native for pixel vectors, 128 for pretrained networks).", Min = 1, Max = D.MaxImageSide)]
        public int? ImageWidth;

        /// <summary>Network input height in pixels; as <see cref="ImageWidth"/>.</summary>
        [PilotOption("Network input height in pixels (default: 32 for encoded images, native for pixel vectors, 128 for pretrained networks).", Min = 1, Max = D.MaxImageSide)]
        public int? ImageHeight;

        /// <summary>
        /// Shape of one image (channels, height, width). Required for pixel-vector columns, whose size must equal
        /// channels × height × width, unless the vector type itself has the dimensions (channels, height, width) with 1 or 3
        /// channels, as the loaders of <c>Pilot.MLNet.Data.PilotDatasets</c> produce. For encoded images and <c>MLImage</c> columns it is optional: its channels (1 gray,
        /// 3 colour) override the choice from the data (gray when every training image is gray, colour otherwise) and its
        /// height and width are the network input size unless <see cref="ImageHeight"/>/<see cref="ImageWidth"/> are set.
        /// Default <see langword="null"/>.
        /// </summary>
        [PilotOption("Shape of one image (channels, height, width); required for pixel-vector columns.")]
        public ImageShape? ImageShape;

        /// <summary>
        /// Data to compute validation loss and accuracy on after each epoch, with the same columns as the training data (apply
        /// the same upstream transforms). Default <see langword="null"/>. <c>Fit(train, validation)</c> takes precedence.
        /// </summary>
        [PilotOption("Validation data, scored after each epoch.")]
        public IDataView? ValidationSet;

        /// <summary>
        /// Stop after this many epochs without a lower validation loss and keep the weights of the best epoch. Needs a
        /// validation set. Default <see langword="null"/> (off); range [1, 100000].
        /// </summary>
        [PilotOption("Stop after this many epochs without a lower validation loss and keep the best epoch (needs a validation set; none: off).", Min = 1, Max = D.MaxEpochs)]
        public int? EarlyStoppingPatience;

        /// <summary>
        /// Seed of weight initialisation, dropout, shuffling and augmentation. Default <see langword="null"/>: the
        /// <see cref="MLContext"/>'s seed, or a random one when the context has none. With a seed, training on the CPU
        /// gives the same model every time. Weight initialisation and dropout use TorchSharp's process-wide default
        /// generator: concurrent runs of this trainer do not disturb each other, but other code drawing from that generator
        /// at the same time (for example creating TorchSharp modules on another thread) can change the result.
        /// </summary>
        [PilotOption("Seed of initialisation, dropout, shuffling and augmentation (default: the MLContext's seed).")]
        public int? Seed;

        /// <summary>Called after each epoch with its metrics. Default <see langword="null"/>. An exception it throws stops training (after the epoch's checkpoint is written).</summary>
        [PilotOption("Called after each epoch with its metrics.")]
        public Action<PilotEpochReport>? ProgressCallback;

        /// <summary>
        /// Called after each training batch (for a live progress bar). Default <see langword="null"/>. Setting it reads the
        /// batch loss back from the device every batch, which costs a little on a GPU.
        /// </summary>
        [PilotOption("Called after each training batch (progress bar).")]
        public Action<PilotBatchProgress>? BatchProgressCallback;

        /// <summary>
        /// Directory for a checkpoint written after every epoch (weights, optimizer state, random-generator states, history).
        /// A later <c>Fit</c> with the same directory, options and data resumes after the last completed epoch; on the CPU the
        /// result equals an uninterrupted run. Default <see langword="null"/> (no checkpoints).
        /// </summary>
        [PilotOption("Directory for per-epoch checkpoints; a new run with the same directory resumes.", ShortName = "checkpoint-dir")]
        public string? CheckpointDirectory;

        /// <summary>
        /// The ImageNet weights file of <see cref="PilotArchitecture.PretrainedResNet18"/>: <c>ResNet18.onnx</c> of the NuGet package
        /// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> 0.24.0 (checked by its SHA-256). Default <see langword="null"/>:
        /// <c>DnnImageModels/ResNet18Onnx/ResNet18.onnx</c> under the app's folder (where building a project that references
        /// Pilot.MLNet, or that package, puts it), then the package in the NuGet global packages folder. Read by training only;
        /// other architectures ignore it.
        /// </summary>
        [PilotOption("PretrainedResNet18's weights file, ResNet18.onnx of Microsoft.ML.DnnImageFeaturizer.ResNet18 0.24.0 (default: next to the app).")]
        public string? PretrainedWeightsPath;

        /// <summary>
        /// Full and LastStage fine-tuning of a pretrained network: update the trained backbone layers' batch-norm running
        /// statistics from the training batches (true) instead of keeping the pretrained ones (false, the default;
        /// docs/transfer.md has the measurements).
        /// Internal: for the measurements only.
        /// </summary>
        internal bool UpdateBatchNormStatistics;

        /// <summary>
        /// Sees the network at the start and after every optimizer step (the CLI's <c>bench landscape</c> records weight
        /// trajectories with it). Internal: not an option of the public API, not saved with the model. Default <see langword="null"/>.
        /// </summary>
        internal Training.ITrainingObserver? Observer;

        /// <summary>A copy, so that later changes by the caller cannot reach a trainer (every field is a value or immutable, except the data view and callbacks, which are shared).</summary>
        internal Options Clone() => (Options)MemberwiseClone();

        /// <summary>The epochs these options train: <see cref="Epochs"/>, else the fine-tuning mode's default.</summary>
        internal int EpochsToTrain => Epochs ?? D.EpochsFor(Models.Backbones.ResolveFineTuning(Architecture, FineTuning));
    }
}

using Pilot.MLNet;

namespace Pilot.Cli;

/// <summary>
/// The defaults of the <c>pilot</c> command line, defined once and shown by <c>--help</c>.
/// </summary>
/// <remarks>
/// They differ on purpose from the library's <c>PilotImageClassificationTrainer.Options</c> defaults (ResNet18,
/// 30 epochs, the paper's protocol): the README's first command, <c>pilot train</c> with no arguments, has to finish
/// in a few minutes on a 2-core CPU. A SmallCnn epoch over the 60,000 FashionMNIST training images takes about half
/// a minute on such a machine, so the CLI trains SmallCnn for <see cref="Epochs"/> epochs. Every other training
/// default (batch size, learning rate, optimizer, …) is the library's: <see cref="Trainer"/>.
/// </remarks>
internal static class CliDefaults
{
    /// <summary>Network of <c>pilot train</c>: SmallCnn (about 0.42 M parameters), fast on a CPU.</summary>
    public const PilotArchitecture Architecture = PilotArchitecture.SmallCnn;

    /// <summary>Epochs of <c>pilot train</c>: 3, about a minute and a half of SmallCnn training on full FashionMNIST on 2 cores.</summary>
    public const int Epochs = 3;

    /// <summary>
    /// The trainer options <c>pilot train</c> starts from: the library's defaults with <see cref="Architecture"/> and
    /// <see cref="Epochs"/>. Its flags show these defaults.
    /// </summary>
    public static PilotImageClassificationTrainer.Options Trainer() => new() { Architecture = Architecture, Epochs = Epochs };

    /// <summary>
    /// Network of <c>pilot train</c> on a folder of images (one sub-folder per class: a user's photos) when <c>--arch</c> is
    /// not given: the ImageNet-pretrained ResNet, fine-tuned in the library's default mode (the classifier over cached
    /// features, <see cref="PilotImageClassificationDefaults.PretrainedFineTuning"/>) for the library's
    /// <see cref="PilotImageClassificationDefaults.HeadEpochs"/> epochs, which over cached features take seconds. A network
    /// trained from scratch on a few hundred photos is far behind it (docs/transfer.md).
    /// </summary>
    public const PilotArchitecture ImageFolderArchitecture = PilotArchitecture.PretrainedResNet18;

    /// <summary>
    /// The trainer options for the data at hand: <paramref name="trainer"/> with the defaults that depend on the data. On an
    /// image folder, <c>--arch</c> not given means <see cref="ImageFolderArchitecture"/>. For a pretrained network whose
    /// fine-tuning trains over cached features only (Head), <c>--epochs</c> not given means the library's default for it
    /// (<see cref="PilotImageClassificationDefaults.HeadEpochs"/>) instead of <see cref="Epochs"/> (3 epochs of a classifier
    /// over a few hundred photos are a dozen steps). Flags that were given are never changed.
    /// </summary>
    /// <param name="trainer">The options from the flags (not changed).</param>
    /// <param name="imageFolder">Whether the data is a folder of image files, one sub-folder per class.</param>
    /// <param name="given">The <see cref="PilotImageClassificationTrainer.Options"/> field names whose flag was given.</param>
    public static PilotImageClassificationTrainer.Options ForData(PilotImageClassificationTrainer.Options trainer, bool imageFolder, IReadOnlySet<string> given)
    {
        var options = trainer.Clone();
        if (imageFolder && !given.Contains(nameof(options.Architecture)))
            options.Architecture = ImageFolderArchitecture;
        bool headOnly = Pilot.MLNet.Models.Backbones.IsPretrained(options.Architecture)
            && Pilot.MLNet.Models.Backbones.ResolveFineTuning(options.Architecture, options.FineTuning) == PilotFineTuning.Head;
        if (headOnly && !given.Contains(nameof(options.Epochs)))
            options.Epochs = null;
        return options;
    }

    /// <summary>Device: <see cref="DeviceChoice.Auto"/> (CUDA when TorchSharp sees a GPU, else the CPU).</summary>
    public const DeviceChoice Device = DeviceChoice.Auto;

    /// <summary>Seed of weight initialisation, shuffling and data splits: 0.</summary>
    public const int Seed = 0;

    /// <summary>Where <c>pilot train</c> writes the model: <c>model.zip</c> in the current folder.</summary>
    public const string ModelPath = "model.zip";

    /// <summary>
    /// Fraction of the training rows held out to validate after each epoch: 0, meaning the test split (or, for an
    /// image folder, the test fraction) is what is validated on after each epoch.
    /// </summary>
    public const double ValidationFraction = 0.0;

    /// <summary>Fraction of an image folder held out as the test set: 0.2. IDX and CIFAR-10 folders have their own test split.</summary>
    public const double TestFraction = 0.2;

    /// <summary>Name of the folder, next to the model, that receives plots and the history JSON when <c>--plots</c> is not given.</summary>
    public const string OutputFolderName = "pilot-output";

    /// <summary>Where <c>pilot policy export</c> writes the policy: <c>policy.json</c> in the current folder.</summary>
    public const string PolicyPath = "policy.json";

    /// <summary>Where <c>pilot export onnx</c> writes the ONNX file: <c>model.onnx</c> in the current folder.</summary>
    public const string OnnxPath = "model.onnx";

    /// <summary>Number of labels <c>pilot predict</c> prints per image: 3.</summary>
    public const int TopK = 3;

    /// <summary>Where the Debian package <c>dataset-fashion-mnist</c> installs FashionMNIST; used when <c>--data</c> is not given.</summary>
    public const string SystemFashionMnistFolder = Pilot.MLNet.Data.PilotDatasets.DebianFashionMnistFolder;

    /// <summary>File name of the per-epoch history written next to the plots.</summary>
    public const string HistoryFileName = "history.json";
}

/// <summary>Where training runs: <c>--device auto|cpu|cuda</c>.</summary>
internal enum DeviceChoice
{
    /// <summary>CUDA when available, else the CPU.</summary>
    Auto,

    /// <summary>The CPU.</summary>
    Cpu,

    /// <summary>The first CUDA GPU; an error (exit code 2) when TorchSharp sees none.</summary>
    Cuda,
}

/// <summary>The defaults of <c>pilot bench …</c>, defined once and shown by <c>--help</c>.</summary>
internal static class BenchDefaults
{
    /// <summary><c>bench optimizer</c> device: the CPU (the fused CPU path is what it measures first).</summary>
    public const DeviceChoice OptimizerDevice = DeviceChoice.Cpu;

    /// <summary><c>bench optimizer</c> and <c>bench train</c> network: SmallCnn.</summary>
    public const PilotArchitecture Model = PilotArchitecture.SmallCnn;

    /// <summary><c>bench optimizer</c>: timed steps after warm-up (the median is reported): Pilot.TorchSharp's default, 200.</summary>
    public const int OptimizerSteps = Bench.OptimizerBenchmark.DefaultSteps;

    /// <summary>
    /// <c>bench optimizer</c>: the input the network's parameter shapes are taken for: FashionMNIST's 1×28×28 for SmallCnn
    /// (421,834 parameters), CIFAR-10's 3×32×32 for the others (ResNet-18: 11,173,962), as in docs/performance.md.
    /// </summary>
    public static ImageShape OptimizerInput(PilotArchitecture model)
        => model == PilotArchitecture.SmallCnn ? new ImageShape(1, 28, 28) : new ImageShape(3, 32, 32);

    /// <summary><c>bench optimizer</c>: classes of the network's head, 10.</summary>
    public const int OptimizerClasses = 10;

    /// <summary><c>bench optimizer --omp-wait-policy</c>: both PASSIVE and ACTIVE, a child process each.</summary>
    public const string OptimizerWaitPolicy = "both";

    /// <summary><c>bench train</c> optimizers: PILOT and AdamW, measured in the same process so they can be compared.</summary>
    public static readonly PilotOptimizerKind[] TrainOptimizers = [PilotOptimizerKind.Pilot, PilotOptimizerKind.AdamW];

    /// <summary>
    /// <c>bench train</c> rounds: 2 timed epochs per optimizer, the second round in the reverse order of the first, so that
    /// neither optimizer always runs first or last.
    /// </summary>
    public const int TrainRounds = 2;

    /// <summary><c>bench train</c> warm-up: each optimizer first trains one untimed epoch over this many images (JIT, libtorch's
    /// kernel choice and allocator caches), so that the first timed epoch does not pay for them.</summary>
    public const int TrainWarmupImages = 4096;

    /// <summary><c>bench paper</c> networks: SmallCnn (the CPU part of the reproduction).</summary>
    public static readonly PilotArchitecture[] PaperModels = [PilotArchitecture.SmallCnn];

    /// <summary><c>bench paper</c> optimizers: PILOT and AdamW.</summary>
    public static readonly PilotOptimizerKind[] PaperOptimizers = [PilotOptimizerKind.Pilot, PilotOptimizerKind.AdamW];

    /// <summary><c>bench paper</c> seeds: 0, 1, 2.</summary>
    public static readonly int[] PaperSeeds = [0, 1, 2];

    /// <summary><c>bench paper</c> epochs: 30, the paper's.</summary>
    public const int PaperEpochs = 30;

    /// <summary><c>bench paper</c> results file (accumulating) and <c>bench report</c> input: <c>fashion-mnist.json</c> in the current folder.</summary>
    public const string PaperResults = "fashion-mnist.json";

    /// <summary>
    /// <c>bench landscape</c> optimizers: every optimizer the trainer knows (<see cref="PilotOptimizerKind"/>, in its order),
    /// so that one added to it appears in the figure without a change here.
    /// </summary>
    public static readonly PilotOptimizerKind[] LandscapeOptimizers = Enum.GetValues<PilotOptimizerKind>();

    /// <summary><c>bench landscape</c> epochs per optimizer: 2 (about 160 steps over <see cref="LandscapeTrainImages"/> images).</summary>
    public const int LandscapeEpochs = 2;

    /// <summary>
    /// <c>bench landscape</c> training images: the first 10,000 rows of the training set (all of them when there are fewer),
    /// so that training every optimizer takes minutes on a 2-core CPU.
    /// </summary>
    public const int LandscapeTrainImages = 10_000;

    /// <summary><c>bench landscape</c> recorded points per trajectory after the start: 30, evenly spaced over the steps.</summary>
    public const int LandscapePoints = 30;

    /// <summary><c>bench landscape</c> grid: 21 × 21 points over the plane of the trajectories.</summary>
    public const int LandscapeGrid = 21;

    /// <summary><c>bench landscape</c> loss subset: the first 1,000 training images.</summary>
    public const int LandscapeSubset = 1_000;

    /// <summary><c>bench landscape</c> seed (the same initial weights and batch order for every optimizer): 0.</summary>
    public const int LandscapeSeed = 0;

    /// <summary><c>bench landscape</c> figure, in the current folder; its JSON is written beside it with the extension <c>.json</c>.</summary>
    public const string LandscapeOut = "landscape-smallcnn.png";
}

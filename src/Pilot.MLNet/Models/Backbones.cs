using Pilot.MLNet.Images;
using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.MLNet.Models;

/// <summary>Builds the networks of <see cref="PilotArchitecture"/>.</summary>
/// <remarks>
/// Weights are initialised from TorchSharp's global random generator: seed it (<c>torch.random.manual_seed</c>) before
/// <see cref="Create"/> for a reproducible network.
/// </remarks>
internal static class Backbones
{
    /// <summary>
    /// Largest image side (max of height and width) for which the ResNets use the small-image stem (3×3 stride-1
    /// convolution, no max-pool); larger inputs get torchvision's 7×7 stride-2 convolution and max-pool.
    /// </summary>
    internal const int SmallImageMaxSide = 64;

    /// <summary>
    /// Smallest image side for a ResNet with the small-image stem: its three stride-2 stages take 8 pixels down to 1,
    /// so each of them still has a map larger than 1×1 to down-sample.
    /// </summary>
    internal const int ResNetSmallStemMinSide = 8;

    /// <summary>Smallest image side for a ResNet with the standard stem, for the same reason (total stride 32).</summary>
    internal const int ResNetStandardStemMinSide = 32;

    /// <summary>
    /// Smallest image side for <see cref="PilotArchitecture.PretrainedResNet18"/>: its total stride is 32, so a 32-pixel side
    /// leaves a 1×1 map after <c>layer4</c>.
    /// </summary>
    internal const int PretrainedMinSide = 32;

    /// <summary>Smallest number of classes a classifier can have.</summary>
    internal const int MinClasses = 2;

    /// <summary>
    /// Most weights one fully connected layer may have: 2^26 (256 MB of float32). Keeps a large input to SmallCnn (whose
    /// first linear layer grows with the image area) or a huge class count from allocating, and initialising, gigabytes.
    /// </summary>
    internal const long MaxLayerWeights = 1L << 26;

    /// <summary>Creates an untrained network mapping N×C×H×W float input to N×<paramref name="numClasses"/> logits.</summary>
    /// <param name="architecture">Which network.</param>
    /// <param name="input">Shape of one image: 1 or 3 channels; each side at least 4 for <see cref="PilotArchitecture.SmallCnn"/>,
    /// at least 8 for the ResNets when both sides are ≤ <see cref="SmallImageMaxSide"/> and at least 32 otherwise (always at least 32 for PretrainedResNet18); small
    /// enough that no linear layer exceeds <see cref="MaxLayerWeights"/> (SmallCnn's first one grows with the image area).</param>
    /// <param name="numClasses">Number of classes, ≥ 2 (the classifier layer must not exceed <see cref="MaxLayerWeights"/>).</param>
    /// <param name="headInput">What a ResNet's classifier reads; <see cref="HeadInput.Layer3AndLayer4"/> only for
    /// <see cref="PilotArchitecture.PretrainedResNet18"/> (see <see cref="HeadInputFor"/>).</param>
    /// <returns>A new module in training mode on the CPU; the caller owns (and disposes) it. For
    /// <see cref="PilotArchitecture.PretrainedResNet18"/> the weights are random too (model loading fills them from the model
    /// file); <see cref="CreateForTraining"/> loads the ImageNet weights.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside the ranges above; the message names it.</exception>
    public static nn.Module<Tensor, Tensor> Create(PilotArchitecture architecture, ImageShape input, int numClasses, HeadInput headInput = HeadInput.Layer4)
    {
        Validate(architecture, input, numClasses);
        if (!headInput.IsValidFor(architecture))
            throw new ArgumentOutOfRangeException(nameof(headInput), headInput, Enum.IsDefined(headInput)
                ? $"{architecture} has no {headInput} head; only {PilotArchitecture.PretrainedResNet18} has."
                : $"Unknown {nameof(headInput)} {headInput}.");
        if (architecture == PilotArchitecture.SmallCnn)
            return new SmallCnn(input, numClasses);
        if (architecture == PilotArchitecture.PretrainedResNet18)
            return new ResNet(input.Channels, PretrainedWeights.BlocksPerStage, numClasses, smallImageStem: false, imageNetInput: true, headInput);
        var blocks = architecture == PilotArchitecture.ResNet18 ? ResNet.ResNet18Blocks : ResNet.ResNet34Blocks;
        return new ResNet(input.Channels, blocks, numClasses, UsesSmallImageStem(input));
    }

    /// <summary>
    /// The network a training run starts from: <see cref="Create"/> with the head <see cref="HeadInputFor"/> chooses, and for
    /// <see cref="PilotArchitecture.PretrainedResNet18"/> the ImageNet weights of the trunk read from the weights file
    /// (<see cref="PretrainedWeights.Locate"/>); the head is new.
    /// </summary>
    /// <param name="architecture">Which network.</param>
    /// <param name="input">As for <see cref="Create"/>.</param>
    /// <param name="numClasses">As for <see cref="Create"/>.</param>
    /// <param name="fineTuning">How the run trains (resolved: <see cref="ResolveFineTuning"/>); it decides the head.</param>
    /// <param name="pretrainedWeightsPath">The weights file, or <see langword="null"/> for the default places; ignored by the other architectures.</param>
    /// <exception cref="FileNotFoundException">PretrainedResNet18's weights file was not found; the message names the places looked at.</exception>
    /// <exception cref="InvalidDataException">The weights file is damaged or another file; the message names it.</exception>
    public static nn.Module<Tensor, Tensor> CreateForTraining(PilotArchitecture architecture, ImageShape input, int numClasses,
        PilotFineTuning fineTuning, string? pretrainedWeightsPath)
    {
        string? path = architecture == PilotArchitecture.PretrainedResNet18 ? PretrainedWeights.Locate(pretrainedWeightsPath) : null;
        var network = Create(architecture, input, numClasses, HeadInputFor(architecture, fineTuning));
        if (path is null)
            return network;
        try
        {
            PretrainedWeights.Load((ResNet)network, path);
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// What the classifier of a network trained with <paramref name="fineTuning"/> reads:
    /// <see cref="HeadInput.Layer3AndLayer4"/> for <see cref="PilotArchitecture.PretrainedResNet18"/> with
    /// <see cref="PilotFineTuning.Head"/> (standardised <c>layer3</c> + <c>layer4</c> averages gained 2–3 points over
    /// <c>layer4</c>'s alone on FashionMNIST, docs/transfer.md), else <see cref="HeadInput.Layer4"/> (LastStage and Full train
    /// <c>layer4</c> itself, and were measured with it).
    /// </summary>
    internal static HeadInput HeadInputFor(PilotArchitecture architecture, PilotFineTuning fineTuning) =>
        architecture == PilotArchitecture.PretrainedResNet18 && fineTuning == PilotFineTuning.Head ? HeadInput.Layer3AndLayer4 : HeadInput.Layer4;

    /// <summary>True for the architectures that take raw pixels and prepare them themselves (<see cref="PilotArchitecture.PretrainedResNet18"/>).</summary>
    internal static bool TakesRawPixels(PilotArchitecture architecture) => architecture == PilotArchitecture.PretrainedResNet18;

    /// <summary>
    /// The per-channel normalisation the trainer applies before the network: the data's statistics, or for an architecture
    /// that takes raw pixels (<see cref="TakesRawPixels"/>) the identity (mean 0, standard deviation 1).
    /// </summary>
    internal static ChannelStatistics InputNormalization(PilotArchitecture architecture, ChannelStatistics data) =>
        TakesRawPixels(architecture)
            ? new ChannelStatistics(new float[data.Mean.Length], Enumerable.Repeat(1f, data.Std.Length).ToArray())
            : data;

    /// <summary>The checks of <see cref="Create"/>, without building anything (to fail before reading a data set).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside the ranges of <see cref="Create"/>; the message names it.</exception>
    public static void Validate(PilotArchitecture architecture, ImageShape input, int numClasses)
    {
        input.Validate(nameof(input));
        if (numClasses < MinClasses)
            throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, $"{nameof(numClasses)} must be at least {MinClasses}; got {numClasses}.");

        switch (architecture)
        {
            case PilotArchitecture.SmallCnn:
                RequireMinSide(input, SmallCnn.MinSide, "SmallCnn (its two 2×2 max-pools divide each side by 4)");
                RequireLayerSize(SmallCnn.FlattenedSize(input) * SmallCnn.Hidden, nameof(input),
                    $"{nameof(input)} {input} is too large for SmallCnn: its first linear layer grows with the image area");
                RequireLayerSize((long)SmallCnn.Hidden * numClasses, nameof(numClasses), $"{numClasses} classes are too many for SmallCnn");
                break;

            case PilotArchitecture.ResNet18:
            case PilotArchitecture.ResNet34:
                bool smallStem = UsesSmallImageStem(input);
                RequireMinSide(input, smallStem ? ResNetSmallStemMinSide : ResNetStandardStemMinSide,
                    smallStem
                        ? $"{architecture} with the small-image stem (total stride 8)"
                        : $"{architecture} with the standard stem, used when a side exceeds {SmallImageMaxSide} (total stride 32)");
                RequireLayerSize((long)ResNet.Layer4Channels * numClasses, nameof(numClasses), $"{numClasses} classes are too many for {architecture}");
                break;

            case PilotArchitecture.PretrainedResNet18:
                RequireMinSide(input, PretrainedMinSide, $"{architecture} (7×7 stride-2 stem and max-pool, total stride 32)");
                RequireLayerSize((long)ResNet.FeatureCountFor(HeadInput.Layer3AndLayer4) * numClasses, nameof(numClasses), $"{numClasses} classes are too many for {architecture}");
                break;

            default:
                throw new ArgumentOutOfRangeException(nameof(architecture), architecture,
                    $"Unknown {nameof(architecture)} {architecture}; expected one of {string.Join(", ", Enum.GetNames<PilotArchitecture>())}.");
        }
    }

    /// <summary>True when <paramref name="architecture"/> starts from pretrained weights (and so has a head to fine-tune alone).</summary>
    internal static bool IsPretrained(PilotArchitecture architecture) => architecture switch
    {
        PilotArchitecture.SmallCnn or PilotArchitecture.ResNet18 or PilotArchitecture.ResNet34 => false,
        PilotArchitecture.PretrainedResNet18 => true,
        _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, $"Unknown {nameof(architecture)} {architecture}."),
    };

    /// <summary>
    /// The fine-tuning <paramref name="requested"/> resolves to: itself when set, else
    /// <see cref="PilotImageClassificationDefaults.PretrainedFineTuning"/> for a pretrained architecture and
    /// <see cref="PilotFineTuning.Full"/> for one trained from scratch.
    /// </summary>
    internal static PilotFineTuning ResolveFineTuning(PilotArchitecture architecture, PilotFineTuning? requested) =>
        requested ?? (IsPretrained(architecture) ? PilotImageClassificationDefaults.PretrainedFineTuning : PilotFineTuning.Full);

    /// <summary>True when a ResNet for <paramref name="input"/> uses the small-image stem (both sides ≤ <see cref="SmallImageMaxSide"/>).</summary>
    internal static bool UsesSmallImageStem(ImageShape input) => Math.Max(input.Height, input.Width) <= SmallImageMaxSide;

    /// <summary>
    /// Parameters of the linear layers of the network <see cref="Create"/> builds for these arguments, computed without
    /// building it (model loading compares it with the size of the stored weights before allocating anything).
    /// </summary>
    internal static long LinearParameterCount(PilotArchitecture architecture, ImageShape input, int numClasses, HeadInput headInput) => architecture switch
    {
        PilotArchitecture.SmallCnn => (SmallCnn.FlattenedSize(input) + 1) * SmallCnn.Hidden + (SmallCnn.Hidden + 1L) * numClasses,
        _ => (ResNet.FeatureCountFor(headInput) + 1L) * numClasses,
    };

    private static void RequireLayerSize(long weights, string argument, string problem)
    {
        if (weights > MaxLayerWeights)
            throw new ArgumentOutOfRangeException(argument,
                $"{problem}: a linear layer would have {weights} weights, more than the {MaxLayerWeights} allowed. " +
                "Use a smaller input (ImageHeight/ImageWidth), a ResNet, or fewer classes.");
    }

    private static void RequireMinSide(ImageShape input, int minSide, string why)
    {
        if (input.Height < minSide || input.Width < minSide)
            throw new ArgumentOutOfRangeException(nameof(input), input,
                $"{nameof(input)} {input} is too small for {why}: height and width must be at least {minSide}.");
    }
}

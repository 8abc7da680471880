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

    /// <summary>Smallest number of classes a classifier can have.</summary>
    internal const int MinClasses = 2;

    /// <summary>Creates an untrained network mapping N×C×H×W float input to N×<paramref name="numClasses"/> logits.</summary>
    /// <param name="architecture">Which network.</param>
    /// <param name="input">Shape of one image: 1 or 3 channels; each side at least 4 for <see cref="PilotArchitecture.SmallCnn"/>,
    /// at least 8 for the ResNets when both sides are ≤ <see cref="SmallImageMaxSide"/> and at least 32 otherwise.</param>
    /// <param name="numClasses">Number of classes, ≥ 2.</param>
    /// <returns>A new module in training mode on the CPU; the caller owns (and disposes) it.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside the ranges above; the message names it.</exception>
    public static nn.Module<Tensor, Tensor> Create(PilotArchitecture architecture, ImageShape input, int numClasses)
    {
        input.Validate(nameof(input));
        if (numClasses < MinClasses)
            throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, $"{nameof(numClasses)} must be at least {MinClasses}; got {numClasses}.");

        switch (architecture)
        {
            case PilotArchitecture.SmallCnn:
                RequireMinSide(input, SmallCnn.MinSide, "SmallCnn (its two 2×2 max-pools divide each side by 4)");
                return new SmallCnn(input, numClasses);

            case PilotArchitecture.ResNet18:
            case PilotArchitecture.ResNet34:
                bool smallStem = UsesSmallImageStem(input);
                RequireMinSide(input, smallStem ? ResNetSmallStemMinSide : ResNetStandardStemMinSide,
                    smallStem
                        ? $"{architecture} with the small-image stem (total stride 8)"
                        : $"{architecture} with the standard stem, used when a side exceeds {SmallImageMaxSide} (total stride 32)");
                var blocks = architecture == PilotArchitecture.ResNet18 ? ResNet.ResNet18Blocks : ResNet.ResNet34Blocks;
                return new ResNet(input.Channels, blocks, numClasses, smallStem);

            default:
                throw new ArgumentOutOfRangeException(nameof(architecture), architecture,
                    $"Unknown {nameof(architecture)} {architecture}; expected one of {string.Join(", ", Enum.GetNames<PilotArchitecture>())}.");
        }
    }

    /// <summary>True when a ResNet for <paramref name="input"/> uses the small-image stem (both sides ≤ <see cref="SmallImageMaxSide"/>).</summary>
    internal static bool UsesSmallImageStem(ImageShape input) => Math.Max(input.Height, input.Width) <= SmallImageMaxSide;

    private static void RequireMinSide(ImageShape input, int minSide, string why)
    {
        if (input.Height < minSide || input.Width < minSide)
            throw new ArgumentOutOfRangeException(nameof(input), input,
                $"{nameof(input)} {input} is too small for {why}: height and width must be at least {minSide}.");
    }
}

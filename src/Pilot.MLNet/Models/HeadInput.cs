namespace Pilot.MLNet.Models;

/// <summary>What the classifier of a ResNet reads. Stored in the model file (format 0x00010003 on).</summary>
internal enum HeadInput : byte
{
    /// <summary>The global averages of <c>layer4</c> (512 values), into a <c>Linear</c>: torchvision's head.</summary>
    Layer4 = 0,

    /// <summary>
    /// The global averages of <c>layer3</c> and of <c>layer4</c> side by side (256 + 512 values), standardised, into a
    /// <see cref="StandardizedLinear"/>: <see cref="PilotArchitecture.PretrainedResNet18"/> trained with
    /// <see cref="PilotFineTuning.Head"/>, whose frozen ImageNet <c>layer4</c> alone carries less of a new task than the two
    /// stages together (docs/transfer.md).
    /// </summary>
    Layer3AndLayer4 = 1,
}

/// <summary>Which <see cref="HeadInput"/> each architecture can have: the one rule that network construction and model
/// loading both check.</summary>
internal static class HeadInputRules
{
    /// <summary>
    /// True when <paramref name="headInput"/> is a defined value and <paramref name="architecture"/> can carry it: every
    /// architecture has <see cref="HeadInput.Layer4"/>, only <see cref="PilotArchitecture.PretrainedResNet18"/> has
    /// <see cref="HeadInput.Layer3AndLayer4"/>.
    /// </summary>
    internal static bool IsValidFor(this HeadInput headInput, PilotArchitecture architecture) =>
        headInput == HeadInput.Layer4
        || (headInput == HeadInput.Layer3AndLayer4 && architecture == PilotArchitecture.PretrainedResNet18);
}

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

using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.MLNet.Models;

/// <summary>Builds the networks of <see cref="PilotArchitecture"/>. (Contract placeholder: implemented on the data/models branch.)</summary>
internal static class Backbones
{
    /// <summary>Creates an untrained network mapping N×C×H×W float input to N×<paramref name="numClasses"/> logits.</summary>
    public static nn.Module<Tensor, Tensor> Create(PilotArchitecture architecture, ImageShape input, int numClasses)
        => throw new NotImplementedException("Backbones are implemented on the data/models branch.");
}

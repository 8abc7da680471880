using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.MLNet.Models;

/// <summary>
/// A classifier made of a backbone (input → feature vector) and a head (feature vector → logits), which
/// <see cref="PilotFineTuning.Head"/> trains apart: the backbone runs once per image, the head trains on the cached features,
/// and <c>Head.forward(Features(x))</c> equals <c>forward(x)</c> in evaluation mode.
/// </summary>
internal interface IHeadedNetwork
{
    /// <summary>N × C × H × W network input → N × <see cref="FeatureCount"/> features (the network without its head).</summary>
    Tensor Features(Tensor input);

    /// <summary>Length of the feature vector.</summary>
    int FeatureCount { get; }

    /// <summary>The head: N × <see cref="FeatureCount"/> features → N × K logits. Owned by the network.</summary>
    nn.Module<Tensor, Tensor> Head { get; }

    /// <summary>True when the backbone starts from pretrained weights (so Head fine-tuning is meaningful).</summary>
    bool IsPretrained { get; }
}

/// <summary>Helpers for <see cref="IHeadedNetwork"/>.</summary>
internal static class HeadedNetwork
{
    /// <summary>The parameters of <paramref name="network"/> that are not the head's (the backbone's), in registration order.</summary>
    public static IReadOnlyList<Parameter> BackboneParameters(nn.Module network, IHeadedNetwork headed)
    {
        var head = new HashSet<IntPtr>(headed.Head.parameters().Select(p => p.Handle));
        return network.parameters().Where(p => !head.Contains(p.Handle)).ToList();
    }

    /// <summary>Puts every batch-norm layer of <paramref name="network"/> outside its head in evaluation mode (running statistics used, not updated).</summary>
    public static void FreezeBatchNormStatistics(nn.Module network, IHeadedNetwork headed)
    {
        var head = new HashSet<nn.Module>(headed.Head.modules(), ReferenceEqualityComparer.Instance);
        foreach (var module in network.modules())
            if (module is BatchNorm1d or BatchNorm2d && !head.Contains(module))
                module.eval();
    }
}

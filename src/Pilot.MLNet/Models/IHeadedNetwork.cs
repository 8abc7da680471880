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

    /// <summary>
    /// N × C × H × W network input → the activations that enter the last stage (for a ResNet, the output of
    /// <c>layer3</c>): the frozen prefix of <see cref="PilotFineTuning.LastStage"/> fine-tuning.
    /// </summary>
    Tensor EarlyStages(Tensor input);

    /// <summary>
    /// The last stage, the pooling and the head as one module over the output of <see cref="EarlyStages"/>
    /// (<c>LastStage.forward(EarlyStages(x))</c> equals <c>forward(x)</c>); its parameter names are the network's
    /// (<c>layer4.…</c>, <c>fc.…</c>). Owned by the network: never dispose it.
    /// </summary>
    nn.Module<Tensor, Tensor> LastStage { get; }

    /// <summary>Values per image of <see cref="EarlyStages"/>' output for an input of <paramref name="height"/> × <paramref name="width"/>.</summary>
    long EarlyStagesValuesPerImage(int height, int width);
}

/// <summary>Helpers for <see cref="IHeadedNetwork"/>.</summary>
internal static class HeadedNetwork
{
    /// <summary>True for the modes that train a suffix of the network over activations of its frozen prefix, cached once.</summary>
    public static bool IsCached(PilotFineTuning mode) => mode is PilotFineTuning.Head or PilotFineTuning.LastStage;

    /// <summary>
    /// The frozen prefix (whose outputs are cached) and the trained suffix of a cached mode: <see cref="PilotFineTuning.Head"/>
    /// → (<see cref="IHeadedNetwork.Features"/>, <see cref="IHeadedNetwork.Head"/>); <see cref="PilotFineTuning.LastStage"/>
    /// → (<see cref="IHeadedNetwork.EarlyStages"/>, <see cref="IHeadedNetwork.LastStage"/>).
    /// </summary>
    public static (Func<Tensor, Tensor> Prefix, nn.Module<Tensor, Tensor> Suffix) Split(IHeadedNetwork headed, PilotFineTuning mode) => mode switch
    {
        PilotFineTuning.Head => (headed.Features, headed.Head),
        PilotFineTuning.LastStage => (headed.EarlyStages, headed.LastStage),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Only Head and LastStage train over cached activations."),
    };

    /// <summary>Values per image of the cached activations of <paramref name="mode"/> (Head: the features; LastStage: <see cref="IHeadedNetwork.EarlyStages"/>).</summary>
    public static long CachedValuesPerImage(IHeadedNetwork headed, PilotFineTuning mode, int height, int width) =>
        mode == PilotFineTuning.LastStage ? headed.EarlyStagesValuesPerImage(height, width) : headed.FeatureCount;

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

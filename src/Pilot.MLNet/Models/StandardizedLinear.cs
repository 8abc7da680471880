using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.MLNet.Models;

/// <summary>
/// A linear classifier over standardised features: <c>y = W · ((x − mean) / scale) + b</c>, where <c>mean</c> and
/// <c>scale</c> are per-feature buffers fitted once to the training features (<see cref="Fit"/>: each feature's mean, and
/// its standard deviation divided by <see cref="FeatureDeviation"/>) and then fixed. It is the
/// head of <see cref="PilotArchitecture.PretrainedResNet18"/> when that reads the pooled outputs of <c>layer3</c> and
/// <c>layer4</c> side by side (<see cref="HeadInput.Layer3AndLayer4"/>): the two stages' features have different scales, and
/// a classifier over standardised features learned 2–3 points more in docs/transfer.md's probe.
/// </summary>
/// <remarks>
/// <para>
/// State-dictionary names: <c>weight</c> (K × F) and <c>bias</c> (K), as for <see cref="Linear"/>, plus the buffers
/// <c>feature_mean</c> and <c>feature_scale</c> (F each), so they are saved, loaded and checkpointed with the weights.
/// Before <see cref="Fit"/> the buffers are the identity (mean 0, scale 1).
/// </para>
/// <para>
/// <see cref="FeatureDeviation"/> (0.3, not 1) sets the head's step size: with an optimizer of Adam's kind each weight
/// moves by about the learning rate per step whatever its gradient's scale, so the logits move in proportion to the
/// features' size. At the library's learning rate (1e-3), deviation 1 over-stepped: on FashionMNIST with 600 images per
/// class PILOT reached 86.64 % ± 0.02 with it, and 87.54 % at a learning rate of 3e-4 (equivalent to deviation 0.3);
/// AdamW 87.13 % ± 0.04 and 87.58 % (docs/transfer.md).
/// </para>
/// <para>
/// Weight and bias start at zero, not at <see cref="Linear"/>'s random values: the problem is convex, and a feature that is
/// constant on the training images (a channel that never fires) then gets no gradient and keeps weight 0, so it cannot move
/// a test image's scores however large its standardised value there.
/// </para>
/// </remarks>
internal sealed class StandardizedLinear : nn.Module<Tensor, Tensor>
{
    /// <summary>
    /// Smallest deviation a feature is taken to have, as a fraction of the mean standard deviation of all features: a
    /// feature that hardly varies on the training images is scaled by this, not by its own near-zero deviation.
    /// </summary>
    internal const double MinScaleFraction = 0.01;

    /// <summary>The standard deviation each feature has over the training images after standardisation: 0.3 (see the remarks).</summary>
    internal const double FeatureDeviation = 0.3;

    // Looked up by name rather than kept in fields: Module.to(device) replaces parameters and buffers.
    private const string WeightName = "weight", BiasName = "bias", MeanName = "feature_mean", ScaleName = "feature_scale";

    /// <summary>Creates the layer with zero weights and the identity standardisation.</summary>
    /// <param name="inFeatures">F, the features per image.</param>
    /// <param name="outFeatures">K, the classes.</param>
    internal StandardizedLinear(long inFeatures, long outFeatures) : base(nameof(StandardizedLinear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        register_parameter(WeightName, new Parameter(torch.zeros(outFeatures, inFeatures)));
        register_parameter(BiasName, new Parameter(torch.zeros(outFeatures)));
        register_buffer(MeanName, torch.zeros(inFeatures));
        register_buffer(ScaleName, torch.ones(inFeatures));
    }

    /// <summary>F, the features per image.</summary>
    internal long InFeatures { get; }

    /// <summary>K, the outputs.</summary>
    internal long OutFeatures { get; }

    /// <summary>The K × F weights (of the standardised features).</summary>
    internal Parameter Weight => get_parameter(WeightName)!;

    /// <summary>The K biases.</summary>
    internal Parameter Bias => get_parameter(BiasName)!;

    /// <summary>The per-feature means subtracted before the weights.</summary>
    internal Tensor FeatureMean => get_buffer(MeanName)!;

    /// <summary>The per-feature scales divided by after the means are subtracted.</summary>
    internal Tensor FeatureScale => get_buffer(ScaleName)!;

    /// <summary>N × F features → N × K logits.</summary>
    public override Tensor forward(Tensor input)
    {
        using var centred = input - FeatureMean;
        using var standardised = centred.div(FeatureScale);
        return nn.functional.linear(standardised, Weight, Bias);
    }

    /// <summary>
    /// Sets the standardisation from <paramref name="features"/> (N × F, the training images' features): the mean of each
    /// feature, and as its scale its standard deviation (population; at least <see cref="MinScaleFraction"/> of the mean
    /// deviation) divided by <see cref="FeatureDeviation"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The features are not N × F with N ≥ 1, or are not all finite.</exception>
    internal void Fit(Tensor features)
    {
        if (features.dim() != 2 || features.shape[1] != InFeatures || features.shape[0] < 1)
            throw new ArgumentException($"Expected N × {InFeatures} features with N ≥ 1; got [{string.Join(", ", features.shape)}].", nameof(features));
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var x = features.to(ScalarType.Float64);
        if (!x.isfinite().all().item<bool>())
            throw new ArgumentException("The features to standardise are not all finite.", nameof(features));
        var mean = x.mean([0]);
        var std = x.std([0], unbiased: false);
        var scale = std.clamp_min(std.mean().item<double>() * MinScaleFraction).clamp_min(1e-12) / FeatureDeviation;
        FeatureMean.copy_(mean.to(FeatureMean.dtype));
        FeatureScale.copy_(scale.to(FeatureScale.dtype));
    }
}

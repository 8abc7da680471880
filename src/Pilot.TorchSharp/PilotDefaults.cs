namespace Pilot.TorchSharp;

/// <summary>
/// Default hyper-parameters of <see cref="PilotOptimizer"/>, defined once and used by every constructor,
/// factory and parameter group.
/// </summary>
/// <remarks>
/// Each value is the default of the reference implementation, the Python package <c>pilot-optimizer</c>
/// 0.1.0.post3, which is also the hyper-parameter table of the paper (arXiv 2605.24570). Note that the usage
/// snippet on the paper's project page passes <c>weight_decay=1e-4</c> explicitly; the package default is 0.01.
/// </remarks>
public static class PilotDefaults
{
    /// <summary>Learning rate η. Reference default 1e-3 (paper: all published runs use 1e-3 with a cosine schedule). Valid: ≥ 0.</summary>
    public const double LearningRate = 1e-3;

    /// <summary>First-moment decay β1. Reference default 0.9 (Adam's). Valid: [0, 1).</summary>
    public const double Beta1 = 0.9;

    /// <summary>Second-moment decay β2. Reference default 0.999 (Adam's). Valid: [0, 1).</summary>
    public const double Beta2 = 0.999;

    /// <summary>ε added to the update's normaliser. Reference default 1e-8 (Adam's). Valid: &gt; 0.</summary>
    public const double Epsilon = 1e-8;

    /// <summary>Decoupled (AdamW-style) weight decay λ. Reference default 0.01. Valid: ≥ 0.</summary>
    public const double WeightDecay = 0.01;

    /// <summary>Smoothing γ of the gradient-agreement signal ρ. Reference default 0.95. Valid: [0, 1).</summary>
    public const double Gamma = 0.95;

    /// <summary>Policy learning rate η_φ. Reference default 0.01; 0 freezes the policy. Valid: ≥ 0.</summary>
    public const double EtaPhi = 0.01;

    /// <summary>Polynomial degree d of each policy head (3·(d+1) coefficients). Reference default 2. Valid: ≥ 1.</summary>
    public const int Degree = 2;

    /// <summary>Constant term c_0 of the momentum head in the initial policy: p_m = σ(1.4) ≈ 0.802 (reference).</summary>
    public const double InitialMomentumLogit = 1.4;

    /// <summary>Constant term c_0 of the variance head in the initial policy: p_v = 0.5·σ(3.0) ≈ 0.476 (reference).</summary>
    public const double InitialVarianceLogit = 3.0;

    /// <summary>Constant term c_0 of the sign head in the initial policy: p_s = σ(−2.0) ≈ 0.119 (reference).</summary>
    public const double InitialSignLogit = -2.0;
}

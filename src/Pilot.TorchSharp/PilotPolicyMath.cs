using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.TorchSharp;

/// <summary>
/// PILOT's small policy functions (docs/algorithm.md steps 2, 3, 4 and 8), apart from the per-tensor moment math so they can be
/// read and tested on their own: the agreement signal, the polynomial heads (Horner), the sigmoid knobs, the chain rule
/// from the knob meta-gradients G_k to φ, and the clipping of that meta-gradient.
/// </summary>
/// <remarks>
/// Each function exists twice: on host doubles (used by the fused CPU path, by <see cref="PilotPolicy.Evaluate"/> and
/// as the readable definition) and on 0-d/1-d float64 tensors (used by the plain path, so that ρ, φ and the knobs stay
/// on the parameters' device and a step never waits for the device). Tests check that the two agree.
/// </remarks>
internal static class PilotPolicyMath
{
    /// <summary>r = 0 unless sqrt(‖g‖²·‖g_prev‖²) is above this (docs/algorithm.md step 2).</summary>
    public const double AgreementFloor = 1e-12;

    /// <summary>Floor of |n|, |v̂| and of the log arguments in the meta-gradient (|x|₊ = max(|x|, 1e−12)).</summary>
    public const double MagnitudeFloor = 1e-12;

    /// <summary>The fixed constant in D = v̂₊^p_v + 1e−8 of the meta-gradient (not the user's ε).</summary>
    public const double MetaDenominatorEpsilon = 1e-8;

    /// <summary>The φ meta-gradient is clipped to this L2 norm (docs/algorithm.md step 8).</summary>
    public const double MaxMetaGradientNorm = 1.0;

    /// <summary>Guard in the clip scale min(1, 1/(‖G‖ + 1e−12)).</summary>
    public const double ClipGuard = 1e-12;

    /// <summary>Scale of each head's sigmoid: p_m = σ, p_v = 0.5·σ, p_s = σ.</summary>
    public static ReadOnlySpan<double> HeadScale => [1.0, PolicyOverrides.MaxPV, 1.0];

    // ---------------------------------------------------------------- host doubles

    /// <summary>Logistic sigmoid σ(z) = 1/(1 + e^(−z)).</summary>
    public static double Sigmoid(double z) => 1.0 / (1.0 + Math.Exp(-z));

    /// <summary>Evaluates one head's polynomial, coefficients highest power first: ((c_d·ρ + c_{d−1})·ρ + …)·ρ + c_0.</summary>
    public static double Horner(ReadOnlySpan<double> block, double rho)
    {
        double z = block[0];
        for (int j = 1; j < block.Length; j++) z = z * rho + block[j];
        return z;
    }

    /// <summary>
    /// The agreement r = ⟨g, g_prev⟩ / sqrt(‖g‖²·‖g_prev‖²), or 0 when that denominator is not above
    /// <see cref="AgreementFloor"/>. Clamped to [−1, 1] (rounding can exceed it by an ulp) and 0 when not finite
    /// (float32 products that overflow): deviations from the reference only where the reference would leave [−1, 1].
    /// </summary>
    public static double Agreement(double dot, double gNormSq, double gPrevNormSq)
    {
        double den = Math.Sqrt(gNormSq * gPrevNormSq);
        if (!(den > AgreementFloor)) return 0.0;
        double r = dot / den;
        return double.IsFinite(r) ? Math.Clamp(r, -1.0, 1.0) : 0.0;
    }

    /// <summary>The knobs (p_m, p_v, p_s) at score <paramref name="rho"/> with policy <paramref name="phi"/>; pinned knobs take their override.</summary>
    public static (double PM, double PV, double PS) Knobs(ReadOnlySpan<double> phi, int degree, double rho, PolicyOverrides? overrides)
    {
        int b = degree + 1;
        double pm = overrides?.PM ?? HeadScale[0] * Sigmoid(Horner(phi.Slice(0, b), rho));
        double pv = overrides?.PV ?? HeadScale[1] * Sigmoid(Horner(phi.Slice(b, b), rho));
        double ps = overrides?.PS ?? HeadScale[2] * Sigmoid(Horner(phi.Slice(2 * b, b), rho));
        return (pm, pv, ps);
    }

    /// <summary>
    /// Chain rule from the knob meta-gradients G = (G_m, G_v, G_s) to φ: for head k and power j,
    /// ∂L/∂c_j = G_k · s_k(1 − s_k) · ρ_prev^j · scale_k, with s_k = σ(z_k(φ, ρ_prev)) and scale = (1, 0.5, 1).
    /// Blocks of pinned knobs are zero. Writes 3·(d+1) values into <paramref name="result"/> in φ's layout.
    /// </summary>
    public static void PhiGradient(ReadOnlySpan<double> g, ReadOnlySpan<double> phi, int degree, double rhoPrev,
        PolicyOverrides? overrides, Span<double> result)
    {
        int b = degree + 1;
        for (int k = 0; k < 3; k++)
        {
            bool pinned = k switch { 0 => overrides?.PM is not null, 1 => overrides?.PV is not null, _ => overrides?.PS is not null };
            double s = Sigmoid(Horner(phi.Slice(k * b, b), rhoPrev));
            double dz = pinned ? 0.0 : g[k] * s * (1 - s) * HeadScale[k];
            for (int i = 0; i < b; i++)
            {
                int power = degree - i;
                result[k * b + i] = dz * Math.Pow(rhoPrev, power); // Math.Pow(0, 0) = 1
            }
        }
    }

    /// <summary>Scale that clips a meta-gradient to norm ≤ 1: min(1, 1/(‖G‖ + 1e−12)).</summary>
    public static double ClipScale(ReadOnlySpan<double> grad)
    {
        double sq = 0;
        foreach (var x in grad) sq += x * x;
        return Math.Min(1.0, MaxMetaGradientNorm / (Math.Sqrt(sq) + ClipGuard));
    }

    // ---------------------------------------------------------------- device tensors (float64)

    /// <summary>Tensor form of <see cref="Agreement(double, double, double)"/> on 0-d float64 tensors.</summary>
    public static Tensor Agreement(Tensor dot, Tensor gNormSq, Tensor gPrevNormSq)
    {
        var den = (gNormSq * gPrevNormSq).sqrt();
        var r = (dot / den).clamp(-1.0, 1.0);
        return where((den > AgreementFloor).logical_and(r.isfinite()), r, zeros_like(r));
    }

    /// <summary>The three head logits z = (z_m, z_v, z_s) at score <paramref name="rho"/> (0-d) by Horner's rule.</summary>
    public static Tensor HeadLogits(Tensor phi, int degree, Tensor rho)
    {
        var c = phi.view(3, degree + 1);
        var z = c[.., 0];
        for (int j = 1; j <= degree; j++) z = z * rho + c[.., j];
        return z;
    }

    /// <summary>Tensor form of <see cref="Knobs(ReadOnlySpan{double}, int, double, PolicyOverrides?)"/>: a 1-d tensor (p_m, p_v, p_s).</summary>
    public static Tensor Knobs(Tensor phi, int degree, Tensor rho, PolicyConstants constants)
    {
        var knobs = HeadLogits(phi, degree, rho).sigmoid() * constants.HeadScale;
        return constants.AnyPinned ? where(constants.PinMask, constants.PinValues, knobs) : knobs;
    }

    /// <summary>Tensor form of PhiGradient on host doubles: G (3) → ∂L/∂φ (3·(d+1)).</summary>
    public static Tensor PhiGradient(Tensor g, Tensor phi, int degree, Tensor rhoPrev, PolicyConstants constants)
    {
        var s = HeadLogits(phi, degree, rhoPrev).sigmoid();
        var dz = g * s * (1 - s) * constants.HeadScale;
        if (constants.AnyPinned) dz = where(constants.PinMask, zeros_like(dz), dz);
        var powers = rhoPrev.pow(constants.Powers); // ρ^d … ρ^0; pow(0, 0) = 1
        return (dz.unsqueeze(1) * powers.unsqueeze(0)).reshape(-1);
    }

    /// <summary>Tensor form of <see cref="ClipScale"/> applied: G · min(1, 1/(‖G‖ + 1e−12)).</summary>
    public static Tensor ClipToUnitNorm(Tensor grad)
    {
        var scale = (MaxMetaGradientNorm / (grad.square().sum().sqrt() + ClipGuard)).clamp_max(1.0);
        return grad * scale;
    }
}

/// <summary>
/// Small per-group constant tensors for the tensor form of <see cref="PilotPolicyMath"/>, created once on the
/// group's device so that a step never copies host data to the device.
/// </summary>
internal sealed class PolicyConstants : IDisposable
{
    public PolicyConstants(int degree, PolicyOverrides? overrides, Device device)
    {
        Degree = degree;
        Overrides = overrides;
        AnyPinned = overrides is not null && !overrides.IsEmpty;
        HeadScale = tensor(PilotPolicyMath.HeadScale.ToArray(), dtype: ScalarType.Float64, device: device).DetachFromDisposeScope();
        PinMask = tensor(new[] { overrides?.PM is not null, overrides?.PV is not null, overrides?.PS is not null }, device: device).DetachFromDisposeScope();
        PinValues = tensor(new[] { overrides?.PM ?? 0, overrides?.PV ?? 0, overrides?.PS ?? 0 }, dtype: ScalarType.Float64, device: device).DetachFromDisposeScope();
        Powers = arange(degree, -1, -1, dtype: ScalarType.Float64, device: device).DetachFromDisposeScope();
    }

    public int Degree { get; }
    public PolicyOverrides? Overrides { get; }
    public bool AnyPinned { get; }
    public Tensor HeadScale { get; }
    public Tensor PinMask { get; }
    public Tensor PinValues { get; }
    public Tensor Powers { get; }

    public void Dispose()
    {
        HeadScale.Dispose();
        PinMask.Dispose();
        PinValues.Dispose();
        Powers.Dispose();
    }
}

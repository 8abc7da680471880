namespace Pilot.TorchSharp;

/// <summary>
/// Pins some of PILOT's three knobs to fixed values (policy override, used for ablations). A pinned knob ignores the
/// policy φ and its block of the meta-gradient is zeroed; a <see langword="null"/> knob stays learned.
/// </summary>
/// <remarks>
/// <c>PM = 1, PV = 0.5, PS = 0</c> with <c>eta_phi = 0</c> is exactly Adam (AdamW with weight decay);
/// <c>PS = 1, PV = 0</c> is a sign step.
/// </remarks>
/// <param name="PM">Momentum reliance p_m: the update direction is p_m·m̂ + (1 − p_m)·g. Valid: [0, 1].</param>
/// <param name="PV">Variance-normalisation power p_v: the update is divided by v̂^p_v + ε. Valid: [0, 0.5].</param>
/// <param name="PS">Sign compression p_s: the update magnitude is |n|^(1 − p_s). Valid: [0, 1].</param>
public sealed record PolicyOverrides(double? PM = null, double? PV = null, double? PS = null)
{
    /// <summary>Upper end of the valid range of <see cref="PV"/> (the variance head is 0.5·σ).</summary>
    public const double MaxPV = 0.5;

    /// <summary>True when no knob is pinned.</summary>
    public bool IsEmpty => PM is null && PV is null && PS is null;

    /// <summary>True when all three knobs are pinned (the policy has no effect and is never updated).</summary>
    public bool PinsAll => PM is not null && PV is not null && PS is not null;

    /// <summary>Pins Adam's update form: p_m = 1, p_v = 0.5, p_s = 0.</summary>
    public static PolicyOverrides Adam { get; } = new(1.0, 0.5, 0.0);

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> naming <paramref name="paramName"/> when a pinned knob is
    /// outside its valid range.
    /// </summary>
    public void Validate(string paramName)
    {
        if (PM is double pm) Check.Closed(pm, 0, 1, paramName, $"{paramName}.{nameof(PM)}");
        if (PV is double pv) Check.Closed(pv, 0, MaxPV, paramName, $"{paramName}.{nameof(PV)}");
        if (PS is double ps) Check.Closed(ps, 0, 1, paramName, $"{paramName}.{nameof(PS)}");
    }
}

namespace Pilot.TorchSharp;

/// <summary>Which implementation of the PILOT step a <see cref="PilotOptimizer"/> runs.</summary>
public enum PilotImplementation
{
    /// <summary>Chosen per parameter group (resolved in one place, <c>PilotOptimizer.ResolveImplementation</c>).</summary>
    Auto = 0,

    /// <summary>The plain per-tensor implementation: TorchSharp tensor operations that read like the paper; any device.</summary>
    Plain = 1,

    /// <summary>The fused CPU implementation: one reduction pass and one update pass over flat buffers.</summary>
    Fused = 2,

    /// <summary>
    /// The multi-tensor implementation: the plain path's tensor operations applied once to flat buffers holding the whole
    /// parameter group (parameters and gradients become views of them), so a step is a fixed number of operations — on a
    /// GPU, kernel launches — however many tensors the group has; any device, no host synchronisation.
    /// <see cref="Auto"/> picks it where the fused CPU path cannot run (CUDA).
    /// </summary>
    MultiTensor = 3,
}

/// <summary>The policy state of one parameter group (see <see cref="PilotOptimizer.GetPolicyState"/>).</summary>
/// <param name="Phi">The policy coefficients φ, 3·(d+1) values, layout as in <see cref="PilotPolicy"/>.</param>
/// <param name="Rho">The smoothed gradient-agreement score ρ ∈ [−1, 1].</param>
/// <param name="Step">The group's step count t (steps skipped for non-finite gradients are not counted).</param>
public sealed record PilotPolicyState(double[] Phi, double Rho, long Step);

/// <summary>What one parameter group did in one step (recorded only when diagnostics are on).</summary>
/// <param name="Step">The group's step count t after the step.</param>
/// <param name="R">The raw agreement r of this step (0 on the first step; NaN when the step was skipped).</param>
/// <param name="Rho">The smoothed agreement ρ after the step.</param>
/// <param name="PM">The momentum knob p_m used by this step.</param>
/// <param name="PV">The variance knob p_v used by this step.</param>
/// <param name="PS">The sign knob p_s used by this step.</param>
/// <param name="Phi">The policy φ after this step's policy update.</param>
public sealed record PilotStepDiagnostics(long Step, double R, double Rho, double PM, double PV, double PS, double[] Phi)
{
    /// <summary>Index of the parameter group.</summary>
    public int Group { get; init; }

    /// <summary>True when the step was skipped because a gradient of the group was NaN or infinite.</summary>
    public bool Skipped { get; init; }
}

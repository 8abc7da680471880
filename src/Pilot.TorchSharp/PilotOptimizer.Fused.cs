using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp;

// The fused CPU implementation of one group's step: the same algorithm as StepPlain (PilotOptimizer.cs), organised
// for memory traffic. One reduction pass (finiteness, agreement sums, meta-gradient sums) and one update pass run over
// raw memory, vectorised and split across cores (FusedLayout, FusedKernels); the group's scalars — t, ρ, φ, knobs —
// are plain doubles in between, read from and written back to the group's CPU state tensors.
public sealed partial class PilotOptimizer
{
    private (double R, bool Finite) StepFused(ParamGroup group, Options o, GroupState gs,
        List<(int Index, Parameter Param, Tensor Grad, State State)> live)
    {
        var parameters = group.ParameterList;
        var states = parameters.Select(p => (State)_state[p.Handle]).ToArray();
        if (group.Fused is null || !group.Fused.IsBoundTo(states))
        {
            var old = group.Fused;
            group.Fused = FusedLayout.Build(parameters, states);
            old?.Dispose();
        }
        var layout = group.Fused;

        var (lr, beta1, beta2, eps, lambda, gamma, etaPhi, degree, learnPolicy) = StepSettings.Of(o);
        var overrides = o.overrides;

        Span<double> stepCount = Scalars(gs.step), rhoState = Scalars(gs.rho), phiState = Scalars(gs.phi);
        Span<double> knobsState = Scalars(gs.prev_knobs), skippedState = Scalars(gs.skipped);

        // 1. Step count and bias corrections (the previous step's: 1 when there is none; zero state then makes every
        //    meta-gradient term 0, as in the plain path).
        long tPrev = (long)stepCount[0], t = tPrev + 1;
        double b1 = 1 - Math.Pow(beta1, t), b2 = 1 - Math.Pow(beta2, t);
        double b1Prev = tPrev > 0 ? 1 - Math.Pow(beta1, tPrev) : 1, b2Prev = tPrev > 0 ? 1 - Math.Pow(beta2, tPrev) : 1;
        double pmPrev = knobsState[0], pvPrev = knobsState[1], psPrev = knobsState[2];

        // Pass 1: finiteness, agreement sums, G_k = Σ g ⊙ ∂d/∂p_k.
        using var contiguous = NewDisposeScope();
        layout.BeginStep(live.Select(x => (x.Index, x.Param, x.Grad.is_contiguous() ? x.Grad : x.Grad.contiguous())).ToList());
        var sums = layout.Reduce(
            ReduceConstants<float>(learnPolicy, b1Prev, b2Prev, pmPrev, pvPrev, psPrev, lr),
            ReduceConstants<double>(learnPolicy, b1Prev, b2Prev, pmPrev, pvPrev, psPrev, lr));
        if (double.IsNaN(sums.Finite))
        {
            // A NaN or ±∞ gradient, or one whose square overflows: the group's step changes nothing.
            skippedState[0] += 1;
            return (double.NaN, false);
        }

        // 2. Agreement and its smoothed score.
        double r = PilotPolicyMath.Agreement(sums.Dot, sums.GNormSq, sums.GPrevNormSq);
        double rhoPrev = rhoState[0];
        double rho = gamma * rhoPrev + (1 - gamma) * r;

        // 3. Knobs from φ as it is now.
        var (pm, pv, ps) = PilotPolicyMath.Knobs(phiState, degree, rho, overrides);

        // 8 (computed before φ is overwritten). Chain rule at the current φ and previous ρ, clip, descend.
        Span<double> phiGrad = stackalloc double[phiState.Length];
        if (learnPolicy)
        {
            PilotPolicyMath.PhiGradient([sums.Gm, sums.Gv, sums.Gs], phiState, degree, rhoPrev, overrides, phiGrad);
            bool finiteGrad = true;
            foreach (var x in phiGrad) finiteGrad &= double.IsFinite(x);
            if (!finiteGrad) phiGrad.Clear();
            double scale = PilotPolicyMath.ClipScale(phiGrad);
            for (int i = 0; i < phiGrad.Length; i++) phiGrad[i] = etaPhi * (phiGrad[i] * scale);
        }

        // Pass 2: 5. moments, 6. update with decoupled decay, 7. g_prev ← g.
        layout.Update(
            UpdateConstants<float>(beta1, beta2, b1, b2, pm, pv, ps, eps, lr, lambda),
            UpdateConstants<double>(beta1, beta2, b1, b2, pm, pv, ps, eps, lr, lambda));

        stepCount[0] = t;
        rhoState[0] = rho;
        for (int i = 0; i < phiState.Length; i++) phiState[i] -= phiGrad[i];
        (knobsState[0], knobsState[1], knobsState[2]) = (pm, pv, ps);
        return (r, true);
    }

    private static Span<double> Scalars(Tensor t) => MemoryMarshal.Cast<byte, double>(t.bytes);

    private static ReduceCoefficients<T> ReduceConstants<T>(bool meta, double b1Prev, double b2Prev, double pmPrev, double pvPrev,
        double psPrev, double lr) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => new()
        {
            Meta = meta,
            InvB1Prev = T.CreateTruncating(1 / b1Prev),
            InvB2Prev = T.CreateTruncating(1 / b2Prev),
            PmPrev = T.CreateTruncating(pmPrev),
            OneMinusPmPrev = T.CreateTruncating(1 - pmPrev),
            PvPrev = T.CreateTruncating(pvPrev),
            OneMinusPsPrev = T.CreateTruncating(1 - psPrev),
            MinusLrOneMinusPsPrev = T.CreateTruncating(-lr * (1 - psPrev)),
            Lr = T.CreateTruncating(lr),
        };

    private static UpdateCoefficients<T> UpdateConstants<T>(double beta1, double beta2, double b1, double b2, double pm, double pv,
        double ps, double eps, double lr, double lambda) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => new()
        {
            Beta1 = T.CreateTruncating(beta1),
            OneMinusBeta1 = T.CreateTruncating(1 - beta1),
            Beta2 = T.CreateTruncating(beta2),
            OneMinusBeta2 = T.CreateTruncating(1 - beta2),
            InvB1 = T.CreateTruncating(1 / b1),
            InvB2 = T.CreateTruncating(1 / b2),
            Pm = T.CreateTruncating(pm),
            OneMinusPm = T.CreateTruncating(1 - pm),
            OneMinusPs = T.CreateTruncating(1 - ps),
            Pv = T.CreateTruncating(pv),
            PowN = 1 - ps != 0,
            PowV = pv != 0,
            Eps = T.CreateTruncating(eps),
            Decay = T.CreateTruncating(1 - lr * lambda),
            Lr = T.CreateTruncating(lr),
        };
}

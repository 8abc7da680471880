using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;
using TorchParamGroup = TorchSharp.Modules.ParamGroup;

namespace Pilot.TorchSharp;

/// <summary>
/// PILOT (Policy-Informed Learned OpTimizer, arXiv 2605.24570): Adam whose update form is chosen every step by a
/// tiny learned policy. The policy reads how much successive gradients agree (ρ) and outputs three knobs that blend
/// momentum (p_m), Adam-style variance normalisation (p_v) and sign compression (p_s); its 3·(d+1) coefficients φ
/// are learned online by a one-step analytic meta-gradient.
/// </summary>
/// <remarks>
/// <para>One step of a parameter group, with g the current gradients (the algorithm, in the code's names, is in
/// <c>docs/algorithm.md</c>):</para>
/// <code>
/// t ← t + 1;  b1 = 1 − β1^t;  b2 = 1 − β2^t
/// r = ⟨g, g_prev⟩ / sqrt(‖g‖²‖g_prev‖²)  (0 if that is ≤ 1e−12);   ρ ← γ·ρ + (1 − γ)·r
/// p_m = σ(poly_m(ρ)),  p_v = 0.5·σ(poly_v(ρ)),  p_s = σ(poly_s(ρ))
/// G_k = Σ g ⊙ ∂d/∂p_k  at the previous step;  φ ← φ − η_φ·clip₁(∂L/∂φ)
/// m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  n = p_m·m/b1 + (1 − p_m)·g
/// θ ← θ·(1 − η·λ) − η·|n|^(1−p_s)·sign(n) / ((v/b2)^p_v + ε);   g_prev ← g
/// </code>
/// <para>Per parameter tensor the optimizer keeps m, v and g_prev (3 tensors; Adam keeps 2). Per group it keeps
/// t, ρ, φ, the previous step's knobs and a count of skipped steps as small tensors on the parameters' device,
/// so a step never waits for the device unless diagnostics are on.</para>
/// <para>A group whose gradients contain NaN or ±∞, or a value whose square overflows the parameters' dtype
/// (|g| &gt; 1.8e19 in float32, which would make v infinite for good and, with β2 = 0, the parameter NaN), skips the
/// step entirely: parameters, m, v, g_prev, ρ, φ and t keep their values and <see cref="GetSkippedSteps"/> goes up (the
/// reference would write NaN into φ).</para>
/// <para>Parameters whose <c>grad</c> is <see langword="null"/> are skipped (no state change). Float32 and float64
/// parameters are supported; all parameters of a group must be on one device.</para>
/// <para>Three implementations compute the same step (<see cref="PilotImplementation"/>): the plain per-tensor one in this
/// file (any device; the readable reference), a fused CPU one (<c>PilotOptimizer.Fused.cs</c>: one vectorised
/// reduction pass and one update pass over flat buffers on all cores), which <see cref="PilotImplementation.Auto"/>
/// picks for CPU parameters, and a multi-tensor one (<c>PilotOptimizer.MultiTensor.cs</c>: the plain path's expressions
/// applied once to flat buffers that hold the whole group, a fixed number of tensor operations per step), which
/// <see cref="PilotImplementation.Auto"/> picks on CUDA.</para>
/// <para>Defaults (<see cref="PilotDefaults"/>) are those of the reference implementation <c>pilot-optimizer</c>
/// 0.1.0.post3. Works with <c>torch.optim.lr_scheduler</c> schedulers through <see cref="Optimizer.ParamGroups"/>.</para>
/// </remarks>
public sealed partial class PilotOptimizer : PilotOptimizerBase<PilotOptimizer.Options, PilotOptimizer.ParamGroup, PilotOptimizer.State>
{
    private readonly List<PilotStepDiagnostics> _diagnostics = new();

    /// <summary>Creates a PILOT optimizer over one parameter group.</summary>
    /// <param name="parameters">The parameters to optimise (float32 or float64, all on one device).</param>
    /// <param name="lr">Learning rate η. Default <see cref="PilotDefaults.LearningRate"/> (1e-3). Valid: ≥ 0.</param>
    /// <param name="beta1">First-moment decay β1. Default <see cref="PilotDefaults.Beta1"/> (0.9). Valid: [0, 1).</param>
    /// <param name="beta2">Second-moment decay β2. Default <see cref="PilotDefaults.Beta2"/> (0.999). Valid: [0, 1).</param>
    /// <param name="eps">ε added to the normaliser. Default <see cref="PilotDefaults.Epsilon"/> (1e-8). Valid: &gt; 0 (with 0, a
    /// coordinate whose gradients have all been 0 would get 0/0).</param>
    /// <param name="weight_decay">Decoupled weight decay λ. Default <see cref="PilotDefaults.WeightDecay"/> (0.01). Valid: ≥ 0.</param>
    /// <param name="gamma">Smoothing γ of the agreement score. Default <see cref="PilotDefaults.Gamma"/> (0.95). Valid: [0, 1).</param>
    /// <param name="eta_phi">Policy learning rate η_φ. Default <see cref="PilotDefaults.EtaPhi"/> (0.01). Valid: ≥ 0; 0 freezes the policy.</param>
    /// <param name="degree">Polynomial degree d of each policy head. Default <see cref="PilotDefaults.Degree"/> (2). Valid: ≥ 1.</param>
    /// <param name="overrides">Knobs pinned to fixed values (ablations); default none.</param>
    /// <param name="diagnostics">Record <see cref="Diagnostics"/> every step (reads values back from the device). Default false.</param>
    /// <param name="initialPolicy">Starting policy (policy transfer); its degree must equal <paramref name="degree"/>.
    /// Default <see cref="PilotPolicy.Default"/>.</param>
    /// <param name="implementation">Which implementation runs the step. Default <see cref="PilotImplementation.Auto"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is outside its valid range.</exception>
    /// <exception cref="ArgumentException">No parameters, a parameter listed twice, an unsupported dtype, parameters of
    /// one group on different devices, or an initial policy of another degree.</exception>
    public PilotOptimizer(IEnumerable<Parameter> parameters, double lr = PilotDefaults.LearningRate, double beta1 = PilotDefaults.Beta1,
        double beta2 = PilotDefaults.Beta2, double eps = PilotDefaults.Epsilon, double weight_decay = PilotDefaults.WeightDecay,
        double gamma = PilotDefaults.Gamma, double eta_phi = PilotDefaults.EtaPhi, int degree = PilotDefaults.Degree,
        PolicyOverrides? overrides = null, bool diagnostics = false, PilotPolicy? initialPolicy = null,
        PilotImplementation implementation = PilotImplementation.Auto)
        : this([new ParamGroup(parameters ?? throw new ArgumentNullException(nameof(parameters)))], lr, beta1, beta2, eps,
               weight_decay, gamma, eta_phi, degree, overrides, diagnostics, initialPolicy, implementation)
    {
    }

    /// <summary>Creates a PILOT optimizer over several parameter groups, each with its own ρ, φ and (optionally) options.</summary>
    /// <param name="parameters">The parameter groups. An option left <see langword="null"/> in a group's
    /// <see cref="Options"/> takes the value given here.</param>
    /// <param name="lr">Learning rate η. Default <see cref="PilotDefaults.LearningRate"/> (1e-3). Valid: ≥ 0.</param>
    /// <param name="beta1">First-moment decay β1. Default <see cref="PilotDefaults.Beta1"/> (0.9). Valid: [0, 1).</param>
    /// <param name="beta2">Second-moment decay β2. Default <see cref="PilotDefaults.Beta2"/> (0.999). Valid: [0, 1).</param>
    /// <param name="eps">ε added to the normaliser. Default <see cref="PilotDefaults.Epsilon"/> (1e-8). Valid: &gt; 0 (with 0, a
    /// coordinate whose gradients have all been 0 would get 0/0).</param>
    /// <param name="weight_decay">Decoupled weight decay λ. Default <see cref="PilotDefaults.WeightDecay"/> (0.01). Valid: ≥ 0.</param>
    /// <param name="gamma">Smoothing γ of the agreement score. Default <see cref="PilotDefaults.Gamma"/> (0.95). Valid: [0, 1).</param>
    /// <param name="eta_phi">Policy learning rate η_φ. Default <see cref="PilotDefaults.EtaPhi"/> (0.01). Valid: ≥ 0; 0 freezes the policy.</param>
    /// <param name="degree">Polynomial degree d of each policy head. Default <see cref="PilotDefaults.Degree"/> (2). Valid: ≥ 1.</param>
    /// <param name="overrides">Knobs pinned to fixed values (ablations); default none.</param>
    /// <param name="diagnostics">Record <see cref="Diagnostics"/> every step (reads values back from the device). Default false.</param>
    /// <param name="initialPolicy">Starting policy of every group that sets none; its degree must equal the group's.
    /// Default <see cref="PilotPolicy.Default"/>.</param>
    /// <param name="implementation">Which implementation runs the step. Default <see cref="PilotImplementation.Auto"/>.</param>
    public PilotOptimizer(IEnumerable<ParamGroup> parameters, double lr = PilotDefaults.LearningRate, double beta1 = PilotDefaults.Beta1,
        double beta2 = PilotDefaults.Beta2, double eps = PilotDefaults.Epsilon, double weight_decay = PilotDefaults.WeightDecay,
        double gamma = PilotDefaults.Gamma, double eta_phi = PilotDefaults.EtaPhi, int degree = PilotDefaults.Degree,
        PolicyOverrides? overrides = null, bool diagnostics = false, PilotPolicy? initialPolicy = null,
        PilotImplementation implementation = PilotImplementation.Auto)
    {
        if (!Enum.IsDefined(implementation))
            throw new ArgumentOutOfRangeException(nameof(implementation), implementation, $"implementation must be Auto, Plain, Fused or MultiTensor; got {implementation}");
        RecordDiagnostics = diagnostics;
        Implementation = implementation;
        AddGroups(parameters, new Options
        {
            LearningRate = lr,
            InitialLearningRate = lr,
            beta1 = beta1,
            beta2 = beta2,
            eps = eps,
            weight_decay = weight_decay,
            gamma = gamma,
            eta_phi = eta_phi,
            degree = degree,
            overrides = overrides,
            initial_policy = initialPolicy,
        });
    }

    /// <summary>The implementation requested at construction (<see cref="PilotImplementation.Auto"/> resolves per group).</summary>
    public PilotImplementation Implementation { get; }

    /// <summary>Whether every step appends to <see cref="Diagnostics"/>.</summary>
    public bool RecordDiagnostics { get; }

    /// <summary>Per-group, per-step records of r, ρ, the knobs and φ; empty unless diagnostics are on.</summary>
    public IReadOnlyList<PilotStepDiagnostics> Diagnostics => _diagnostics;

    private ParamGroup Group(int group)
    {
        if (group < 0 || group >= _parameter_groups.Count)
            throw new ArgumentOutOfRangeException(nameof(group), group, $"group must be in [0, {_parameter_groups.Count - 1}]; got {group}");
        return (ParamGroup)_parameter_groups[group];
    }

    /// <summary>The policy state (φ, ρ, t) of parameter group <paramref name="group"/>. Reads values back from the device.</summary>
    /// <param name="group">Index of the parameter group. Default 0.</param>
    public PilotPolicyState GetPolicyState(int group = 0)
    {
        var gs = Group(group).PilotState;
        return new PilotPolicyState(gs.phi.data<double>().ToArray(), gs.rho.item<double>(), (long)gs.step.item<double>());
    }

    /// <summary>The current policy of group <paramref name="group"/>, e.g. to save with <see cref="PilotPolicy.ToJson"/> and
    /// reuse as <c>initialPolicy</c> in another run.</summary>
    /// <param name="group">Index of the parameter group. Default 0.</param>
    public PilotPolicy ExportPolicy(int group = 0)
    {
        var g = Group(group);
        return new PilotPolicy(g.Options.degree!.Value, g.PilotState.phi.data<double>().ToArray());
    }

    /// <summary>How many steps of group <paramref name="group"/> were skipped because a gradient was NaN or infinite (or its
    /// square overflowed the parameters' dtype).
    /// Reads the count back from the device.</summary>
    /// <param name="group">Index of the parameter group. Default 0.</param>
    public long GetSkippedSteps(int group = 0) => (long)Group(group).PilotState.skipped.item<double>();

    /// <summary>Performs one optimisation step for every parameter group.</summary>
    /// <param name="closure">Optional closure that re-evaluates the model and returns the loss.</param>
    /// <returns>The closure's loss, or <see langword="null"/>.</returns>
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(StepGroup, closure);

    private void StepGroup(ParamGroup group)
    {
        var options = group.Options;
        options.Validate();            // options are mutable (schedulers, users); a bad value must not reach the math
        var gs = group.PilotState;
        var implementation = ResolveImplementation(group);
        if (implementation == PilotImplementation.MultiTensor)
        {
            // Finds the parameters with a gradient itself, without a managed tensor per parameter (PilotOptimizer.MultiTensor.cs).
            if (StepMultiTensor(group, options, gs) is var (mr, mfinite) && RecordDiagnostics)
                RecordStep(group, gs, mr.item<double>(), !mfinite.item<bool>());
            return;
        }

        var live = new List<(int Index, Parameter Param, Tensor Grad, State State)>();
        var parameters = group.ParameterList;
        for (int i = 0; i < parameters.Count; i++)
        {
            var grad = parameters[i].grad;
            if (grad is null) continue; // no gradient: skipped entirely, no state change
            live.Add((i, parameters[i], grad, (State)_state[parameters[i].Handle]));
        }
        if (live.Count == 0) return;
        gs.Configure(options, live[0].Param.device);

        if (implementation == PilotImplementation.Fused)
        {
            var (r, finite) = StepFused(group, options, gs, live);
            if (RecordDiagnostics) RecordStep(group, gs, r, !finite);
        }
        else
        {
            var (r, finite) = StepPlain(options, gs, live);
            if (RecordDiagnostics) RecordStep(group, gs, r.item<double>(), !finite.item<bool>());
        }
    }

    /// <summary>
    /// The one place that decides which implementation runs a group's step: <see cref="PilotImplementation.Auto"/> picks
    /// the fused CPU path when the fused kernels can run the group (contiguous CPU tensors, a CPU with 256-bit vector
    /// instructions), the multi-tensor path otherwise (CUDA, for one), and the plain path only for a group the multi-tensor
    /// path cannot take (sparse parameters); <see cref="PilotImplementation.Fused"/> or
    /// <see cref="PilotImplementation.MultiTensor"/> on a group it cannot run throws, naming the reason.
    /// </summary>
    internal PilotImplementation ResolveImplementation(ParamGroup group)
    {
        if (Implementation == PilotImplementation.Plain) return PilotImplementation.Plain;
        string? multiTensor = MultiTensorLayout.UnsupportedReason(group.ParameterList);
        if (Implementation == PilotImplementation.MultiTensor)
        {
            return multiTensor is null ? PilotImplementation.MultiTensor : throw new NotSupportedException(
                $"Implementation = MultiTensor cannot run parameter group {_parameter_groups.IndexOf(group)}: {multiTensor}. Use Auto or Plain.");
        }
        string? reason = FusedLayout.UnsupportedReason(group.ParameterList);
        if (reason is null) return PilotImplementation.Fused;
        if (Implementation == PilotImplementation.Fused)
            throw new NotSupportedException($"Implementation = Fused cannot run parameter group {_parameter_groups.IndexOf(group)}: {reason}. Use Auto or Plain.");
        return multiTensor is null ? PilotImplementation.MultiTensor : PilotImplementation.Plain;
    }

    /// <summary>A group's hyper-parameters for one step, read once from its validated options (shared by the three paths).
    /// LearnPolicy is false when η_φ = 0 or every knob is pinned: φ then stays as it is.</summary>
    private readonly record struct StepSettings(double Lr, double Beta1, double Beta2, double Eps, double WeightDecay,
        double Gamma, double EtaPhi, int Degree, bool LearnPolicy)
    {
        public static StepSettings Of(Options o) => new(o.LearningRate!.Value, o.beta1!.Value, o.beta2!.Value, o.eps!.Value,
            o.weight_decay!.Value, o.gamma!.Value, o.eta_phi!.Value, o.degree!.Value,
            LearnPolicy: o.eta_phi!.Value > 0 && !(o.overrides?.PinsAll ?? false));
    }

    /// <summary>
    /// The first pass's sums over a group (shared by the plain and multi-tensor paths), all from the state before the step:
    /// whether every gradient is finite, the agreement sums ⟨g, g_prev⟩, ‖g‖², ‖g_prev‖², and the meta-gradient
    /// G_k = Σ g ⊙ ∂d/∂p_k (docs/algorithm.md step 4). 0-d float64 tensors (G: 3 values) on the group's device.
    /// </summary>
    private sealed class GroupSums(GroupState gs)
    {
        public Tensor Finite { get; } = ones(Array.Empty<long>(), ScalarType.Bool, device: gs.step.device);
        public Tensor Dot { get; } = zeros_like(gs.step);
        public Tensor GNormSq { get; } = zeros_like(gs.step);
        public Tensor GPrevNormSq { get; } = zeros_like(gs.step);
        public Tensor MetaGrad { get; } = zeros_like(gs.Constants.HeadScale);

        /// <summary>Adds one tensor's (or slab's) gradient g, its square and the previous gradient g_prev.</summary>
        public void Add(Tensor g, Tensor gSquare, Tensor gPrev)
        {
            using var scope = NewDisposeScope();
            Finite.logical_and_(gSquare.isfinite().all()); // NaN, ±∞, or g² overflowing the dtype (v would be ∞)
            Dot.add_((g * gPrev).sum(ScalarType.Float64));
            GNormSq.add_(gSquare.sum(ScalarType.Float64));
            GPrevNormSq.add_(gPrev.square().sum(ScalarType.Float64));
        }

        /// <summary>Adds Σ g ⊙ ∂d/∂p_k for the derivatives from <see cref="UpdateDerivatives"/>.</summary>
        public void AddMeta(Tensor g, (Tensor dm, Tensor dv, Tensor ds) d)
        {
            using var scope = NewDisposeScope();
            MetaGrad.add_(stack([(g * d.dm).sum(ScalarType.Float64), (g * d.dv).sum(ScalarType.Float64), (g * d.ds).sum(ScalarType.Float64)]));
        }
    }

    /// <summary>
    /// Step 1's scalars of a group and the previous step's, as 0-d float64 tensors on the group's device (shared by the
    /// plain and multi-tensor paths): the bias corrections b1, b2 of this step t and of the previous one, and the previous
    /// step's knobs. t lives on the device: a skipped step must not advance it, and the host cannot know about a skip
    /// without waiting for the device. At t = 1 there is no previous step; m = v = g_prev = 0 then make every
    /// meta-gradient term 0, so any non-zero previous correction works: 1 avoids 0/0.
    /// </summary>
    private static (Tensor B1, Tensor B2, Tensor B1Prev, Tensor B2Prev, Tensor PmPrev, Tensor PvPrev, Tensor PsPrev)
        StepScalars(GroupState gs, double beta1, double beta2)
    {
        var tPrev = gs.step;
        var t = tPrev + 1;
        var b1 = 1 - full_like(t, beta1).pow(t);
        var b2 = 1 - full_like(t, beta2).pow(t);
        var hasPrevious = tPrev > 0;
        var b1Prev = where(hasPrevious, 1 - full_like(t, beta1).pow(tPrev), ones_like(t));
        var b2Prev = where(hasPrevious, 1 - full_like(t, beta2).pow(tPrev), ones_like(t));
        var knobsPrev = gs.prev_knobs;
        return (b1, b2, b1Prev, b2Prev, knobsPrev[0], knobsPrev[1], knobsPrev[2]);
    }

    /// <summary>
    /// Steps 2, 3 and 8 of a group from its sums (shared by the plain and multi-tensor paths), as tensors to commit:
    /// 2. the agreement r of the whole group and the smoothed score ρ; 3. the knobs, from φ as it is now; 8. the new φ
    /// (computed here, committed by the caller): chain rule to φ at the current φ and the previous ρ, clip, descend.
    /// A non-finite meta-gradient (overflowing float32 sums) is dropped instead of written into φ.
    /// </summary>
    private static (Tensor R, Tensor Rho, Tensor Knobs, Tensor Phi) PolicyStep(GroupState gs, GroupSums sums,
        double gamma, int degree, double etaPhi, bool learnPolicy)
    {
        var policy = gs.Constants;
        var r = PilotPolicyMath.Agreement(sums.Dot, sums.GNormSq, sums.GPrevNormSq);
        var rhoPrev = gs.rho;
        var rho = gamma * rhoPrev + (1 - gamma) * r;
        var knobs = PilotPolicyMath.Knobs(gs.phi, degree, rho, policy);
        var phi = gs.phi;
        if (learnPolicy)
        {
            var phiGrad = PilotPolicyMath.PhiGradient(sums.MetaGrad, gs.phi, degree, rhoPrev, policy);
            phiGrad = where(phiGrad.isfinite().all(), phiGrad, zeros_like(phiGrad));
            phi = gs.phi - etaPhi * PilotPolicyMath.ClipToUnitNorm(phiGrad);
        }
        return (r, rho, knobs, phi);
    }

    /// <summary>
    /// The plain implementation of one group's step, docs/algorithm.md steps 1–8, on any device. Group scalars are 0-d
    /// float64 tensors so nothing is read back to the host; the step is committed only where the group's
    /// gradients are all finite (<c>Commit</c>).
    /// </summary>
    private static (Tensor R, Tensor Finite) StepPlain(Options o, GroupState gs, List<(int Index, Parameter Param, Tensor Grad, State State)> live)
    {
        var (lr, beta1, beta2, eps, lambda, gamma, etaPhi, degree, learnPolicy) = StepSettings.Of(o);

        // 1. Step count and bias corrections, of this step and of the previous one (StepScalars).
        var (b1, b2, b1Prev, b2Prev, pmPrev, pvPrev, psPrev) = StepScalars(gs, beta1, beta2);

        // First pass over the group: finiteness, the agreement sums and the meta-gradient sums
        // G_k = Σ g ⊙ ∂d/∂p_k (step 4), all from the state before this step.
        var sums = new GroupSums(gs);
        foreach (var (_, _, g, s) in live)
        {
            using var scope = NewDisposeScope();
            sums.Add(g, g.square(), s.g_prev);
            if (learnPolicy)
                sums.AddMeta(g, UpdateDerivatives(s.m / b1Prev, s.v / b2Prev, s.g_prev, pmPrev, pvPrev, psPrev, lr));
        }
        var finite = sums.Finite;

        // 2., 3. and 8. Agreement, smoothed score, knobs and the new φ (PolicyStep).
        var (r, rho, knobs, phi) = PolicyStep(gs, sums, gamma, degree, etaPhi, learnPolicy);
        var (pm, pv, ps) = (knobs[0], knobs[1], knobs[2]);

        // Second pass: 5. moments, 6. update with decoupled weight decay (θ before the step), 7. g_prev ← g.
        foreach (var (_, p, g, s) in live)
        {
            using var scope = NewDisposeScope();
            var m = beta1 * s.m + (1 - beta1) * g;
            var v = beta2 * s.v + (1 - beta2) * g.square();
            var n = pm * (m / b1) + (1 - pm) * g;
            var theta = p * (1 - lr * lambda) - lr * Direction(n, v / b2, pv, ps, eps);
            Commit(finite, p, theta);
            Commit(finite, s.m, m);
            Commit(finite, s.v, v);
            Commit(finite, s.g_prev, g);
        }

        CommitGroup(gs, finite, rho, phi, knobs);
        return (r, finite);
    }

    /// <summary>target ← value where the group's gradients were finite, else unchanged.</summary>
    private static void Commit(Tensor finite, Tensor target, Tensor value) => target.copy_(where(finite, value, target));

    /// <summary>
    /// The end of a group's step on the plain and multi-tensor paths: ρ, φ and the knobs are committed, and t advances,
    /// only where the group's gradients were finite; otherwise the skipped-step count advances.
    /// </summary>
    private static void CommitGroup(GroupState gs, Tensor finite, Tensor rho, Tensor phi, Tensor knobs)
    {
        Commit(finite, gs.rho, rho);
        Commit(finite, gs.phi, phi);
        Commit(finite, gs.prev_knobs, knobs);
        gs.step.add_(finite.to(ScalarType.Float64));
        gs.skipped.add_(finite.logical_not().to(ScalarType.Float64));
    }

    /// <summary>
    /// PILOT's update direction (docs/algorithm.md step 6): |n|₊^(1−p_s)·sign(n) / (v̂^p_v + ε), with |n|₊ = max(|n|, 1e−12).
    /// p_m = 1, p_v = 0.5, p_s = 0 gives Adam's m̂/(√v̂ + ε).
    /// </summary>
    internal static Tensor Direction(Tensor n, Tensor vHat, Tensor pv, Tensor ps, double eps)
    {
        var magnitude = n.abs().clamp_min(PilotPolicyMath.MagnitudeFloor).pow(1 - ps);
        return magnitude * n.sign() / (vHat.pow(pv) + eps);
    }

    /// <summary>
    /// The partial derivatives of one tensor's displacement d = −η·|n|₊^(1−p_s)·sign(n)/D at the previous step,
    /// with respect to the three knobs (docs/algorithm.md step 4), D = v̂₊^p_v + 1e−8:
    /// <code>
    /// ∂d/∂p_m = −η·(1 − p_s)·|n|₊^(−p_s)·(m̂ − g_prev) / D
    /// ∂d/∂p_v = +η·|n|₊^(1−p_s)·sign(n)·v̂₊^p_v·log₊(v̂) / D²
    /// ∂d/∂p_s = +η·|n|₊^(1−p_s)·sign(n)·log₊(n) / D
    /// </code>
    /// n = p_m·m̂ + (1 − p_m)·g_prev is recomputed from the stored state instead of being stored.
    /// </summary>
    internal static (Tensor dm, Tensor dv, Tensor ds) UpdateDerivatives(Tensor mHat, Tensor vHat, Tensor gPrev,
        Tensor pm, Tensor pv, Tensor ps, double lr)
    {
        var n = pm * mHat + (1 - pm) * gPrev;
        var nAbs = n.abs().clamp_min(PilotPolicyMath.MagnitudeFloor);
        var vAbs = vHat.abs().clamp_min(PilotPolicyMath.MagnitudeFloor);
        var vPow = vAbs.pow(pv);
        var denominator = vPow + PilotPolicyMath.MetaDenominatorEpsilon;
        var signedMagnitude = nAbs.pow(1 - ps) * n.sign();

        var dm = -lr * (1 - ps) * nAbs.pow(-ps) * (mHat - gPrev) / denominator;
        var dv = lr * signedMagnitude * vPow * vAbs.log() / denominator.square();
        var ds = lr * signedMagnitude * nAbs.log() / denominator;
        return (dm, dv, ds);
    }

    private void RecordStep(ParamGroup group, GroupState gs, double r, bool skipped)
    {
        var knobs = gs.prev_knobs.data<double>().ToArray();
        _diagnostics.Add(new PilotStepDiagnostics((long)gs.step.item<double>(), skipped ? double.NaN : r, gs.rho.item<double>(),
            knobs[0], knobs[1], knobs[2], gs.phi.data<double>().ToArray())
        {
            Group = _parameter_groups.IndexOf(group),
            Skipped = skipped,
        });
    }

    private protected override void DisposeGroup(ParamGroup group)
    {
        group.PilotState?.Dispose();
        group.Fused?.Dispose();
        if (_multiTensor.Remove(group, out var layout)) layout.Dispose();
    }
}

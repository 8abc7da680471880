using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;

namespace Pilot.TorchSharp;

// Plumbing of PilotOptimizer: options, parameter groups, per-tensor and per-group state, state-dict I/O.
// The stream layout is described on StateFormat; PILOT's records are:
//   group options (Options):   TorchSharp's initial lr + lr, magic "PLOT", version, β1, β2, ε, λ, γ, η_φ, d, overrides
//   per parameter (State):     version, m, v, g_prev                   (in parameter order, group by group)
//   per group (GroupState):    version, t, ρ, φ, previous knobs, skipped-step count   (after all parameter records)
public sealed partial class PilotOptimizer
{
    /// <summary>Current version of PILOT's state records.</summary>
    internal const int StateVersion = 1;

    private static readonly StateLayout Format = new(nameof(PilotOptimizer), StateFormat.Magic("PLOT"), StateVersion);

    private protected override StateLayout Layout => Format;

    /// <summary>PILOT needs float32 or float64 parameters, all of a group on one device.</summary>
    private protected override string? RejectParameter(Parameter parameter, int index, Parameter first)
    {
        if (parameter.dtype is not (ScalarType.Float32 or ScalarType.Float64))
            return $"parameter {index} of the group has dtype {parameter.dtype}; PILOT supports Float32 and Float64 parameters";
        if (!SameDevice(parameter.device, first.device))
            return $"parameter {index} of the group is on {parameter.device} but parameter 0 is on {first.device}; put a group's parameters on one device";
        return null;
    }

    /// <summary>The group with its own ρ, φ and step count, φ from the group's initial policy.</summary>
    /// <exception cref="ArgumentException">The initial policy's degree is not the group's.</exception>
    private protected override ParamGroup NewGroup(Parameter[] parameters, Options options)
    {
        int degree = options.degree!.Value;
        var policy = options.initial_policy ?? PilotPolicy.Default(degree);
        if (policy.Degree != degree)
            throw new ArgumentException($"the initial policy has degree {policy.Degree} but the group's degree is {degree}", "initialPolicy");
        return new ParamGroup(parameters, options) { PilotState = new GroupState(policy, options, parameters[0].device) };
    }

    private protected override State NewState(Parameter parameter) => new(parameter);

    internal static bool SameDevice(Device a, Device b) => StateTensors.SameDevice(a, b);

    /// <summary>
    /// The optimizer state: group options, then one <see cref="State"/> per parameter (m, v, g_prev), then one
    /// <see cref="GroupState"/> per group (t, ρ, φ, previous knobs, skipped steps). The records are live, not copies.
    /// </summary>
    public override StateDictionary state_dict()
    {
        var sd = base.state_dict();
        foreach (var g in _parameter_groups) sd.State.Add(((ParamGroup)g).PilotState);
        return sd;
    }

    private protected override void AfterGroupLoaded(ParamGroup group) => group.PilotState.AfterLoad(group.Options);

    /// <summary>
    /// Hyper-parameters of a parameter group. A <see langword="null"/> value takes the optimizer's value when the group
    /// is added. Names follow <c>torch.optim</c>; defaults and ranges are those of the <see cref="PilotOptimizer"/> constructor.
    /// </summary>
    public sealed class Options : HyperParameterOptions<Options>, IBetaOptions
    {
        /// <summary>First-moment decay β1. Valid: [0, 1).</summary>
        public double? beta1 { get; set; }

        /// <summary>Second-moment decay β2. Valid: [0, 1).</summary>
        public double? beta2 { get; set; }

        /// <summary>ε added to the normaliser. Valid: &gt; 0.</summary>
        public double? eps { get; set; }

        /// <summary>Decoupled weight decay λ. Valid: ≥ 0.</summary>
        public double? weight_decay { get; set; }

        /// <summary>Smoothing γ of the agreement score. Valid: [0, 1).</summary>
        public double? gamma { get; set; }

        /// <summary>Policy learning rate η_φ (0 freezes the policy). Valid: ≥ 0.</summary>
        public double? eta_phi { get; set; }

        /// <summary>Polynomial degree d of each policy head. Valid: ≥ 1.</summary>
        public int? degree { get; set; }

        /// <summary>Knobs pinned to fixed values. <see langword="null"/> inherits the optimizer's; an empty
        /// <see cref="PolicyOverrides"/> pins nothing.</summary>
        public PolicyOverrides? overrides { get; set; }

        /// <summary>Starting policy of the group (used when the group is added; not part of saved state).</summary>
        public PilotPolicy? initial_policy { get; set; }

        private static readonly HyperParameterList<Options> Parameters = new(Format, () => new()) {
            { nameof(beta1), PilotDefaults.Beta1, Check.UnitInterval, o => o.beta1, (o, v) => o.beta1 = v },
            { nameof(beta2), PilotDefaults.Beta2, Check.UnitInterval, o => o.beta2, (o, v) => o.beta2 = v },
            { nameof(eps), PilotDefaults.Epsilon, Check.Positive, o => o.eps, (o, v) => o.eps = v }, // ε = 0: 0/0 where all gradients were 0
            { nameof(weight_decay), PilotDefaults.WeightDecay, Check.NonNegative, o => o.weight_decay, (o, v) => o.weight_decay = v },
            { nameof(gamma), PilotDefaults.Gamma, Check.UnitInterval, o => o.gamma, (o, v) => o.gamma = v },
            { nameof(eta_phi), PilotDefaults.EtaPhi, Check.NonNegative, o => o.eta_phi, (o, v) => o.eta_phi = v },
            { nameof(degree), PilotDefaults.Degree, 1, o => o.degree, (o, v) => o.degree = v },
            new HyperParameter<Options, PolicyOverrides?>(nameof(overrides), null, o => o.overrides, (o, v) => o.overrides = v,
                (v, name) => v?.Validate(name), WriteOverrides, ReadOverrides, since: 1),
        };

        private protected override HyperParameterList<Options> Declared => Parameters;

        /// <summary>The initial policy is inherited only by groups of the optimizer's degree.</summary>
        private protected override void InheritUndeclared(Options result, Options defaults) =>
            result.initial_policy = initial_policy ?? (degree is null || degree == defaults.degree ? defaults.initial_policy : null);

        /// <summary>Overrides as three (has value, value) pairs: p_m, p_v, p_s.</summary>
        private static void WriteOverrides(BinaryWriter writer, PolicyOverrides? overrides)
        {
            WriteNullable(writer, overrides?.PM);
            WriteNullable(writer, overrides?.PV);
            WriteNullable(writer, overrides?.PS);
        }

        private static PolicyOverrides? ReadOverrides(BinaryReader reader)
        {
            var pm = ReadNullable(reader);
            var pv = ReadNullable(reader);
            var ps = ReadNullable(reader);
            return pm is null && pv is null && ps is null ? null : new PolicyOverrides(pm, pv, ps);
        }

        private static void WriteNullable(BinaryWriter writer, double? value)
        {
            writer.Write(value.HasValue);
            writer.Write(value ?? 0.0);
        }

        private static double? ReadNullable(BinaryReader reader)
        {
            bool has = reader.ReadBoolean();
            double value = reader.ReadDouble();
            return has ? value : null;
        }
    }

    /// <summary>A PILOT parameter group: parameters, their <see cref="Options"/>, and (inside the optimizer) the group's ρ, φ and t.</summary>
    public sealed class ParamGroup : PilotParamGroup<Options>
    {
        /// <summary>Creates an empty group (set <c>Parameters</c> and optionally <c>Options</c>).</summary>
        public ParamGroup() { }

        /// <summary>Creates a group with explicit options (null values inherit the optimizer's).</summary>
        public ParamGroup(IEnumerable<Parameter> parameters, Options options) : base(parameters, options) { }

        /// <summary>Creates a group; each argument left <see langword="null"/> inherits the optimizer's value.
        /// Ranges as in the <see cref="PilotOptimizer"/> constructor.</summary>
        public ParamGroup(IEnumerable<Parameter> parameters, double? lr = null, double? beta1 = null, double? beta2 = null,
            double? eps = null, double? weight_decay = null, double? gamma = null, double? eta_phi = null, int? degree = null,
            PolicyOverrides? overrides = null, PilotPolicy? initialPolicy = null)
            : base(parameters, new Options
            {
                LearningRate = lr,
                beta1 = beta1,
                beta2 = beta2,
                eps = eps,
                weight_decay = weight_decay,
                gamma = gamma,
                eta_phi = eta_phi,
                degree = degree,
                overrides = overrides,
                initial_policy = initialPolicy,
            })
        {
        }

        /// <summary>The group's ρ, φ, t; set when the optimizer adopts the group.</summary>
        internal GroupState PilotState { get; init; } = null!;

        /// <summary>Flat buffers of the fused CPU path; built at the group's first fused step.</summary>
        internal FusedLayout? Fused { get; set; }
    }

    /// <summary>Per-parameter state: first moment m, second moment v and previous gradient g_prev, shaped like the parameter.</summary>
    public sealed class State : ParameterState
    {
        internal State(Parameter parameter) : base(parameter, Format, countsSteps: false, nameof(m), nameof(v), nameof(g_prev)) { }

        /// <summary>First moment m (Adam's exp_avg).</summary>
        public Tensor m => Get(0);

        /// <summary>Second moment v (Adam's exp_avg_sq).</summary>
        public Tensor v => Get(1);

        /// <summary>The gradient of the last step that was taken (zero before the first).</summary>
        public Tensor g_prev => Get(2);

        /// <summary>Bytes held by this state's tensors.</summary>
        public long Bytes => TensorBytes;

        /// <summary>Replaces m, v, g_prev by the given tensors (views into the fused path's flat buffers), keeping their values.</summary>
        internal void Rebind(Tensor newM, Tensor newV, Tensor newGPrev)
        {
            Rebind(0, newM);
            Rebind(1, newV);
            Rebind(2, newGPrev);
        }
    }

    /// <summary>
    /// Per-group state, as small float64 tensors on the group's device: step count t, agreement ρ, policy φ, the knobs
    /// (p_m, p_v, p_s) of the last step taken, and the number of steps skipped for non-finite gradients.
    /// </summary>
    public sealed class GroupState : OptimizerState, IDisposable
    {
        internal GroupState(PilotPolicy policy, Options options, Device device) : base(null!)
        {
            _initialPolicy = policy;
            Reset(device);
            Constants = new PolicyConstants(options.degree!.Value, options.overrides, device);
        }

        private readonly PilotPolicy _initialPolicy;

        /// <summary>Step count t (float64 0-d; integral).</summary>
        public Tensor step { get; private set; } = null!;

        /// <summary>Smoothed agreement ρ (float64 0-d).</summary>
        public Tensor rho { get; private set; } = null!;

        /// <summary>Policy coefficients φ (float64, 3·(d+1)).</summary>
        public Tensor phi { get; private set; } = null!;

        /// <summary>Knobs (p_m, p_v, p_s) of the last step taken (float64, 3); meaningless before the first step.</summary>
        public Tensor prev_knobs { get; private set; } = null!;

        /// <summary>Steps skipped because a gradient was NaN or infinite (float64 0-d; integral).</summary>
        public Tensor skipped { get; private set; } = null!;

        internal PolicyConstants Constants { get; private set; }

        private void Reset(Device device)
        {
            DisposeTensors();
            step = zeros(Array.Empty<long>(), ScalarType.Float64, device: device).DetachFromDisposeScope();
            rho = zeros(Array.Empty<long>(), ScalarType.Float64, device: device).DetachFromDisposeScope();
            phi = tensor(_initialPolicy.Phi, dtype: ScalarType.Float64, device: device).DetachFromDisposeScope();
            prev_knobs = zeros(3, ScalarType.Float64, device: device).DetachFromDisposeScope();
            skipped = zeros(Array.Empty<long>(), ScalarType.Float64, device: device).DetachFromDisposeScope();
        }

        /// <summary>Before a step: follow the parameters' device and the group's (mutable) degree and overrides.</summary>
        internal void Configure(Options options, Device device)
        {
            if (!SameDevice(step.device, device)) to(device);
            int degree = options.degree!.Value;
            if (phi.shape[0] != PilotPolicy.CoefficientCount(degree))
                throw new InvalidOperationException(
                    $"the group's degree is {degree} but its policy has {phi.shape[0]} coefficients (degree {phi.shape[0] / 3 - 1}); the degree cannot change after the group is created");
            if (Constants.Degree != degree || !Equals(Constants.Overrides, options.overrides))
            {
                Constants.Dispose();
                Constants = new PolicyConstants(degree, options.overrides, device);
            }
        }

        internal void AfterLoad(Options options)
        {
            long expected = PilotPolicy.CoefficientCount(options.degree!.Value);
            if (phi.dim() != 1 || phi.shape[0] != expected)
                throw new InvalidDataException($"the loaded policy has {phi.shape[0]} coefficients but degree {options.degree} needs {expected}");
            if (!phi.isfinite().all().item<bool>() || !rho.isfinite().item<bool>())
                throw new InvalidDataException("the loaded policy state holds a non-finite value");
            Constants.Dispose();
            Constants = new PolicyConstants(options.degree!.Value, options.overrides, step.device);
        }

        /// <inheritdoc/>
        public override void Initialize(OptimizerOptions options) => Reset(step?.device ?? CPU);

        /// <inheritdoc/>
        public override void SaveStateDict(BinaryWriter writer)
        {
            writer.Write(StateVersion);
            step.Save(writer);
            rho.Save(writer);
            phi.Save(writer);
            prev_knobs.Save(writer);
            skipped.Save(writer);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(BinaryReader reader)
        {
            StateFormat.CheckVersion(reader.ReadInt32(), StateVersion, nameof(PilotOptimizer));
            var device = step.device;
            step.Load(reader);
            rho.Load(reader);
            Tensor? loaded = null;
            TensorExtensionMethods.Load(ref loaded, reader); // φ's length follows the loaded degree
            if (loaded!.dtype != ScalarType.Float64)
                throw new InvalidDataException($"the loaded policy has dtype {loaded.dtype}; expected Float64");
            phi.Dispose();
            phi = loaded.to(device).DetachFromDisposeScope();
            if (!ReferenceEquals(phi, loaded)) loaded.Dispose();
            prev_knobs.Load(reader);
            skipped.Load(reader);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(OptimizerState source)
        {
            var s = source as GroupState ?? throw new InvalidDataException($"expected PilotOptimizer group state, found {source?.GetType().Name ?? "null"}");
            StateTensors.CopyInto(step, s.step, nameof(step));
            StateTensors.CopyInto(rho, s.rho, nameof(rho));
            var device = step.device;
            phi.Dispose();
            phi = s.phi.to(device, copy: true).DetachFromDisposeScope();
            StateTensors.CopyInto(prev_knobs, s.prev_knobs, nameof(prev_knobs));
            StateTensors.CopyInto(skipped, s.skipped, nameof(skipped));
        }

        /// <inheritdoc/>
        public override void to(Device device)
        {
            step = StateTensors.Move(step, device);
            rho = StateTensors.Move(rho, device);
            phi = StateTensors.Move(phi, device);
            prev_knobs = StateTensors.Move(prev_knobs, device);
            skipped = StateTensors.Move(skipped, device);
            var c = Constants;
            Constants = new PolicyConstants(c.Degree, c.Overrides, device);
            c.Dispose();
        }

        /// <inheritdoc/>
        public override bool ApproximatelyEquals(OptimizerState other) =>
            other is GroupState s && step.equal(s.step).item<bool>() && rho.allclose(s.rho) && phi.shape.SequenceEqual(s.phi.shape) && phi.allclose(s.phi);

        /// <inheritdoc/>
        public void Dispose()
        {
            DisposeTensors();
            Constants?.Dispose();
        }

        private void DisposeTensors()
        {
            step?.Dispose();
            rho?.Dispose();
            phi?.Dispose();
            prev_knobs?.Dispose();
            skipped?.Dispose();
        }
    }
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;
using TorchParamGroup = TorchSharp.Modules.ParamGroup;

namespace Pilot.TorchSharp;

// Plumbing of PilotOptimizer: options, parameter groups, per-tensor and per-group state, state-dict I/O.
// The stream layout is described on StateFormat; PILOT's records are:
//   group options (Options):   TorchSharp's initial lr + lr, magic "PLOT", version, β1, β2, ε, λ, γ, η_φ, d, overrides
//   per parameter (State):     version, m, v, g_prev                   (in parameter order, group by group)
//   per group (GroupState):    version, t, ρ, φ, previous knobs, skipped-step count   (after all parameter records)
public sealed partial class PilotOptimizer
{
    /// <summary>Magic of PILOT's group-options record ("PLOT").</summary>
    internal static readonly uint StateMagic = StateFormat.Magic("PLOT");

    /// <summary>Current version of PILOT's state records.</summary>
    internal const int StateVersion = 1;

    /// <summary>
    /// Adds a parameter group. Options left <see langword="null"/> in the group take the optimizer's values; the group is
    /// copied (the caller's object is not modified) and gets its own ρ, φ and step count.
    /// </summary>
    /// <param name="param_group">A <see cref="ParamGroup"/> (or a TorchSharp group whose options are null or <see cref="Options"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A group option is outside its valid range.</exception>
    /// <exception cref="ArgumentException">The group is empty, holds a parameter twice or one already in another group,
    /// mixes devices, has a parameter that is not float32/float64, or its initial policy has another degree.</exception>
    public override void add_param_group(TorchParamGroup param_group)
    {
        ArgumentNullException.ThrowIfNull(param_group);
        if (param_group.Options is not null and not Options)
            throw new ArgumentException(
                $"param_group.Options must be PilotOptimizer.Options or null; got {param_group.Options.GetType().FullName}", nameof(param_group));
        var parameters = (param_group.Parameters ?? throw new ArgumentException("param_group.Parameters is null", nameof(param_group))).ToArray();
        if (parameters.Length == 0)
            throw new ArgumentException($"PilotOptimizer got an empty parameter list (parameter group {_parameter_groups.Count} has no parameters).", nameof(param_group));

        var options = ((Options?)param_group.Options ?? new Options()).WithDefaults(DefaultOptions);
        options.Validate();

        var known = new HashSet<IntPtr>(_parameter_groups.SelectMany(g => g.Parameters).Select(p => p.Handle));
        var device = parameters[0]?.device;
        for (int i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i] ?? throw new ArgumentException($"parameter {i} of the group is null", nameof(param_group));
            if (p.dtype is not (ScalarType.Float32 or ScalarType.Float64))
                throw new ArgumentException($"parameter {i} of the group has dtype {p.dtype}; PILOT supports Float32 and Float64 parameters", nameof(param_group));
            if (!SameDevice(p.device, device!))
                throw new ArgumentException($"parameter {i} of the group is on {p.device} but parameter 0 is on {device}; put a group's parameters on one device", nameof(param_group));
            if (!known.Add(p.Handle))
                throw new ArgumentException($"parameter {i} of the group appears twice or is already in another parameter group", nameof(param_group));
        }

        int degree = options.degree!.Value;
        var policy = options.initial_policy ?? PilotPolicy.Default(degree);
        if (policy.Degree != degree)
            throw new ArgumentException($"the initial policy has degree {policy.Degree} but the group's degree is {degree}", "initialPolicy");

        var group = new ParamGroup(parameters, options) { PilotState = new GroupState(policy, options, device!) };
        _parameter_groups.Add(group);
        foreach (var p in parameters)
        {
            var state = new State(p);
            state.Initialize(options);
            _state[p.Handle] = state;
        }
    }

    internal static bool SameDevice(Device a, Device b) => a.type == b.type && a.index == b.index;

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

    /// <summary>Loads state returned by another PILOT optimizer's <see cref="state_dict"/> (copies its tensors).</summary>
    /// <exception cref="InvalidDataException">The state is not PILOT state or does not fit this optimizer's parameters.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A loaded option is outside its valid range.</exception>
    public override void load_state_dict(StateDictionary state_dict)
    {
        ArgumentNullException.ThrowIfNull(state_dict);
        foreach (var o in state_dict.Options)
            if (o is not Options)
                throw new InvalidDataException($"expected PilotOptimizer state, found {o?.GetType().DeclaringType?.Name ?? o?.GetType().Name ?? "null"} options");
        var sd = this.state_dict();
        if (state_dict.Options.Count != sd.Options.Count || state_dict.State.Count != sd.State.Count)
            throw new InvalidDataException(
                $"the state has {state_dict.Options.Count} group(s) and {state_dict.State.Count} records; this optimizer has {sd.Options.Count} and {sd.State.Count}: the model differs");
        for (int i = 0; i < sd.State.Count; i++)
            if (state_dict.State[i]?.GetType() != sd.State[i].GetType())
                throw new InvalidDataException(
                    $"expected PilotOptimizer state, found a {state_dict.State[i]?.GetType().Name ?? "null"} record where a {sd.State[i].GetType().Name} belongs");
        base.load_state_dict(state_dict);
        AfterLoad();
    }

    /// <summary>
    /// Loads state written by <c>save_state_dict</c>. The stream must come from a PilotOptimizer over parameters of the
    /// same shapes and dtypes, in the same groups.
    /// </summary>
    /// <exception cref="InvalidDataException">The stream holds another optimizer's state ("expected PilotOptimizer state,
    /// found 'Adam'"), a newer format, is truncated, or does not fit the parameters.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A loaded option is outside its valid range.</exception>
    public new void load_state_dict(BinaryReader reader) => StateFormat.Load(this, reader, nameof(PilotOptimizer), AfterLoad);

    /// <summary>Loads state from a file written by <c>save_state_dict(string)</c>; see <see cref="load_state_dict(BinaryReader)"/>.</summary>
    public new void load_state_dict(string location)
    {
        using var stream = File.OpenRead(location);
        using var reader = new BinaryReader(stream);
        load_state_dict(reader);
    }

    private void AfterLoad()
    {
        foreach (var g in _parameter_groups.Cast<ParamGroup>())
        {
            g.Options.Validate();
            g.PilotState.AfterLoad(g.Options);
        }
    }

    /// <summary>
    /// Hyper-parameters of a parameter group. A <see langword="null"/> value takes the optimizer's value when the group
    /// is added. Names follow <c>torch.optim</c>; defaults and ranges are those of the <see cref="PilotOptimizer"/> constructor.
    /// </summary>
    public sealed class Options : OptimizerOptions
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

        /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option outside its valid range.</summary>
        internal void Validate()
        {
            Check.NonNegative(LearningRate ?? double.NaN, "lr");
            Check.UnitInterval(beta1 ?? double.NaN, nameof(beta1));
            Check.UnitInterval(beta2 ?? double.NaN, nameof(beta2));
            Check.Positive(eps ?? double.NaN, nameof(eps)); // ε = 0 gives 0/0 for a coordinate whose gradients were all 0
            Check.NonNegative(weight_decay ?? double.NaN, nameof(weight_decay));
            Check.UnitInterval(gamma ?? double.NaN, nameof(gamma));
            Check.NonNegative(eta_phi ?? double.NaN, nameof(eta_phi));
            Check.AtLeast(degree ?? 0, 1, nameof(degree));
            overrides?.Validate(nameof(overrides));
        }

        /// <summary>A copy with every unset value taken from <paramref name="defaults"/>.</summary>
        internal Options WithDefaults(Options defaults)
        {
            var lr = LearningRate ?? defaults.LearningRate;
            return new Options
            {
                LearningRate = lr,
                InitialLearningRate = lr ?? 0,
                beta1 = beta1 ?? defaults.beta1,
                beta2 = beta2 ?? defaults.beta2,
                eps = eps ?? defaults.eps,
                weight_decay = weight_decay ?? defaults.weight_decay,
                gamma = gamma ?? defaults.gamma,
                eta_phi = eta_phi ?? defaults.eta_phi,
                degree = degree ?? defaults.degree,
                overrides = overrides ?? defaults.overrides,
                initial_policy = initial_policy ?? (degree is null || degree == defaults.degree ? defaults.initial_policy : null),
            };
        }

        /// <inheritdoc/>
        public override void SaveStateDict(BinaryWriter writer)
        {
            base.SaveStateDict(writer);
            StateFormat.WriteHeader(writer, StateMagic, StateVersion);
            writer.Write(beta1!.Value);
            writer.Write(beta2!.Value);
            writer.Write(eps!.Value);
            writer.Write(weight_decay!.Value);
            writer.Write(gamma!.Value);
            writer.Write(eta_phi!.Value);
            writer.Write(degree!.Value);
            WriteNullable(writer, overrides?.PM);
            WriteNullable(writer, overrides?.PV);
            WriteNullable(writer, overrides?.PS);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(BinaryReader reader)
        {
            base.LoadStateDict(reader);
            StateFormat.ReadHeader(reader, StateMagic, StateVersion, nameof(PilotOptimizer));
            beta1 = reader.ReadDouble();
            beta2 = reader.ReadDouble();
            eps = reader.ReadDouble();
            weight_decay = reader.ReadDouble();
            gamma = reader.ReadDouble();
            eta_phi = reader.ReadDouble();
            degree = reader.ReadInt32();
            var pm = ReadNullable(reader);
            var pv = ReadNullable(reader);
            var ps = ReadNullable(reader);
            overrides = pm is null && pv is null && ps is null ? null : new PolicyOverrides(pm, pv, ps);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(OptimizerOptions source)
        {
            var o = source as Options ?? throw new InvalidDataException($"expected PilotOptimizer options, found {source?.GetType().Name ?? "null"}");
            base.LoadStateDict(source);
            beta1 = o.beta1;
            beta2 = o.beta2;
            eps = o.eps;
            weight_decay = o.weight_decay;
            gamma = o.gamma;
            eta_phi = o.eta_phi;
            degree = o.degree;
            overrides = o.overrides;
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
    public sealed class ParamGroup : ParamGroup<Options>, IBetas
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

        /// <summary>The group's parameters as the list the optimizer materialised when it adopted the group.</summary>
        internal IReadOnlyList<Parameter> ParameterList => Parameters as IReadOnlyList<Parameter> ?? Parameters.ToArray();

        /// <summary>Flat buffers of the fused CPU path; built at the group's first fused step.</summary>
        internal FusedLayout? Fused { get; set; }

        /// <summary>β1 and β2 of this group.</summary>
        public (double, double) Betas
        {
            get => (Options.beta1 ?? double.NaN, Options.beta2 ?? double.NaN);
            set
            {
                Check.UnitInterval(value.Item1, "beta1");
                Check.UnitInterval(value.Item2, "beta2");
                Options.beta1 = value.Item1;
                Options.beta2 = value.Item2;
            }
        }
    }

    /// <summary>Per-parameter state: first moment m, second moment v and previous gradient g_prev, shaped like the parameter.</summary>
    public sealed class State : OptimizerState, IDisposable
    {
        internal State(Parameter parameter) : base(parameter) { }

        /// <summary>First moment m (Adam's exp_avg).</summary>
        public Tensor m { get; private set; } = null!;

        /// <summary>Second moment v (Adam's exp_avg_sq).</summary>
        public Tensor v { get; private set; } = null!;

        /// <summary>The gradient of the last step that was taken (zero before the first).</summary>
        public Tensor g_prev { get; private set; } = null!;

        /// <summary>Bytes held by this state's tensors.</summary>
        public long Bytes => (m.NumberOfElements + v.NumberOfElements + g_prev.NumberOfElements) * m.ElementSize;

        /// <inheritdoc/>
        public override void Initialize(OptimizerOptions options)
        {
            DisposeTensors();
            m = zeros_like(_parameter).DetachFromDisposeScope();
            v = zeros_like(_parameter).DetachFromDisposeScope();
            g_prev = zeros_like(_parameter).DetachFromDisposeScope();
        }

        /// <inheritdoc/>
        public override void SaveStateDict(BinaryWriter writer)
        {
            writer.Write(StateVersion);
            m.Save(writer);
            v.Save(writer);
            g_prev.Save(writer);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(BinaryReader reader)
        {
            StateFormat.CheckVersion(reader.ReadInt32(), StateVersion, nameof(PilotOptimizer));
            m.Load(reader);
            v.Load(reader);
            g_prev.Load(reader);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(OptimizerState source)
        {
            var s = source as State ?? throw new InvalidDataException($"expected PilotOptimizer state, found {source?.GetType().Name ?? "null"}");
            CopyInto(m, s.m, nameof(m));
            CopyInto(v, s.v, nameof(v));
            CopyInto(g_prev, s.g_prev, nameof(g_prev));
        }

        /// <summary>Replaces m, v, g_prev by the given tensors (views into the fused path's flat buffers), keeping their values.</summary>
        internal void Rebind(Tensor newM, Tensor newV, Tensor newGPrev)
        {
            using (no_grad())
            {
                newM.copy_(m);
                newV.copy_(v);
                newGPrev.copy_(g_prev);
            }
            DisposeTensors();
            (m, v, g_prev) = (newM, newV, newGPrev);
        }

        internal static void CopyInto(Tensor target, Tensor source, string name)
        {
            if (!target.shape.SequenceEqual(source.shape) || target.dtype != source.dtype)
                throw new InvalidDataException(
                    $"state tensor {name} is {source.dtype}[{string.Join(", ", source.shape)}] but the parameter needs {target.dtype}[{string.Join(", ", target.shape)}]");
            using (no_grad()) target.copy_(source);
        }

        /// <inheritdoc/>
        public override void to(Device device)
        {
            m = Move(m, device);
            v = Move(v, device);
            g_prev = Move(g_prev, device);
        }

        internal static Tensor Move(Tensor t, Device device)
        {
            if (SameDevice(t.device, device)) return t;
            var moved = t.to(device).DetachFromDisposeScope();
            t.Dispose();
            return moved;
        }

        /// <inheritdoc/>
        public override bool ApproximatelyEquals(OptimizerState other) =>
            other is State s && m.allclose(s.m) && v.allclose(s.v) && g_prev.allclose(s.g_prev);

        /// <inheritdoc/>
        public void Dispose() => DisposeTensors();

        private void DisposeTensors()
        {
            m?.Dispose();
            v?.Dispose();
            g_prev?.Dispose();
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
            State.CopyInto(step, s.step, nameof(step));
            State.CopyInto(rho, s.rho, nameof(rho));
            var device = step.device;
            phi.Dispose();
            phi = s.phi.to(device, copy: true).DetachFromDisposeScope();
            State.CopyInto(prev_knobs, s.prev_knobs, nameof(prev_knobs));
            State.CopyInto(skipped, s.skipped, nameof(skipped));
        }

        /// <inheritdoc/>
        public override void to(Device device)
        {
            step = State.Move(step, device);
            rho = State.Move(rho, device);
            phi = State.Move(phi, device);
            prev_knobs = State.Move(prev_knobs, device);
            skipped = State.Move(skipped, device);
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

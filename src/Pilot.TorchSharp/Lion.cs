using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;
using TorchParamGroup = TorchSharp.Modules.ParamGroup;

namespace Pilot.TorchSharp;

/// <summary>Default hyper-parameters of <see cref="Lion"/>: those of Chen et al. 2023 ("Symbolic Discovery of Optimization
/// Algorithms", arXiv 2302.06675) and of the authors' published implementation.</summary>
public static class LionDefaults
{
    /// <summary>Learning rate. 1e-4 (paper's code default; the paper advises 3–10× smaller than AdamW's). Valid: ≥ 0.</summary>
    public const double LearningRate = 1e-4;

    /// <summary>β1, the interpolation weight of the update direction. 0.9 (paper). Valid: [0, 1).</summary>
    public const double Beta1 = 0.9;

    /// <summary>β2, the momentum decay. 0.99 (paper). Valid: [0, 1).</summary>
    public const double Beta2 = 0.99;

    /// <summary>Decoupled weight decay λ. 0 (paper's code default). Valid: ≥ 0.</summary>
    public const double WeightDecay = 0.0;
}

/// <summary>
/// Lion (Chen et al. 2023): a sign step on an interpolation of momentum and gradient, with decoupled weight decay.
/// One state tensor (m) per parameter.
/// </summary>
/// <remarks>
/// <code>
/// u = sign(β1·m + (1 − β1)·g)
/// θ ← θ·(1 − η·λ) − η·u
/// m ← β2·m + (1 − β2)·g
/// </code>
/// Parameters whose <c>grad</c> is <see langword="null"/> are skipped. Defaults: <see cref="LionDefaults"/>.
/// </remarks>
public sealed class Lion : OptimizerHelper, IBetas
{
    internal static readonly uint StateMagic = StateFormat.Magic("LION");
    internal const int StateVersion = 1;

    /// <summary>Creates a Lion optimizer over one parameter group.</summary>
    /// <param name="parameters">The parameters to optimise.</param>
    /// <param name="lr">Learning rate η. Default <see cref="LionDefaults.LearningRate"/> (1e-4). Valid: ≥ 0.</param>
    /// <param name="beta1">Interpolation weight β1. Default <see cref="LionDefaults.Beta1"/> (0.9). Valid: [0, 1).</param>
    /// <param name="beta2">Momentum decay β2. Default <see cref="LionDefaults.Beta2"/> (0.99). Valid: [0, 1).</param>
    /// <param name="weight_decay">Decoupled weight decay λ. Default <see cref="LionDefaults.WeightDecay"/> (0). Valid: ≥ 0.</param>
    public Lion(IEnumerable<Parameter> parameters, double lr = LionDefaults.LearningRate, double beta1 = LionDefaults.Beta1,
        double beta2 = LionDefaults.Beta2, double weight_decay = LionDefaults.WeightDecay)
        : this([new ParamGroup(parameters ?? throw new ArgumentNullException(nameof(parameters)))], lr, beta1, beta2, weight_decay)
    {
    }

    /// <summary>Creates a Lion optimizer over several parameter groups; unset group options take the values given here.</summary>
    /// <param name="parameters">The parameter groups.</param>
    /// <param name="lr">Learning rate η. Default <see cref="LionDefaults.LearningRate"/> (1e-4). Valid: ≥ 0.</param>
    /// <param name="beta1">Interpolation weight β1. Default <see cref="LionDefaults.Beta1"/> (0.9). Valid: [0, 1).</param>
    /// <param name="beta2">Momentum decay β2. Default <see cref="LionDefaults.Beta2"/> (0.99). Valid: [0, 1).</param>
    /// <param name="weight_decay">Decoupled weight decay λ. Default <see cref="LionDefaults.WeightDecay"/> (0). Valid: ≥ 0.</param>
    public Lion(IEnumerable<ParamGroup> parameters, double lr = LionDefaults.LearningRate, double beta1 = LionDefaults.Beta1,
        double beta2 = LionDefaults.Beta2, double weight_decay = LionDefaults.WeightDecay)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var defaults = new Options { LearningRate = lr, InitialLearningRate = lr, beta1 = beta1, beta2 = beta2, weight_decay = weight_decay };
        defaults.Validate();
        _defaults = defaults;
        _parameter_groups = new List<TorchParamGroup>();
        foreach (var g in parameters) add_param_group(g);
        if (_parameter_groups.Count == 0)
            throw new ArgumentException("Lion got an empty list of parameter groups.", nameof(parameters));
    }

    /// <summary>β1 and β2 of the defaults.</summary>
    public (double, double) Betas
    {
        get => (((Options)_defaults).beta1!.Value, ((Options)_defaults).beta2!.Value);
        set
        {
            Check.UnitInterval(value.Item1, "beta1");
            Check.UnitInterval(value.Item2, "beta2");
            ((Options)_defaults).beta1 = value.Item1;
            ((Options)_defaults).beta2 = value.Item2;
        }
    }

    /// <summary>Performs one optimisation step.</summary>
    /// <param name="closure">Optional closure that re-evaluates the model and returns the loss.</param>
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = group.Options;
        o.Validate();
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, lambda = o.weight_decay!.Value;
        foreach (var p in group.Parameters)
        {
            var g = p.grad;
            if (g is null) continue;
            using var scope = NewDisposeScope();
            var state = (State)_state[p.Handle];
            var update = (beta1 * state.m + (1 - beta1) * g).sign();
            if (lambda != 0) p.mul_(1 - lr * lambda);
            p.sub_(lr * update);
            state.m.mul_(beta2).add_(g, alpha: 1 - beta2);
        }
    }, closure);

    /// <inheritdoc/>
    public override void add_param_group(TorchParamGroup param_group)
    {
        ArgumentNullException.ThrowIfNull(param_group);
        if (param_group.Options is not null and not Options)
            throw new ArgumentException($"param_group.Options must be Lion.Options or null; got {param_group.Options.GetType().FullName}", nameof(param_group));
        var parameters = OptimizerGroups.CheckParameters(param_group, _parameter_groups, nameof(Lion));
        var options = ((Options?)param_group.Options ?? new Options()).WithDefaults((Options)_defaults);
        options.Validate();
        _parameter_groups.Add(new ParamGroup(parameters, options));
        foreach (var p in parameters)
        {
            var state = new State(p);
            state.Initialize(options);
            _state[p.Handle] = state;
        }
    }

    /// <summary>Loads state written by <c>save_state_dict</c> of a Lion optimizer over the same parameters.</summary>
    /// <exception cref="InvalidDataException">The stream holds another optimizer's state, a newer format, or does not fit.</exception>
    public new void load_state_dict(BinaryReader reader) => StateFormat.Load(this, reader, nameof(Lion), AfterLoad);

    /// <summary>Loads state from a file written by <c>save_state_dict(string)</c>.</summary>
    public new void load_state_dict(string location)
    {
        using var stream = File.OpenRead(location);
        using var reader = new BinaryReader(stream);
        load_state_dict(reader);
    }

    /// <inheritdoc/>
    public override void load_state_dict(StateDictionary state_dict)
    {
        OptimizerGroups.CheckStateTypes<Options, State>(this, state_dict, nameof(Lion));
        base.load_state_dict(state_dict);
        AfterLoad();
    }

    private void AfterLoad()
    {
        foreach (var g in _parameter_groups) ((Options)g.Options).Validate();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) foreach (var kv in _state) (kv.Item2 as IDisposable)?.Dispose();
    }

    /// <summary>Hyper-parameters of a Lion parameter group; null values take the optimizer's.</summary>
    public sealed class Options : OptimizerOptions
    {
        /// <summary>Interpolation weight β1. Valid: [0, 1).</summary>
        public double? beta1 { get; set; }

        /// <summary>Momentum decay β2. Valid: [0, 1).</summary>
        public double? beta2 { get; set; }

        /// <summary>Decoupled weight decay λ. Valid: ≥ 0.</summary>
        public double? weight_decay { get; set; }

        internal void Validate()
        {
            Check.NonNegative(LearningRate ?? double.NaN, "lr");
            Check.UnitInterval(beta1 ?? double.NaN, nameof(beta1));
            Check.UnitInterval(beta2 ?? double.NaN, nameof(beta2));
            Check.NonNegative(weight_decay ?? double.NaN, nameof(weight_decay));
        }

        internal Options WithDefaults(Options d)
        {
            var lr = LearningRate ?? d.LearningRate;
            return new Options
            {
                LearningRate = lr,
                InitialLearningRate = lr ?? 0,
                beta1 = beta1 ?? d.beta1,
                beta2 = beta2 ?? d.beta2,
                weight_decay = weight_decay ?? d.weight_decay,
            };
        }

        /// <inheritdoc/>
        public override void SaveStateDict(BinaryWriter writer)
        {
            base.SaveStateDict(writer);
            StateFormat.WriteHeader(writer, StateMagic, StateVersion);
            writer.Write(beta1!.Value);
            writer.Write(beta2!.Value);
            writer.Write(weight_decay!.Value);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(BinaryReader reader)
        {
            base.LoadStateDict(reader);
            StateFormat.ReadHeader(reader, StateMagic, StateVersion, nameof(Lion));
            beta1 = reader.ReadDouble();
            beta2 = reader.ReadDouble();
            weight_decay = reader.ReadDouble();
        }

        /// <inheritdoc/>
        public override void LoadStateDict(OptimizerOptions source)
        {
            var o = source as Options ?? throw new InvalidDataException($"expected Lion options, found {source?.GetType().Name ?? "null"}");
            base.LoadStateDict(source);
            beta1 = o.beta1;
            beta2 = o.beta2;
            weight_decay = o.weight_decay;
        }
    }

    /// <summary>A Lion parameter group.</summary>
    public sealed class ParamGroup : ParamGroup<Options>, IBetas
    {
        /// <summary>Creates an empty group.</summary>
        public ParamGroup() { }

        /// <summary>Creates a group with explicit options (null values inherit the optimizer's).</summary>
        public ParamGroup(IEnumerable<Parameter> parameters, Options options) : base(parameters, options) { }

        /// <summary>Creates a group; arguments left null inherit the optimizer's values.</summary>
        public ParamGroup(IEnumerable<Parameter> parameters, double? lr = null, double? beta1 = null, double? beta2 = null, double? weight_decay = null)
            : base(parameters, new Options { LearningRate = lr, beta1 = beta1, beta2 = beta2, weight_decay = weight_decay })
        {
        }

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

    /// <summary>Per-parameter state: the momentum m.</summary>
    public sealed class State : OptimizerState, IDisposable
    {
        internal State(Parameter parameter) : base(parameter) { }

        /// <summary>Momentum m.</summary>
        public Tensor m { get; private set; } = null!;

        /// <inheritdoc/>
        public override void Initialize(OptimizerOptions options)
        {
            m?.Dispose();
            m = zeros_like(_parameter).DetachFromDisposeScope();
        }

        /// <inheritdoc/>
        public override void SaveStateDict(BinaryWriter writer)
        {
            writer.Write(StateVersion);
            m.Save(writer);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(BinaryReader reader)
        {
            StateFormat.CheckVersion(reader.ReadInt32(), StateVersion, nameof(Lion));
            m.Load(reader);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(OptimizerState source)
        {
            var s = source as State ?? throw new InvalidDataException($"expected Lion state, found {source?.GetType().Name ?? "null"}");
            PilotOptimizer.State.CopyInto(m, s.m, nameof(m));
        }

        /// <inheritdoc/>
        public override void to(Device device) => m = PilotOptimizer.State.Move(m, device);

        /// <inheritdoc/>
        public override bool ApproximatelyEquals(OptimizerState other) => other is State s && m.allclose(s.m);

        /// <inheritdoc/>
        public void Dispose() => m?.Dispose();
    }
}

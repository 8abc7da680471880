using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;
using TorchParamGroup = TorchSharp.Modules.ParamGroup;

namespace Pilot.TorchSharp;

/// <summary>Default hyper-parameters of <see cref="AdaBelief"/>: those of the official implementation of Zhuang et al. 2020
/// ("AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients", NeurIPS 2020; package
/// <c>adabelief-pytorch</c> 0.2).</summary>
public static class AdaBeliefDefaults
{
    /// <summary>Learning rate. 1e-3 (paper and official code). Valid: ≥ 0.</summary>
    public const double LearningRate = 1e-3;

    /// <summary>β1. 0.9 (paper and official code). Valid: [0, 1).</summary>
    public const double Beta1 = 0.9;

    /// <summary>β2. 0.999 (paper and official code). Valid: [0, 1).</summary>
    public const double Beta2 = 0.999;

    /// <summary>ε, added inside the second moment and to the denominator. 1e-16 (official code ≥ 0.1; the paper notes that
    /// AdaBelief's ε corresponds to Adam's ε²). Valid: ≥ 0.</summary>
    public const double Epsilon = 1e-16;

    /// <summary>Weight decay λ. 0 (official code). Valid: ≥ 0.</summary>
    public const double WeightDecay = 0.0;

    /// <summary>Whether the weight decay is decoupled (AdamW-style). True (official code's <c>weight_decouple=True</c>).</summary>
    public const bool DecoupledWeightDecay = true;
}

/// <summary>
/// AdaBelief (Zhuang et al. 2020): Adam whose second moment tracks the squared deviation of the gradient from its
/// momentum ("belief"), with ε inside that moment. Bias-corrected; two state tensors per parameter.
/// </summary>
/// <remarks>
/// <code>
/// t ← t + 1
/// m ← β1·m + (1 − β1)·g
/// s ← β2·s + (1 − β2)·(g − m)² + ε
/// θ ← θ·(1 − η·λ) − η·(m/(1 − β1^t)) / (sqrt(s/(1 − β2^t)) + ε)      (decoupled decay; coupled: g ← g + λ·θ first)
/// </code>
/// The official code's optional rectification (RAdam-style) and AMSGrad variants are not implemented. Parameters whose
/// <c>grad</c> is <see langword="null"/> are skipped. Defaults: <see cref="AdaBeliefDefaults"/>.
/// </remarks>
public sealed class AdaBelief : OptimizerHelper, IBetas
{
    internal static readonly uint StateMagic = StateFormat.Magic("ADAB");
    internal const int StateVersion = 1;

    /// <summary>Creates an AdaBelief optimizer over one parameter group.</summary>
    /// <param name="parameters">The parameters to optimise.</param>
    /// <param name="lr">Learning rate η. Default <see cref="AdaBeliefDefaults.LearningRate"/> (1e-3). Valid: ≥ 0.</param>
    /// <param name="beta1">β1. Default <see cref="AdaBeliefDefaults.Beta1"/> (0.9). Valid: [0, 1).</param>
    /// <param name="beta2">β2. Default <see cref="AdaBeliefDefaults.Beta2"/> (0.999). Valid: [0, 1).</param>
    /// <param name="eps">ε. Default <see cref="AdaBeliefDefaults.Epsilon"/> (1e-16). Valid: ≥ 0.</param>
    /// <param name="weight_decay">Weight decay λ. Default <see cref="AdaBeliefDefaults.WeightDecay"/> (0). Valid: ≥ 0.</param>
    /// <param name="decoupled_weight_decay">Decoupled (true) or L2-coupled (false) decay. Default <see cref="AdaBeliefDefaults.DecoupledWeightDecay"/> (true).</param>
    public AdaBelief(IEnumerable<Parameter> parameters, double lr = AdaBeliefDefaults.LearningRate, double beta1 = AdaBeliefDefaults.Beta1,
        double beta2 = AdaBeliefDefaults.Beta2, double eps = AdaBeliefDefaults.Epsilon, double weight_decay = AdaBeliefDefaults.WeightDecay,
        bool decoupled_weight_decay = AdaBeliefDefaults.DecoupledWeightDecay)
        : this([new ParamGroup(parameters ?? throw new ArgumentNullException(nameof(parameters)))], lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay)
    {
    }

    /// <summary>Creates an AdaBelief optimizer over several parameter groups; unset group options take the values given here.</summary>
    /// <param name="parameters">The parameter groups.</param>
    /// <param name="lr">Learning rate η. Default <see cref="AdaBeliefDefaults.LearningRate"/> (1e-3). Valid: ≥ 0.</param>
    /// <param name="beta1">β1. Default <see cref="AdaBeliefDefaults.Beta1"/> (0.9). Valid: [0, 1).</param>
    /// <param name="beta2">β2. Default <see cref="AdaBeliefDefaults.Beta2"/> (0.999). Valid: [0, 1).</param>
    /// <param name="eps">ε. Default <see cref="AdaBeliefDefaults.Epsilon"/> (1e-16). Valid: ≥ 0.</param>
    /// <param name="weight_decay">Weight decay λ. Default <see cref="AdaBeliefDefaults.WeightDecay"/> (0). Valid: ≥ 0.</param>
    /// <param name="decoupled_weight_decay">Decoupled (true) or L2-coupled (false) decay. Default <see cref="AdaBeliefDefaults.DecoupledWeightDecay"/> (true).</param>
    public AdaBelief(IEnumerable<ParamGroup> parameters, double lr = AdaBeliefDefaults.LearningRate, double beta1 = AdaBeliefDefaults.Beta1,
        double beta2 = AdaBeliefDefaults.Beta2, double eps = AdaBeliefDefaults.Epsilon, double weight_decay = AdaBeliefDefaults.WeightDecay,
        bool decoupled_weight_decay = AdaBeliefDefaults.DecoupledWeightDecay)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var defaults = new Options
        {
            LearningRate = lr,
            InitialLearningRate = lr,
            beta1 = beta1,
            beta2 = beta2,
            eps = eps,
            weight_decay = weight_decay,
            decoupled_weight_decay = decoupled_weight_decay,
        };
        defaults.Validate();
        _defaults = defaults;
        _parameter_groups = new List<TorchParamGroup>();
        foreach (var g in parameters) add_param_group(g);
        if (_parameter_groups.Count == 0)
            throw new ArgumentException("AdaBelief got an empty list of parameter groups.", nameof(parameters));
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
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, eps = o.eps!.Value;
        double lambda = o.weight_decay!.Value;
        bool decoupled = o.decoupled_weight_decay!.Value;
        foreach (var p in group.Parameters)
        {
            var g = p.grad;
            if (g is null) continue;
            using var scope = NewDisposeScope();
            var state = (State)_state[p.Handle];
            state.step += 1;
            double bias1 = 1 - Math.Pow(beta1, state.step);
            double bias2 = 1 - Math.Pow(beta2, state.step);
            if (lambda != 0)
            {
                if (decoupled) p.mul_(1 - lr * lambda);
                else g = g + lambda * p;
            }
            state.m.mul_(beta1).add_(g, alpha: 1 - beta1);
            var residual = g - state.m;
            state.s.mul_(beta2).addcmul_(residual, residual, value: 1 - beta2).add_(eps);
            var denominator = (state.s / bias2).sqrt().add_(eps);
            p.addcdiv_(state.m, denominator, value: -lr / bias1);
        }
    }, closure);

    /// <inheritdoc/>
    public override void add_param_group(TorchParamGroup param_group)
    {
        ArgumentNullException.ThrowIfNull(param_group);
        if (param_group.Options is not null and not Options)
            throw new ArgumentException($"param_group.Options must be AdaBelief.Options or null; got {param_group.Options.GetType().FullName}", nameof(param_group));
        var parameters = OptimizerGroups.CheckParameters(param_group, _parameter_groups, nameof(AdaBelief));
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

    /// <summary>Loads state written by <c>save_state_dict</c> of an AdaBelief optimizer over the same parameters.</summary>
    /// <exception cref="InvalidDataException">The stream holds another optimizer's state, a newer format, or does not fit.</exception>
    public new void load_state_dict(BinaryReader reader) => StateFormat.Load(this, reader, nameof(AdaBelief), AfterLoad);

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
        OptimizerGroups.CheckStateTypes<Options, State>(this, state_dict, nameof(AdaBelief));
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

    /// <summary>Hyper-parameters of an AdaBelief parameter group; null values take the optimizer's.</summary>
    public sealed class Options : OptimizerOptions
    {
        /// <summary>β1. Valid: [0, 1).</summary>
        public double? beta1 { get; set; }

        /// <summary>β2. Valid: [0, 1).</summary>
        public double? beta2 { get; set; }

        /// <summary>ε. Valid: ≥ 0.</summary>
        public double? eps { get; set; }

        /// <summary>Weight decay λ. Valid: ≥ 0.</summary>
        public double? weight_decay { get; set; }

        /// <summary>Decoupled (true) or L2-coupled (false) weight decay.</summary>
        public bool? decoupled_weight_decay { get; set; }

        internal void Validate()
        {
            Check.NonNegative(LearningRate ?? double.NaN, "lr");
            Check.UnitInterval(beta1 ?? double.NaN, nameof(beta1));
            Check.UnitInterval(beta2 ?? double.NaN, nameof(beta2));
            Check.NonNegative(eps ?? double.NaN, nameof(eps));
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
                eps = eps ?? d.eps,
                weight_decay = weight_decay ?? d.weight_decay,
                decoupled_weight_decay = decoupled_weight_decay ?? d.decoupled_weight_decay,
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
            writer.Write(decoupled_weight_decay!.Value);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(BinaryReader reader)
        {
            base.LoadStateDict(reader);
            StateFormat.ReadHeader(reader, StateMagic, StateVersion, nameof(AdaBelief));
            beta1 = reader.ReadDouble();
            beta2 = reader.ReadDouble();
            eps = reader.ReadDouble();
            weight_decay = reader.ReadDouble();
            decoupled_weight_decay = reader.ReadBoolean();
        }

        /// <inheritdoc/>
        public override void LoadStateDict(OptimizerOptions source)
        {
            var o = source as Options ?? throw new InvalidDataException($"expected AdaBelief options, found {source?.GetType().Name ?? "null"}");
            base.LoadStateDict(source);
            beta1 = o.beta1;
            beta2 = o.beta2;
            eps = o.eps;
            weight_decay = o.weight_decay;
            decoupled_weight_decay = o.decoupled_weight_decay;
        }
    }

    /// <summary>An AdaBelief parameter group.</summary>
    public sealed class ParamGroup : ParamGroup<Options>, IBetas
    {
        /// <summary>Creates an empty group.</summary>
        public ParamGroup() { }

        /// <summary>Creates a group with explicit options (null values inherit the optimizer's).</summary>
        public ParamGroup(IEnumerable<Parameter> parameters, Options options) : base(parameters, options) { }

        /// <summary>Creates a group; arguments left null inherit the optimizer's values.</summary>
        public ParamGroup(IEnumerable<Parameter> parameters, double? lr = null, double? beta1 = null, double? beta2 = null,
            double? eps = null, double? weight_decay = null, bool? decoupled_weight_decay = null)
            : base(parameters, new Options
            {
                LearningRate = lr,
                beta1 = beta1,
                beta2 = beta2,
                eps = eps,
                weight_decay = weight_decay,
                decoupled_weight_decay = decoupled_weight_decay,
            })
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

    /// <summary>Per-parameter state: step count, first moment m and belief moment s.</summary>
    public sealed class State : OptimizerState, IDisposable
    {
        internal State(Parameter parameter) : base(parameter) { }

        /// <summary>Steps taken for this parameter.</summary>
        public long step { get; internal set; }

        /// <summary>First moment m.</summary>
        public Tensor m { get; private set; } = null!;

        /// <summary>Second moment of g − m, with ε inside (the "belief" s).</summary>
        public Tensor s { get; private set; } = null!;

        /// <inheritdoc/>
        public override void Initialize(OptimizerOptions options)
        {
            m?.Dispose();
            s?.Dispose();
            step = 0;
            m = zeros_like(_parameter).DetachFromDisposeScope();
            s = zeros_like(_parameter).DetachFromDisposeScope();
        }

        /// <inheritdoc/>
        public override void SaveStateDict(BinaryWriter writer)
        {
            writer.Write(StateVersion);
            writer.Write(step);
            m.Save(writer);
            s.Save(writer);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(BinaryReader reader)
        {
            StateFormat.CheckVersion(reader.ReadInt32(), StateVersion, nameof(AdaBelief));
            step = reader.ReadInt64();
            m.Load(reader);
            s.Load(reader);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(OptimizerState source)
        {
            var o = source as State ?? throw new InvalidDataException($"expected AdaBelief state, found {source?.GetType().Name ?? "null"}");
            step = o.step;
            PilotOptimizer.State.CopyInto(m, o.m, nameof(m));
            PilotOptimizer.State.CopyInto(s, o.s, nameof(s));
        }

        /// <inheritdoc/>
        public override void to(Device device)
        {
            m = PilotOptimizer.State.Move(m, device);
            s = PilotOptimizer.State.Move(s, device);
        }

        /// <inheritdoc/>
        public override bool ApproximatelyEquals(OptimizerState other) => other is State o && step == o.step && m.allclose(o.m) && s.allclose(o.s);

        /// <inheritdoc/>
        public void Dispose()
        {
            m?.Dispose();
            s?.Dispose();
        }
    }
}

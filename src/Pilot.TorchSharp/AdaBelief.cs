using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;

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
public sealed class AdaBelief : PilotOptimizerBase<AdaBelief.Options, AdaBelief.ParamGroup, AdaBelief.State>
{
    private static readonly StateLayout Format = new(nameof(AdaBelief), StateFormat.Magic("ADAB"), Version: 1);

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
        AddGroups(parameters, new Options
        {
            LearningRate = lr,
            InitialLearningRate = lr,
            beta1 = beta1,
            beta2 = beta2,
            eps = eps,
            weight_decay = weight_decay,
            decoupled_weight_decay = decoupled_weight_decay,
        });
    }

    /// <summary>Performs one optimisation step.</summary>
    /// <param name="closure">Optional closure that re-evaluates the model and returns the loss.</param>
    public override Tensor step(Func<Tensor>? closure = null) => StepEachParameter(closure, (o, p, g, state) =>
    {
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, eps = o.eps!.Value;
        double lambda = o.weight_decay!.Value;
        state.step += 1;
        double bias1 = 1 - Math.Pow(beta1, state.step);
        double bias2 = 1 - Math.Pow(beta2, state.step);
        if (lambda != 0)
        {
            if (o.decoupled_weight_decay!.Value) p.mul_(1 - lr * lambda);
            else g = g + lambda * p;
        }
        state.m.mul_(beta1).add_(g, alpha: 1 - beta1);
        var residual = g - state.m;
        state.s.mul_(beta2).addcmul_(residual, residual, value: 1 - beta2).add_(eps);
        var denominator = (state.s / bias2).sqrt().add_(eps);
        p.addcdiv_(state.m, denominator, value: -lr / bias1);
    });

    private protected override StateLayout Layout => Format;
    private protected override ParamGroup NewGroup(Parameter[] parameters, Options options) => new(parameters, options);
    private protected override State NewState(Parameter parameter) => new(parameter);

    /// <summary>Hyper-parameters of an AdaBelief parameter group; null values take the optimizer's.</summary>
    public sealed class Options : HyperParameterOptions<Options>, IBetaOptions
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

        private static readonly HyperParameterList<Options> Parameters = new(Format, () => new()) {
            { nameof(beta1), AdaBeliefDefaults.Beta1, Check.UnitInterval, o => o.beta1, (o, v) => o.beta1 = v },
            { nameof(beta2), AdaBeliefDefaults.Beta2, Check.UnitInterval, o => o.beta2, (o, v) => o.beta2 = v },
            { nameof(eps), AdaBeliefDefaults.Epsilon, Check.NonNegative, o => o.eps, (o, v) => o.eps = v },
            { nameof(weight_decay), AdaBeliefDefaults.WeightDecay, Check.NonNegative, o => o.weight_decay, (o, v) => o.weight_decay = v },
            { nameof(decoupled_weight_decay), AdaBeliefDefaults.DecoupledWeightDecay, o => o.decoupled_weight_decay, (o, v) => o.decoupled_weight_decay = v },
        };

        private protected override HyperParameterList<Options> Declared => Parameters;
    }

    /// <summary>An AdaBelief parameter group.</summary>
    public sealed class ParamGroup : PilotParamGroup<Options>
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
    }

    /// <summary>Per-parameter state: step count, first moment m and belief moment s.</summary>
    public sealed class State : ParameterState
    {
        internal State(Parameter parameter) : base(parameter, Format, countsSteps: true, nameof(m), nameof(s)) { }

        /// <summary>Steps taken for this parameter.</summary>
        public long step { get => Steps; internal set => Steps = value; }

        /// <summary>First moment m.</summary>
        public Tensor m => Get(0);

        /// <summary>Second moment of g − m, with ε inside (the "belief" s).</summary>
        public Tensor s => Get(1);
    }
}

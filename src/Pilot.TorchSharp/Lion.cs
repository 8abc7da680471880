using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;

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
public sealed class Lion : PilotOptimizerBase<Lion.Options, Lion.ParamGroup, Lion.State>
{
    private static readonly StateLayout Format = new(nameof(Lion), StateFormat.Magic("LION"), Version: 1);

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
        AddGroups(parameters, new Options { LearningRate = lr, InitialLearningRate = lr, beta1 = beta1, beta2 = beta2, weight_decay = weight_decay });
    }

    /// <summary>Performs one optimisation step.</summary>
    /// <param name="closure">Optional closure that re-evaluates the model and returns the loss.</param>
    public override Tensor step(Func<Tensor>? closure = null) => StepEachParameter(closure, (o, p, g, state) =>
    {
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, lambda = o.weight_decay!.Value;
        var update = (beta1 * state.m + (1 - beta1) * g).sign();
        if (lambda != 0) p.mul_(1 - lr * lambda);
        p.sub_(lr * update);
        state.m.mul_(beta2).add_(g, alpha: 1 - beta2);
    });

    private protected override StateLayout Layout => Format;
    private protected override ParamGroup NewGroup(Parameter[] parameters, Options options) => new(parameters, options);
    private protected override State NewState(Parameter parameter) => new(parameter);

    /// <summary>Hyper-parameters of a Lion parameter group; null values take the optimizer's.</summary>
    public sealed class Options : HyperParameterOptions<Options>, IBetaOptions
    {
        /// <summary>Interpolation weight β1. Valid: [0, 1).</summary>
        public double? beta1 { get; set; }

        /// <summary>Momentum decay β2. Valid: [0, 1).</summary>
        public double? beta2 { get; set; }

        /// <summary>Decoupled weight decay λ. Valid: ≥ 0.</summary>
        public double? weight_decay { get; set; }

        private static readonly HyperParameterList<Options> Parameters = new(Format, () => new()) {
            { nameof(beta1), LionDefaults.Beta1, Check.UnitInterval, o => o.beta1, (o, v) => o.beta1 = v },
            { nameof(beta2), LionDefaults.Beta2, Check.UnitInterval, o => o.beta2, (o, v) => o.beta2 = v },
            { nameof(weight_decay), LionDefaults.WeightDecay, Check.NonNegative, o => o.weight_decay, (o, v) => o.weight_decay = v },
        };

        private protected override HyperParameterList<Options> Declared => Parameters;
    }

    /// <summary>A Lion parameter group.</summary>
    public sealed class ParamGroup : PilotParamGroup<Options>
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
    }

    /// <summary>Per-parameter state: the momentum m.</summary>
    public sealed class State : ParameterState
    {
        internal State(Parameter parameter) : base(parameter, Format, countsSteps: false, nameof(m)) { }

        /// <summary>Momentum m.</summary>
        public Tensor m => Get(0);
    }
}

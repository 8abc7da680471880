using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp;

/// <summary>
/// Default hyper-parameters of <see cref="SophiaG"/>: those of the authors' implementation of Liu et al. 2023 ("Sophia: A
/// Scalable Stochastic Second-order Optimizer for Language Model Pre-training", arXiv 2305.14342), GitHub
/// <c>Liuhong99/Sophia</c>: <c>sophia.py</c> (the optimizer) and <c>train_sophiag.py</c> (its training loop).
/// </summary>
public static class SophiaDefaults
{
    /// <summary>Learning rate. 1e-4 (<c>sophia.py</c>, <c>SophiaG.__init__(lr=1e-4)</c>). Valid: ≥ 0. The authors' README:
    /// "about the same as the learning rate that you would use for AdamW", 3–10× Lion's.</summary>
    public const double LearningRate = 1e-4;

    /// <summary>β1, the momentum decay. 0.965 (<c>sophia.py</c>, <c>betas=(0.965, 0.99)</c>). Valid: [0, 1).</summary>
    public const double Beta1 = 0.965;

    /// <summary>β2, the decay of the Hessian estimate's moving average. 0.99 (<c>sophia.py</c>, <c>betas=(0.965, 0.99)</c>).
    /// Valid: [0, 1).</summary>
    public const double Beta2 = 0.99;

    /// <summary>ρ, the clipping scale of the pre-conditioned step. 0.04 (<c>sophia.py</c>, <c>rho = 0.04</c>). Valid: ≥ 0 (as there;
    /// 0 makes every step η·sign(m)).</summary>
    public const double Rho = 0.04;

    /// <summary>Decoupled weight decay λ. 0.1 (<c>sophia.py</c>, <c>weight_decay=1e-1</c>). Valid: ≥ 0. The README advises
    /// about twice AdamW's.</summary>
    public const double WeightDecay = 0.1;

    /// <summary>Examples behind one Hessian estimate, B (the Gauss–Newton–Bartlett estimate is B·ĝ⊙ĝ for the gradient ĝ of a
    /// mean loss over B examples). 5120 (<c>sophia.py</c>, <c>step(self, closure=None, bs=5120)</c>; <c>train_sophiag.py</c>
    /// passes its tokens per step). Valid: ≥ 1. A training loop sets it to its batch size.</summary>
    public const int BatchSize = 5120;

    /// <summary>Steps between Hessian refreshes, k. 10 (<c>train_sophiag.py</c>, <c>interval = 10</c>; the README's loop uses
    /// <c>k = 10</c>). A property of the training loop, not of the optimizer's state.</summary>
    public const int HessianInterval = 10;

    /// <summary>ε in the denominator ρ·B·h + ε. 1e-15 (<c>sophia.py</c>, literal in <c>_single_tensor_sophiag</c>).</summary>
    public const double Epsilon = 1e-15;
}

/// <summary>
/// SophiaG (Liu et al. 2023): momentum pre-conditioned by a moving average of a diagonal Gauss–Newton–Bartlett Hessian
/// estimate, clipped per coordinate, with decoupled weight decay. Two state tensors (m, h) per parameter.
/// </summary>
/// <remarks>
/// <code>
/// step():            θ ← θ·(1 − η·λ)
///                    m ← β1·m + (1 − β1)·g
///                    θ ← θ − η·sign(m)·min(|m| / (ρ·B·h + ε), 1)
/// update_hessian():  h ← β2·h + (1 − β2)·ĝ⊙ĝ      (every k steps; ĝ = gradient of the mean loss on labels sampled
///                                                  from the model's own softmax, so B·ĝ⊙ĝ estimates the Gauss–Newton diagonal)
/// </code>
/// <para>As in the authors' code, h starts at 0, so until the first refresh every step is η·sign(m) (the ratio clips at 1).
/// The Hessian estimate needs an extra forward/backward pass that only the training loop can run: call
/// <see cref="update_hessian"/> after that pass has left ĝ in the parameters' <c>grad</c> (the loop in the authors'
/// README does it every k = <see cref="SophiaDefaults.HessianInterval"/> steps). The authors' <c>maximize</c> and
/// <c>capturable</c> flags are not implemented. Parameters whose <c>grad</c> is <see langword="null"/> are skipped.
/// Defaults: <see cref="SophiaDefaults"/>.</para>
/// </remarks>
public sealed class SophiaG : PilotOptimizerBase<SophiaG.Options, SophiaG.ParamGroup, SophiaG.State>
{
    private static readonly StateLayout Format = new(nameof(SophiaG), StateFormat.Magic("SOPH"), Version: 1);

    /// <summary>Creates a SophiaG optimizer over one parameter group.</summary>
    /// <param name="parameters">The parameters to optimise.</param>
    /// <param name="lr">Learning rate η. Default <see cref="SophiaDefaults.LearningRate"/> (1e-4). Valid: ≥ 0.</param>
    /// <param name="beta1">Momentum decay β1. Default <see cref="SophiaDefaults.Beta1"/> (0.965). Valid: [0, 1).</param>
    /// <param name="beta2">Hessian-average decay β2. Default <see cref="SophiaDefaults.Beta2"/> (0.99). Valid: [0, 1).</param>
    /// <param name="rho">Clipping scale ρ. Default <see cref="SophiaDefaults.Rho"/> (0.04). Valid: ≥ 0.</param>
    /// <param name="weight_decay">Decoupled weight decay λ. Default <see cref="SophiaDefaults.WeightDecay"/> (0.1). Valid: ≥ 0.</param>
    /// <param name="bs">Examples behind one Hessian estimate, B. Default <see cref="SophiaDefaults.BatchSize"/> (5120). Valid: ≥ 1.</param>
    public SophiaG(IEnumerable<Parameter> parameters, double lr = SophiaDefaults.LearningRate, double beta1 = SophiaDefaults.Beta1,
        double beta2 = SophiaDefaults.Beta2, double rho = SophiaDefaults.Rho, double weight_decay = SophiaDefaults.WeightDecay,
        int bs = SophiaDefaults.BatchSize)
        : this([new ParamGroup(parameters ?? throw new ArgumentNullException(nameof(parameters)))], lr, beta1, beta2, rho, weight_decay, bs)
    {
    }

    /// <summary>Creates a SophiaG optimizer over several parameter groups; unset group options take the values given here.</summary>
    /// <param name="parameters">The parameter groups.</param>
    /// <param name="lr">Learning rate η. Default <see cref="SophiaDefaults.LearningRate"/> (1e-4). Valid: ≥ 0.</param>
    /// <param name="beta1">Momentum decay β1. Default <see cref="SophiaDefaults.Beta1"/> (0.965). Valid: [0, 1).</param>
    /// <param name="beta2">Hessian-average decay β2. Default <see cref="SophiaDefaults.Beta2"/> (0.99). Valid: [0, 1).</param>
    /// <param name="rho">Clipping scale ρ. Default <see cref="SophiaDefaults.Rho"/> (0.04). Valid: ≥ 0.</param>
    /// <param name="weight_decay">Decoupled weight decay λ. Default <see cref="SophiaDefaults.WeightDecay"/> (0.1). Valid: ≥ 0.</param>
    /// <param name="bs">Examples behind one Hessian estimate, B. Default <see cref="SophiaDefaults.BatchSize"/> (5120). Valid: ≥ 1.</param>
    public SophiaG(IEnumerable<ParamGroup> parameters, double lr = SophiaDefaults.LearningRate, double beta1 = SophiaDefaults.Beta1,
        double beta2 = SophiaDefaults.Beta2, double rho = SophiaDefaults.Rho, double weight_decay = SophiaDefaults.WeightDecay,
        int bs = SophiaDefaults.BatchSize)
    {
        AddGroups(parameters, new Options
        {
            LearningRate = lr,
            InitialLearningRate = lr,
            beta1 = beta1,
            beta2 = beta2,
            rho = rho,
            weight_decay = weight_decay,
            bs = bs,
        });
    }

    /// <summary>Performs one optimisation step (the clipped, pre-conditioned momentum step).</summary>
    /// <param name="closure">Optional closure that re-evaluates the model and returns the loss.</param>
    public override Tensor step(Func<Tensor>? closure = null) => StepEachParameter(closure, (o, p, g, state) =>
    {
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, rho = o.rho!.Value, lambda = o.weight_decay!.Value;
        state.step += 1;
        p.mul_(1 - lr * lambda);
        state.m.mul_(beta1).add_(g, alpha: 1 - beta1);
        var ratio = (state.m.abs() / (rho * o.bs!.Value * state.hessian + SophiaDefaults.Epsilon)).clamp_max(1);
        p.addcmul_(state.m.sign(), ratio, value: -lr);
    });

    /// <summary>
    /// Folds the current gradients ĝ into the Hessian estimate: h ← β2·h + (1 − β2)·ĝ⊙ĝ for every parameter with a
    /// gradient. Call it after a backward pass of the mean loss on labels sampled from the model's own output distribution
    /// (not the data's labels), then clear the gradients before the next step.
    /// </summary>
    public void update_hessian() => StepEachParameter(null, (o, p, g, state) =>
        state.hessian.mul_(o.beta2!.Value).addcmul_(g, g, value: 1 - o.beta2!.Value));

    private protected override StateLayout Layout => Format;
    private protected override ParamGroup NewGroup(Parameter[] parameters, Options options) => new(parameters, options);
    private protected override State NewState(Parameter parameter) => new(parameter);

    /// <summary>Hyper-parameters of a SophiaG parameter group; null values take the optimizer's.</summary>
    public sealed class Options : HyperParameterOptions<Options>, IBetaOptions
    {
        /// <summary>Momentum decay β1. Valid: [0, 1).</summary>
        public double? beta1 { get; set; }

        /// <summary>Hessian-average decay β2. Valid: [0, 1).</summary>
        public double? beta2 { get; set; }

        /// <summary>Clipping scale ρ. Valid: ≥ 0.</summary>
        public double? rho { get; set; }

        /// <summary>Decoupled weight decay λ. Valid: ≥ 0.</summary>
        public double? weight_decay { get; set; }

        /// <summary>Examples behind one Hessian estimate, B. Valid: ≥ 1.</summary>
        public int? bs { get; set; }

        private static readonly HyperParameterList<Options> Parameters = new(Format, () => new()) {
            { nameof(beta1), SophiaDefaults.Beta1, Check.UnitInterval, o => o.beta1, (o, v) => o.beta1 = v },
            { nameof(beta2), SophiaDefaults.Beta2, Check.UnitInterval, o => o.beta2, (o, v) => o.beta2 = v },
            { nameof(rho), SophiaDefaults.Rho, Check.NonNegative, o => o.rho, (o, v) => o.rho = v },
            { nameof(weight_decay), SophiaDefaults.WeightDecay, Check.NonNegative, o => o.weight_decay, (o, v) => o.weight_decay = v },
            { nameof(bs), SophiaDefaults.BatchSize, 1, o => o.bs, (o, v) => o.bs = v },
        };

        private protected override HyperParameterList<Options> Declared => Parameters;
    }

    /// <summary>A SophiaG parameter group.</summary>
    public sealed class ParamGroup : PilotParamGroup<Options>
    {
        /// <summary>Creates an empty group.</summary>
        public ParamGroup() { }

        /// <summary>Creates a group with explicit options (null values inherit the optimizer's).</summary>
        public ParamGroup(IEnumerable<Parameter> parameters, Options options) : base(parameters, options) { }

        /// <summary>Creates a group; arguments left null inherit the optimizer's values.</summary>
        public ParamGroup(IEnumerable<Parameter> parameters, double? lr = null, double? beta1 = null, double? beta2 = null,
            double? rho = null, double? weight_decay = null, int? bs = null)
            : base(parameters, new Options { LearningRate = lr, beta1 = beta1, beta2 = beta2, rho = rho, weight_decay = weight_decay, bs = bs })
        {
        }
    }

    /// <summary>Per-parameter state: step count, momentum m (the authors' <c>exp_avg</c>) and Hessian estimate h.</summary>
    public sealed class State : ParameterState
    {
        internal State(Parameter parameter) : base(parameter, Format, countsSteps: true, nameof(m), nameof(hessian)) { }

        /// <summary>Steps taken for this parameter.</summary>
        public long step { get => Steps; internal set => Steps = value; }

        /// <summary>Momentum m.</summary>
        public Tensor m => Get(0);

        /// <summary>Moving average h of ĝ⊙ĝ (the Hessian estimate divided by B).</summary>
        public Tensor hessian => Get(1);
    }
}

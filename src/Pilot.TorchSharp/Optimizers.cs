using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp;

/// <summary>
/// <c>torch.optim</c>-style factories for the optimizers of this library (Adam and AdamW come from TorchSharp's
/// <c>torch.optim.Adam</c> / <c>torch.optim.AdamW</c>). Defaults come from <see cref="PilotDefaults"/>,
/// <see cref="LionDefaults"/>, <see cref="AdaBeliefDefaults"/> and <see cref="SophiaDefaults"/>.
/// </summary>
public static class Optimizers
{
    /// <summary>Creates a <see cref="PilotOptimizer"/>; see its constructor for each argument's default and range.</summary>
    public static PilotOptimizer PILOT(IEnumerable<Parameter> parameters, double lr = PilotDefaults.LearningRate, double beta1 = PilotDefaults.Beta1,
        double beta2 = PilotDefaults.Beta2, double eps = PilotDefaults.Epsilon, double weight_decay = PilotDefaults.WeightDecay,
        double gamma = PilotDefaults.Gamma, double eta_phi = PilotDefaults.EtaPhi, int degree = PilotDefaults.Degree,
        PolicyOverrides? overrides = null, bool diagnostics = false, PilotPolicy? initialPolicy = null,
        PilotImplementation implementation = PilotImplementation.Auto)
        => new(parameters, lr, beta1, beta2, eps, weight_decay, gamma, eta_phi, degree, overrides, diagnostics, initialPolicy, implementation);

    /// <summary>Creates a <see cref="PilotOptimizer"/> over parameter groups; see its constructor.</summary>
    public static PilotOptimizer PILOT(IEnumerable<PilotOptimizer.ParamGroup> parameters, double lr = PilotDefaults.LearningRate,
        double beta1 = PilotDefaults.Beta1, double beta2 = PilotDefaults.Beta2, double eps = PilotDefaults.Epsilon,
        double weight_decay = PilotDefaults.WeightDecay, double gamma = PilotDefaults.Gamma, double eta_phi = PilotDefaults.EtaPhi,
        int degree = PilotDefaults.Degree, PolicyOverrides? overrides = null, bool diagnostics = false, PilotPolicy? initialPolicy = null,
        PilotImplementation implementation = PilotImplementation.Auto)
        => new(parameters, lr, beta1, beta2, eps, weight_decay, gamma, eta_phi, degree, overrides, diagnostics, initialPolicy, implementation);

    /// <summary>Creates a <see cref="Lion"/> optimizer; see its constructor for each argument's default and range.</summary>
    public static Lion Lion(IEnumerable<Parameter> parameters, double lr = LionDefaults.LearningRate, double beta1 = LionDefaults.Beta1,
        double beta2 = LionDefaults.Beta2, double weight_decay = LionDefaults.WeightDecay)
        => new(parameters, lr, beta1, beta2, weight_decay);

    /// <summary>Creates an <see cref="AdaBelief"/> optimizer; see its constructor for each argument's default and range.</summary>
    public static AdaBelief AdaBelief(IEnumerable<Parameter> parameters, double lr = AdaBeliefDefaults.LearningRate,
        double beta1 = AdaBeliefDefaults.Beta1, double beta2 = AdaBeliefDefaults.Beta2, double eps = AdaBeliefDefaults.Epsilon,
        double weight_decay = AdaBeliefDefaults.WeightDecay, bool decoupled_weight_decay = AdaBeliefDefaults.DecoupledWeightDecay)
        => new(parameters, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay);

    /// <summary>Creates a <see cref="SophiaG"/> optimizer; see its constructor for each argument's default and range. The training
    /// loop must call <see cref="SophiaG.update_hessian"/> every <see cref="SophiaDefaults.HessianInterval"/> steps.</summary>
    public static SophiaG Sophia(IEnumerable<Parameter> parameters, double lr = SophiaDefaults.LearningRate, double beta1 = SophiaDefaults.Beta1,
        double beta2 = SophiaDefaults.Beta2, double rho = SophiaDefaults.Rho, double weight_decay = SophiaDefaults.WeightDecay,
        int bs = SophiaDefaults.BatchSize)
        => new(parameters, lr, beta1, beta2, rho, weight_decay, bs);
}

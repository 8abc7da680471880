using Pilot.TorchSharp;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.MLNet.Training;

/// <summary>Creates the optimizer of <see cref="PilotOptimizerKind"/> over one parameter group holding every parameter.</summary>
internal static class OptimizerFactory
{
    /// <summary>
    /// The optimizer for <paramref name="plan"/>. β1/β2 left unset take each optimizer's own default; ε is each optimizer's
    /// default. PILOT records per-step diagnostics on the CPU only (reading them every step would stall a GPU).
    /// </summary>
    public static TrainingOptimizer Create(TrainingPlan plan, IEnumerable<Parameter> parameters) =>
        Create(plan, [(parameters.ToList(), 1.0)]);

    /// <summary>
    /// The optimizer for <paramref name="plan"/> over several parameter groups, group i at learning rate
    /// <c>LearningRate × groups[i].Scale</c> (PILOT keeps a policy per group; the first group's is the one reported and
    /// exported).
    /// </summary>
    public static TrainingOptimizer Create(TrainingPlan plan, IReadOnlyList<(IReadOnlyList<Parameter> Parameters, double Scale)> groups)
    {
        var o = plan.Options;
        double lr = o.LearningRate, wd = o.WeightDecay;
        OptimizerHelper optimizer = o.Optimizer switch
        {
            PilotOptimizerKind.Pilot => new PilotOptimizer(groups.Select(g => new PilotOptimizer.ParamGroup(g.Parameters)), lr,
                beta1: o.Beta1 ?? PilotDefaults.Beta1, beta2: o.Beta2 ?? PilotDefaults.Beta2, weight_decay: wd,
                gamma: o.Gamma, eta_phi: o.FreezePolicy ? 0 : o.EtaPhi, degree: o.InitialPolicy?.Degree ?? o.PolicyDegree,
                diagnostics: plan.Device.type == DeviceType.CPU, initialPolicy: o.InitialPolicy),
            // TorchSharp's ParamGroup(parameters) constructor sets every option to its own default (weight decay 0), which
            // would override the optimizer's; so the groups carry the trainer's values themselves.
            PilotOptimizerKind.Adam => optim.Adam(groups.Select(g => new Adam.ParamGroup(g.Parameters,
                new Adam.Options { LearningRate = lr, beta1 = o.Beta1 ?? 0.9, beta2 = o.Beta2 ?? 0.999, eps = 1e-8, weight_decay = wd, amsgrad = false, maximize = false })),
                lr, beta1: o.Beta1 ?? 0.9, beta2: o.Beta2 ?? 0.999, weight_decay: wd),
            PilotOptimizerKind.AdamW => optim.AdamW(groups.Select(g => new AdamW.ParamGroup(g.Parameters,
                new AdamW.Options { LearningRate = lr, beta1 = o.Beta1 ?? 0.9, beta2 = o.Beta2 ?? 0.999, eps = 1e-8, weight_decay = wd, amsgrad = false, maximize = false })),
                lr, beta1: o.Beta1 ?? 0.9, beta2: o.Beta2 ?? 0.999, weight_decay: wd),
            PilotOptimizerKind.Lion => new Lion(groups.Select(g => new Lion.ParamGroup(g.Parameters)), lr,
                beta1: o.Beta1 ?? LionDefaults.Beta1, beta2: o.Beta2 ?? LionDefaults.Beta2, weight_decay: wd),
            PilotOptimizerKind.AdaBelief => new AdaBelief(groups.Select(g => new AdaBelief.ParamGroup(g.Parameters)), lr,
                beta1: o.Beta1 ?? AdaBeliefDefaults.Beta1, beta2: o.Beta2 ?? AdaBeliefDefaults.Beta2, weight_decay: wd),
            // B = the batch size: the Hessian pass averages its loss over one mini-batch.
            PilotOptimizerKind.Sophia => new SophiaG(groups.Select(g => new SophiaG.ParamGroup(g.Parameters)), lr,
                beta1: o.Beta1 ?? SophiaDefaults.Beta1, beta2: o.Beta2 ?? SophiaDefaults.Beta2, weight_decay: wd, bs: o.BatchSize),
            _ => throw new ArgumentOutOfRangeException(nameof(o.Optimizer), o.Optimizer, $"Unknown optimizer {o.Optimizer}."),
        };
        IStepHook? hook = optimizer is SophiaG sophia ? new SophiaHessianRefresh(sophia, SophiaDefaults.HessianInterval) : null;
        return new TrainingOptimizer(optimizer, groups.Select(g => g.Scale).ToArray(), hook);
    }
}

/// <summary>
/// The optimizer of a training run with what the loop needs from it: learning-rate control, state for checkpoints
/// (through each type's own, versioned reader), the work it needs after each step (SophiaG's Hessian refresh) and, for
/// PILOT, the policy.
/// </summary>
internal sealed class TrainingOptimizer(OptimizerHelper optimizer, IReadOnlyList<double> scales, IStepHook? hook = null) : IDisposable
{
    public OptimizerHelper Optimizer { get; } = optimizer;

    /// <summary>Runs after every optimizer step; <see langword="null"/> when the optimizer needs nothing more.</summary>
    public IStepHook? Hook { get; } = hook;

    /// <summary>The PILOT optimizer, or <see langword="null"/> for a baseline.</summary>
    public PilotOptimizer? Pilot => Optimizer as PilotOptimizer;

    /// <summary>Sets each parameter group's learning rate to <paramref name="learningRate"/> times the group's factor.</summary>
    public void SetLearningRate(double learningRate)
    {
        int i = 0;
        foreach (var group in Optimizer.ParamGroups)
            group.LearningRate = learningRate * scales[i++];
    }

    public byte[] SaveState()
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            Optimizer.save_state_dict(writer);
        return stream.ToArray();
    }

    /// <summary>Restores <see cref="SaveState"/>'s bytes: this library's optimizers with their checked reader (type, version,
    /// option ranges; <see cref="PilotOptimizerBase"/>), TorchSharp's with its own.</summary>
    public void LoadState(byte[] state)
    {
        using var stream = new MemoryStream(state, writable: false);
        using var reader = new BinaryReader(stream);
        if (Optimizer is PilotOptimizerBase own) own.load_state_dict(reader);
        else Optimizer.load_state_dict(reader);
    }

    /// <summary>Index into PILOT's diagnostics where the current epoch starts.</summary>
    public int DiagnosticsMark => Pilot?.Diagnostics.Count ?? 0;

    /// <summary>
    /// PILOT's knobs for the epoch report: the means of p_m, p_v, p_s over the steps since <paramref name="mark"/> (when
    /// diagnostics are recorded; else the knobs of the current policy at the current ρ), and ρ now. All null for baselines.
    /// </summary>
    public (double? Pm, double? Pv, double? Ps, double? Rho) EpochKnobs(int mark)
    {
        if (Pilot is not { } pilot)
            return (null, null, null, null);
        var state = pilot.GetPolicyState();
        var steps = pilot.Diagnostics.Skip(mark).Where(d => !d.Skipped).ToList();
        if (steps.Count > 0)
            return (steps.Average(d => d.PM), steps.Average(d => d.PV), steps.Average(d => d.PS), state.Rho);
        var (pm, pv, ps) = pilot.ExportPolicy().Evaluate(state.Rho);
        return (pm, pv, ps, state.Rho);
    }

    public void Dispose() => Optimizer.Dispose();
}

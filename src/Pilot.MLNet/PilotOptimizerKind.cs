namespace Pilot.MLNet;

/// <summary>The optimizer that <see cref="PilotImageClassificationTrainer"/> trains with.</summary>
/// <remarks>
/// <see cref="PilotImageClassificationTrainer.Options.WeightDecay"/> is decoupled (AdamW-style) for every optimizer except
/// <see cref="Adam"/>, where it is the classic L2 term added to the gradient, as in PyTorch's <c>Adam</c>.
/// </remarks>
public enum PilotOptimizerKind
{
    /// <summary>PILOT (Pilot.TorchSharp's <c>PilotOptimizer</c>): Adam whose update form a learned policy chooses each step.</summary>
    Pilot,

    /// <summary>Adam (TorchSharp <c>torch.optim.Adam</c>); weight decay is added to the gradient (L2).</summary>
    Adam,

    /// <summary>AdamW (TorchSharp <c>torch.optim.AdamW</c>); decoupled weight decay.</summary>
    AdamW,

    /// <summary>Lion (Pilot.TorchSharp's baseline); decoupled weight decay; uses <see cref="PilotImageClassificationTrainer.Options.Beta1"/> and <see cref="PilotImageClassificationTrainer.Options.Beta2"/> as its two betas.</summary>
    Lion,

    /// <summary>AdaBelief (Pilot.TorchSharp's baseline); decoupled weight decay.</summary>
    AdaBelief,

    /// <summary>
    /// SophiaG (Pilot.TorchSharp's baseline, the authors' <c>sophia.py</c>); decoupled weight decay; <see cref="PilotImageClassificationTrainer.Options.Beta2"/>
    /// is the decay of its Hessian estimate, which the trainer refreshes every <c>SophiaDefaults.HessianInterval</c> (10) steps
    /// with an extra forward/backward pass on labels sampled from the network's own softmax.
    /// </summary>
    Sophia,
}

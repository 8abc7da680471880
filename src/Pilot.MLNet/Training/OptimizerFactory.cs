using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.MLNet.Training;

/// <summary>Creates the optimizer of <see cref="PilotOptimizerKind"/> over one parameter group holding every parameter.</summary>
internal static class OptimizerFactory
{
    public static OptimizerHelper Create(TrainingPlan plan, IEnumerable<Parameter> parameters)
    {
        var o = plan.Options;
        switch (o.Optimizer)
        {
            case PilotOptimizerKind.Pilot:
                // TEMPORARY stand-in until the optimizer branch is merged: Adam instead of PilotOptimizer.
                return optim.Adam(parameters, lr: o.LearningRate, beta1: o.Beta1, beta2: o.Beta2, weight_decay: o.WeightDecay);
            case PilotOptimizerKind.Adam:
                return optim.Adam(parameters, lr: o.LearningRate, beta1: o.Beta1, beta2: o.Beta2, weight_decay: o.WeightDecay);
            case PilotOptimizerKind.AdamW:
                return optim.AdamW(parameters, lr: o.LearningRate, beta1: o.Beta1, beta2: o.Beta2, weight_decay: o.WeightDecay);
            case PilotOptimizerKind.Lion:
            case PilotOptimizerKind.AdaBelief:
                // TEMPORARY stand-in until the optimizer branch is merged.
                return optim.AdamW(parameters, lr: o.LearningRate, beta1: o.Beta1, beta2: o.Beta2, weight_decay: o.WeightDecay);
            default:
                throw new ArgumentOutOfRangeException(nameof(o.Optimizer), o.Optimizer, $"Unknown optimizer {o.Optimizer}.");
        }
    }
}

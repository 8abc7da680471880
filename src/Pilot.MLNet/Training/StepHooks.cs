using Pilot.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.MLNet.Training;

/// <summary>What the training loop hands to an <see cref="IStepHook"/> after an optimizer step.</summary>
/// <param name="Index">The step just taken, 0-based, counted over the whole run (epoch × steps per epoch + batch), so it
/// survives a resume from a checkpoint.</param>
/// <param name="Forward">Runs the network's forward pass on the step's (augmented, normalised) mini-batch, in training mode,
/// drawing dropout from the run's generator stream; returns the logits with a graph for a backward pass.</param>
/// <param name="Generator">The run's generator (checkpointed with the run), for any sampling the hook does.</param>
internal readonly record struct TrainingStep(long Index, Func<Tensor> Forward, Generator Generator);

/// <summary>
/// Work an optimizer needs from the training loop after a step, beyond the step itself (SophiaG's Hessian estimate needs an
/// extra forward/backward pass). The loop calls it after every step, inside that step's dispose scope, with the gradients of
/// the step still set; a hook that runs a backward pass leaves the gradients zeroed.
/// </summary>
internal interface IStepHook
{
    /// <summary>Runs after step <paramref name="step"/>; returns a line for the trace log when it did something, else null.</summary>
    string? AfterStep(in TrainingStep step);
}

/// <summary>
/// SophiaG's Gauss–Newton–Bartlett refresh, as in the authors' README loop: after every k-th step (step index ≡ k − 1 mod k),
/// a forward pass on the same mini-batch, labels sampled from the network's own softmax, a backward pass of the mean
/// cross-entropy on those labels, <see cref="SophiaG.update_hessian"/>, and the gradients cleared.
/// </summary>
/// <remarks>The authors' <c>train_sophiag.py</c> takes the next mini-batch for this pass; the README loop (followed here) reuses
/// the one just stepped on, which needs no extra data and keeps the run's data order unchanged.</remarks>
internal sealed class SophiaHessianRefresh(SophiaG optimizer, int interval) : IStepHook
{
    /// <summary>Steps between refreshes, k.</summary>
    public int Interval { get; } = interval >= 1 ? interval
        : throw new ArgumentOutOfRangeException(nameof(interval), interval, $"interval must be an integer ≥ 1; got {interval}");

    public string? AfterStep(in TrainingStep step)
    {
        if (step.Index % Interval != Interval - 1)
            return null;
        optimizer.zero_grad();
        var logits = step.Forward();
        Tensor sampled;
        using (no_grad())
            sampled = logits.detach().softmax(1).multinomial(1, generator: step.Generator).squeeze(1);
        nn.functional.cross_entropy(logits, sampled).backward();
        optimizer.update_hessian();
        optimizer.zero_grad();
        return $"SophiaG: Hessian estimate refreshed after step {step.Index + 1}.";
    }
}

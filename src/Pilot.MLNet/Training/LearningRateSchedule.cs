namespace Pilot.MLNet.Training;

/// <summary>
/// The learning rate of each optimizer step: linear warm-up to the peak over the first <c>warmupSteps</c> steps, then a
/// cosine decay towards 0 over the remaining steps (PyTorch's <c>CosineAnnealingLR</c> with <c>T_max</c> = remaining steps
/// and <c>eta_min</c> = 0, stepped per batch).
/// </summary>
internal static class LearningRateSchedule
{
    /// <summary>The learning rate of step <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>.</summary>
    /// <param name="peak">The peak learning rate, &gt; 0.</param>
    /// <param name="step">Step index in [0, <paramref name="totalSteps"/>).</param>
    /// <param name="totalSteps">Steps in the whole run, ≥ 1.</param>
    /// <param name="warmupSteps">Warm-up steps in [0, <paramref name="totalSteps"/>]; step s &lt; warm-up uses peak·(s+1)/warm-up.</param>
    public static double At(double peak, long step, long totalSteps, long warmupSteps)
    {
        if (totalSteps < 1)
            throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, $"{nameof(totalSteps)} must be at least 1; got {totalSteps}.");
        if (step < 0 || step >= totalSteps)
            throw new ArgumentOutOfRangeException(nameof(step), step, $"{nameof(step)} must be in [0, {totalSteps}); got {step}.");
        if (warmupSteps < 0 || warmupSteps > totalSteps)
            throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, $"{nameof(warmupSteps)} must be in [0, {totalSteps}]; got {warmupSteps}.");
        if (step < warmupSteps)
            return peak * (step + 1) / warmupSteps;
        double progress = (double)(step - warmupSteps) / (totalSteps - warmupSteps);
        return peak * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}

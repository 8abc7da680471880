using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>Lion and AdaBelief against values worked out by hand on a 3-element example (float64).</summary>
[TestClass]
public sealed class BaselineTests
{
    private static Parameter Theta() => new(tensor(new[] { 1.0, -2.0, 0.5 }));

    private static void AssertValues(double[] expected, Tensor actual, string what)
    {
        var a = TestUtil.ToArray(actual);
        for (int i = 0; i < 3; i++) Assert.AreEqual(expected[i], a[i], 1e-12, $"{what}[{i}]: expected {expected[i]:R}, got {a[i]:R}");
    }

    [TestMethod]
    public void LionTwoStepsByHand()
    {
        var p = Theta();
        using var lion = new Lion([p], lr: 0.1, beta1: 0.9, beta2: 0.99, weight_decay: 0.1);
        // Step 1, g = (0.5, −0.1, 0): u = sign(0.1·g) = (1, −1, 0); θ ← θ·(1 − 0.01) − 0.1·u; m = 0.01·g.
        p.grad = tensor(new[] { 0.5, -0.1, 0.0 });
        lion.step();
        AssertValues([0.99 - 0.1, -1.98 + 0.1, 0.495], p, "θ after step 1");
        AssertValues([0.005, -0.001, 0.0], ((Lion.State)lion.state_dict().State[0]).m, "m after step 1");
        // Step 2, g = (−0.2, −0.3, 0.4): 0.9·m + 0.1·g = (−0.0155, −0.0309, 0.04) → u = (−1, −1, 1).
        p.grad = tensor(new[] { -0.2, -0.3, 0.4 });
        lion.step();
        AssertValues([0.89 * 0.99 + 0.1, -1.88 * 0.99 + 0.1, 0.495 * 0.99 - 0.1], p, "θ after step 2");
        AssertValues([0.00295, -0.00399, 0.004], ((Lion.State)lion.state_dict().State[0]).m, "m after step 2");
    }

    [TestMethod]
    public void AdaBeliefOneStepByHand()
    {
        // g = (0.5, −0.1, 0): m = 0.1·g; s = 0.001·(g − m)² + ε; m̂ = g; ŝ = (0.9·g)² + 1000·ε;
        // update = lr·m̂/(sqrt(ŝ) + ε) = (0.1/0.9)·sign(g) where g ≠ 0, and 0 where g = 0.
        var p = Theta();
        using var ada = new AdaBelief([p], lr: 0.1, weight_decay: 0.1); // decoupled by default: θ·(1 − 0.01) first
        p.grad = tensor(new[] { 0.5, -0.1, 0.0 });
        ada.step();
        AssertValues([0.99 - 0.1 / 0.9, -1.98 + 0.1 / 0.9, 0.495], p, "θ (decoupled decay)");
        var s = ((AdaBelief.State)ada.state_dict().State[0]).s;
        AssertValues([0.001 * 0.45 * 0.45 + 1e-16, 0.001 * 0.09 * 0.09 + 1e-16, 1e-16], s, "s, with ε inside");
        Assert.AreEqual(1e-16, s[2].item<double>(), "ε is added to s");

        // Coupled decay: g' = g + 0.1·θ = (0.6, −0.3, 0.05), then the same algebra on g'.
        var q = Theta();
        using var coupled = new AdaBelief([q], lr: 0.1, weight_decay: 0.1, decoupled_weight_decay: false);
        q.grad = tensor(new[] { 0.5, -0.1, 0.0 });
        coupled.step();
        // For the small g'₃ = 0.05 the ε inside s is visible: ŝ = (0.9·0.05)² + 1e−13.
        AssertValues([1 - 0.1 / 0.9, -2 + 0.1 / 0.9, 0.5 - 0.1 * 0.05 / (Math.Sqrt(0.045 * 0.045 + 1e-13) + 1e-16)], q, "θ (coupled decay)");
    }

    [TestMethod]
    public void AdaBeliefBiasCorrectionOnTheSecondStep()
    {
        var p = Theta();
        using var ada = new AdaBelief([p], lr: 0.1, eps: 0);
        p.grad = tensor(new[] { 1.0, 1.0, 1.0 });
        ada.step();
        p.grad = tensor(new[] { 1.0, 1.0, 1.0 });
        ada.step();
        // m₂ = 0.19, s₁ = 0.001·0.81, s₂ = 0.999·s₁ + 0.001·0.81²; m̂ = 0.19/0.19 = 1; ŝ = s₂/(1 − 0.999²).
        double s2 = 0.999 * 0.00081 + 0.001 * 0.81 * 0.81;
        double step2 = 0.1 * 1.0 / Math.Sqrt(s2 / (1 - 0.999 * 0.999));
        double step1 = 0.1 / 0.9;
        AssertValues([1 - step1 - step2, -2 - step1 - step2, 0.5 - step1 - step2], p, "θ after two steps");
    }
}

using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>docs/algorithm.md (step 6): pinning p_m = 1, p_v = 0.5, p_s = 0 with η_φ = 0 reproduces Adam (λ = 0) and AdamW (λ > 0) step for step.</summary>
[TestClass]
public sealed class AdamParityTests
{
    [TestMethod]
    [DataRow(0.0, DisplayName = "Adam (weight decay 0)")]
    [DataRow(0.05, DisplayName = "AdamW (weight decay 0.05)")]
    public void PinnedAdamKnobsMatchTorchSharpAdamOver50Steps(double weightDecay)
    {
        using var pilotModel = TestUtil.MakeMlp(seed: 3);
        using var adamModel = TestUtil.MakeMlp(seed: 3);
        using var gen = new Generator(42);
        using var x = randn([64, 4], generator: gen);
        using var y = randint(0, 3, [64], generator: gen);
        const double lr = 0.01;

        using var pilot = new PilotOptimizer(pilotModel.parameters(), lr: lr, weight_decay: weightDecay, eta_phi: 0,
            overrides: PolicyOverrides.Adam, implementation: PilotImplementation.Plain);
        // TorchSharp's Adam adds weight_decay·θ to the gradient (coupled); its AdamW scales θ by (1 − lr·λ) first,
        // which equals PILOT's decoupled θ − η·update − η·λ·θ with θ taken before the step.
        using optim.Optimizer adam = weightDecay == 0
            ? optim.Adam(adamModel.parameters(), lr: lr)
            : optim.AdamW(adamModel.parameters(), lr: lr, weight_decay: weightDecay);

        for (int step = 0; step < 50; step++)
        {
            foreach (var (model, opt) in new (nn.Module<Tensor, Tensor>, optim.Optimizer)[] { (pilotModel, pilot), (adamModel, adam) })
            {
                using var scope = NewDisposeScope();
                opt.zero_grad();
                nn.functional.cross_entropy(model.call(x), y).backward();
                opt.step();
            }
            foreach (var ((name, a), (_, b)) in adamModel.named_parameters().Zip(pilotModel.named_parameters()))
                TestUtil.AssertClose(a, b, 1e-6, 1e-7, $"{name} after step {step + 1}");
        }
        // The models did train (the comparison is not of untouched weights).
        using var before = TestUtil.MakeMlp(seed: 3);
        Assert.IsTrue(before.parameters().Zip(pilotModel.parameters()).Any(t => (t.First - t.Second).abs().max().item<float>() > 0.05f));
    }
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>PILOT's step semantics beyond the formulas: first step, robustness, skipping, groups, frozen policies, schedulers.</summary>
[TestClass]
public sealed class BehaviourTests
{
    private static readonly long[][] Shapes = [[4, 3], [6]];

    private static Tensor[] RandomGrads(Generator gen, ScalarType dtype = ScalarType.Float64, double scale = 1.0) =>
        Shapes.Select(s => randn(s, dtype: dtype, generator: gen) * scale).ToArray();

    [TestMethod]
    public void FirstStepHasNoAgreementAndLeavesThePolicyAlone()
    {
        var p = TestUtil.MakeParameters(1, ScalarType.Float64, Shapes);
        using var opt = new PilotOptimizer(p, diagnostics: true, eta_phi: 1.0);
        using var gen = new Generator(3);
        TestUtil.SetGrads(p, RandomGrads(gen));
        opt.step();

        var d = opt.Diagnostics.Single();
        Assert.AreEqual(0.0, d.R);
        Assert.AreEqual(1L, d.Step);
        Assert.IsFalse(d.Skipped);
        var state = opt.GetPolicyState();
        Assert.AreEqual(0.0, state.Rho);
        CollectionAssert.AreEqual(PilotPolicy.Default().Phi, state.Phi, "φ unchanged by the first step");
        var (pm, pv, ps) = PilotPolicy.Default().Evaluate(0.0);
        Assert.AreEqual((pm, pv, ps), (d.PM, d.PV, d.PS));

        // The second step has an agreement and a meta-gradient.
        TestUtil.SetGrads(p, RandomGrads(gen));
        opt.step();
        Assert.AreNotEqual(0.0, opt.Diagnostics[1].R);
        CollectionAssert.AreNotEqual(PilotPolicy.Default().Phi, opt.GetPolicyState().Phi);
    }

    [TestMethod]
    [DataRow(ScalarType.Float64)]
    [DataRow(ScalarType.Float32)]
    public void AdversarialGradientsKeepRhoKnobsAndPhiInRange(ScalarType dtype)
    {
        var p = TestUtil.MakeParameters(2, dtype, Shapes);
        using var opt = new PilotOptimizer(p, lr: 0.01, eta_phi: 0.5, diagnostics: true); // a large η_φ stresses the policy
        using var gen = new Generator(9);
        var fixedGrad = RandomGrads(gen, dtype);
        for (int step = 0; step < 400; step++)
        {
            Tensor[] grads = (step / 25 % 6) switch
            {
                0 => Shapes.Select(s => zeros(s, dtype: dtype)).ToArray(),
                1 => RandomGrads(gen, dtype, 1e-30),
                2 => RandomGrads(gen, dtype, 1e30),
                3 => fixedGrad.Select(g => g * (step % 2 == 0 ? 1 : -1)).ToArray(), // alternating signs: r = −1
                4 => fixedGrad,                                                     // identical: r = +1
                _ => RandomGrads(gen, dtype),
            };
            TestUtil.SetGrads(p, grads);
            opt.step();
        }
        Assert.AreEqual(400, opt.Diagnostics.Count);
        foreach (var d in opt.Diagnostics.Where(d => !d.Skipped))
        {
            Assert.IsTrue(d.R >= -1 && d.R <= 1, $"r = {d.R} at step {d.Step}");
            Assert.IsTrue(d.Rho >= -1 && d.Rho <= 1, $"ρ = {d.Rho} at step {d.Step}");
            Assert.IsTrue(d.PM >= 0 && d.PM <= 1 && d.PV >= 0 && d.PV <= 0.5 && d.PS >= 0 && d.PS <= 1, $"knobs {d} at step {d.Step}");
            Assert.IsTrue(d.Phi.All(double.IsFinite), $"φ finite at step {d.Step}");
        }
        Assert.IsTrue(opt.Diagnostics.Min(d => d.Rho) < -0.5 && opt.Diagnostics.Max(d => d.Rho) > 0.3, "ρ explored both signs");
        Assert.IsTrue(p.All(x => x.isfinite().all().item<bool>()), "parameters finite");
        // float32 cannot square the 1e30 gradients (v would be ∞ for good): those 3 × 25 steps are skipped; float64 takes all.
        long skipped = dtype == ScalarType.Float32 ? 75 : 0;
        Assert.AreEqual(skipped, opt.GetSkippedSteps(), "only gradients whose square overflows are skipped");
        Assert.AreEqual(400L - skipped, opt.GetPolicyState().Step, "finite gradients with a finite square are not skipped");
    }

    [TestMethod]
    [DataRow(double.NaN)]
    [DataRow(double.PositiveInfinity)]
    [DataRow(double.NegativeInfinity)]
    public void NonFiniteGradientSkipsTheGroupStepExactly(double bad)
    {
        var p = TestUtil.MakeParameters(4, ScalarType.Float32, Shapes);
        var q = TestUtil.Clone(p);
        using var withBad = new PilotOptimizer(p, lr: 0.01, eta_phi: 0.1, diagnostics: true);
        using var clean = new PilotOptimizer(q, lr: 0.01, eta_phi: 0.1);
        using var gen = new Generator(21);
        for (int step = 0; step < 12; step++)
        {
            var grads = RandomGrads(gen, ScalarType.Float32);
            if (step == 5)
            {
                // One bad element in one tensor poisons the whole group's step.
                var poisoned = grads.Select(g => g.clone()).ToArray();
                poisoned[1][2] = tensor((float)bad);
                TestUtil.SetGrads(p, poisoned);
                var before = SnapshotAll(withBad, p);
                withBad.step();
                var after = SnapshotAll(withBad, p);
                for (int i = 0; i < before.Length; i++) TestUtil.AssertBitEqual(before[i], after[i], $"tensor {i} after the skipped step");
                Assert.AreEqual(1L, withBad.GetSkippedSteps());
                Assert.IsTrue(withBad.Diagnostics[^1].Skipped);
                Assert.AreEqual(5L, withBad.GetPolicyState().Step, "t did not advance");
            }
            TestUtil.SetGrads(p, grads);
            TestUtil.SetGrads(q, grads);
            withBad.step();
            clean.step();
        }
        // After the skip the two runs are the same run.
        for (int i = 0; i < p.Length; i++) TestUtil.AssertBitEqual(q[i], p[i], $"parameter {i}");
        CollectionAssert.AreEqual(clean.GetPolicyState().Phi, withBad.GetPolicyState().Phi);
        Assert.AreEqual(0L, clean.GetSkippedSteps());
    }

    private static Tensor[] SnapshotAll(PilotOptimizer opt, Parameter[] p)
    {
        var sd = opt.state_dict();
        var list = p.Select(x => x.detach().clone()).ToList();
        for (int i = 0; i < p.Length; i++)
        {
            var s = (PilotOptimizer.State)sd.State[i];
            list.AddRange([s.m.clone(), s.v.clone(), s.g_prev.clone()]);
        }
        var gs = (PilotOptimizer.GroupState)sd.State[p.Length];
        list.AddRange([gs.step.clone(), gs.rho.clone(), gs.phi.clone(), gs.prev_knobs.clone()]);
        return list.ToArray();
    }

    [TestMethod]
    public void ParameterGroupsKeepIndependentRhoAndPhi()
    {
        var a = TestUtil.MakeParameters(5, ScalarType.Float64, [[5]]);
        var b = TestUtil.MakeParameters(6, ScalarType.Float64, [[7]]);
        var aAlone = TestUtil.Clone(a);
        using var opt = new PilotOptimizer([new PilotOptimizer.ParamGroup(a), new PilotOptimizer.ParamGroup(b, lr: 0.05, degree: 1)], lr: 0.01);
        using var alone = new PilotOptimizer(aAlone, lr: 0.01);
        using var gen = new Generator(8);
        var ga = randn([5], dtype: ScalarType.Float64, generator: gen);
        for (int step = 0; step < 15; step++)
        {
            var gb = randn([7], dtype: ScalarType.Float64, generator: gen) * (step % 2 == 0 ? 1 : -1) + 0.0;
            var gaStep = ga + 0.1 * randn([5], dtype: ScalarType.Float64, generator: gen); // group a: gradients agree
            var gbStep = step % 2 == 0 ? gb : -gb;                                       // group b: noise
            TestUtil.SetGrads(a, [gaStep]);
            TestUtil.SetGrads(aAlone, [gaStep]);
            TestUtil.SetGrads(b, [gbStep]);
            opt.step();
            alone.step();
        }
        var sa = opt.GetPolicyState(0);
        var sb = opt.GetPolicyState(1);
        Assert.IsTrue(sa.Rho > 0.3, $"group a agrees: ρ = {sa.Rho}");
        Assert.AreEqual(6, sb.Phi.Length, "group b has its own degree");
        Assert.AreNotEqual(sa.Rho, sb.Rho);
        // Group a behaves exactly as if group b did not exist.
        TestUtil.AssertBitEqual(aAlone[0], a[0], "group a's parameter");
        CollectionAssert.AreEqual(alone.GetPolicyState().Phi, sa.Phi);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => opt.GetPolicyState(2));
    }

    [TestMethod]
    public void TensorWithoutGradientIsUntouched()
    {
        var p = TestUtil.MakeParameters(7, ScalarType.Float32, [[3, 3], [4], [2]]);
        var frozenBefore = p[1].detach().clone();
        using var opt = new PilotOptimizer(p, weight_decay: 0.5, lr: 0.1);
        using var gen = new Generator(2);
        for (int step = 0; step < 5; step++)
        {
            p[0].grad = randn([3, 3], generator: gen);
            p[1].grad = null;
            p[2].grad = randn([2], generator: gen);
            opt.step();
        }
        TestUtil.AssertBitEqual(frozenBefore, p[1], "parameter without gradient (no weight decay either)");
        var s = TestUtil.StateOf(opt, 1);
        Assert.AreEqual(0f, s.m.abs().sum().item<float>() + s.v.abs().sum().item<float>() + s.g_prev.abs().sum().item<float>());
        Assert.AreEqual(5L, opt.GetPolicyState().Step);
    }

    [TestMethod]
    public void GroupWithoutAnyGradientDoesNotStep()
    {
        var p = TestUtil.MakeParameters(7, ScalarType.Float32, [[3]]);
        using var opt = new PilotOptimizer(p);
        opt.step();
        Assert.AreEqual(0L, opt.GetPolicyState().Step);
    }

    [TestMethod]
    public void FrozenInitialPolicyIsKeptAndUsed()
    {
        var custom = new PilotPolicy(1, [0.5, 1.0, -0.3, 2.0, 0.8, -1.5]);
        var p = TestUtil.MakeParameters(3, ScalarType.Float64, Shapes);
        using var opt = new PilotOptimizer(p, eta_phi: 0, degree: 1, initialPolicy: custom, diagnostics: true);
        using var gen = new Generator(4);
        for (int step = 0; step < 20; step++)
        {
            TestUtil.SetGrads(p, RandomGrads(gen));
            opt.step();
        }
        CollectionAssert.AreEqual(custom.Phi, opt.GetPolicyState().Phi);
        Assert.AreEqual(custom, opt.ExportPolicy());
        foreach (var d in opt.Diagnostics)
        {
            var (pm, pv, ps) = custom.Evaluate(d.Rho);
            Assert.AreEqual(pm, d.PM, 1e-14);
            Assert.AreEqual(pv, d.PV, 1e-14);
            Assert.AreEqual(ps, d.PS, 1e-14);
        }
    }

    [TestMethod]
    public void LearnedPolicyTransfersThroughJson()
    {
        var p = TestUtil.MakeParameters(3, ScalarType.Float64, Shapes);
        using var source = new PilotOptimizer(p, eta_phi: 0.2, degree: 3);
        using var gen = new Generator(4);
        for (int step = 0; step < 10; step++)
        {
            TestUtil.SetGrads(p, RandomGrads(gen));
            source.step();
        }
        var json = source.ExportPolicy().ToJson();
        var target = TestUtil.MakeParameters(5, ScalarType.Float32, [[10]]);
        using var frozen = new PilotOptimizer(target, eta_phi: 0, degree: 3, initialPolicy: PilotPolicy.FromJson(json));
        CollectionAssert.AreEqual(source.GetPolicyState().Phi, frozen.GetPolicyState().Phi);
        Assert.ThrowsExactly<ArgumentException>(() => new PilotOptimizer(target, degree: 2, initialPolicy: PilotPolicy.FromJson(json)));
    }

    [TestMethod]
    public void DiagnosticsAreEmptyWhenOff()
    {
        var p = TestUtil.MakeParameters(3, ScalarType.Float64, Shapes);
        using var opt = new PilotOptimizer(p);
        using var gen = new Generator(1);
        TestUtil.SetGrads(p, RandomGrads(gen));
        opt.step();
        Assert.AreEqual(0, opt.Diagnostics.Count);
    }

    [TestMethod]
    public void LearningRateSchedulersDriveTheGroupLearningRate()
    {
        var p = TestUtil.MakeParameters(3, ScalarType.Float64, Shapes);
        using var opt = new PilotOptimizer(p, lr: 0.1);
        var cosine = optim.lr_scheduler.CosineAnnealingLR(opt, T_max: 4, eta_min: 0);
        using var gen = new Generator(1);
        var seen = new List<double>();
        for (int epoch = 0; epoch < 4; epoch++)
        {
            seen.Add(opt.ParamGroups.First().LearningRate);
            TestUtil.SetGrads(p, RandomGrads(gen));
            opt.step();
            cosine.step();
        }
        double[] expected = [0.1, 0.1 * (1 + Math.Cos(Math.PI / 4)) / 2, 0.05, 0.1 * (1 + Math.Cos(3 * Math.PI / 4)) / 2];
        for (int i = 0; i < 4; i++) Assert.AreEqual(expected[i], seen[i], 1e-12, $"lr at epoch {i}");
        // At the end of the cosine the rate is 0: the step (decay included) must leave the parameters alone.
        Assert.AreEqual(0.0, opt.ParamGroups.First().LearningRate, 1e-15);
        var before = p.Select(x => x.detach().clone()).ToArray();
        TestUtil.SetGrads(p, RandomGrads(gen));
        opt.step();
        for (int i = 0; i < p.Length; i++) TestUtil.AssertClose(before[i], p[i], 0, 1e-15, "parameters at lr 0");

        var p2 = TestUtil.MakeParameters(3, ScalarType.Float64, Shapes);
        using var opt2 = new PilotOptimizer(p2, lr: 0.2);
        var lambda = optim.lr_scheduler.LambdaLR(opt2, e => 1.0 / (1 + e));
        lambda.step();
        lambda.step();
        Assert.AreEqual(0.2 / 3, opt2.ParamGroups.First().LearningRate, 1e-15);
    }

    [TestMethod]
    public void TrainsASmallNetworkToLowLoss()
    {
        // Synthetic regression: y = sin(x·w) for a fixed teacher w; a 4-8-3 tanh MLP fits it well.
        using var model = TestUtil.MakeMlp(seed: 12);
        using var gen = new Generator(31);
        using var x = randn([256, 4], generator: gen);
        using var teacher = randn([4, 3], generator: gen) * 0.5;
        using var y = (x.matmul(teacher)).tanh();
        using var opt = new PilotOptimizer(model.parameters(), lr: 0.01, weight_decay: 0);
        double first = 0, last = 0;
        for (int step = 0; step < 600; step++)
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var loss = nn.functional.mse_loss(model.call(x), y);
            loss.backward();
            opt.step();
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
        }
        Assert.IsTrue(last < 0.01 && last < first / 20, $"loss went from {first} to {last}");
    }
}

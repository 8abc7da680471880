using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>The optimizer against <see cref="GoldenPilot"/>, a naive double-precision transcription of docs/algorithm.md.</summary>
[TestClass]
public sealed class GoldenParityTests
{
    private static readonly long[][] Shapes = [[3, 4], [5], [2, 2, 2]];

    public static IEnumerable<object?[]> Configs => [
        // degree, weight decay, eta_phi, pinned PM, PV, PS
        [2, 0.01, 0.01, null, null, null],
        [1, 0.0, 0.05, null, null, null],
        [3, 0.1, 0.2, null, null, null],
        [3, 0.01, 0.05, 1.0, null, null],
        [1, 0.0, 0.05, null, 0.25, 0.5],
    ];

    [TestMethod]
    [DynamicData(nameof(Configs))]
    public void MatchesGoldenInFloat64(int degree, double wd, double etaPhi, double? pm, double? pv, double? ps)
    {
        var rng = new Random(1234 + degree);
        var ps0 = TestUtil.MakeParameters(7, ScalarType.Float64, Shapes);
        var overrides = pm is null && pv is null && ps is null ? null : new PolicyOverrides(pm, pv, ps);
        // A larger lr than the default makes the policy move noticeably within 20 steps.
        using var opt = new PilotOptimizer(ps0, lr: 0.01, weight_decay: wd, eta_phi: etaPhi, degree: degree, overrides: overrides,
            implementation: PilotImplementation.Plain);
        var golden = new GoldenPilot(ps0.Select(TestUtil.ToArray).ToArray(), degree)
        {
            Lr = 0.01,
            WeightDecay = wd,
            EtaPhi = etaPhi,
            PinPM = pm,
            PinPV = pv,
            PinPS = ps,
        };

        for (int step = 0; step < 20; step++)
        {
            // Gradients with a persistent component (so ρ moves) plus noise; tensor 1 has no gradient on steps 0–2 and 9,
            // which exercises "a tensor's first step" and skipped tensors.
            var grads = new double[]?[Shapes.Length];
            for (int i = 0; i < Shapes.Length; i++)
            {
                if (i == 1 && (step < 3 || step == 9)) continue;
                int n = (int)Shapes[i].Aggregate(1L, (a, b) => a * b);
                grads[i] = Enumerable.Range(0, n).Select(j => 0.3 * Math.Sin(j + i) + rng.NextDouble() - 0.5).ToArray();
            }
            TestUtil.SetGrads(ps0, grads.Select((g, i) => g is null ? null : tensor(g).reshape(Shapes[i])).ToArray());
            opt.step();
            golden.Step(grads);

            var policy = opt.GetPolicyState();
            Assert.AreEqual(golden.T, policy.Step);
            Assert.AreEqual(golden.Rho, policy.Rho, 1e-12, $"rho at step {step}");
            TestUtil.AssertClose(tensor(golden.Phi), tensor(policy.Phi), 1e-9, 1e-12, $"phi at step {step}");
            for (int i = 0; i < Shapes.Length; i++)
            {
                TestUtil.AssertClose(tensor(golden.Theta[i]).reshape(Shapes[i]), ps0[i], 1e-9, 1e-12, $"theta[{i}] at step {step}");
                var st = TestUtil.StateOf(opt, i);
                TestUtil.AssertClose(tensor(golden.M[i]).reshape(Shapes[i]), st.m, 1e-9, 1e-14, $"m[{i}] at step {step}");
                TestUtil.AssertClose(tensor(golden.V[i]).reshape(Shapes[i]), st.v, 1e-9, 1e-16, $"v[{i}] at step {step}");
            }
        }
        // The policy did move (the comparison above is not of constants).
        if (etaPhi > 0 && overrides is null)
            Assert.IsTrue(golden.Phi.Zip(PilotPolicy.Default(degree).Phi).Any(x => Math.Abs(x.First - x.Second) > 1e-4), "phi moved");
    }

    [TestMethod]
    public void MatchesGoldenInFloat32WithinSinglePrecision()
    {
        var rng = new Random(99);
        var p32 = TestUtil.MakeParameters(8, ScalarType.Float32, Shapes);
        using var opt = new PilotOptimizer(p32, lr: 0.01, implementation: PilotImplementation.Plain);
        var golden = new GoldenPilot(p32.Select(TestUtil.ToArray).ToArray()) { Lr = 0.01 };
        for (int step = 0; step < 20; step++)
        {
            var grads = Shapes.Select((s, i) => Enumerable.Range(0, (int)s.Aggregate(1L, (a, b) => a * b))
                .Select(j => (double)(float)(0.3 * Math.Cos(j) + rng.NextDouble() - 0.5)).ToArray()).ToArray<double[]?>();
            TestUtil.SetGrads(p32, grads.Select((g, i) => (Tensor?)tensor(g!).reshape(Shapes[i])).ToArray());
            opt.step();
            golden.Step(grads);
        }
        for (int i = 0; i < Shapes.Length; i++)
            TestUtil.AssertClose(tensor(golden.Theta[i]).reshape(Shapes[i]), p32[i], 1e-5, 1e-6, $"theta[{i}]");
        TestUtil.AssertClose(tensor(golden.Phi), tensor(opt.GetPolicyState().Phi), 1e-4, 1e-7, "phi");
    }
}

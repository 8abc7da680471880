using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>The analytic meta-gradient (docs/algorithm.md step 4) against central finite differences, in float64.</summary>
[TestClass]
public sealed class MetaGradientTests
{
    private const double Lr = 0.01;

    /// <summary>Previous-step quantities with |n| well away from 0 so that sign(n) is constant under the perturbation.</summary>
    private static (Tensor mHat, Tensor vHat, Tensor gPrev) PreviousStep(int seed, int n = 200)
    {
        using var gen = new Generator((ulong)seed);
        var sign = randint(0, 2, [n], dtype: ScalarType.Float64, generator: gen) * 2 - 1;
        var mHat = sign * (rand([n], dtype: ScalarType.Float64, generator: gen) + 0.1);
        var gPrev = sign * (rand([n], dtype: ScalarType.Float64, generator: gen) * 2 + 0.05);
        var vHat = rand([n], dtype: ScalarType.Float64, generator: gen) * 3 + 1e-3;
        return (mHat, vHat, gPrev);
    }

    /// <summary>d(p) = −η·|n|^(1−p_s)·sign(n)/(v̂^p_v + 1e−8), n = p_m·m̂ + (1 − p_m)·g_prev, via the optimizer's own update direction.</summary>
    private static Tensor Displacement(Tensor mHat, Tensor vHat, Tensor gPrev, double pm, double pv, double ps)
    {
        var n = pm * mHat + (1 - pm) * gPrev;
        return -Lr * PilotOptimizer.Direction(n, vHat, tensor(pv), tensor(ps), PilotPolicyMath.MetaDenominatorEpsilon);
    }

    [TestMethod]
    [DataRow(0.8, 0.45, 0.1)]
    [DataRow(0.3, 0.2, 0.7)]
    [DataRow(0.95, 0.05, 0.5)]
    public void KnobDerivativesMatchCentralDifferences(double pm, double pv, double ps)
    {
        using var scope = NewDisposeScope();
        var (mHat, vHat, gPrev) = PreviousStep(seed: (int)(pm * 100));
        var (dm, dv, ds) = PilotOptimizer.UpdateDerivatives(mHat, vHat, gPrev, tensor(pm), tensor(pv), tensor(ps), Lr);
        const double h = 1e-6;
        var fdm = (Displacement(mHat, vHat, gPrev, pm + h, pv, ps) - Displacement(mHat, vHat, gPrev, pm - h, pv, ps)) / (2 * h);
        var fdv = (Displacement(mHat, vHat, gPrev, pm, pv + h, ps) - Displacement(mHat, vHat, gPrev, pm, pv - h, ps)) / (2 * h);
        var fds = (Displacement(mHat, vHat, gPrev, pm, pv, ps + h) - Displacement(mHat, vHat, gPrev, pm, pv, ps - h)) / (2 * h);
        TestUtil.AssertClose(fdm, dm, 1e-6, 1e-10, "∂d/∂p_m");
        TestUtil.AssertClose(fdv, dv, 1e-6, 1e-10, "∂d/∂p_v");
        TestUtil.AssertClose(fds, ds, 1e-6, 1e-10, "∂d/∂p_s");
        Assert.IsTrue(dm.abs().max().item<double>() > 1e-4 && dv.abs().max().item<double>() > 1e-4 && ds.abs().max().item<double>() > 1e-4);
    }

    [TestMethod]
    [DataRow(1, 0.6)]
    [DataRow(2, -0.4)]
    [DataRow(3, 0.9)]
    public void PhiGradientMatchesCentralDifferencesOfTheOneStepLoss(int degree, double rho)
    {
        using var scope = NewDisposeScope();
        var (mHat, vHat, gPrev) = PreviousStep(seed: 5 + degree);
        using var gen = new Generator(77);
        var g = randn(mHat.shape, dtype: ScalarType.Float64, generator: gen);
        var phi = PilotPolicy.Default(degree).Phi.Select((c, i) => c + 0.3 * Math.Sin(3 * i + 1)).ToArray();
        var rhoT = tensor(rho);

        // F(φ) = Σ g ⊙ d(knobs(φ, ρ)): the first-order change of the loss that the meta-gradient differentiates.
        double F(double[] f)
        {
            var (pm, pv, ps) = PilotPolicyMath.Knobs(f, degree, rho, null);
            return (g * Displacement(mHat, vHat, gPrev, pm, pv, ps)).sum().item<double>();
        }

        var (pm0, pv0, ps0) = PilotPolicyMath.Knobs(phi, degree, rho, null);
        var (dm, dv, ds) = PilotOptimizer.UpdateDerivatives(mHat, vHat, gPrev, tensor(pm0), tensor(pv0), tensor(ps0), Lr);
        var G = stack([(g * dm).sum(), (g * dv).sum(), (g * ds).sum()]);
        using var constants = new PolicyConstants(degree, null, CPU);
        var analytic = PilotPolicyMath.PhiGradient(G, tensor(phi), degree, rhoT, constants);

        const double h = 1e-5;
        var numeric = new double[phi.Length];
        for (int i = 0; i < phi.Length; i++)
        {
            var up = (double[])phi.Clone(); up[i] += h;
            var down = (double[])phi.Clone(); down[i] -= h;
            numeric[i] = (F(up) - F(down)) / (2 * h);
        }
        TestUtil.AssertClose(tensor(numeric), analytic, 1e-5, 1e-9, "∂F/∂φ");
        Assert.IsTrue(numeric.All(x => Math.Abs(x) > 0 || rho == 0), "every coefficient influences F");
    }

    /// <summary>
    /// End to end: two steps with a frozen policy, then one with η_φ > 0. The third step's φ change must be
    /// −η_φ·clip(∇F) with ∇F the finite-difference gradient of F(φ) = Σ g₃ ⊙ d₂(knobs(φ, ρ₂)), computed here on plain
    /// doubles from the state the optimizer holds after step 2.
    /// </summary>
    [TestMethod]
    public void OptimizerPolicyUpdateEqualsClippedFiniteDifferenceGradient()
    {
        const int degree = 2, n = 40;
        const double etaPhi = 0.05, beta1 = 0.9, beta2 = 0.999, lr = 0.05;
        var p = TestUtil.MakeParameters(11, ScalarType.Float64, [n]);
        using var opt = new PilotOptimizer(p, lr: lr, eta_phi: 0, weight_decay: 0, degree: degree, implementation: PilotImplementation.Plain);
        using var gen = new Generator(5);
        var g1 = randn([n], dtype: ScalarType.Float64, generator: gen);
        var g2 = g1 * 0.7 + randn([n], dtype: ScalarType.Float64, generator: gen) * 0.5; // agrees with g1: ρ₂ ≠ 0
        var g3 = randn([n], dtype: ScalarType.Float64, generator: gen);
        foreach (var g in new[] { g1, g2 }) { TestUtil.SetGrads(p, [g]); opt.step(); }

        var st = TestUtil.StateOf(opt, 0);
        double[] m = TestUtil.ToArray(st.m), v = TestUtil.ToArray(st.v), gp = TestUtil.ToArray(st.g_prev), gNext = TestUtil.ToArray(g3);
        var before = opt.GetPolicyState();
        Assert.AreNotEqual(0.0, before.Rho);
        double b1 = 1 - beta1 * beta1, b2 = 1 - beta2 * beta2;
        double F(double[] phi)
        {
            var (pm, pv, ps) = PilotPolicyMath.Knobs(phi, degree, before.Rho, null);
            double sum = 0;
            for (int j = 0; j < n; j++)
            {
                double nj = pm * m[j] / b1 + (1 - pm) * gp[j];
                sum += gNext[j] * -lr * Math.Pow(Math.Abs(nj), 1 - ps) * Math.Sign(nj) / (Math.Pow(v[j] / b2, pv) + 1e-8);
            }
            return sum;
        }
        var grad = new double[before.Phi.Length];
        for (int i = 0; i < grad.Length; i++)
        {
            var up = (double[])before.Phi.Clone(); up[i] += 1e-6;
            var down = (double[])before.Phi.Clone(); down[i] -= 1e-6;
            grad[i] = (F(up) - F(down)) / 2e-6;
        }
        double scale = Math.Min(1, 1 / (Math.Sqrt(grad.Sum(x => x * x)) + 1e-12));
        var expected = before.Phi.Select((c, i) => c - etaPhi * scale * grad[i]).ToArray();

        ((PilotOptimizer.ParamGroup)opt.ParamGroups.First()).Options.eta_phi = etaPhi;
        TestUtil.SetGrads(p, [g3]);
        opt.step();
        var after = opt.GetPolicyState().Phi;
        TestUtil.AssertClose(tensor(expected), tensor(after), 1e-7, 1e-10, "φ after the third step");
        Assert.IsTrue(after.Zip(before.Phi).Any(t => Math.Abs(t.First - t.Second) > 1e-6), "φ moved");
    }
}

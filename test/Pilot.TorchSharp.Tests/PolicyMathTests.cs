using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>The small policy functions on their own, host and tensor forms.</summary>
[TestClass]
public sealed class PolicyMathTests
{
    [TestMethod]
    public void HornerEvaluatesHighestPowerFirst()
    {
        // 2ρ² − 3ρ + 0.5 at ρ = 0.7
        Assert.AreEqual(2 * 0.49 - 3 * 0.7 + 0.5, PilotPolicyMath.Horner([2.0, -3.0, 0.5], 0.7), 1e-15);
        Assert.AreEqual(0.5, PilotPolicyMath.Horner([2.0, -3.0, 0.5], 0.0));
    }

    [TestMethod]
    public void InitialPolicyGivesThePublishedKnobs()
    {
        var (pm, pv, ps) = PilotPolicy.Default(2).Evaluate(0.0);
        Assert.AreEqual(1 / (1 + Math.Exp(-1.4)), pm, 1e-15);       // ≈ 0.802
        Assert.AreEqual(0.5 / (1 + Math.Exp(-3.0)), pv, 1e-15);     // ≈ 0.476
        Assert.AreEqual(1 / (1 + Math.Exp(2.0)), ps, 1e-15);        // ≈ 0.119
        Assert.AreEqual(0.802, pm, 5e-4);
        Assert.AreEqual(0.476, pv, 5e-4);
        Assert.AreEqual(0.119, ps, 5e-4);
    }

    [TestMethod]
    public void OverridesPinKnobs()
    {
        var phi = PilotPolicy.Default(1).Phi;
        var (pm, pv, ps) = PilotPolicyMath.Knobs(phi, 1, 0.3, new PolicyOverrides(PV: 0.2));
        Assert.AreEqual(0.2, pv);
        Assert.AreEqual(PilotPolicyMath.Sigmoid(1.4), pm, 1e-15); // ρ-terms are zero in the initial policy
        Assert.AreEqual(PilotPolicyMath.Sigmoid(-2.0), ps, 1e-15);
    }

    [TestMethod]
    [DataRow(3.0, 4.0, 4.0, 0.75)]
    [DataRow(-2.0, 1.0, 4.0, -1.0)]
    [DataRow(1.0, 0.0, 5.0, 0.0)]           // first step: ‖g_prev‖ = 0
    [DataRow(1e-13, 1e-13, 1e-13, 0.0)]     // denominator below 1e-12
    [DataRow(double.PositiveInfinity, double.PositiveInfinity, 1.0, 0.0)] // overflowed sums: 0, not NaN
    public void AgreementHostAndTensorForms(double dot, double gg, double pp, double expected)
    {
        Assert.AreEqual(expected, PilotPolicyMath.Agreement(dot, gg, pp), 1e-15);
        Assert.AreEqual(expected, PilotPolicyMath.Agreement(tensor(dot), tensor(gg), tensor(pp)).item<double>(), 1e-15);
    }

    [TestMethod]
    public void AgreementIsClampedToUnitRange() =>
        // ⟨g,g⟩/sqrt(‖g‖²‖g‖²) can round to 1 + ulp; it must stay in [−1, 1].
        Assert.AreEqual(1.0, PilotPolicyMath.Agreement(1.0000000000000002, 1.0, 1.0));

    [TestMethod]
    [DataRow(1, 0.5)]
    [DataRow(2, -0.8)]
    [DataRow(3, 0.0)]
    public void TensorFormsEqualHostForms(int degree, double rho)
    {
        using var scope = NewDisposeScope();
        var phi = PilotPolicy.Default(degree).Phi.Select((c, i) => c + 0.1 * i - 0.3).ToArray();
        var overrides = new PolicyOverrides(PS: 0.25);
        using var constants = new PolicyConstants(degree, overrides, CPU);

        var (pm, pv, ps) = PilotPolicyMath.Knobs(phi, degree, rho, overrides);
        var knobs = PilotPolicyMath.Knobs(tensor(phi), degree, tensor(rho), constants);
        CollectionAssert.AreEqual(new[] { pm, pv, ps }, TestUtil.ToArray(knobs), Comparer<double>.Create((a, b) => Math.Abs(a - b) < 1e-15 ? 0 : 1));

        double[] g = [0.3, -1.2, 2.0];
        var host = new double[phi.Length];
        PilotPolicyMath.PhiGradient(g, phi, degree, rho, overrides, host);
        var device = TestUtil.ToArray(PilotPolicyMath.PhiGradient(tensor(g), tensor(phi), degree, tensor(rho), constants));
        TestUtil.AssertClose(tensor(host), tensor(device), 1e-14, 1e-16, "PhiGradient");
        // The pinned s head gets no gradient; the v head carries the 0.5 factor.
        Assert.IsTrue(host.Skip(2 * (degree + 1)).All(x => x == 0));
        double sv = PilotPolicyMath.Sigmoid(PilotPolicyMath.Horner(phi.AsSpan(degree + 1, degree + 1), rho));
        Assert.AreEqual(g[1] * sv * (1 - sv) * 0.5, host[2 * degree + 1], 1e-15); // c_0 of the v head
    }

    [TestMethod]
    public void ClipScalesOnlyAboveUnitNorm()
    {
        Assert.AreEqual(1.0, PilotPolicyMath.ClipScale([0.3, 0.4]));
        Assert.AreEqual(1 / (5 + 1e-12), PilotPolicyMath.ClipScale([3.0, 4.0]), 1e-15);
        var clipped = TestUtil.ToArray(PilotPolicyMath.ClipToUnitNorm(tensor(new[] { 3.0, 4.0 })));
        Assert.AreEqual(1.0, Math.Sqrt(clipped.Sum(x => x * x)), 1e-12);
        CollectionAssert.AreEqual(new[] { 0.3, 0.4 }, TestUtil.ToArray(PilotPolicyMath.ClipToUnitNorm(tensor(new[] { 0.3, 0.4 }))));
    }
}

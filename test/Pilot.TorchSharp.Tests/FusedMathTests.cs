using System.Runtime.Intrinsics;

namespace Pilot.TorchSharp.Tests;

/// <summary>The fused path's own x^a and ln x against System.Math in double precision.</summary>
[TestClass]
public sealed class FusedMathTests
{
    private static IEnumerable<float> Inputs()
    {
        var rng = new Random(7);
        for (int i = 0; i < 20000; i++) yield return (float)Math.Exp(rng.NextDouble() * 160 - 80); // 1.8e−35 … 5.5e34
        foreach (var x in new[] { 1e-12f, 1f, 1.5f, 0.75f, 1.4999999f, 2f, 3.4e38f }) yield return x;
    }

    private static readonly float[] Exponents = [0f, 0.05f, 0.3f, 0.476f, 0.5f, 0.88f, 1f];

    [TestMethod]
    public void Float256PowAndLnAreWithinAFewUlp()
    {
        double worstPow = 0, worstLn = 0;
        foreach (var x in Inputs())
            foreach (var a in Exponents)
            {
                var v = Vector256.Create(x);
                var parts = FloatMath.Log2Parts(v);
                double got = FloatMath.Pow(parts, v, a, mayBeZero: true)[0], want = Math.Pow(x, a);
                worstPow = Math.Max(worstPow, Math.Abs(got - want) / want);
                worstLn = Math.Max(worstLn, Math.Abs(FloatMath.Ln(parts)[0] - Math.Log(x)) / Math.Max(1, Math.Abs(Math.Log(x))));
            }
        Assert.IsTrue(worstPow < 4e-7, $"worst relative error of x^a: {worstPow:E2}");
        Assert.IsTrue(worstLn < 2e-7, $"worst error of ln x: {worstLn:E2}");
    }

    [TestMethod]
    public void Float512PowAndLnAreWithinAFewUlp()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            Assert.Inconclusive("This CPU has no AVX-512.");
            return;
        }
        double worstPow = 0, worstLn = 0;
        foreach (var x in Inputs())
            foreach (var a in Exponents)
            {
                var v = Vector512.Create(x);
                var parts = FusedKernels512.Log2Parts(v);
                double got = FusedKernels512.Pow(parts, v, a, mayBeZero: true)[0], want = Math.Pow(x, a);
                worstPow = Math.Max(worstPow, Math.Abs(got - want) / want);
                worstLn = Math.Max(worstLn, Math.Abs(FusedKernels512.Ln(parts)[0] - Math.Log(x)) / Math.Max(1, Math.Abs(Math.Log(x))));
            }
        Assert.IsTrue(worstPow < 4e-7, $"worst relative error of x^a: {worstPow:E2}");
        Assert.IsTrue(worstLn < 2e-7, $"worst error of ln x: {worstLn:E2}");
    }

    [TestMethod]
    public void EdgeValuesFollowTorchPow()
    {
        // torch.pow: 0^a = 0 for a > 0, ∞^a = ∞; subnormal inputs are flushed to 0 here (their powers are below 1e−18).
        foreach (var a in new[] { 0.3f, 1f })
        {
            var v = Vector256.Create(0f, float.PositiveInfinity, 1e-40f, 1f, 4f, 0f, 0f, 0f);
            var r = FloatMath.Pow(FloatMath.Log2Parts(v), v, a, mayBeZero: true);
            Assert.AreEqual(0f, r[0]);
            Assert.AreEqual(float.PositiveInfinity, r[1]);
            Assert.AreEqual(0f, r[2]);
            Assert.AreEqual(1f, r[3]);
            Assert.AreEqual(MathF.Pow(4f, a), r[4], 2e-6f);
        }
        var d = Vector256.Create(0.0, double.PositiveInfinity, 2.0, 1e-300);
        var rd = DoubleMath.Pow(DoubleMath.Log2Parts(d), d, 0.5, mayBeZero: true);
        Assert.AreEqual(0.0, rd[0]);
        Assert.AreEqual(double.PositiveInfinity, rd[1]);
        Assert.AreEqual(Math.Sqrt(2.0), rd[2], 1e-15);
        Assert.AreEqual(1e-150, rd[3], 1e-163); // exp(a·ln x): relative error ≈ |a·ln x|·ulp = 345·1.1e−16
    }
}

using TorchSharp;
using TorchSharp.Modules;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>The fused CPU path against the plain path (the readable reference), element by element.</summary>
[TestClass]
[DoNotParallelize] // switches FusedLayout.UseVector512, which would change other tests' rounding mid-run
public sealed class FusedParityTests
{
    // Sizes chosen to straddle the vector width (8 or 16 floats, 4 doubles) and the run length (FusedLayout.ChunkBytes):
    // the second tensor is two float32 runs (four float64 runs) plus 13 elements.
    private static readonly long[][] GroupA = [[7, 9], [2 * FusedLayout.ChunkBytes / 4 + 13], [1], [5]];
    private static readonly long[][] GroupB = [[33], [3, 4, 5]];

    internal sealed record Run(PilotOptimizer Opt, Parameter[] A, Parameter[] B) : IDisposable
    {
        public Parameter[] All => A.Concat(B).ToArray();
        public void Dispose() => Opt.Dispose();
    }

    internal static Run Make(ScalarType dtype, PilotImplementation implementation)
    {
        var a = TestUtil.MakeParameters(10, dtype, GroupA);
        var b = TestUtil.MakeParameters(11, dtype, GroupB);
        var opt = new PilotOptimizer(
            [new PilotOptimizer.ParamGroup(a), new PilotOptimizer.ParamGroup(b, degree: 1, overrides: new PolicyOverrides(PV: 0.3), lr: 0.02)],
            lr: 0.01, weight_decay: 0.05, eta_phi: PilotDefaults.EtaPhi, diagnostics: true, implementation: implementation);
        return new Run(opt, a, b);
    }

    /// <remarks>
    /// PILOT's update is discontinuous at n = 0 (sign(n)), and once the policy has moved p_s towards 1, an element with
    /// |n| ≈ 1e−10 still moves by η·|n|^(1−p_s) — so rounding-level differences grow without bound in such runs (the
    /// plain path, the fused path and the golden double loop then all drift apart). The comparison therefore runs at
    /// the default η_φ, where p_s stays small over 100 steps; the stronger policy movement is covered by the golden tests.
    /// </remarks>
    [TestMethod]
    [DataRow(ScalarType.Float32, 1e-6, false, DisplayName = "float32, 256-bit kernels")]
    [DataRow(ScalarType.Float32, 1e-6, true, DisplayName = "float32, 512-bit kernels")]
    [DataRow(ScalarType.Float64, 1e-12, false, DisplayName = "float64")]
    public void FusedEqualsPlainOver100StepsWithSkipsOverridesGroupsAndMissingGradients(ScalarType dtype, double rtol, bool wide)
    {
        if (wide && !Vector512.IsHardwareAccelerated)
        {
            Assert.Inconclusive("This CPU has no AVX-512; the 512-bit kernels are not used here.");
            return;
        }
        bool saved = FusedLayout.UseVector512;
        FusedLayout.UseVector512 = wide;
        try
        {
            RunParity(dtype, rtol, PilotImplementation.Fused);
        }
        finally
        {
            FusedLayout.UseVector512 = saved;
        }
    }

    /// <summary>The plain path against <paramref name="implementation"/> on the cases above (also used by <c>MultiTensorTests</c>).</summary>
    internal static void RunParity(ScalarType dtype, double rtol, PilotImplementation implementation)
    {
        using var plain = Make(dtype, PilotImplementation.Plain);
        using var fused = Make(dtype, implementation);
        using var gen = new Generator(123);
        var shapes = GroupA.Concat(GroupB).ToArray();
        var persistent = shapes.Select(s => randn(s, dtype: dtype, generator: gen)).ToArray();
        for (int step = 0; step < 100; step++)
        {
            using var scope = NewDisposeScope();
            var grads = shapes.Select((s, i) => (Tensor?)(persistent[i] * 0.5 + randn(s, dtype: dtype, generator: gen))).ToArray();
            grads[2] = null;                                // group A: a tensor that never has a gradient
            if (step % 7 == 3) grads[3] = null;             // group A: a tensor that sometimes has none
            if (step is 40 or 41) grads[5]![1, 2, 3] = tensor(step == 40 ? double.NaN : double.PositiveInfinity, dtype: dtype); // group B skips twice
            foreach (var run in new[] { plain, fused })
            {
                TestUtil.SetGrads(run.All, grads);
                run.Opt.step();
            }
        }

        // Relative to each tensor's largest magnitude: elements that pass near zero make an elementwise ratio meaningless.
        static double Scale(Tensor t) => t.abs().max().to_type(ScalarType.Float64).item<double>();
        for (int i = 0; i < plain.All.Length; i++)
        {
            TestUtil.AssertClose(plain.All[i], fused.All[i], rtol, rtol * Scale(plain.All[i]), $"parameter {i}");
            var (sp, sf) = (TestUtil.StateOf(plain.Opt, i), TestUtil.StateOf(fused.Opt, i));
            TestUtil.AssertClose(sp.m, sf.m, rtol, rtol * Scale(sp.m), $"m[{i}]");
            TestUtil.AssertClose(sp.v, sf.v, rtol, rtol * Scale(sp.v), $"v[{i}]");
            TestUtil.AssertBitEqual(sp.g_prev, sf.g_prev, $"g_prev[{i}]");
        }
        for (int g = 0; g < 2; g++)
        {
            var (pp, pf) = (plain.Opt.GetPolicyState(g), fused.Opt.GetPolicyState(g));
            Assert.AreEqual(pp.Step, pf.Step);
            Assert.AreEqual(pp.Rho, pf.Rho, rtol);
            TestUtil.AssertClose(tensor(pp.Phi), tensor(pf.Phi), rtol, rtol, $"φ of group {g}");
            Assert.AreEqual(plain.Opt.GetSkippedSteps(g), fused.Opt.GetSkippedSteps(g));
        }
        Assert.AreEqual(2L, fused.Opt.GetSkippedSteps(1));
        Assert.AreEqual(100L, fused.Opt.GetPolicyState(0).Step);
        Assert.AreEqual(98L, fused.Opt.GetPolicyState(1).Step);
        Assert.AreEqual(plain.Opt.Diagnostics.Count, fused.Opt.Diagnostics.Count);
        foreach (var (dp, df) in plain.Opt.Diagnostics.Zip(fused.Opt.Diagnostics))
        {
            Assert.AreEqual(dp.Skipped, df.Skipped);
            if (dp.Skipped) continue;
            Assert.AreEqual(dp.R, df.R, rtol * 10, $"r at step {dp.Step} of group {dp.Group}");
            Assert.AreEqual(dp.PM, df.PM, rtol);
            Assert.AreEqual(dp.PV, df.PV, rtol);
            Assert.AreEqual(dp.PS, df.PS, rtol);
        }
        // The parameter without a gradient kept its initial value in both.
        TestUtil.AssertBitEqual(TestUtil.MakeParameters(10, dtype, GroupA)[2], fused.A[2], "grad-less parameter");
    }

    [TestMethod]
    public void MixedDtypesInOneGroupAndNonContiguousGradients()
    {
        Parameter[] Make2() => [.. TestUtil.MakeParameters(3, ScalarType.Float32, [[4, 6]]), .. TestUtil.MakeParameters(4, ScalarType.Float64, [[6, 4], [3]])];
        var p = Make2();
        var q = Make2();
        using var plain = new PilotOptimizer(p, lr: 0.01, implementation: PilotImplementation.Plain);
        using var fused = new PilotOptimizer(q, lr: 0.01, implementation: PilotImplementation.Fused);
        using var gen = new Generator(5);
        for (int step = 0; step < 20; step++)
        {
            // The first gradient is a transposed (non-contiguous) view.
            var grads = new Tensor?[] { randn([6, 4], generator: gen).t(), randn([6, 4], dtype: ScalarType.Float64, generator: gen), randn([3], dtype: ScalarType.Float64, generator: gen) };
            Assert.IsFalse(grads[0]!.is_contiguous());
            for (int i = 0; i < 3; i++) { p[i].grad = grads[i]!.clone(); q[i].grad = grads[i]; }
            plain.step();
            fused.step();
        }
        TestUtil.AssertClose(p[0], q[0], 1e-6, 1e-9, "float32 parameter");
        TestUtil.AssertClose(p[1], q[1], 1e-6, 1e-9, "float64 parameter (the group's policy sees float32 sums too)");
        TestUtil.AssertClose(tensor(plain.GetPolicyState().Phi), tensor(fused.GetPolicyState().Phi), 1e-6, 1e-9, "φ");
    }

    [TestMethod]
    public void AutoPicksFusedOnTheCpuAndFusedRefusesWhatItCannotRun()
    {
        var p = TestUtil.MakeParameters(1, ScalarType.Float32, [[3, 4]]);
        using var auto = new PilotOptimizer(p);
        var group = (PilotOptimizer.ParamGroup)auto.ParamGroups.Single();
        Assert.AreEqual(PilotImplementation.Fused, auto.ResolveImplementation(group));
        p[0].grad = ones(3, 4);
        auto.step();
        Assert.IsNotNull(group.Fused, "the flat buffers were built");
        // The per-parameter state is a view of the flat buffers, so state_dict and the plain path see the same memory.
        Assert.IsTrue(group.Fused!.IsBoundTo([TestUtil.StateOf(auto, 0)]));

        var plainGroup = new PilotOptimizer(TestUtil.MakeParameters(1, ScalarType.Float32, [[2]]), implementation: PilotImplementation.Plain);
        Assert.AreEqual(PilotImplementation.Plain, plainGroup.ResolveImplementation((PilotOptimizer.ParamGroup)plainGroup.ParamGroups.Single()));

        var transposed = new Parameter(randn(4, 3).t());
        Assert.IsFalse(transposed.is_contiguous());
        using var fusedOnly = new PilotOptimizer([transposed], implementation: PilotImplementation.Fused);
        transposed.grad = ones(3, 4);
        var e = Assert.ThrowsExactly<NotSupportedException>(() => fusedOnly.step());
        StringAssert.Contains(e.Message, "parameter 0 is not contiguous");
        using var autoFallsBack = new PilotOptimizer([transposed]);
        autoFallsBack.step();
        Assert.AreEqual(1L, autoFallsBack.GetPolicyState().Step);
    }

    [TestMethod]
    public void StateMovesBetweenImplementations()
    {
        // Save from the fused path, resume on the plain path (and the reverse): the trajectories agree.
        var p = TestUtil.MakeParameters(6, ScalarType.Float64, [[40], [7]]);
        using var fused = new PilotOptimizer(p, lr: 0.01, implementation: PilotImplementation.Fused);
        using var gen = new Generator(8);
        for (int step = 0; step < 5; step++)
        {
            TestUtil.SetGrads(p, p.Select(x => randn(x.shape, dtype: ScalarType.Float64, generator: gen)).ToArray());
            fused.step();
        }
        var q = TestUtil.Clone(p);
        using var plain = new PilotOptimizer(q, lr: 0.01, implementation: PilotImplementation.Plain);
        plain.load_state_dict(fused.state_dict());
        for (int step = 0; step < 5; step++)
        {
            var grads = p.Select(x => randn(x.shape, dtype: ScalarType.Float64, generator: gen)).ToArray();
            TestUtil.SetGrads(p, grads);
            TestUtil.SetGrads(q, grads);
            fused.step();
            plain.step();
        }
        for (int i = 0; i < 2; i++) TestUtil.AssertClose(q[i], p[i], 1e-12, 1e-15, $"parameter {i}");
    }
}

/// <summary>Per-step cost of the fused path: no allocation of the model's size, no leaked tensors.</summary>
[TestClass]
[DoNotParallelize] // measures process-wide counters
public sealed class FusedAllocationTests
{
    [TestMethod]
    public void StepAllocatesNothingOfTheModelsSize()
    {
        var p = TestUtil.MakeParameters(2, ScalarType.Float32, [[1024, 1024], [1024], [512, 1024]]); // 1.6 M parameters, 6.3 MB
        using var opt = new PilotOptimizer(p, implementation: PilotImplementation.Fused);
        using var gen = new Generator(1);
        TestUtil.SetGrads(p, p.Select(x => randn(x.shape, generator: gen)).ToArray());
        for (int i = 0; i < 3; i++) opt.step(); // builds the flat buffers, JIT
        // Tensors that earlier tests left to the finalizer must not be counted down inside the window below.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        long tensorsBefore = Tensor.TotalCount;
        long managedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long threadBefore = GC.GetAllocatedBytesForCurrentThread();
        const int steps = 20;
        for (int i = 0; i < steps; i++) opt.step();
        long managedPerStep = (GC.GetTotalAllocatedBytes(precise: true) - managedBefore) / steps;
        long threadPerStep = (GC.GetAllocatedBytesForCurrentThread() - threadBefore) / steps;

        Assert.AreEqual(tensorsBefore, Tensor.TotalCount, "no tensor leaked");
        Assert.IsTrue(threadPerStep < 16 * 1024, $"{threadPerStep} bytes allocated per step on the stepping thread");
        Assert.IsTrue(managedPerStep < 64 * 1024, $"{managedPerStep} bytes allocated per step in the process (model: 6.3 MB)");
        Assert.AreEqual(23L, opt.GetPolicyState().Step);
    }
}

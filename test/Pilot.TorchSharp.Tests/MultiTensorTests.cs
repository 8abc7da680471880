using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>The multi-tensor path: the plain path's numbers from a fixed number of whole-group tensor operations.</summary>
[TestClass]
public sealed class MultiTensorTests
{
    /// <summary>The fused parity cases (two groups, overrides, NaN/∞ skips, a tensor that never and one that sometimes has no
    /// gradient, sizes that are not multiples of anything) with the multi-tensor path in place of the fused one.</summary>
    [TestMethod]
    [DataRow(ScalarType.Float32, 1e-6, DisplayName = "float32")]
    [DataRow(ScalarType.Float64, 1e-12, DisplayName = "float64")]
    public void MultiTensorEqualsPlainOver100StepsWithSkipsOverridesGroupsAndMissingGradients(ScalarType dtype, double rtol) =>
        FusedParityTests.RunParity(dtype, rtol, PilotImplementation.MultiTensor);

    /// <summary>
    /// The counting hook: TorchSharp's per-thread count of tensors created (<c>DisposeScopeManager.Statistics</c>); every
    /// out-of-place tensor operation creates one. One step of a group of 3 tensors and one of 300 tensors must create
    /// exactly as many — and the same hook, on the plain path, must see at least 20 more per extra tensor, which shows that
    /// it does count the operations a step issues per tensor.
    /// </summary>
    [TestMethod]
    [DataRow(false, DisplayName = "every parameter has a gradient")]
    [DataRow(true, DisplayName = "one parameter without a gradient (masked step)")]
    public void OperationCountDoesNotGrowWithTheNumberOfTensors(bool oneWithoutGradient)
    {
        long few = TensorsCreatedByOneStep(PilotImplementation.MultiTensor, 3, oneWithoutGradient);
        long many = TensorsCreatedByOneStep(PilotImplementation.MultiTensor, 300, oneWithoutGradient);
        Assert.AreEqual(few, many, "tensors created by one multi-tensor step, 3 tensors vs 300");
        Assert.IsGreaterThan(20L, few, "the hook sees the step's operations");

        long plainFew = TensorsCreatedByOneStep(PilotImplementation.Plain, 3, oneWithoutGradient);
        long plainMany = TensorsCreatedByOneStep(PilotImplementation.Plain, 300, oneWithoutGradient);
        Assert.IsGreaterThanOrEqualTo(20L * (300 - 3), plainMany - plainFew, "the plain path issues operations per tensor, and the hook sees them");
        Console.WriteLine($"tensors created by one step: multi-tensor {few} (3 tensors) and {many} (300); plain {plainFew} and {plainMany}");
    }

    /// <summary>Two float32 and one float64 parameter per three: each element type is one slab, so the count is fixed per slab.</summary>
    [TestMethod]
    public void OperationCountDoesNotGrowWithTheNumberOfTensorsInAMixedDtypeGroup() =>
        Assert.AreEqual(TensorsCreatedByOneStep(PilotImplementation.MultiTensor, 6, false, mixed: true),
            TensorsCreatedByOneStep(PilotImplementation.MultiTensor, 240, false, mixed: true));

    private static long TensorsCreatedByOneStep(PilotImplementation implementation, int tensors, bool oneWithoutGradient, bool mixed = false)
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(7);
        var p = Enumerable.Range(0, tensors).Select(i => new Parameter(randn(7 + i % 5, 3,
            dtype: mixed && i % 3 == 2 ? ScalarType.Float64 : ScalarType.Float32, generator: gen))).ToArray();
        using var opt = new PilotOptimizer(p, lr: 0.01, implementation: implementation);
        var grads = p.Select((x, i) => (Tensor?)ones_like(x).mul_(0.1 * (i + 1))).ToArray();
        if (oneWithoutGradient) grads[1] = null;
        TestUtil.SetGrads(p, grads);
        opt.step(); // builds the flat buffers, gathers the gradients and points each grad at its view
        opt.step(); // steady state: gradients already in place, masks built
        var stats = DisposeScopeManager.Statistics;
        long before = stats.CreatedInScopeCount + stats.CreatedOutsideScopeCount;
        opt.step();
        long created = stats.CreatedInScopeCount + stats.CreatedOutsideScopeCount - before;
        Assert.AreEqual(3L, opt.GetPolicyState().Step);
        return created;
    }

    /// <summary>
    /// A real training loop (backward, then step) on the plain and multi-tensor paths, zeroing gradients either in place
    /// (<c>optimizer.zero_grad()</c>: backward then accumulates into the flat gradient buffer and nothing is gathered) or by
    /// setting them to null (<c>module.zero_grad()</c>: a gather every step); also checks where parameters and gradients live.
    /// </summary>
    [TestMethod]
    [DataRow(false, DisplayName = "optimizer.zero_grad (in place)")]
    [DataRow(true, DisplayName = "module.zero_grad (set to null)")]
    public void TrainingWithBackwardMatchesPlain(bool moduleZeroGrad)
    {
        using var a = TestUtil.MakeMlp(1, ScalarType.Float64);
        using var b = TestUtil.MakeMlp(1, ScalarType.Float64);
        using var plain = new PilotOptimizer(a.parameters(), lr: 0.01, eta_phi: 0.05, implementation: PilotImplementation.Plain);
        using var multi = new PilotOptimizer(b.parameters(), lr: 0.01, eta_phi: 0.05, implementation: PilotImplementation.MultiTensor);
        using var gen = new Generator(17);
        for (int step = 0; step < 30; step++)
        {
            using var scope = NewDisposeScope();
            var x = randn([16, 4], dtype: ScalarType.Float64, generator: gen);
            var y = randint(0, 3, [16], generator: gen);
            foreach (var (model, opt) in new (Sequential, PilotOptimizer)[] { (a, plain), (b, multi) })
            {
                if (moduleZeroGrad) model.zero_grad(); else opt.zero_grad();
                nn.functional.cross_entropy(model.call(x), y).backward();
                opt.step();
            }
        }
        foreach (var (pa, pb) in a.parameters().Zip(b.parameters())) TestUtil.AssertClose(pa, pb, 1e-12, 1e-14, "parameter");
        TestUtil.AssertClose(tensor(plain.GetPolicyState().Phi), tensor(multi.GetPolicyState().Phi), 1e-12, 1e-14, "φ");

        var layout = multi.MultiTensorLayoutOf((PilotOptimizer.ParamGroup)multi.ParamGroups.Single())!;
        var slab = layout.Slabs.Single();
        var parameters = b.parameters().ToArray();
        for (int k = 0; k < parameters.Length; k++)
        {
            nint offset = (nint)(slab.Offsets[k] * slab.ElementSize);
            Assert.AreEqual(slab.ThetaBase + offset, TorchNative.DataPointer(parameters[k]), $"parameter {k} is a view of the flat θ buffer");
            Assert.AreEqual(slab.GradBase + offset, TorchNative.GradDataPointer(parameters[k], out bool hasGrad), $"gradient {k} is a view of the flat g buffer");
            Assert.IsTrue(hasGrad);
        }
    }

    [TestMethod]
    public void StateIsTwelveBytesPerParameterInViewsOfFlatBuffers()
    {
        using var model = TestUtil.MakeMlp(3);
        using var opt = new PilotOptimizer(model.parameters(), implementation: PilotImplementation.MultiTensor);
        using (var scope = NewDisposeScope())
        {
            nn.functional.cross_entropy(model.call(randn(8, 4)), randint(0, 3, [8])).backward();
            opt.step();
        }
        long parameters = model.parameters().Sum(p => p.numel());
        Assert.AreEqual(12.0, TestUtil.StateBytes(opt) / (double)parameters - GroupStateBytes(opt) / (double)parameters, 1e-12);
        var slab = opt.MultiTensorLayoutOf((PilotOptimizer.ParamGroup)opt.ParamGroups.Single())!.Slabs.Single();
        for (int i = 0; i < 4; i++)
        {
            var s = TestUtil.StateOf(opt, i);
            Assert.AreSame(slab.MViews[i], s.m);
            Assert.AreSame(slab.VViews[i], s.v);
            Assert.AreSame(slab.GViews[i], s.g_prev);
        }
        Assert.AreEqual(parameters, slab.M.numel());
    }

    private static long GroupStateBytes(PilotOptimizer opt) =>
        opt.state_dict().State.OfType<PilotOptimizer.GroupState>().Sum(g => (g.step.numel() + g.rho.numel() + g.phi.numel() + g.prev_knobs.numel() + g.skipped.numel()) * 8);

    /// <summary>Save after real steps on the multi-tensor path, load into a fresh multi-tensor and a fresh plain optimizer:
    /// both continue on the uninterrupted trajectory.</summary>
    [TestMethod]
    [DataRow(PilotImplementation.MultiTensor)]
    [DataRow(PilotImplementation.Plain)]
    public void SavedStateResumesOnEitherPath(PilotImplementation resumeOn)
    {
        var p = TestUtil.MakeParameters(6, ScalarType.Float64, [[40], [7, 3], [5]]);
        using var multi = new PilotOptimizer(p, lr: 0.01, implementation: PilotImplementation.MultiTensor);
        using var gen = new Generator(8);
        Tensor[] Grads() => p.Select(x => randn(x.shape, dtype: ScalarType.Float64, generator: gen)).ToArray();
        for (int step = 0; step < 6; step++)
        {
            TestUtil.SetGrads(p, Grads());
            multi.step();
        }
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) multi.save_state_dict(w);
        ms.Position = 0;
        var q = TestUtil.Clone(p);
        using var resumed = new PilotOptimizer(q, lr: 0.01, implementation: resumeOn);
        resumed.load_state_dict(new BinaryReader(ms));
        for (int step = 0; step < 6; step++)
        {
            var grads = Grads();
            TestUtil.SetGrads(p, grads);
            TestUtil.SetGrads(q, grads);
            multi.step();
            resumed.step();
        }
        for (int i = 0; i < p.Length; i++) TestUtil.AssertClose(p[i], q[i], 1e-12, 1e-15, $"parameter {i}");
        Assert.AreEqual(12L, resumed.GetPolicyState().Step);
    }

    /// <summary>The committed version-1 state file (written by the plain path) loads into a multi-tensor optimizer whose
    /// flat buffers already exist, and the next steps equal the plain path's from the same file.</summary>
    [TestMethod]
    public void VersionOneFixtureLoadsIntoTheMultiTensorPath()
    {
        string fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pilot-state-v1.bin");
        PilotOptimizer Make(Parameter[] p, PilotImplementation implementation) => new(
            [new PilotOptimizer.ParamGroup(p.Take(2)), new PilotOptimizer.ParamGroup(p.Skip(2), degree: 1, overrides: new PolicyOverrides(PV: 0.25))],
            lr: 0.05, eta_phi: 0.1, gamma: 0.9, implementation: implementation);
        var p = TestUtil.MakeParameters(314, ScalarType.Float64, [[3, 2], [4], [2]]);
        var q = TestUtil.Clone(p);
        using var plain = Make(p, PilotImplementation.Plain);
        using var multi = Make(q, PilotImplementation.MultiTensor);
        using var gen = new Generator(5);
        TestUtil.SetGrads(q, q.Select(x => randn(x.shape, dtype: ScalarType.Float64, generator: gen)).ToArray());
        multi.step();                                 // the flat buffers exist before the load
        using (no_grad()) foreach (var (x, y) in p.Zip(q)) y.copy_(x);
        plain.load_state_dict(fixture);
        multi.load_state_dict(fixture);
        for (int step = 0; step < 5; step++)
        {
            var grads = p.Select(x => randn(x.shape, dtype: ScalarType.Float64, generator: gen)).ToArray();
            TestUtil.SetGrads(p, grads);
            TestUtil.SetGrads(q, grads);
            plain.step();
            multi.step();
        }
        for (int i = 0; i < p.Length; i++) TestUtil.AssertClose(p[i], q[i], 1e-12, 1e-15, $"parameter {i}");
        Assert.AreEqual(8L, multi.GetPolicyState(0).Step);
    }

    /// <summary>A parameter whose storage is replaced between steps (as <c>module.to(...)</c> does) is noticed, the flat
    /// buffers are rebuilt from the current values, and the trajectory stays the plain path's.</summary>
    [TestMethod]
    public void ReplacedParameterStorageRebuildsTheLayout()
    {
        var p = TestUtil.MakeParameters(2, ScalarType.Float32, [[6, 5], [9]]);
        var q = TestUtil.Clone(p);
        using var plain = new PilotOptimizer(p, lr: 0.01, implementation: PilotImplementation.Plain);
        using var multi = new PilotOptimizer(q, lr: 0.01, implementation: PilotImplementation.MultiTensor);
        var group = (PilotOptimizer.ParamGroup)multi.ParamGroups.Single();
        using var gen = new Generator(4);
        MultiTensorLayout? first = null;
        for (int step = 0; step < 12; step++)
        {
            if (step == 6)
            {
                using var noGrad = no_grad();
                q[0].set_(q[0].detach().clone()); // new storage, same values
            }
            var grads = p.Select(x => randn(x.shape, generator: gen)).ToArray();
            TestUtil.SetGrads(p, grads);
            TestUtil.SetGrads(q, grads);
            plain.step();
            multi.step();
            if (step == 0) first = multi.MultiTensorLayoutOf(group);
        }
        Assert.AreNotSame(first, multi.MultiTensorLayoutOf(group), "the layout was rebuilt");
        for (int i = 0; i < p.Length; i++) TestUtil.AssertClose(p[i], q[i], 1e-6, 1e-7, $"parameter {i}");
    }

    [TestMethod]
    public void AutoPicksMultiTensorWhereTheFusedPathCannotRun()
    {
        var contiguous = TestUtil.MakeParameters(1, ScalarType.Float32, [[3, 4]]);
        using var auto = new PilotOptimizer(contiguous);
        Assert.AreEqual(PilotImplementation.Fused, auto.ResolveImplementation((PilotOptimizer.ParamGroup)auto.ParamGroups.Single()));

        var transposed = new Parameter(randn(4, 3).t());
        using var autoTransposed = new PilotOptimizer([transposed]);
        Assert.AreEqual(PilotImplementation.MultiTensor, autoTransposed.ResolveImplementation((PilotOptimizer.ParamGroup)autoTransposed.ParamGroups.Single()));

        using var explicitMulti = new PilotOptimizer(TestUtil.MakeParameters(2, ScalarType.Float32, [[2]]), implementation: PilotImplementation.MultiTensor);
        Assert.AreEqual(PilotImplementation.MultiTensor, explicitMulti.ResolveImplementation((PilotOptimizer.ParamGroup)explicitMulti.ParamGroups.Single()));
    }

    /// <summary>The device check that <see cref="MultiTensorOnCudaMatchesPlainOnCuda"/> runs on a GPU, run here on the CPU.</summary>
    [TestMethod]
    public void DeviceParityOnTheCpu() => RunDeviceParity(CPU);

    [TestMethod]
    [TestCategory("Cuda")] // eng/gpu-check.sh runs this category on a GPU machine
    public void MultiTensorOnCudaMatchesPlainOnCuda()
    {
        if (!TorchRuntime.CudaAvailable)
        {
            Assert.Inconclusive("No CUDA device (this build references the CPU libtorch; build with -p:PilotCuda=true on a GPU machine, or run eng/gpu-check.sh).");
            return;
        }
        using (var auto = new PilotOptimizer([new Parameter(zeros(3, device: CUDA))]))
            Assert.AreEqual(PilotImplementation.MultiTensor, auto.ResolveImplementation((PilotOptimizer.ParamGroup)auto.ParamGroups.Single()), "Auto on CUDA");
        RunDeviceParity(CUDA);
    }

    /// <summary>Plain and multi-tensor paths on <paramref name="device"/>, 50 steps with a skipped step and a parameter
    /// without gradient, compared with each other and with the plain path on the CPU.</summary>
    private static void RunDeviceParity(Device device)
    {
        var cpu = TestUtil.MakeParameters(1, ScalarType.Float32, [[64, 32], [32], [3, 3, 5], [7]]);
        var onPlain = cpu.Select(p => new Parameter(p.detach().clone().to(device))).ToArray();
        var onMulti = cpu.Select(p => new Parameter(p.detach().clone().to(device))).ToArray();
        using var reference = new PilotOptimizer(cpu, lr: 0.01, implementation: PilotImplementation.Plain);
        using var plain = new PilotOptimizer(onPlain, lr: 0.01, implementation: PilotImplementation.Plain);
        using var multi = new PilotOptimizer(onMulti, lr: 0.01, implementation: PilotImplementation.MultiTensor);
        using var gen = new Generator(3);
        for (int step = 0; step < 50; step++)
        {
            using var scope = NewDisposeScope();
            var grads = cpu.Select(p => (Tensor?)randn(p.shape, generator: gen)).ToArray();
            grads[3] = null;
            if (step == 20) grads[1]![5] = tensor(float.NaN);
            TestUtil.SetGrads(cpu, grads);
            TestUtil.SetGrads(onPlain, grads.Select(g => g?.to(device)).ToArray());
            TestUtil.SetGrads(onMulti, grads.Select(g => g?.to(device)).ToArray());
            reference.step();
            plain.step();
            multi.step();
        }
        for (int i = 0; i < cpu.Length; i++)
        {
            TestUtil.AssertClose(onPlain[i], onMulti[i], 1e-6, 1e-7, $"parameter {i}: multi-tensor vs plain on {device}");
            TestUtil.AssertClose(cpu[i], onMulti[i], 1e-5, 1e-6, $"parameter {i}: multi-tensor on {device} vs plain on the CPU");
        }
        Assert.AreEqual(1L, multi.GetSkippedSteps());
        Assert.AreEqual(49L, multi.GetPolicyState().Step);
        TestUtil.AssertBitEqual(TestUtil.MakeParameters(1, ScalarType.Float32, [[64, 32], [32], [3, 3, 5], [7]])[3], onMulti[3].cpu(), "grad-less parameter");
    }
}

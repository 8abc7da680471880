using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

[TestClass]
public sealed class TorchRuntimeTests
{
    [TestMethod]
    public void EnsureLoadedSucceedsHereAndIsIdempotent()
    {
        TorchRuntime.EnsureLoaded();
        TorchRuntime.EnsureLoaded();
        var device = TorchRuntime.DefaultDevice;
        Assert.AreEqual(TorchRuntime.CudaAvailable ? DeviceType.CUDA : DeviceType.CPU, device.type);
    }

    [TestMethod]
    public void MissingGlibcxxIsExplainedWithTheFix()
    {
        var e = TorchRuntime.Explain(
            "/x/libLibTorchSharp.so: /lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by /x/libLibTorchSharp.so)\nmore", null);
        StringAssert.Contains(e.Message, "GCC 13");
        StringAssert.Contains(e.Message, "GLIBCXX_3.4.32");
        StringAssert.Contains(e.Message, "libstdc++6");
        Assert.IsFalse(e.Message.Contains("eng/"), "a library message names no file of its source repository");
        StringAssert.Contains(e.Message, "version `GLIBCXX_3.4.32' not found");
        Assert.IsFalse(e.Message.Contains("more"), "only the loader's first line");
    }

    [TestMethod]
    public void OtherLoadFailuresNameThePackage()
    {
        var e = TorchRuntime.Explain("libtorch_cpu.so: cannot open shared object file", null);
        StringAssert.Contains(e.Message, "libtorch-cpu-linux-x64");
    }

    [TestMethod]
    public void Nnpack_FailedInitialisation_TurnsItOff_AndASuccessLeavesItOn()
    {
        int disabled = 0;
        Assert.AreEqual(NnpackState.Disabled, TorchRuntime.DisableNnpackUnlessReady(() => 51 /* nnp_status_unsupported_hardware */, () => disabled++));
        Assert.AreEqual(1, disabled);
        Assert.AreEqual(NnpackState.Ready, TorchRuntime.DisableNnpackUnlessReady(() => 0, () => disabled++));
        Assert.AreEqual(1, disabled, "a successful initialisation must leave NNPACK on");
    }

    [TestMethod]
    public void Nnpack_IsCheckedWhenLibtorchLoads_AndItsSwitchAgrees()
    {
        TorchRuntime.EnsureLoaded();
        if (!OperatingSystem.IsLinux() || !RuntimeInformation.ProcessArchitecture.Equals(Architecture.X64))
        {
            Assert.Inconclusive("NNPACK is checked on Linux x64 only.");
            return;
        }
        // The exports were found (a renamed symbol would leave NotChecked, and the warning would come back).
        Assert.AreNotEqual(NnpackState.NotChecked, TorchRuntime.Nnpack);
        Assert.AreEqual(TorchRuntime.Nnpack == NnpackState.Ready, TorchRuntime.NnpackEnabled());
        // NNPACK's own rule on x64: AVX2 and FMA3 (where cpuinfo can read them).
        if (!(System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported))
            Assert.AreEqual(NnpackState.Disabled, TorchRuntime.Nnpack, "NNPACK cannot run without AVX2 and FMA3");
    }

    [TestMethod]
    [TestCategory("Cuda")] // eng/gpu-check.sh runs this category on a GPU machine
    public void PlainStepOnCudaMatchesCpu()
    {
        if (!TorchRuntime.CudaAvailable)
        {
            Assert.Inconclusive("No CUDA device (this build references the CPU libtorch; build with -p:PilotCuda=true on a GPU machine).");
            return;
        }
        var cpu = TestUtil.MakeParameters(1, ScalarType.Float32, [[64, 32], [32]]);
        var gpu = cpu.Select(p => new Parameter(p.detach().cuda())).ToArray();
        using var a = new PilotOptimizer(cpu, lr: 0.01);
        using var b = new PilotOptimizer(gpu, lr: 0.01);
        using var gen = new Generator(3);
        for (int step = 0; step < 20; step++)
        {
            var grads = cpu.Select(p => randn(p.shape, generator: gen)).ToArray();
            TestUtil.SetGrads(cpu, grads);
            TestUtil.SetGrads(gpu, grads.Select(g => g.cuda()).ToArray());
            a.step();
            b.step();
        }
        for (int i = 0; i < cpu.Length; i++) TestUtil.AssertClose(cpu[i], gpu[i], 1e-5, 1e-6, $"parameter {i}");
    }
}

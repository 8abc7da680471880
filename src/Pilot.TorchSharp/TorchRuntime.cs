using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.TorchSharp;

/// <summary>
/// Loading TorchSharp's native runtime with one clear error instead of TorchSharp's load trace, and picking the device.
/// </summary>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _loaded;

    /// <summary>What <see cref="EnsureLoaded"/> found out about NNPACK (libtorch's CPU convolution library); see <see cref="NnpackState"/>.</summary>
    internal static NnpackState Nnpack { get; private set; } = NnpackState.NotChecked;

    /// <summary>The symbol version of the C++ runtime that TorchSharp 0.107's native glue needs (GCC 13's libstdc++).</summary>
    public const string RequiredGlibcxx = "GLIBCXX_3.4.32";

    /// <summary>
    /// Loads TorchSharp's native libraries (CPU backend) once. Call it before any other TorchSharp use to get a short,
    /// actionable error when the native runtime cannot load.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The native runtime cannot load; the message says what is missing
    /// (e.g. the GCC 13 C++ runtime, <see cref="RequiredGlibcxx"/>) and how to fix it.</exception>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded) return;
            var assembly = typeof(torch).Assembly;
            // Load the glue ourselves first: NativeLibrary.Load reports the loader's reason (e.g. a missing symbol version),
            // which TorchSharp's own TryLoad discards before printing a long probe trace.
            IntPtr torchCpu = IntPtr.Zero;
            foreach (var name in new[] { "torch_cpu", "LibTorchSharp" })
            {
                try
                {
                    var handle = NativeLibrary.Load(name, assembly, null);
                    if (name == "torch_cpu") torchCpu = handle;
                }
                catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
                {
                    throw Explain(e.Message, e);
                }
            }
            Nnpack = QuietNnpack(torchCpu);
            try
            {
                InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is NotSupportedException or InvalidOperationException or TypeInitializationException)
            {
                throw Explain(e.Message, e);
            }
            _loaded = true;
        }
    }

    /// <summary>
    /// Where NNPACK cannot run, turns it off before libtorch tries it, so that libtorch does not print
    /// "Could not initialize NNPACK! Reason: Unsupported hardware." on the first convolution.
    /// </summary>
    /// <remarks>
    /// libtorch's Linux x64 build offers NNPACK for some CPU convolutions. The first convolution calls NNPACK's
    /// <c>nnp_initialize</c>; where that fails (an x64 CPU without AVX2 and FMA3, or one whose features cpuinfo cannot read,
    /// as in some virtual machines) libtorch logs the line above as a warning and convolves without NNPACK. The line is
    /// noise: nothing is lost, and users take it for an error. So we call <c>nnp_initialize</c> ourselves (it logs
    /// nothing, and a second call returns the first result) and, when it fails, clear libtorch's NNPACK switch
    /// (<c>at::globalContext().setUserEnabledNNPACK(false)</c>, what PyTorch's <c>torch.backends.nnpack.set_flags(False)</c>
    /// does), which libtorch checks before initialising NNPACK. libtorch's other warnings are untouched. Where the
    /// functions are not exported (another platform or build), nothing changes.
    /// </remarks>
    internal static NnpackState QuietNnpack(IntPtr torchCpu)
    {
        if (!OperatingSystem.IsLinux() || torchCpu == IntPtr.Zero
            || !NativeLibrary.TryGetExport(torchCpu, "nnp_initialize", out var initialize)
            || !NativeLibrary.TryGetExport(torchCpu, "_ZN2at13globalContextEv", out var globalContext)
            || !NativeLibrary.TryGetExport(torchCpu, "_ZN2at7Context20setUserEnabledNNPACKEb", out var setEnabled))
            return NnpackState.NotChecked;
        unsafe
        {
            return DisableNnpackUnlessReady(
                () => ((delegate* unmanaged<int>)initialize)(),
                () => ((delegate* unmanaged<IntPtr, byte, void>)setEnabled)(((delegate* unmanaged<IntPtr>)globalContext)(), 0));
        }
    }

    /// <summary>The decision of <see cref="QuietNnpack"/>: <paramref name="disable"/> NNPACK unless <paramref name="initialize"/> returns 0 (nnp_status_success).</summary>
    internal static NnpackState DisableNnpackUnlessReady(Func<int> initialize, Action disable)
    {
        if (initialize() == 0)
            return NnpackState.Ready;
        disable();
        return NnpackState.Disabled;
    }

    /// <summary>Whether libtorch's NNPACK switch is on (<c>at::globalContext().userEnabledNNPACK()</c>); null where it cannot be read.</summary>
    internal static bool? NnpackEnabled()
    {
        EnsureLoaded();
        if (!OperatingSystem.IsLinux()
            || !NativeLibrary.TryLoad("torch_cpu", typeof(torch).Assembly, null, out var torchCpu)
            || !NativeLibrary.TryGetExport(torchCpu, "_ZN2at13globalContextEv", out var globalContext)
            || !NativeLibrary.TryGetExport(torchCpu, "_ZNK2at7Context17userEnabledNNPACKEv", out var enabled))
            return null;
        unsafe
        {
            return ((delegate* unmanaged<IntPtr, byte>)enabled)(((delegate* unmanaged<IntPtr>)globalContext)()) != 0;
        }
    }

    /// <summary>Turns a native load failure into one exception that says what is missing and how to fix it.</summary>
    internal static PlatformNotSupportedException Explain(string loaderMessage, Exception? inner)
    {
        string firstLine = loaderMessage.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        if (loaderMessage.Contains("GLIBCXX_", StringComparison.Ordinal))
        {
            return new PlatformNotSupportedException(
                $"TorchSharp's native library needs the C++ runtime of GCC 13 or newer (libstdc++ with symbol version {RequiredGlibcxx}), " +
                "which this system lacks (Debian 12 ships GCC 12's). Fix: install the libstdc++6 package of GCC 13 or newer " +
                "(Ubuntu 24.04 and Debian 13 ship it; Debian 12 can take it from Debian 13). " +
                $"Loader message: {firstLine}", inner);
        }
        return new PlatformNotSupportedException(
            "TorchSharp's native library (libtorch) could not be loaded. Make sure the libtorch-cpu-linux-x64 package (or the " +
            "CUDA build) is restored next to TorchSharp.dll and matches TorchSharp 0.107. " +
            $"Loader message: {firstLine}", inner);
    }

    /// <summary>True when a CUDA device is usable (the CUDA build of libtorch is present and a GPU is visible).</summary>
    public static bool CudaAvailable
    {
        get
        {
            EnsureLoaded();
            try
            {
                return cuda.is_available();
            }
            catch (Exception e) when (e is NotSupportedException or InvalidOperationException or DllNotFoundException)
            {
                return false;
            }
        }
    }

    /// <summary>CUDA when <see cref="CudaAvailable"/>, otherwise the CPU.</summary>
    public static Device DefaultDevice => CudaAvailable ? CUDA : CPU;
}

/// <summary>NNPACK as <see cref="TorchRuntime.EnsureLoaded"/> left it.</summary>
internal enum NnpackState
{
    /// <summary>Not looked at: not loaded yet, not Linux, or a libtorch that does not export NNPACK's functions.</summary>
    NotChecked,

    /// <summary>NNPACK initialised; libtorch uses it where it fits.</summary>
    Ready,

    /// <summary>NNPACK cannot run on this CPU; libtorch's NNPACK switch was turned off, so libtorch neither tries it nor warns.</summary>
    Disabled,
}

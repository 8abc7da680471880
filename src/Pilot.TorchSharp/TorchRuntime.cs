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
            foreach (var name in new[] { "torch_cpu", "LibTorchSharp" })
            {
                try
                {
                    NativeLibrary.Load(name, assembly, null);
                }
                catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
                {
                    throw Explain(e.Message, e);
                }
            }
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

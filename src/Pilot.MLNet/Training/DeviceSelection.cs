using Microsoft.ML.Runtime;
using Pilot.TorchSharp;
using TorchSharp;

namespace Pilot.MLNet.Training;

/// <summary>
/// Chooses the TorchSharp device from the <see cref="Microsoft.ML.MLContext"/>'s <c>GpuDeviceId</c> and <c>FallbackToCpu</c>:
/// <list type="bullet">
/// <item><c>GpuDeviceId</c> <see langword="null"/> (the default): the first CUDA device when CUDA is available, else the CPU.</item>
/// <item><c>GpuDeviceId</c> = n ≥ 0: CUDA device n. When CUDA is unavailable or has no device n, the CPU if
/// <c>FallbackToCpu</c> is <see langword="true"/>, else an <see cref="InvalidOperationException"/>.</item>
/// <item><c>GpuDeviceId</c> &lt; 0: the CPU (GPU use forbidden).</item>
/// </list>
/// </summary>
internal static class DeviceSelection
{
    /// <remarks>Loads libtorch first (<see cref="TorchRuntime.EnsureLoaded"/>): a clear error when it cannot load, and no NNPACK noise.</remarks>
    public static torch.Device Choose(IHostEnvironment env)
    {
        TorchRuntime.EnsureLoaded();
        return Choose(((IHostEnvironmentInternal)env).GpuDeviceId, ((IHostEnvironmentInternal)env).FallbackToCpu,
            torch.cuda.is_available() ? torch.cuda.device_count() : 0);
    }

    /// <summary>The rule above, given how many CUDA devices there are (0: CUDA unavailable).</summary>
    internal static torch.Device Choose(int? gpuDeviceId, bool fallbackToCpu, int cudaDevices)
    {
        switch (gpuDeviceId)
        {
            case null:
                return cudaDevices > 0 ? new torch.Device(DeviceType.CUDA, 0) : torch.CPU;
            case < 0:
                return torch.CPU;
            case int id when id < cudaDevices:
                return new torch.Device(DeviceType.CUDA, id);
            case int id:
                if (fallbackToCpu)
                    return torch.CPU;
                throw new InvalidOperationException(cudaDevices == 0
                    ? $"MLContext.GpuDeviceId is {id} but CUDA is not available (no GPU, or the CPU build of libtorch), and " +
                      "MLContext.FallbackToCpu is false. Set FallbackToCpu = true to train on the CPU, or install TorchSharp's CUDA package."
                    : $"MLContext.GpuDeviceId is {id} but there are only {cudaDevices} CUDA device(s) (ids 0 to {cudaDevices - 1}), " +
                      "and MLContext.FallbackToCpu is false.");
        }
    }
}

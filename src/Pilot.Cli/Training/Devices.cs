using Pilot.TorchSharp;
using TorchSharp;

namespace Pilot.Cli.Training;

/// <summary>Resolves <c>--device auto|cpu|cuda</c> to the device kind a run uses.</summary>
internal static class Devices
{
    /// <summary>Returns <c>cpu</c> or <c>cuda</c>.</summary>
    /// <exception cref="CliInputException"><see cref="DeviceChoice.Cuda"/> was asked for and TorchSharp sees no CUDA device.</exception>
    /// <remarks>Loads libtorch first (<see cref="TorchRuntime.EnsureLoaded"/>): a clear error when it cannot load, and no NNPACK noise.</remarks>
    public static string Resolve(DeviceChoice choice, string optionName)
    {
        TorchRuntime.EnsureLoaded();
        return choice switch
        {
            DeviceChoice.Cpu => "cpu",
            DeviceChoice.Cuda => torch.cuda.is_available()
                ? "cuda"
                : throw new CliInputException(
                    $"{optionName} cuda: TorchSharp sees no CUDA device (a CPU-only build, no GPU, or no driver). Use {optionName} cpu or auto."),
            DeviceChoice.Auto => torch.cuda.is_available() ? "cuda" : "cpu",
            _ => throw new CliInputException($"{optionName}: unknown device {choice}; use auto, cpu or cuda."),
        };
    }
}

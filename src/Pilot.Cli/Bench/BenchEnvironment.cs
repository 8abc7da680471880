using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;
using TorchSharp;

namespace Pilot.Cli.Bench;

/// <summary>
/// The settings a benchmark figure depends on, written into every benchmark JSON record (<c>bench optimizer</c>,
/// <c>bench train</c>, <c>bench paper</c>) so that a number can be traced to how it was measured.
/// </summary>
/// <param name="Commit">The git commit <c>pilot</c> was built from (from its informational version); "unknown" outside a git checkout.</param>
/// <param name="Threads">libtorch's intra-op threads (<c>torch.get_num_threads()</c>, OpenMP).</param>
/// <param name="DotnetProcessors">.NET's processor count, which sizes the thread pool that runs PILOT's fused CPU step.</param>
/// <param name="OmpWaitPolicy">OMP_WAIT_POLICY in the native environment when libtorch loaded: PASSIVE, ACTIVE, or "default" when unset (libgomp spins a while, then sleeps).</param>
/// <param name="Data">The data folder trained on (full path); <see cref="NoData"/> for <c>bench optimizer</c>, which times random gradients.</param>
internal sealed record BenchEnvironment(
    string Commit,
    int Threads,
    [property: JsonPropertyName("dotnet_processors")] int DotnetProcessors,
    [property: JsonPropertyName("omp_wait_policy")] string OmpWaitPolicy,
    string Data)
{
    /// <summary>The <see cref="Data"/> of a benchmark that reads no data.</summary>
    public const string NoData = "none (random gradients)";

    /// <summary>The environment of this process; <paramref name="data"/> is recorded as a full path when it is a folder, as given otherwise.</summary>
    public static BenchEnvironment Current(string data) => new(
        BuildCommit(), torch.get_num_threads(), Environment.ProcessorCount, WaitPolicy(),
        Directory.Exists(data) ? Path.GetFullPath(data) : data);

    /// <summary>OMP_WAIT_POLICY as libtorch's OpenMP runtime sees it (the native environment), upper case; "default" when unset.</summary>
    public static string WaitPolicy()
    {
        IntPtr value = OperatingSystem.IsWindows() ? IntPtr.Zero : ProcessSetup.GetEnv(ProcessSetup.WaitPolicyVariable);
        string? text = value == IntPtr.Zero
            ? Environment.GetEnvironmentVariable(ProcessSetup.WaitPolicyVariable)
            : Marshal.PtrToStringUTF8(value);
        return string.IsNullOrWhiteSpace(text) ? "default" : text.Trim().ToUpperInvariant();
    }

    private static string BuildCommit()
    {
        string? version = typeof(BenchEnvironment).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        int plus = version?.IndexOf('+') ?? -1;
        return plus >= 0 ? version![(plus + 1)..] : "unknown";
    }
}

using System.Runtime.InteropServices;

namespace Pilot.Cli;

/// <summary>Process-wide native settings that <c>pilot</c> makes before TorchSharp loads libtorch.</summary>
internal static class ProcessSetup
{
    /// <summary>Environment variable of the OpenMP runtime (GNU libgomp, which the Linux libtorch uses) that sets how idle threads wait.</summary>
    public const string WaitPolicyVariable = "OMP_WAIT_POLICY";

    /// <summary>
    /// The wait policy <c>pilot</c> sets when the user has not: <c>PASSIVE</c>, threads sleep when they run out of work.
    /// </summary>
    /// <remarks>
    /// With libgomp's default, idle threads spin; when the cores are shared with other processes (a CI machine, a build
    /// running beside training) a spinning thread holds a core the other thread of the same operation needs. Measured on a
    /// busy 2-core machine (load average about 3), one SmallCnn forward and backward pass over 128 images: 1 thread 85 ms,
    /// 2 threads 415–430 ms with the default, 87 ms with <c>PASSIVE</c>; the README's first command took 17 min 46 s with
    /// the default and 2 min 47 s with one thread.
    /// </remarks>
    public const string WaitPolicy = "PASSIVE";

    /// <summary>
    /// Sets <see cref="WaitPolicyVariable"/> to <see cref="WaitPolicy"/> in the native environment, unless it is set already.
    /// Call before anything touches TorchSharp: libgomp reads it once, when libtorch is loaded. Linux only (elsewhere
    /// libtorch uses another OpenMP runtime or threads).
    /// </summary>
    /// <returns>Whether the variable was set by this call.</returns>
    public static bool Apply()
    {
        if (!OperatingSystem.IsLinux() || GetEnv(WaitPolicyVariable) != IntPtr.Zero)
            return false;
        // Environment.SetEnvironmentVariable changes only .NET's copy of the environment on Unix; native code reads libc's.
        return SetEnv(WaitPolicyVariable, WaitPolicy, overwrite: 0) == 0;
    }

    // Strings marshal as UTF-8 on Unix.
    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    /// <summary>libc's <c>getenv</c>: the native environment, as libtorch sees it.</summary>
    [DllImport("libc", EntryPoint = "getenv")]
    internal static extern IntPtr GetEnv(string name);
}

using System.Runtime.InteropServices;
using TorchSharp;

namespace Pilot.TorchSharp;

/// <summary>
/// Runs the fused CPU step's runs on libtorch's own OpenMP threads (libgomp's <c>GOMP_parallel</c>) when
/// <c>OMP_WAIT_POLICY=ACTIVE</c>.
/// </summary>
/// <remarks>
/// Under ACTIVE, libgomp's idle workers never sleep: after each libtorch operation they spin on their cores until the
/// next parallel region. The fused step's own .NET threads then share those cores with spinning threads and lose most
/// of their time slices, so on a 2-core machine the step ran at about one core's speed and took about twice as long as
/// under PASSIVE, while AdamW (libtorch operations, run by the spinning team itself) got faster. Handing the
/// runs to the same OpenMP team puts the work on the threads that hold the cores. Under PASSIVE or libgomp's default the
/// team's workers sleep between regions, and waking them per pass costs more than .NET's thread pool, so the thread
/// pool stays. Where libgomp's functions are not found (another platform or build), the thread pool is used.
/// </remarks>
internal static unsafe class OpenMPTeam
{
    private static readonly delegate* unmanaged<delegate* unmanaged<IntPtr, void>, IntPtr, uint, uint, void> Parallel = Find();

    /// <summary>Whether libgomp's <c>GOMP_parallel</c> was found next to libtorch.</summary>
    public static bool Available => Parallel != null;

    /// <summary>Whether the fused step hands its runs to libtorch's OpenMP team: ACTIVE wait policy and libgomp found.</summary>
    public static bool Enabled { get; } = Parallel != null && IsActivePolicy();

    private sealed class Job(int count, Action<int> body)
    {
        public readonly int Count = count;
        public readonly Action<int> Body = body;
        public int Next = -1;
        public Exception? Error;
    }

    /// <summary>Runs <paramref name="body"/>(0 … <paramref name="count"/>−1) on the OpenMP team; each thread takes the next index until none is left.</summary>
    public static void Run(int count, Action<int> body)
    {
        var job = new Job(count, body);
        var handle = GCHandle.Alloc(job);
        try {
            Parallel(&Worker, GCHandle.ToIntPtr(handle), 0, 0);
        } finally {
            handle.Free();
        }
        if (job.Error is not null)
            throw new AggregateException(job.Error);
    }

    [UnmanagedCallersOnly]
    private static void Worker(IntPtr data)
    {
        var job = (Job)GCHandle.FromIntPtr(data).Target!;
        try {
            int i;
            while ((i = Interlocked.Increment(ref job.Next)) < job.Count)
                job.Body(i);
        } catch (Exception e) {
            Interlocked.CompareExchange(ref job.Error, e, null);
        }
    }

    private static delegate* unmanaged<delegate* unmanaged<IntPtr, void>, IntPtr, uint, uint, void> Find()
    {
        if (!OperatingSystem.IsLinux())
            return null;
        try {
            TorchRuntime.EnsureLoaded();
            // libtorch_cpu links libgomp; dlsym on libtorch_cpu's handle also searches its dependencies.
            if (NativeLibrary.TryLoad("torch_cpu", typeof(torch).Assembly, null, out var torchCpu)
                && NativeLibrary.TryGetExport(torchCpu, "GOMP_parallel", out var parallel))
                return (delegate* unmanaged<delegate* unmanaged<IntPtr, void>, IntPtr, uint, uint, void>)parallel;
        } catch (PlatformNotSupportedException) {
        }
        return null;
    }

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv(string name);

    private static bool IsActivePolicy()
    {
        var value = GetEnv("OMP_WAIT_POLICY");
        return value != IntPtr.Zero && string.Equals(Marshal.PtrToStringUTF8(value)?.Trim(), "ACTIVE", StringComparison.OrdinalIgnoreCase);
    }
}

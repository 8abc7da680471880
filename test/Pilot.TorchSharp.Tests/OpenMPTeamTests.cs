namespace Pilot.TorchSharp.Tests;

/// <summary>The OpenMP path of the fused step (<see cref="OpenMPTeam"/>), used when OMP_WAIT_POLICY=ACTIVE: every run exactly once, errors surface.</summary>
[TestClass]
public sealed class OpenMPTeamTests
{
    [TestMethod]
    public void Run_CallsEveryIndexExactlyOnce_OnLibtorchsTeam()
    {
        if (!OpenMPTeam.Available) {
            Assert.Inconclusive("libgomp's GOMP_parallel is not reachable through libtorch here (not Linux, or another libtorch build).");
            return;
        }
        var hits = new int[1000];
        var threads = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        OpenMPTeam.Run(hits.Length, i => { Interlocked.Increment(ref hits[i]); threads[Environment.CurrentManagedThreadId] = true; });
        Assert.IsTrue(hits.All(h => h == 1), "every index once");
        Assert.IsGreaterThanOrEqualTo(1, threads.Count);
    }

    [TestMethod]
    public void Run_RethrowsAnExceptionOfTheBody()
    {
        if (!OpenMPTeam.Available) {
            Assert.Inconclusive("libgomp's GOMP_parallel is not reachable through libtorch here.");
            return;
        }
        var e = Assert.ThrowsExactly<AggregateException>(() => OpenMPTeam.Run(10, i => { if (i == 3) throw new InvalidOperationException("run 3"); }));
        Assert.AreEqual("run 3", e.InnerException!.Message);
    }

    [TestMethod]
    public void Enabled_OnlyUnderTheActiveWaitPolicy()
    {
        string? policy = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY");
        bool active = string.Equals(policy?.Trim(), "ACTIVE", StringComparison.OrdinalIgnoreCase);
        Assert.AreEqual(OpenMPTeam.Available && active, OpenMPTeam.Enabled);
    }
}

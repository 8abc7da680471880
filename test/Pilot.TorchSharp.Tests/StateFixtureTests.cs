using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>
/// Format stability: <c>Fixtures/pilot-state-v1.bin</c> was written by this library's state format version 1 and must keep
/// loading to the same state. Regenerate it (only when the format version changes, keeping the old file under a new name)
/// with <c>PILOT_WRITE_FIXTURES=test/Pilot.TorchSharp.Tests/Fixtures dotnet test --filter StateFixtureTests</c>.
/// </summary>
[TestClass]
public sealed class StateFixtureTests
{
    private const string FixtureName = "pilot-state-v1.bin";

    /// <summary>The run that produced the fixture: two groups (one with overrides), float64, three steps.</summary>
    private static (PilotOptimizer Opt, Parameter[] Params) Run(int steps)
    {
        var p = TestUtil.MakeParameters(314, ScalarType.Float64, [[3, 2], [4], [2]]);
        var opt = new PilotOptimizer(
            [new PilotOptimizer.ParamGroup(p.Take(2)), new PilotOptimizer.ParamGroup(p.Skip(2), degree: 1, overrides: new PolicyOverrides(PV: 0.25))],
            lr: 0.05, eta_phi: 0.1, gamma: 0.9, implementation: PilotImplementation.Plain);
        using var gen = new Generator(2718);
        for (int step = 0; step < steps; step++)
        {
            TestUtil.SetGrads(p, p.Select(x => randn(x.shape, dtype: ScalarType.Float64, generator: gen)).ToArray());
            opt.step();
        }
        return (opt, p);
    }

    [TestMethod]
    public void VersionOneFixtureLoadsToTheStateThatWroteIt()
    {
        if (Environment.GetEnvironmentVariable("PILOT_WRITE_FIXTURES") is { Length: > 0 } dir)
        {
            var (writer, _) = Run(3);
            using (writer) writer.save_state_dict(Path.Combine(dir, FixtureName));
        }

        var (expected, _) = Run(3);
        var (loaded, _) = Run(0);
        using (expected)
        using (loaded)
        {
            loaded.load_state_dict(Path.Combine(AppContext.BaseDirectory, "Fixtures", FixtureName));
            var (e, l) = (expected.state_dict(), loaded.state_dict());
            for (int i = 0; i < 3; i++)
            {
                var (se, sl) = ((PilotOptimizer.State)e.State[i], (PilotOptimizer.State)l.State[i]);
                TestUtil.AssertClose(se.m, sl.m, 1e-12, 1e-15, $"m[{i}]");
                TestUtil.AssertClose(se.v, sl.v, 1e-12, 1e-15, $"v[{i}]");
                TestUtil.AssertClose(se.g_prev, sl.g_prev, 0, 0, $"g_prev[{i}]");
            }
            for (int g = 0; g < 2; g++)
            {
                var (pe, pl) = (expected.GetPolicyState(g), loaded.GetPolicyState(g));
                Assert.AreEqual(3L, pl.Step);
                Assert.AreEqual(pe.Rho, pl.Rho, 1e-12);
                TestUtil.AssertClose(tensor(pe.Phi), tensor(pl.Phi), 1e-12, 1e-15, $"φ of group {g}");
            }
            var o = ((PilotOptimizer.ParamGroup)loaded.ParamGroups.Last()).Options;
            Assert.AreEqual(new PolicyOverrides(PV: 0.25), o.overrides);
            Assert.AreEqual(0.9, o.gamma);
        }
    }
}

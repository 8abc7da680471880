using Pilot.Cli.Bench;
using Pilot.MLNet;

namespace Pilot.Cli.Tests;

[TestClass]
public sealed class OptimizerBenchmarkTests
{
    [TestMethod]
    public void ShapesFromTheNetworksHaveThePublishedParameterCounts()
    {
        static long Count(IReadOnlyList<long[]> shapes) => shapes.Sum(s => s.Aggregate(1L, (a, b) => a * b));
        Assert.AreEqual(421_834L, Count(OptimizerBench.Shapes(PilotArchitecture.SmallCnn)));     // conv 1→32, BN, conv 32→64, BN, 3136→128, 128→10
        Assert.AreEqual(11_173_962L, Count(OptimizerBench.Shapes(PilotArchitecture.ResNet18)));  // torchvision-style ResNet-18, 3×3 stem, 10 classes
        // SmallCnn's layers in forward order: conv 1→32 3×3 with bias, BatchNorm(32) weight and bias, ...
        CollectionAssert.AreEqual(new long[] { 32, 1, 3, 3 }, OptimizerBench.Shapes(PilotArchitecture.SmallCnn)[0]);
        CollectionAssert.AreEqual(new long[] { 10, 128 }, OptimizerBench.Shapes(PilotArchitecture.SmallCnn)[^2]);
        Assert.IsGreaterThan(Count(OptimizerBench.Shapes(PilotArchitecture.ResNet18)), Count(OptimizerBench.Shapes(PilotArchitecture.ResNet34)));
    }

    [TestMethod]
    public void RunReportsEveryOptimizerWithStateBytesAndRatios()
    {
        var results = OptimizerBenchmark.Run("tiny", [[64, 33], [7]], steps: 3, warmup: 1);
        CollectionAssert.AreEqual(OptimizerBenchmark.OptimizerNames.ToArray(), results.Select(r => r.Optimizer).ToArray());
        Assert.IsTrue(results.All(r => r.Model == "tiny" && r.Device == "cpu" && r.Params == 64 * 33 + 7 && r.MsPerStep > 0));
        Assert.AreEqual(1.0, results.Single(r => r.Optimizer == "AdamW").RatioToAdamW);
        // State per parameter: PILOT m, v, g_prev (+ the group's few scalars, amortised); Adam/AdamW exp_avg, exp_avg_sq.
        Assert.AreEqual(12.0, results.Single(r => r.Optimizer == "PILOT-fast").StateBytesPerParam, 0.2);
        Assert.AreEqual(12.0, results.Single(r => r.Optimizer == "PILOT-plain").StateBytesPerParam, 0.2);
        Assert.AreEqual(12.0, results.Single(r => r.Optimizer == "PILOT-multitensor").StateBytesPerParam, 0.2);
        Assert.AreEqual(8.0, results.Single(r => r.Optimizer == "Adam").StateBytesPerParam, 1e-12);
        var e = Assert.ThrowsExactly<ArgumentException>(() => OptimizerBenchmark.Run("x", [[3]], optimizers: ["SGD"]));
        StringAssert.Contains(e.Message, "unknown optimizer 'SGD'");
    }

    [TestMethod]
    public void CopyBandwidthIsPositive() => Assert.IsTrue(OptimizerBenchmark.MeasureCopyBandwidth(megabytes: 8) > 0.1);

    [TestMethod]
    public void SophiaRowCountsMomentumAndHessian()
    {
        var row = OptimizerBenchmark.Run("tiny", [[64, 33], [7]], steps: 3, warmup: 1, optimizers: ["SophiaG"]).Single(r => r.Optimizer == "SophiaG");
        Assert.AreEqual(8.0, row.StateBytesPerParam, 1e-12, "m and h in float32");
        Assert.IsGreaterThan(0.0, row.MsPerStep);
    }
}

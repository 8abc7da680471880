using System.Text.Json;

namespace Pilot.Cli.Tests;

[TestClass]
public sealed class BenchOptimizerTests
{
    [TestMethod]
    public void BenchOptimizer_PrintsEveryOptimizerAndWritesTheIssuesJson()
    {
        using var folder = new TempFolder();
        string json = folder["bench/optimizer.json"];
        var result = CliRunner.Run("bench", "optimizer", "--device", "cpu", "--model", "SmallCnn", "--steps", "5", "--json", json, "--plot", folder["bench/ratios.png"]);
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        foreach (var name in new[] { "PILOT-plain", "PILOT-fast", "PILOT-multitensor", "Adam", "AdamW", "SophiaG", "ratio to AdamW", "421,834 parameters" })
            Assert.Contains(name, result.Out);
        Assert.DoesNotMatchRegex(CliRunner.Escape(), result.Out);

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var rows = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.HasCount(12, rows, "6 optimizers under each of PASSIVE and ACTIVE");
        foreach (var row in rows)
        {
            foreach (var field in new[] { "optimizer", "model", "device", "params", "ms_per_step", "state_bytes_per_param", "ratio_to_adamw", "environment" })
                Assert.IsTrue(row.TryGetProperty(field, out _), $"{field} missing in {row}");
            Assert.AreEqual("SmallCnn", row.GetProperty("model").GetString());
            Assert.AreEqual("cpu", row.GetProperty("device").GetString());
            Assert.AreEqual(421_834, row.GetProperty("params").GetInt64());
            Assert.IsGreaterThan(0, row.GetProperty("ms_per_step").GetDouble());
            // Every record names the commit, the threads, the OpenMP wait policy and the data it was measured with.
            var environment = row.GetProperty("environment");
            Assert.MatchesRegex("^[0-9a-f]{40}$", environment.GetProperty("commit").GetString()!);
            Assert.IsGreaterThanOrEqualTo(1, environment.GetProperty("threads").GetInt32());
            Assert.IsGreaterThanOrEqualTo(1, environment.GetProperty("dotnet_processors").GetInt32());
            Assert.AreEqual("none (random gradients)", environment.GetProperty("data").GetString());
        }
        foreach (var policy in new[] { "PASSIVE", "ACTIVE" })
        {
            var ofPolicy = rows.Where(r => r.GetProperty("environment").GetProperty("omp_wait_policy").GetString() == policy).ToList();
            Assert.HasCount(6, ofPolicy, policy);
            var adamWOfPolicy = ofPolicy.Single(r => r.GetProperty("optimizer").GetString() == "AdamW");
            Assert.AreEqual(1.0, adamWOfPolicy.GetProperty("ratio_to_adamw").GetDouble(), 1e-12, "ratios are to AdamW under the same policy");
            Assert.Contains($"OMP_WAIT_POLICY={policy}", result.Out);
        }
        Assert.Contains("each at its best vs AdamW at its best", result.Out);
        var adamW = rows.First(r => r.GetProperty("optimizer").GetString() == "AdamW");
        Assert.AreEqual(8.0, adamW.GetProperty("state_bytes_per_param").GetDouble(), 0.01, "AdamW keeps m and v in float32");
        var multiTensor = rows.First(r => r.GetProperty("optimizer").GetString() == "PILOT-multitensor"); // one row per wait policy
        Assert.AreEqual(12.0, multiTensor.GetProperty("state_bytes_per_param").GetDouble(), 0.01, "m, v, g_prev in flat float32 buffers");

        // Where the time goes: the copy loop's bandwidth and each optimizer's bytes per step (48 B per parameter for PILOT-fast).
        Assert.Contains("memory traffic per step", result.Out);
        var bandwidth = doc.RootElement.GetProperty("bandwidth");
        Assert.IsGreaterThan(0, bandwidth.GetProperty("copy_gb_per_s").GetDouble());
        var fast = bandwidth.GetProperty("traffic").EnumerateArray()
            .Single(t => t.GetProperty("optimizer").GetString() == "PILOT-fast" && t.GetProperty("omp_wait_policy").GetString() == "PASSIVE");
        Assert.AreEqual(48L * 421_834, fast.GetProperty("bytes_per_step").GetInt64());
        double msAtCopy = fast.GetProperty("ms_at_copy_bandwidth").GetDouble();
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(folder["bench/ratios.png"])[..4]);
        Assert.AreEqual(48.0 * 421_834 / (bandwidth.GetProperty("copy_gb_per_s").GetDouble() * 1e9) * 1e3, msAtCopy, 1e-9 * msAtCopy + 1e-12);
    }

    [TestMethod]
    public void BenchOptimizer_UnknownWaitPolicy_ExitsWith2()
    {
        var result = CliRunner.Run("bench", "optimizer", "--omp-wait-policy", "SPIN");
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.Contains("--omp-wait-policy", result.Error);
    }

    [TestMethod]
    public void BenchOptimizer_UnknownModel_ExitsWith2()
    {
        var result = CliRunner.Run("bench", "optimizer", "--model", "VGG16");
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.Contains("--model", result.Error);
    }
}

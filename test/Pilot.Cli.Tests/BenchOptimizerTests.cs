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
        foreach (var name in new[] { "PILOT-plain", "PILOT-fast", "Adam", "AdamW", "ratio to AdamW", "421,834 parameters" })
            Assert.Contains(name, result.Out);
        Assert.DoesNotMatchRegex(CliRunner.Escape(), result.Out);

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var rows = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.HasCount(4, rows);
        foreach (var row in rows)
        {
            foreach (var field in new[] { "optimizer", "model", "device", "params", "ms_per_step", "state_bytes_per_param", "ratio_to_adamw" })
                Assert.IsTrue(row.TryGetProperty(field, out _), $"{field} missing in {row}");
            Assert.AreEqual("SmallCnn", row.GetProperty("model").GetString());
            Assert.AreEqual("cpu", row.GetProperty("device").GetString());
            Assert.AreEqual(421_834, row.GetProperty("params").GetInt64());
            Assert.IsGreaterThan(0, row.GetProperty("ms_per_step").GetDouble());
        }
        var adamW = rows.Single(r => r.GetProperty("optimizer").GetString() == "AdamW");
        Assert.AreEqual(1.0, adamW.GetProperty("ratio_to_adamw").GetDouble(), 1e-12);
        Assert.AreEqual(8.0, adamW.GetProperty("state_bytes_per_param").GetDouble(), 0.01, "AdamW keeps m and v in float32");

        // Where the time goes: the copy loop's bandwidth and each optimizer's bytes per step (48 B per parameter for PILOT-fast).
        Assert.Contains("memory traffic per step", result.Out);
        var bandwidth = doc.RootElement.GetProperty("bandwidth");
        Assert.IsGreaterThan(0, bandwidth.GetProperty("copy_gb_per_s").GetDouble());
        var fast = bandwidth.GetProperty("traffic").EnumerateArray().Single(t => t.GetProperty("optimizer").GetString() == "PILOT-fast");
        Assert.AreEqual(48L * 421_834, fast.GetProperty("bytes_per_step").GetInt64());
        double msAtCopy = fast.GetProperty("ms_at_copy_bandwidth").GetDouble();
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(folder["bench/ratios.png"])[..4]);
        Assert.AreEqual(48.0 * 421_834 / (bandwidth.GetProperty("copy_gb_per_s").GetDouble() * 1e9) * 1e3, msAtCopy, 1e-9 * msAtCopy + 1e-12);
    }

    [TestMethod]
    public void BenchOptimizer_UnknownModel_ExitsWith2()
    {
        var result = CliRunner.Run("bench", "optimizer", "--model", "VGG16");
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.Contains("--model", result.Error);
    }
}

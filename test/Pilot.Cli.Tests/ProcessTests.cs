using System.Diagnostics;

namespace Pilot.Cli.Tests;

/// <summary>The real executable, started as a process with redirected output (what CI logs and pipes see).</summary>
[TestClass]
public sealed class ProcessTests
{
    internal static CliResult RunPilot(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "pilot.dll");
        Assert.IsTrue(File.Exists(dll), $"{dll} is missing: the test project must reference Pilot.Cli.");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var a in args)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.IsTrue(process.WaitForExit(TimeSpan.FromMinutes(2)), "pilot did not exit within 2 minutes");
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    [TestMethod]
    public void Process_BadData_Exits2WithPlainMessage()
    {
        string missing = Path.Combine(Path.GetTempPath(), "pilot-missing-" + Guid.NewGuid().ToString("N"));
        var result = RunPilot("train", "--data", missing);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.Contains($"--data: '{missing}' does not exist", result.Error);
        Assert.DoesNotMatchRegex(CliRunner.Escape(), result.Out + result.Error);
    }

    [TestMethod]
    public void Process_Help_ListsTheCommands()
    {
        var result = RunPilot("--help");
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        foreach (var command in new[] { "train", "evaluate", "predict", "policy", "bench" })
            Assert.Contains(command, result.Out);
        Assert.DoesNotMatchRegex(CliRunner.Escape(), result.Out);
    }

    [TestMethod]
    public void Process_Train_PrintsNoNnpackWarning()
    {
        // libtorch logs "Could not initialize NNPACK! Reason: Unsupported hardware." on the first convolution on CPUs
        // where NNPACK cannot run; TorchRuntime.EnsureLoaded turns NNPACK off there first (see TorchRuntime.QuietNnpack).
        using var folder = new TempFolder();
        TinyImageFolder.Write(folder["images"]);
        var result = RunPilot("train", "--data", folder["images"], "--arch", "SmallCnn", "--epochs", "1", "--batch-size", "8", "--device", "cpu",
            "--out", folder["model.zip"], "--test-fraction", "0.25");
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.DoesNotContain("NNPACK", result.Out + result.Error);
    }
}

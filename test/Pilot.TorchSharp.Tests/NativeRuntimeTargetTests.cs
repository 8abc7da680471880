using System.Diagnostics;

namespace Pilot.TorchSharp.Tests;

/// <summary>
/// eng/NativeRuntime.targets, run as the build runs it (target PilotEnsureNativeRuntime of src/Pilot.TorchSharp): silent
/// where the C++ runtime is present; where it is missing (simulated with PilotLibStdCxx pointing at a library without
/// GLIBCXX_3.4.32) it says what it installs and why and runs eng/setup.sh (here with its dry-run option); and
/// PilotEnsureNativeRuntime=false switches it off.
/// </summary>
[TestClass]
public sealed class NativeRuntimeTargetTests
{
    private const string Announcement = "Running eng/setup.sh";

    [TestMethod]
    public void RuntimePresent_DoesNothing()
    {
        var (code, output) = RunTarget();
        Assert.AreEqual(0, code, output);
        Assert.DoesNotContain(Announcement, output);
    }

    [TestMethod]
    public void RuntimeMissing_SaysWhatAndWhy_AndRunsTheSetup()
    {
        using var fake = new FakeLibrary();
        var (code, output) = RunTarget($"-p:PilotLibStdCxx={fake.Path}", "-p:PilotNativeSetupArguments=--dry-run");
        Assert.Contains(Announcement, output);
        Assert.Contains("GLIBCXX_3.4.32", output);
        Assert.Contains($"{fake.Path} lacks GLIBCXX_3.4.32", output);
        Assert.Contains("PilotEnsureNativeRuntime=false", output, "the message says how to switch it off");
        if (IsDebian12())
        {
            // The dry run prints the pinned trixie source and the install, and changes nothing.
            Assert.AreEqual(0, code, output);
            Assert.Contains("Suites: trixie", output);
            Assert.Contains("apt-get install -y -qq -t trixie libstdc++6", output);
        }
        else
        {
            // Elsewhere the script names what to install and the build stops with what to do.
            Assert.AreNotEqual(0, code, output);
            Assert.Contains("install the C++ runtime of GCC 13 or newer", output);
            Assert.Contains("could not install the C++ runtime", output);
        }
    }

    [TestMethod]
    public void SwitchedOff_DoesNothingEvenWhenMissing()
    {
        using var fake = new FakeLibrary();
        var (code, output) = RunTarget($"-p:PilotLibStdCxx={fake.Path}", "-p:PilotEnsureNativeRuntime=false");
        Assert.AreEqual(0, code, output);
        Assert.DoesNotContain(Announcement, output);
    }

    private static bool IsDebian12() =>
        File.Exists("/etc/os-release") && File.ReadAllLines("/etc/os-release") is var lines
        && lines.Contains("ID=debian") && lines.Contains("VERSION_ID=\"12\"");

    private static (int Code, string Output) RunTarget(params string[] properties)
    {
        if (!OperatingSystem.IsLinux())
            Assert.Inconclusive("The native-runtime step runs on Linux only.");
        string project = Path.Combine(RepositoryRoot(), "src", "Pilot.TorchSharp", "Pilot.TorchSharp.csproj");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "msbuild", project, "-t:PilotEnsureNativeRuntime", "-nologo", "-v:n" }.Concat(properties))
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.IsTrue(process.WaitForExit(TimeSpan.FromMinutes(3)), "dotnet msbuild did not exit within 3 minutes");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pilot.MLNet.sln")))
                return dir.FullName;
        Assert.Inconclusive("The repository root (Pilot.MLNet.sln) is not above the test binaries.");
        return "";
    }

    /// <summary>A file standing in for a libstdc++ of GCC 12 (it has older symbol versions, not GLIBCXX_3.4.32).</summary>
    private sealed class FakeLibrary : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"libstdc++-gcc12-{Guid.NewGuid():N}.so.6");

        public FakeLibrary() => File.WriteAllText(Path, "\x7f" + "ELF GLIBCXX_3.4.30 GLIBCXX_3.4.31");

        public void Dispose() => File.Delete(Path);
    }
}

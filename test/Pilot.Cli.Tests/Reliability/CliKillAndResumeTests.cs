using System.Diagnostics;
using System.IO.Compression;
using Pilot.MLNet.Training;

namespace Pilot.Cli.Tests.Reliability;

/// <summary>
/// <c>pilot train --checkpoint-dir</c> survives SIGKILL: the real executable is killed while it trains epoch 2 (right after
/// the checkpoint of epoch 1 appears), started again with the same command, and its model's weights equal, bit for bit,
/// those of a run that was never interrupted (CPU, same seed).
/// </summary>
[TestClass]
public sealed class CliKillAndResumeTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(4);

    [TestMethod]
    public void PilotTrainKilledMidEpochResumesToTheSameWeights()
    {
        using var folder = new TempFolder();
        string images = folder["images"], checkpoints = folder["checkpoints"];
        TinyImageFolder.Write(images, perClass: 200); // 600 images: an epoch lasts long enough to be killed inside it
        string[] Train(string model, params string[] more) =>
            ["train", "--data", images, "--arch", "SmallCnn", "--epochs", "3", "--batch-size", "8", "--image-size", "32", "--device", "cpu", "--seed", "3",
             "--out", folder[model], "--plots", folder[model + "-plots"], .. more];

        var reference = Pilot.Run(Train("reference.zip"));
        Assert.AreEqual(0, reference.ExitCode, reference.Output);

        int completedAtKill;
        using (var killed = Pilot.Start(Train("resumed.zip", "--checkpoint-dir", checkpoints)))
        {
            string checkpoint = Path.Combine(checkpoints, Checkpoint.FileName);
            var clock = Stopwatch.StartNew();
            while (!File.Exists(checkpoint))
            {
                Assert.IsFalse(killed.HasExited, $"pilot ended before writing a checkpoint: {killed.Output}");
                Assert.IsLessThan(Limit, clock.Elapsed, "no checkpoint within the time limit");
                Thread.Sleep(10);
            }
            killed.Kill();
            Assert.AreEqual(128 + 9, killed.ExitCode, "killed by SIGKILL");
            completedAtKill = Checkpoint.TryRead(checkpoints, [])!.CompletedEpochs;
        }
        Assert.AreEqual(1, completedAtKill, "killed during epoch 2, after the checkpoint of epoch 1");
        Assert.IsFalse(File.Exists(folder["resumed.zip"]), "the killed run wrote no model");

        var resumed = Pilot.Run(Train("resumed.zip", "--checkpoint-dir", checkpoints));
        Assert.AreEqual(0, resumed.ExitCode, resumed.Output);
        Assert.DoesNotContain("epoch 1/3", resumed.Output, "epoch 1 is not trained again");
        Assert.Contains("epoch 3/3", resumed.Output);

        var expected = Weights(folder["reference.zip"]);
        var actual = Weights(folder["resumed.zip"]);
        Assert.IsTrue(expected.AsSpan().SequenceEqual(actual), "the resumed run's weights equal the uninterrupted run's, bit for bit");
    }

    private static byte[] Weights(string modelPath)
    {
        using var zip = ZipFile.OpenRead(modelPath);
        using var stream = zip.Entries.Single(e => e.FullName.EndsWith("TorchSharpWeights", StringComparison.Ordinal)).Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>The real <c>pilot</c> executable in a child process, with one intra-op thread (every run alike).</summary>
    private sealed class Pilot : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _output = new();

        private Pilot(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public static Pilot Start(string[] args)
        {
            string dll = Path.Combine(AppContext.BaseDirectory, "pilot.dll");
            Assert.IsTrue(File.Exists(dll), $"{dll} is missing: the test project must reference Pilot.Cli.");
            var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.Environment["OMP_NUM_THREADS"] = "1";
            start.ArgumentList.Add(dll);
            foreach (var a in args)
                start.ArgumentList.Add(a);
            return new Pilot(Process.Start(start)!);
        }

        public static (int ExitCode, string Output) Run(string[] args)
        {
            using var pilot = Start(args);
            Assert.IsTrue(pilot._process.WaitForExit(Limit), $"pilot did not finish within {Limit.TotalMinutes} minutes: {pilot.Output}");
            pilot._process.WaitForExit();
            return (pilot._process.ExitCode, pilot.Output);
        }

        public bool HasExited => _process.HasExited;

        public int ExitCode => _process.ExitCode;

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        /// <summary>SIGKILL (Process.Kill on Linux and macOS), then waits for the process to end.</summary>
        public void Kill()
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
        }
    }
}

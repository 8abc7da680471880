using System.Text.Json;
using System.Text.Json.Nodes;
using Pilot.Cli.Bench;
using Pilot.Cli.Reporting;
using Pilot.MLNet;
using Pilot.TorchSharp;

namespace Pilot.Cli.Tests;

[TestClass]
public sealed class PaperBenchmarkTests
{
    /// <summary>Stands in for 30-epoch training: records what it was asked to run; can fail on a given call.</summary>
    private sealed class FakeRunner : IPaperRunner
    {
        public List<PaperRunSpec> Ran { get; } = [];
        public PaperRunnerSetup? Setup { get; set; }
        public int FailOnCall { get; init; } = -1;

        public PaperRun Run(PaperRunSpec spec, ITrainingProgress progress)
        {
            if (Ran.Count == FailOnCall)
                throw new InvalidOperationException("simulated crash in the middle of a run");
            Ran.Add(spec);
            var epochs = Enumerable.Range(1, spec.Epochs)
                .Select(e => new EpochRecord(e, 1.0 / e, 0.8, 0.9 / e, 0.85, 1e-3, 2.0, 1000))
                .ToList();
            foreach (var e in epochs)
                progress.OnEpoch(e);
            return new PaperRun
            {
                Model = spec.Model, Optimizer = spec.Optimizer, Seed = spec.Seed, Epochs = spec.Epochs, Device = spec.Device,
                Precision = "fp32", TestAccuracy = 0.9 + spec.Seed / 100.0, MacroF1 = 0.89, TestLoss = 0.3, SecondsPerEpoch = 2.0,
                Policy = spec.Policy, History = epochs.Select(PaperEpoch.From).ToList(),
                LearnedPolicy = spec.Optimizer == PilotOptimizerKind.Pilot ? JsonNode.Parse(Learned(spec.Seed).ToJson())!.AsObject() : null,
            };
        }
    }

    /// <summary>The policy the fake PILOT run "learns": distinct per seed.</summary>
    private static PilotPolicy Learned(int seed)
    {
        double[] phi = PilotPolicy.Default(2).Phi;
        phi[0] += 0.125 * (seed + 1);
        return new PilotPolicy(2, phi);
    }

    private static TempFolder s_installed = null!;

    /// <summary>A folder that stands for the installed FashionMNIST (the fake runner never reads it).</summary>
    private static string FakeFashionMnist => s_installed.Path;

    [ClassInitialize]
    public static void CreateFakeFashionMnist(TestContext _)
    {
        s_installed = new TempFolder();
        File.WriteAllBytes(s_installed["train-images-idx3-ubyte.gz"], []);
    }

    [ClassCleanup]
    public static void Cleanup() => s_installed.Dispose();

    private static CliServices With(FakeRunner runner) => new()
    {
        PaperRunner = setup => { runner.Setup = setup; return runner; },
        SystemFashionMnistFolder = FakeFashionMnist,
    };

    private static string[] Paper(string outFile, params string[] more)
        => ["bench", "paper", "--device", "cpu", "--epochs", "2", "--out", outFile, .. more];

    private static List<JsonElement> Runs(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        return doc.RootElement.GetProperty("runs").EnumerateArray().Select(e => e.Clone()).ToList();
    }

    [TestMethod]
    public void Paper_SecondInvocation_SkipsEveryRunAlreadyInTheFile()
    {
        using var folder = new TempFolder();
        string file = folder["bench/results.json"];
        var first = new FakeRunner();
        var r1 = CliRunner.Run(With(first), Paper(file, "--optimizers", "Pilot,AdamW", "--seeds", "0,1"));
        Assert.AreEqual(0, r1.ExitCode, r1.ToString());
        Assert.HasCount(4, first.Ran);
        Assert.HasCount(4, Runs(file));
        Assert.DoesNotMatchRegex(CliRunner.Escape(), r1.Out);

        var second = new FakeRunner();
        var r2 = CliRunner.Run(With(second), Paper(file, "--optimizers", "Pilot,AdamW", "--seeds", "0,1"));
        Assert.AreEqual(0, r2.ExitCode, r2.ToString());
        Assert.IsEmpty(second.Ran, "every run was already in the file");
        Assert.HasCount(4, Runs(file));
        Assert.AreEqual(4, r2.Out.Split('\n').Count(l => l.Contains("skipped", StringComparison.Ordinal)), r2.Out);

        // A larger plan only runs what is missing, and the file accumulates.
        var third = new FakeRunner();
        var r3 = CliRunner.Run(With(third), Paper(file, "--optimizers", "Pilot,AdamW,Lion", "--seeds", "0,1,2"));
        Assert.AreEqual(0, r3.ExitCode, r3.ToString());
        Assert.HasCount(5, third.Ran);
        Assert.IsFalse(third.Ran.Any(s => s.Seed < 2 && s.Optimizer != PilotOptimizerKind.Lion));
        Assert.HasCount(9, Runs(file));
    }

    [TestMethod]
    public void Paper_PilotRun_KeepsItsLearnedPolicy_InTheRecordAndAsAPolicyFile()
    {
        using var folder = new TempFolder();
        string file = folder["bench/results.json"];
        var runner = new FakeRunner();
        var r = CliRunner.Run(With(runner), Paper(file, "--optimizers", "Pilot,AdamW", "--seeds", "3"));
        Assert.AreEqual(0, r.ExitCode, r.ToString());

        var runs = Runs(file);
        var pilot = runs.Single(e => e.GetProperty("optimizer").GetString() == "Pilot");
        var adamw = runs.Single(e => e.GetProperty("optimizer").GetString() == "AdamW");
        Assert.AreEqual(Learned(3), PilotPolicy.FromJson(pilot.GetProperty("learned_policy").GetRawText()));
        Assert.IsFalse(adamw.TryGetProperty("learned_policy", out _), "only PILOT learns a policy");

        // The policy file is what --policy reads for transfer runs; AdamW writes none.
        string policyFile = folder["bench/results.policies/SmallCnn-Pilot-seed3-cpu.json"];
        Assert.AreEqual(Learned(3), PilotPolicy.FromJson(File.ReadAllText(policyFile)));
        Assert.HasCount(1, Directory.GetFiles(folder["bench/results.policies"]));
        StringAssert.Contains(r.Out, "SmallCnn-Pilot-seed3-cpu.json");
    }

    [TestMethod]
    public void Paper_RunsDifferingInEpochsDeviceOrPolicy_AreNotSkipped()
    {
        using var folder = new TempFolder();
        string file = folder["r.json"];
        string policy = folder["smallcnn-seed0.json"];
        File.WriteAllText(policy, "{}");
        Assert.AreEqual(0, CliRunner.Run(With(new FakeRunner()), Paper(file, "--optimizers", "Pilot", "--seeds", "1")).ExitCode);

        var other = new FakeRunner();
        Assert.AreEqual(0, CliRunner.Run(With(other), ["bench", "paper", "--device", "cpu", "--epochs", "3", "--out", file, "--optimizers", "Pilot", "--seeds", "1"]).ExitCode);
        Assert.HasCount(1, other.Ran, "3 epochs is another run than 2");

        var frozen = new FakeRunner();
        var r = CliRunner.Run(With(frozen), Paper(file, "--optimizers", "Pilot,AdamW", "--seeds", "1", "--policy", policy, "--freeze-policy"));
        Assert.AreEqual(0, r.ExitCode, r.ToString());
        Assert.HasCount(2, frozen.Ran);
        Assert.AreEqual("frozen:smallcnn-seed0", frozen.Ran.Single(s => s.Optimizer == PilotOptimizerKind.Pilot).Policy);
        Assert.IsNull(frozen.Ran.Single(s => s.Optimizer == PilotOptimizerKind.AdamW).Policy, "the policy applies to PILOT runs only");
        Assert.AreEqual(new PaperRunnerSetup(new Training.DataChoice(FakeFashionMnist, $"FashionMNIST from {FakeFashionMnist}"), policy, true), frozen.Setup);

        var runs = Runs(file);
        Assert.HasCount(4, runs);
        Assert.AreEqual("frozen:smallcnn-seed0", runs.Single(e => e.TryGetProperty("policy", out _)).GetProperty("policy").GetString());
    }

    [TestMethod]
    public void Paper_RecordFormat_IsTheIssuesFormat()
    {
        using var folder = new TempFolder();
        string file = folder["r.json"];
        Assert.AreEqual(0, CliRunner.Run(With(new FakeRunner()), Paper(file, "--optimizers", "AdaBelief", "--seeds", "2")).ExitCode);
        var run = Runs(file).Single();
        Assert.AreEqual("SmallCnn", run.GetProperty("model").GetString());
        Assert.AreEqual("AdaBelief", run.GetProperty("optimizer").GetString());
        Assert.AreEqual(2, run.GetProperty("seed").GetInt32());
        Assert.AreEqual(2, run.GetProperty("epochs").GetInt32());
        Assert.AreEqual("cpu", run.GetProperty("device").GetString());
        Assert.AreEqual("fp32", run.GetProperty("precision").GetString());
        Assert.AreEqual(0.92, run.GetProperty("test_accuracy").GetDouble(), 1e-12);
        foreach (var field in new[] { "macro_f1", "test_loss", "seconds_per_epoch" })
            Assert.IsTrue(run.TryGetProperty(field, out _), field);
        var epoch = run.GetProperty("history")[1];
        foreach (var field in new[] { "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "learning_rate" })
            Assert.IsTrue(epoch.TryGetProperty(field, out _), field);
    }

    [TestMethod]
    public void Paper_CrashMidway_KeepsFinishedRunsAndTheRerunDoesTheRest()
    {
        using var folder = new TempFolder();
        string file = folder["r.json"];
        var crashing = new FakeRunner { FailOnCall = 2 };
        var r1 = CliRunner.Run(With(crashing), Paper(file, "--optimizers", "Pilot,AdamW", "--seeds", "0,1"));
        Assert.AreEqual(1, r1.ExitCode, r1.ToString());
        Assert.HasCount(2, Runs(file), "the two finished runs were saved before the crash");
        Assert.IsEmpty(Directory.GetFiles(folder.Path, "*.tmp"), "no temporary file is left behind");

        var resumed = new FakeRunner();
        Assert.AreEqual(0, CliRunner.Run(With(resumed), Paper(file, "--optimizers", "Pilot,AdamW", "--seeds", "0,1")).ExitCode);
        Assert.HasCount(2, resumed.Ran);
        CollectionAssert.AreEquivalent(new[] { (PilotOptimizerKind.AdamW, 0), (PilotOptimizerKind.AdamW, 1) },
            resumed.Ran.Select(s => (s.Optimizer, s.Seed)).ToArray());
        Assert.HasCount(4, Runs(file));
    }

    [TestMethod]
    public void Paper_MalformedResultsFile_ExitsWith2BeforeAnyRun()
    {
        using var folder = new TempFolder();
        string file = folder["r.json"];
        File.WriteAllText(file, "{\"results\": 3}");
        var runner = new FakeRunner();
        var r = CliRunner.Run(With(runner), Paper(file));
        Assert.AreEqual(2, r.ExitCode, r.ToString());
        Assert.Contains(file, r.Error);
        Assert.IsEmpty(runner.Ran);
        Assert.AreEqual("{\"results\": 3}", File.ReadAllText(file), "the file is left as it was");
    }

    [TestMethod]
    public void Paper_ModelWithoutTunedSettings_ExitsWith2()
    {
        using var folder = new TempFolder();
        var r = CliRunner.Run(With(new FakeRunner()), Paper(folder["r.json"], "--models", "ResNet34"));
        Assert.AreEqual(2, r.ExitCode, r.ToString());
        Assert.Contains("ResNet34", r.Error);
    }

    [TestMethod]
    public void Paper_SummaryTable_ShowsMeanAndStdOverSeeds()
    {
        using var folder = new TempFolder();
        var r = CliRunner.Run(With(new FakeRunner()), Paper(folder["r.json"], "--optimizers", "Pilot", "--seeds", "0,1,2"));
        Assert.AreEqual(0, r.ExitCode, r.ToString());
        // Accuracies 90, 91, 92 %: mean 91.00, sample std 1.00.
        Assert.Contains("91.00 ± 1.00", r.Out);
    }

    [TestMethod]
    public void Paper_WithoutTheFullFashionMnist_ExitsWith2()
    {
        using var folder = new TempFolder();
        var runner = new FakeRunner();
        var services = With(runner) with { SystemFashionMnistFolder = folder["not-installed"] };
        var r = CliRunner.Run(services, Paper(folder["r.json"]));
        Assert.AreEqual(2, r.ExitCode, r.ToString());
        Assert.Contains("dataset-fashion-mnist", r.Error);
        Assert.IsEmpty(runner.Ran);
        Assert.IsFalse(File.Exists(folder["r.json"]));
    }

    [TestMethod]
    public void BenchTrain_BadModelOrMissingData_ExitsWith2()
    {
        using var folder = new TempFolder();
        var model = CliRunner.Run("bench", "train", "--model", "ResNet34", "--device", "cpu");
        Assert.AreEqual(2, model.ExitCode, model.ToString());
        Assert.Contains("--model", model.Error);
        var data = CliRunner.Run(new CliServices { SystemFashionMnistFolder = folder["not-installed"] }, "bench", "train", "--device", "cpu");
        Assert.AreEqual(2, data.ExitCode, data.ToString());
        Assert.Contains("dataset-fashion-mnist", data.Error);
    }

    /// <summary>Writes a FashionMNIST-shaped IDX folder (gzip) with <paramref name="train"/>/<paramref name="test"/> random 28×28 images.</summary>
    private static void WriteTinyFashionMnist(string folder, int train, int test)
    {
        var random = new Random(5);
        void Write(string name, int magic, int[] dims, byte[] values)
        {
            using var file = File.Create(Path.Combine(folder, name));
            using var gz = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest);
            Span<byte> word = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(word, magic);
            gz.Write(word);
            foreach (int d in dims)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(word, d);
                gz.Write(word);
            }
            gz.Write(values);
        }
        foreach (var (prefix, n) in new[] { ("train", train), ("t10k", test) })
        {
            var pixels = new byte[n * 28 * 28];
            random.NextBytes(pixels);
            var labels = Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray();
            Write($"{prefix}-images-idx3-ubyte.gz", 0x803, [n, 28, 28], pixels);
            Write($"{prefix}-labels-idx1-ubyte.gz", 0x801, [n], labels);
        }
    }

    [TestMethod]
    public void BenchTrain_WarmsUpEachOptimizer_ThenAlternatesTheOrderEveryRound()
    {
        using var folder = new TempFolder();
        Directory.CreateDirectory(folder["fm"]);
        WriteTinyFashionMnist(folder["fm"], train: 256, test: 64);
        var r = CliRunner.Run("bench", "train", "--data", folder["fm"], "--device", "cpu", "--optimizer", "Pilot,AdamW", "--rounds", "3",
            "--json", folder["bench/train.json"]);
        Assert.AreEqual(0, r.ExitCode, r.ToString());
        var steps = r.Out.Split('\n').Where(l => l.Contains(": warm-up", StringComparison.Ordinal) || l.Contains(": timed epoch", StringComparison.Ordinal))
            .Select(l => l.Trim()).ToList();
        CollectionAssert.AreEqual(new[]
        {
            "Pilot: warm-up", "AdamW: warm-up",
            "Pilot: timed epoch 1 of 3", "AdamW: timed epoch 1 of 3",
            "AdamW: timed epoch 2 of 3", "Pilot: timed epoch 2 of 3",
            "Pilot: timed epoch 3 of 3", "AdamW: timed epoch 3 of 3",
        }, steps, r.Out);
        Assert.Contains("median of 3", r.Out);
        Assert.MatchesRegex(new System.Text.RegularExpressions.Regex(@"AdamW\s.*1\.000"), r.Out);
        using (var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(folder["bench/train.json"])))
        {
            var rows = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
            CollectionAssert.AreEqual(new[] { "Pilot", "AdamW" }, rows.Select(x => x.GetProperty("optimizer").GetString()).ToArray());
            foreach (var row in rows)
            {
                Assert.AreEqual("cpu", row.GetProperty("device").GetString());
                Assert.AreEqual("SmallCnn", row.GetProperty("model").GetString());
                Assert.AreEqual(3, row.GetProperty("seconds_each_round").GetArrayLength());
                Assert.IsGreaterThan(0, row.GetProperty("images_per_second").GetDouble());
                Assert.AreEqual(Path.GetFullPath(folder["fm"]), row.GetProperty("environment").GetProperty("data").GetString());
            }
            Assert.AreEqual(1.0, rows[1].GetProperty("time_vs_adamw").GetDouble(), 1e-12);
        }

        var rounds = CliRunner.Run("bench", "train", "--data", folder["fm"], "--device", "cpu", "--rounds", "0");
        Assert.AreEqual(2, rounds.ExitCode, rounds.ToString());
        Assert.Contains("--rounds", rounds.Error);
    }

    private static PaperRun ReportRun(PilotOptimizerKind optimizer, int seed, double accuracy, params double[] testAccuracyPerEpoch)
        => ReportRun(null, optimizer, seed, accuracy, testAccuracyPerEpoch);

    private static PaperRun ReportRun(string? commit, PilotOptimizerKind optimizer, int seed, double accuracy, params double[] testAccuracyPerEpoch)
        => new()
        {
            Environment = commit is null ? null : new BenchEnvironment(commit, 2, 2, "default", "/data"),
            Model = PilotArchitecture.SmallCnn, Optimizer = optimizer, Seed = seed, Epochs = testAccuracyPerEpoch.Length, Device = "cpu",
            Precision = "fp32", TestAccuracy = accuracy, MacroF1 = accuracy - 0.01, TestLoss = 0.3, SecondsPerEpoch = 10 + seed,
            History = testAccuracyPerEpoch.Select((a, i) => new PaperEpoch(i + 1, 0.5 / (i + 1), 0.9, 0.4, a, 1e-3, 10,
                optimizer == PilotOptimizerKind.Pilot ? 0.1 : null, optimizer == PilotOptimizerKind.Pilot ? 0.8 : null,
                optimizer == PilotOptimizerKind.Pilot ? 0.47 : null, optimizer == PilotOptimizerKind.Pilot ? 0.1 : null)).ToList(),
        };

    [TestMethod]
    public void Report_SummarisesEachConfigurationOverSeeds_AndDrawsThePlots()
    {
        using var folder = new TempFolder();
        var file = new PaperResultsFile(folder["results.json"]);
        file.Append(ReportRun(PilotOptimizerKind.Pilot, 0, 0.93, 0.88, 0.91, 0.93));
        file.Append(ReportRun(PilotOptimizerKind.Pilot, 1, 0.92, 0.89, 0.89, 0.92));
        file.Append(ReportRun(PilotOptimizerKind.AdamW, 0, 0.90, 0.85, 0.87, 0.90));
        file.Append(ReportRun(PilotOptimizerKind.AdamW, 1, 0.89, 0.85, 0.87, 0.89));

        var r = CliRunner.Run("bench", "report", "--in", file.Path, "--out", folder["report"]);
        Assert.AreEqual(0, r.ExitCode, r.ToString());
        string md = File.ReadAllText(folder["report/results.md"]);
        // Pilot: mean 92.50, sample std 0.71; epochs to 90 %: 2 and 3 → 2.5 ± 0.7. AdamW: 89.50 ± 0.71, seed 1 never reaches 90 %.
        // Beside each mean, the paper's number for that model and optimizer (docs/algorithm.md, "Published results").
        StringAssert.Contains(md, "| SmallCnn | Pilot | cpu | fp32 | 3 | 0,1 | 92.50 ± 0.71 | 94.13 | 0.9150 ± 0.0071 | 0.3000 ± 0.0000 | 2.5 ± 0.7 | 10.5 |");
        StringAssert.Contains(md, "| SmallCnn | AdamW | cpu | fp32 | 3 | 0,1 | 89.50 ± 0.71 | 93.22 |");
        StringAssert.Contains(md, "not reached by every seed");
        StringAssert.Contains(md, "| SmallCnn | Pilot | cpu | 1 | 92.00 | 0.9100 | 0.3000 | 92.00 (epoch 3) | 3 | 0.800 / 0.470 / 0.100 | - |");
        StringAssert.Contains(md, "Build: not recorded, all 4 runs.");
        foreach (string plot in new[] { "test-accuracy", "test-loss", "train-loss", "policy" })
        {
            byte[] png = File.ReadAllBytes(folder[$"report/results-smallcnn-cpu-fp32-{plot}.png"]);
            CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4], plot);
        }

        var missing = CliRunner.Run("bench", "report", "--in", folder["none.json"], "--out", folder["report"]);
        Assert.AreEqual(2, missing.ExitCode, missing.ToString());
        Assert.Contains("none.json", missing.Error);
    }

    [TestMethod]
    public void Report_TabulatesEachSeed_AndTheMeanAccuracyAfterEarlyEpochs()
    {
        // Pilot has seeds 0 and 1, AdamW only seed 1: its seed-0 cell is "—", not a shifted value.
        var runs = new[]
        {
            ReportRun(PilotOptimizerKind.Pilot, 0, 0.9302, 0.88, 0.91, 0.9302),
            ReportRun(PilotOptimizerKind.Pilot, 1, 0.92, 0.89, 0.89, 0.92),
            ReportRun(PilotOptimizerKind.AdamW, 1, 0.8949, 0.85, 0.87, 0.8949),
        };
        string md = PaperReport.Markdown(PaperReport.Configurations(runs), "r.json");
        StringAssert.Contains(md, "Test accuracy % per seed (SmallCnn, cpu fp32, 3 epochs):\n\n| seed | Pilot | AdamW |\n|---|---|---|\n" +
            "| 0 | 93.02 | — |\n| 1 | 92.00 | 89.49 |\n");
        // AdamW − PILOT over the one seed both have (1): 89.49 − 92.00.
        StringAssert.Contains(md, "| optimizer | seeds | mean difference | ahead of PILOT on |\n|---|---|---|---|\n| AdamW | 1 | -2.51 | 0 of 1 |\n");
        // Epochs 1, 2 and the last (3): the reported epochs within the run's length. Pilot: (88 + 89)/2, (91 + 89)/2, (93.02 + 92)/2.
        StringAssert.Contains(md, "| optimizer | 1 | 2 | 3 |\n|---|---|---|---|\n| Pilot | 88.50 | 90.00 | 92.51 |\n| AdamW | 85.00 | 87.00 | 89.49 |\n");

        // Over two seeds: mean and sample standard deviation of the differences, and how many are positive.
        var paired = runs.Append(ReportRun(PilotOptimizerKind.AdamW, 0, 0.9453, 0.85, 0.87, 0.9453)).ToList();
        StringAssert.Contains(PaperReport.Markdown(PaperReport.Configurations(paired), "r.json"), "| AdamW | 0,1 | -0.50 ± 2.84 | 1 of 2 |\n");
        // Without a PILOT configuration there is nothing to pair with.
        Assert.DoesNotContain("Difference from PILOT", PaperReport.Markdown(PaperReport.Configurations(runs[2..]), "r.json"));

        // A 12-epoch run reports epochs 1, 2, 3, 5, 10 and 12.
        var longer = new[] { ReportRun(PilotOptimizerKind.Pilot, 0, 0.9, Enumerable.Range(1, 12).Select(e => 0.8 + e / 100.0).ToArray()) };
        StringAssert.Contains(PaperReport.Markdown(PaperReport.Configurations(longer), "r.json"),
            "| optimizer | 1 | 2 | 3 | 5 | 10 | 12 |\n|---|---|---|---|---|---|---|\n| Pilot | 81.00 | 82.00 | 83.00 | 85.00 | 90.00 | 92.00 |\n");
    }

    [TestMethod]
    public void Report_SaysWhichBuildEachRunCameFrom_AndWhenTheRowsMixBuilds()
    {
        var one = new[] { ReportRun("4c05c6900aa", PilotOptimizerKind.Pilot, 0, 0.93, 0.93), ReportRun("4c05c6900aa", PilotOptimizerKind.AdamW, 0, 0.92, 0.92) };
        string md = PaperReport.Markdown(PaperReport.Configurations(one), "r.json");
        StringAssert.Contains(md, "Build: commit `4c05c69`, all 2 runs.");
        StringAssert.Contains(md, "| 0.800 / 0.470 / 0.100 | 4c05c69 |");

        var mixed = one.Append(ReportRun("b1b2b3b4", PilotOptimizerKind.Adam, 0, 0.92, 0.92)).Append(ReportRun(PilotOptimizerKind.Lion, 0, 0.9, 0.9)).ToList();
        StringAssert.Contains(PaperReport.Markdown(PaperReport.Configurations(mixed), "r.json"),
            "Builds: commit `4c05c69` (2 runs), commit `b1b2b3b` (1 run), not recorded (1 run) — **the rows mix builds**.");
    }

    [TestMethod]
    public void Protocol_FollowsThePaper()
    {
        var pilotSmall = PaperProtocol.For(PilotArchitecture.SmallCnn, PilotOptimizerKind.Pilot);
        Assert.AreEqual(new PaperHyperparameters(128, 1e-3, 1e-4, 0, 0.950, 0.01, 2), pilotSmall);
        var pilotResNet = PaperProtocol.For(PilotArchitecture.ResNet18, PilotOptimizerKind.Pilot);
        Assert.AreEqual(new PaperHyperparameters(128, 1e-3, 1e-4, 3, 0.957, 0.00273, 3), pilotResNet);
        var lion = PaperProtocol.For(PilotArchitecture.SmallCnn, PilotOptimizerKind.Lion);
        Assert.AreEqual(1e-4, lion.LearningRate);
        Assert.AreEqual(10 * PaperProtocol.WeightDecay, lion.WeightDecay, 1e-15);
        var adamW = PaperProtocol.For(PilotArchitecture.ResNet18, PilotOptimizerKind.AdamW);
        Assert.AreEqual(new PaperHyperparameters(128, 1e-3, 1e-4, 3, null, null, null), adamW);
        Assert.ThrowsExactly<CliInputException>(() => PaperProtocol.For(PilotArchitecture.ResNet34, PilotOptimizerKind.AdamW));
    }

    [TestMethod]
    public void PublishedAccuracies_AreTheFashionMnistRowsOfTheAlgorithmDoc()
    {
        // docs/algorithm.md's "Published results" table: | model | data | Adam | AdamW | Lion | Sophia | AdaBelief | PILOT |
        PilotOptimizerKind[] columns = [PilotOptimizerKind.Adam, PilotOptimizerKind.AdamW, PilotOptimizerKind.Lion,
            PilotOptimizerKind.Sophia, PilotOptimizerKind.AdaBelief, PilotOptimizerKind.Pilot];
        var rows = File.ReadAllLines(Path.Combine(Codegen.CodegenFixtures.RepositoryRoot(), "docs", "algorithm.md"))
            .Select(line => line.Split('|', StringSplitOptions.TrimEntries))
            .Where(cells => cells.Length == 10 && cells[2] == "FashionMNIST")
            .ToDictionary(cells => cells[1], cells => cells[3..^1]);
        foreach (var (model, docName) in new[] { (PilotArchitecture.SmallCnn, "SmallCNN"), (PilotArchitecture.ResNet18, "ResNet-18") })
            for (int i = 0; i < columns.Length; i++)
                Assert.AreEqual(double.Parse(rows[docName][i], System.Globalization.CultureInfo.InvariantCulture),
                    PaperProtocol.PublishedAccuracy(model, columns[i]), $"{model} {columns[i]}");
        Assert.IsNull(PaperProtocol.PublishedAccuracy(PilotArchitecture.ResNet34, PilotOptimizerKind.Pilot));
    }
}

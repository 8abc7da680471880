using System.Text.Json;
using Pilot.Cli.Reporting;
using Pilot.MLNet;
using Spectre.Console;

namespace Pilot.Cli.Tests;

[TestClass]
public sealed class ReportingTests
{
    // 3 classes; rows = actual, columns = predicted.
    //   a: 8 right, 2 taken for b        b: 1 taken for a, 6 right, 3 for c       c: never predicted right: 5 taken for b
    private static readonly double[][] Counts = [[8, 2, 0], [1, 6, 3], [0, 5, 0]];
    private static readonly string[] Names = ["a", "b", "c"];

    [TestMethod]
    public void Report_FromConfusionMatrix_PerClassAndMacroFigures()
    {
        var r = ClassificationReport.FromConfusionMatrix(Counts, Names, logLoss: 0.7);

        Assert.AreEqual(25, r.Rows);
        Assert.AreEqual(14.0 / 25, r.Accuracy, 1e-12);
        // a: predicted 9 times (8 right), 10 rows.  b: predicted 13 times (6 right), 10 rows.  c: predicted 3 times (0 right), 5 rows.
        double[] precision = [8.0 / 9, 6.0 / 13, 0];
        double[] recall = [8.0 / 10, 6.0 / 10, 0];
        for (int c = 0; c < 3; c++)
        {
            Assert.AreEqual(Names[c], r.PerClass[c].Name);
            Assert.AreEqual(precision[c], r.PerClass[c].Precision, 1e-12, Names[c]);
            Assert.AreEqual(recall[c], r.PerClass[c].Recall, 1e-12, Names[c]);
            double f1 = precision[c] + recall[c] == 0 ? 0 : 2 * precision[c] * recall[c] / (precision[c] + recall[c]);
            Assert.AreEqual(f1, r.PerClass[c].F1, 1e-12, Names[c]);
        }
        Assert.AreEqual(10, r.PerClass[0].Support);
        Assert.AreEqual(5, r.PerClass[2].Support);
        Assert.AreEqual(r.PerClass.Average(p => p.F1), r.MacroF1, 1e-12);
        Assert.AreEqual(0.7, r.LogLoss);
    }

    [TestMethod]
    public void EarlyStoppingNote_NamesWhereItStoppedAndTheEpochKept()
    {
        // Validation losses 0.5, 0.4, 0.4, 0.6, 0.7 of 10 planned epochs, patience 3: stopped after epoch 5 and kept epoch 2
        // (the first of the two equal lowest losses, as the trainer does).
        double[] losses = [0.5, 0.4, 0.4, 0.6, 0.7];
        var history = losses.Select((loss, i) => Epoch(i + 1, 10, loss)).ToList();
        Assert.AreEqual("early stopping: stopped after epoch 5 of 10: no lower validation loss for 3 epochs; the model is epoch 2's " +
            "(validation loss 0.4000, accuracy 82.00%)", EarlyStoppingNote.For(history, patience: 3));

        var complete = losses.Select((loss, i) => Epoch(i + 1, 5, loss)).ToList();
        StringAssert.StartsWith(EarlyStoppingNote.For(complete, patience: 4), "early stopping: ran all 5 epochs; the model is epoch 2's");

        Assert.IsNull(EarlyStoppingNote.For(history, patience: null), "no note without early stopping");
        Assert.IsNull(EarlyStoppingNote.For([.. history.Select(r => r with { ValidationLoss = null })], patience: 3), "nor without validation");

        static PilotEpochReport Epoch(int epoch, int epochs, double validationLoss) =>
            new(epoch, epochs, 0.3, 0.9, validationLoss, 0.8 + epoch / 100.0, 1e-3, 1, 100);
    }

    [TestMethod]
    public void Report_ClassWithoutRowsOrPredictions_CountsAsZeroF1()
    {
        var r = ClassificationReport.FromConfusionMatrix([[4, 0], [0, 0]], ["x", "y"], 0.1);
        Assert.AreEqual(1.0, r.Accuracy);
        Assert.AreEqual(0, r.PerClass[1].Precision);
        Assert.AreEqual(0, r.PerClass[1].Recall);
        Assert.AreEqual(0.5, r.MacroF1, 1e-12, "macro-F1 averages over every class of the model");
    }

    [TestMethod]
    public void Report_BadMatrix_ThrowsNamingTheProblem()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => ClassificationReport.FromConfusionMatrix([[1, 2], [3, 4]], Names, 0));
        Assert.Contains("3 class names", e.Message);
        e = Assert.ThrowsExactly<ArgumentException>(() => ClassificationReport.FromConfusionMatrix([[1, 2], [3]], ["p", "q"], 0));
        Assert.Contains("Row 1", e.Message);
        e = Assert.ThrowsExactly<ArgumentException>(() => ClassificationReport.FromConfusionMatrix([[1, -2], [3, 4]], ["p", "q"], 0));
        Assert.Contains("[0][1]", e.Message);
    }

    [TestMethod]
    public void MetricsTable_PlainConsole_IsPlainTextWithEveryFigure()
    {
        var output = new StringWriter();
        var console = new CliConsole(output, new StringWriter(), isTerminal: false);
        var r = ClassificationReport.FromConfusionMatrix(Counts, ["T-shirt/top", "Trouser [x]", "Bag"], 0.6931);
        MetricsTable.Write(console.Ansi, r, "test metrics");
        string text = output.ToString();

        Assert.DoesNotMatchRegex(CliRunner.Escape(), text);
        Assert.Contains("56.00%", text);                    // accuracy 14/25
        Assert.Contains(r.MacroF1.ToString("F4", System.Globalization.CultureInfo.InvariantCulture), text);
        Assert.Contains("0.6931", text);
        Assert.Contains("0.8889", text);                    // precision of the first class, 8/9
        Assert.Contains("Trouser [x]", text, "markup characters in class names are printed, not interpreted");
        Assert.Contains("2 Bag", text);
    }

    private static TrainingHistory History(bool pilot, bool steps) => new()
    {
        Model = "SmallCnn",
        Optimizer = pilot ? "Pilot" : "AdamW",
        Data = "test",
        ValidationRows = "test split",
        Seed = 0,
        Device = "cpu",
        Epochs = Enumerable.Range(1, 4).Select(e => new EpochRecord(e, 1.0 / e, 0.5 + e / 10.0, e == 2 ? null : 1.1 / e, e == 2 ? null : 0.45 + e / 10.0,
            1e-3 / e, 2.5, 1000, pilot ? 0.1 * e : null, pilot ? 0.8 : null, pilot ? 0.47 : null, pilot ? 0.12 : null)).ToList(),
        PolicySteps = steps ? Enumerable.Range(1, 200).Select(s => new PolicyStep(s, Math.Sin(s / 30.0), 0.8, 0.47, 0.12)).ToList() : [],
        Test = new TestSummary(0.9, 0.89, 0.3, 100),
    };

    [TestMethod]
    public void Plots_PilotRun_WritesLossAccuracyAndPolicyPngs()
    {
        using var folder = new TempFolder();
        foreach (bool steps in new[] { false, true })
        {
            string dir = folder[steps ? "steps" : "epochs"];
            var files = TrainingPlots.Write(History(pilot: true, steps), dir);
            CollectionAssert.AreEquivalent(
                new[] { TrainingPlots.LossFile, TrainingPlots.AccuracyFile, TrainingPlots.PolicyFile }, files.Select(Path.GetFileName).ToArray());
            foreach (var f in files)
            {
                byte[] bytes = File.ReadAllBytes(f);
                CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4], f);
                Assert.IsGreaterThan(5_000, bytes.Length, $"{f} looks empty");
            }
        }
    }

    [TestMethod]
    public void Plots_OtherOptimizer_HasNoPolicyPlot()
    {
        using var folder = new TempFolder();
        var files = TrainingPlots.Write(History(pilot: false, steps: false), folder.Path);
        CollectionAssert.AreEquivalent(new[] { TrainingPlots.LossFile, TrainingPlots.AccuracyFile }, files.Select(Path.GetFileName).ToArray());
    }

    [TestMethod]
    public void History_RoundTripsWithSnakeCaseNames()
    {
        using var folder = new TempFolder();
        var history = History(pilot: true, steps: true);
        string path = folder["history.json"];
        history.Save(path);
        string json = File.ReadAllText(path);
        foreach (var name in new[] { "\"train_loss\"", "\"validation_accuracy\"", "\"learning_rate\"", "\"images_per_second\"", "\"p_m\"", "\"p_v\"", "\"p_s\"", "\"rho\"", "\"policy_steps\"", "\"macro_f1\"" })
            Assert.Contains(name, json);
        var back = TrainingHistory.Load(path);
        CollectionAssert.AreEqual(history.Epochs.ToList(), back.Epochs.ToList());
        CollectionAssert.AreEqual(history.PolicySteps.ToList(), back.PolicySteps.ToList());
        Assert.AreEqual(history.Test, back.Test);
        using var doc = JsonDocument.Parse(json);
        Assert.AreEqual(4, doc.RootElement.GetProperty("epochs").GetArrayLength());
        Assert.IsFalse(doc.RootElement.GetProperty("epochs")[1].TryGetProperty("validation_loss", out _), "an epoch without validation leaves the field out");
    }

    [TestMethod]
    public void PlainProgress_PrintsOneLinePerEpochAndThrottlesBatchLines()
    {
        var every = new StringWriter();
        var p = new PlainProgress(every, epochs: 2, batchLineInterval: TimeSpan.Zero);
        for (int b = 1; b <= 5; b++)
            p.OnBatch(new BatchProgress(1, b, 5, 0.5, 1234, 0.8, 0.25, 0.8, 0.47, 0.12));
        p.OnEpoch(new EpochRecord(1, 0.5, 0.8, 0.45, 0.82, 1e-3, 3.0, 1234, 0.25, 0.8, 0.47, 0.12));
        var lines = every.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.HasCount(5, lines, every.ToString()); // batches 1-4 (the last batch is reported by the epoch line) + the epoch
        Assert.StartsWith("  epoch 1/2  batch 1/5", lines[0]);
        Assert.Contains("ρ 0.250", lines[0]);
        Assert.Contains("p_m 0.800  p_v 0.470  p_s 0.120", lines[0]);
        Assert.Contains("ETA", lines[0]);
        Assert.StartsWith("epoch 1/2  train loss 0.5000  acc 80.00%", lines[4]);
        Assert.Contains("validation loss 0.4500  acc 82.00%", lines[4]);

        var throttled = new StringWriter();
        var q = new PlainProgress(throttled, epochs: 1, batchLineInterval: TimeSpan.FromHours(1));
        for (int b = 1; b <= 5; b++)
            q.OnBatch(new BatchProgress(1, b, 5, 0.5, 1234));
        q.OnEpoch(new EpochRecord(1, 0.5, 0.8, null, null, 1e-3, 3.0, 1234));
        var only = throttled.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.HasCount(1, only, throttled.ToString());
        Assert.DoesNotContain("ρ", only[0], "no PILOT figures for another optimizer");
        Assert.DoesNotContain("validation", only[0]);
    }

    [TestMethod]
    public void PlainProgress_LongRun_PrintsAboutThirtyEpochLinesWithTheFirstAndTheLast()
    {
        var output = new StringWriter();
        var p = new PlainProgress(output, epochs: 100, batchLineInterval: TimeSpan.FromHours(1));
        for (int e = 1; e <= 100; e++)
            p.OnEpoch(new EpochRecord(e, 0.5, 0.8, null, null, 1e-3, 0.01, 1234));
        var epochs = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => int.Parse(line.Split(' ')[1].Split('/')[0], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.AreEqual(1, epochs[0]);
        Assert.AreEqual(100, epochs[^1]);
        Assert.IsLessThanOrEqualTo(TrainingProgress.MaxEpochLines + 2, epochs.Count, string.Join(",", epochs));
        Assert.IsGreaterThanOrEqualTo(TrainingProgress.MaxEpochLines / 2, epochs.Count, "still shows how the run goes");
        CollectionAssert.AreEqual(epochs.Order().ToList(), epochs, "in order, each once");

        Assert.IsTrue(Enumerable.Range(1, 30).All(e => TrainingProgress.ShowsEpoch(e, 30)), "a run of 30 epochs prints every one");
    }

    [TestMethod]
    public void TrainingProgress_NonTerminal_UsesPlainLines()
    {
        var output = new StringWriter();
        var console = new CliConsole(output, new StringWriter(), isTerminal: false);
        int result = TrainingProgress.Run(console, 1, progress =>
        {
            progress.OnBatch(new BatchProgress(1, 1, 2, 0.5, 100));
            progress.OnEpoch(new EpochRecord(1, 0.5, 0.8, null, null, 1e-3, 1.0, 100));
            return 42;
        });
        Assert.AreEqual(42, result);
        Assert.DoesNotMatchRegex(CliRunner.Escape(), output.ToString());
        Assert.Contains("epoch 1/1  train loss 0.5000", output.ToString());
    }

    [TestMethod]
    public void TrainingProgress_Terminal_DrawsLiveBarsWithFigures()
    {
        var output = new StringWriter();
        var console = new CliConsole(output, new StringWriter(), isTerminal: true);
        TrainingProgress.Run(console, 1, progress =>
        {
            progress.OnBatch(new BatchProgress(1, 1, 2, 0.5, 100, 0.8, 0.3, 0.8, 0.47, 0.12));
            progress.OnEpoch(new EpochRecord(1, 0.5, 0.8, 0.4, 0.85, 1e-3, 1.0, 100, 0.3, 0.8, 0.47, 0.12));
            return 0;
        });
        string text = output.ToString();
        Assert.MatchesRegex(CliRunner.Escape(), text, "a terminal gets a live display");
        Assert.Contains("epoch 1/1", text);
        Assert.Contains("ρ 0.300", text);
        Assert.Contains("validation loss 0.4000", text);
    }
}

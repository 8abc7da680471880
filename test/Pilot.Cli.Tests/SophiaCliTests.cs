using System.CommandLine;
using Pilot.Cli.Bench;
using Pilot.Cli.Commands;
using Pilot.MLNet;

namespace Pilot.Cli.Tests;

/// <summary>SophiaG in the CLI: <c>--optimizer Sophia</c> in <c>pilot train</c>, <c>--optimizers Sophia</c> in <c>pilot bench paper</c>
/// and the paper protocol's settings for it.</summary>
[TestClass]
public sealed class SophiaCliTests
{
    [TestMethod]
    public void Protocol_GivesSophiaTheProtocolsLearningRateAndTwiceItsWeightDecay()
    {
        // The paper runs "all at lr 1e-3"; the Sophia authors' README advises about twice AdamW's weight decay.
        Assert.AreEqual(new PaperHyperparameters(128, 1e-3, 2e-4, 0, null, null, null),
            PaperProtocol.For(PilotArchitecture.SmallCnn, PilotOptimizerKind.Sophia));
        var resnet = PaperProtocol.Trainer(PilotArchitecture.ResNet18, PilotOptimizerKind.Sophia, 30, 2);
        Assert.AreEqual(PilotOptimizerKind.Sophia, resnet.Optimizer);
        Assert.AreEqual(3, resnet.WarmupEpochs);
        Assert.AreEqual(2 * PaperProtocol.WeightDecay, resnet.WeightDecay, 1e-18);
    }

    [TestMethod]
    public void TrainAndBenchPaperAcceptSophia()
    {
        var train = new TrainCommand();
        var root = new RootCommand { train.Create(_ => 0) };
        var parse = root.Parse(["train", "--optimizer", "sophia"]);
        Assert.IsEmpty(parse.Errors, string.Join("; ", parse.Errors.Select(e => e.Message)));
        Assert.AreEqual(PilotOptimizerKind.Sophia, train.Bind(parse).Trainer.Optimizer);

        var bench = new BenchCommands();
        var benchRoot = new RootCommand { bench.Create(_ => 0, _ => 0, _ => 0, _ => 0, _ => 0) };
        var paper = benchRoot.Parse(["bench", "paper", "--optimizers", "Sophia,AdamW"]);
        Assert.IsEmpty(paper.Errors, string.Join("; ", paper.Errors.Select(e => e.Message)));
        CollectionAssert.AreEqual(new[] { PilotOptimizerKind.Sophia, PilotOptimizerKind.AdamW }, bench.BindPaper(paper).Optimizers.ToArray());
    }

    [TestMethod]
    public void Train_WithSophia_WritesAModel()
    {
        using var folder = new TempFolder();
        TinyImageFolder.Write(folder["images"]);
        var result = CliRunner.Run("train", "--data", folder["images"], "--arch", "SmallCnn", "--optimizer", "Sophia", "--epochs", "2", "--batch-size", "8",
            "--device", "cpu", "--seed", "1", "--out", folder["model.zip"], "--test-fraction", "0.25");
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.IsTrue(File.Exists(folder["model.zip"]), result.ToString());
        Assert.Contains("epoch 2/2  train loss", result.Out);
    }
}

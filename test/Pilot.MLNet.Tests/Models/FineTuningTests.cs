using Microsoft.ML;
using Pilot.MLNet.Models;
using Pilot.MLNet.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;

namespace Pilot.MLNet.Tests.Models;

/// <summary>
/// The fine-tuning machinery that does not need pretrained weights: option checks, the split of a network into backbone
/// and head, frozen batch-norm statistics, per-group learning rates. (Training runs of both modes are in
/// PretrainedTrainingTests.)
/// </summary>
[TestClass]
[DoNotParallelize] // builds networks from TorchSharp's default generator
public sealed class FineTuningTests
{
    [TestMethod]
    [DataRow(PilotArchitecture.SmallCnn, PilotFineTuning.Head)]
    [DataRow(PilotArchitecture.ResNet18, PilotFineTuning.Head)]
    [DataRow(PilotArchitecture.ResNet18, PilotFineTuning.LastStage)]
    public void CachedModesOnANetworkTrainedFromScratch_AreRejectedNamingTheOption(PilotArchitecture architecture, PilotFineTuning mode)
    {
        var o = new Options { Architecture = architecture, FineTuning = mode };
        var e = Assert.ThrowsExactly<ArgumentException>(() => new MLContext(1).Pilot.ImageClassification(o));
        Assert.AreEqual(nameof(Options.FineTuning), e.ParamName);
        StringAssert.Contains(e.Message, $"FineTuning {mode}");
        StringAssert.Contains(e.Message, architecture.ToString());
        StringAssert.Contains(e.Message, "random weights");
    }

    [TestMethod]
    public void FullOnANetworkTrainedFromScratch_IsTheDefaultAndAccepted()
    {
        Assert.AreEqual(PilotFineTuning.Full, Backbones.ResolveFineTuning(PilotArchitecture.SmallCnn, null));
        Assert.AreEqual(PilotFineTuning.Full, Backbones.ResolveFineTuning(PilotArchitecture.ResNet18, PilotFineTuning.Full));
        var trainer = new MLContext(1).Pilot.ImageClassification(new Options { Architecture = PilotArchitecture.SmallCnn, FineTuning = PilotFineTuning.Full });
        Assert.AreEqual(PilotFineTuning.Full, trainer.GetOptions().FineTuning);
    }

    [TestMethod]
    [DataRow(0.0)]
    [DataRow(-0.1)]
    [DataRow(1.5)]
    [DataRow(double.NaN)]
    public void BackboneLearningRateScale_OutsideZeroToOne_IsRejected(double scale)
    {
        var o = new Options { BackboneLearningRateScale = scale };
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MLContext(1).Pilot.ImageClassification(o));
        Assert.AreEqual(nameof(Options.BackboneLearningRateScale), e.ParamName);
        StringAssert.Contains(e.Message, "(0, 1]");
    }

    [TestMethod]
    public void UndefinedFineTuning_IsRejected()
    {
        var o = new Options { FineTuning = (PilotFineTuning)7 };
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MLContext(1).Pilot.ImageClassification(o));
        Assert.AreEqual(nameof(Options.FineTuning), e.ParamName);
    }

    [TestMethod]
    public void ResNet_HeadOfFeatures_EqualsForward()
    {
        torch.random.manual_seed(3);
        using var network = Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(3, 16, 16), 4);
        var headed = (IHeadedNetwork)network;
        network.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = torch.randn(2, 3, 16, 16);
        var features = headed.Features(x);
        CollectionAssert.AreEqual(new long[] { 2, headed.FeatureCount }, features.shape);
        Assert.IsTrue(headed.Head.forward(features).allclose(network.forward(x), rtol: 0, atol: 0));
    }

    [TestMethod]
    [DataRow(3, 16, 16)] // small-image stem: layer3 at 1/4 of the side
    [DataRow(3, 72, 72)] // standard stem: 1/16, rounded up (72 → 5)
    [DataRow(1, 50, 33)] // sides that are not multiples of 16
    public void ResNet_LastStageOfEarlyStages_EqualsForward_AndTheCacheSizeIsWhatItHolds(int c, int h, int w)
    {
        torch.random.manual_seed(3);
        using var network = Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(c, h, w), 4);
        var headed = (IHeadedNetwork)network;
        network.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = torch.randn(2, c, h, w);
        var early = headed.EarlyStages(x);
        Assert.AreEqual(256, early.shape[1]);
        Assert.AreEqual(headed.EarlyStagesValuesPerImage(h, w), early[0].numel(), "the cache-size rule counts what the cache holds");
        Assert.IsTrue(headed.LastStage.forward(early).allclose(network.forward(x), rtol: 0, atol: 0));
        Assert.AreEqual(headed.EarlyStagesValuesPerImage(h, w), HeadedNetwork.CachedValuesPerImage(headed, PilotFineTuning.LastStage, h, w));
        Assert.AreEqual(headed.FeatureCount, HeadedNetwork.CachedValuesPerImage(headed, PilotFineTuning.Head, h, w));
    }

    [TestMethod]
    public void ResNet_LastStage_HoldsLayer4AndTheHeadUnderTheNetworksNames()
    {
        torch.random.manual_seed(3);
        using var network = Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(3, 16, 16), 4);
        var lastStage = ((IHeadedNetwork)network).LastStage;
        var expected = network.state_dict().Keys.Where(k => k.StartsWith("layer4.", StringComparison.Ordinal) || k.StartsWith("fc.", StringComparison.Ordinal)).Order().ToArray();
        CollectionAssert.AreEqual(expected, lastStage.state_dict().Keys.Order().ToArray());
        foreach (var (name, value) in lastStage.state_dict())
            Assert.AreEqual(network.state_dict()[name].Handle, value.Handle, $"{name} is the network's own tensor");
        lastStage.Dispose(); // owns nothing: the network stays usable
        using var noGrad = no_grad();
        using var y = network.forward(torch.randn(1, 3, 16, 16));
        CollectionAssert.AreEqual(new long[] { 1, 4 }, y.shape);
    }

    [TestMethod]
    public void BackboneParameters_AreEveryParameterButTheHeads()
    {
        torch.random.manual_seed(3);
        using var network = Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(3, 16, 16), 4);
        var headed = (IHeadedNetwork)network;
        var backbone = HeadedNetwork.BackboneParameters(network, headed);
        long all = network.parameters().Sum(p => p.numel()), head = headed.Head.parameters().Sum(p => p.numel());
        Assert.AreEqual(512L * 4 + 4, head);
        Assert.AreEqual(all - head, backbone.Sum(p => p.numel()));
    }

    [TestMethod]
    public void FreezeBatchNormStatistics_KeepsRunningStatisticsInTrainingMode()
    {
        torch.random.manual_seed(3);
        using var network = Backbones.Create(PilotArchitecture.ResNet18, new ImageShape(3, 16, 16), 4);
        var headed = (IHeadedNetwork)network;
        var bn = network.modules().OfType<BatchNorm2d>().First();
        network.train();
        HeadedNetwork.FreezeBatchNormStatistics(network, headed);
        using var before = bn.running_mean!.clone();
        using (var scope = NewDisposeScope())
            network.forward(torch.randn(4, 3, 16, 16) * 5 + 3).sum().backward();
        Assert.IsTrue(before.allclose(bn.running_mean!, rtol: 0, atol: 0), "a frozen batch norm must not update its running mean");
        Assert.IsFalse(bn.training);

        network.train(); // without freezing, the same forward pass moves the statistics
        using (var scope = NewDisposeScope())
            network.forward(torch.randn(4, 3, 16, 16) * 5 + 3);
        Assert.IsFalse(before.allclose(bn.running_mean!, rtol: 0, atol: 0));
    }

    [TestMethod]
    [DataRow(PilotOptimizerKind.Pilot)]
    [DataRow(PilotOptimizerKind.AdamW)]
    [DataRow(PilotOptimizerKind.Adam)]
    [DataRow(PilotOptimizerKind.Lion)]
    [DataRow(PilotOptimizerKind.AdaBelief)]
    [DataRow(PilotOptimizerKind.Sophia)]
    public void ParameterGroups_GetTheirScaledLearningRates(PilotOptimizerKind kind)
    {
        using var head = torch.nn.Linear(3, 2);
        using var backbone = torch.nn.Linear(4, 3);
        var plan = new TrainingPlan(new Options { Optimizer = kind }, 1, torch.CPU, 2, PilotFineTuning.Full);
        using var optimizer = OptimizerFactory.Create(plan,
            [(head.parameters().ToList(), 1.0), (backbone.parameters().ToList(), 0.25)]);
        optimizer.SetLearningRate(0.004);
        var rates = optimizer.Optimizer.ParamGroups.Select(g => g.LearningRate).ToArray();
        CollectionAssert.AreEqual(new[] { 0.004, 0.001 }, rates);
    }

    [TestMethod]
    [DataRow(PilotOptimizerKind.Adam)]
    [DataRow(PilotOptimizerKind.AdamW)]
    public void TorchSharpParameterGroups_KeepTheTrainersWeightDecayAndBetas(PilotOptimizerKind kind)
    {
        // TorchSharp's ParamGroup(parameters) sets weight decay 0 and its own betas: the groups must carry the trainer's.
        using var head = torch.nn.Linear(3, 2);
        using var backbone = torch.nn.Linear(4, 3);
        var plan = new TrainingPlan(new Options { Optimizer = kind, WeightDecay = 0.03, Beta1 = 0.8, Beta2 = 0.95 }, 1, torch.CPU, 2,
            PilotFineTuning.Full);
        using var optimizer = OptimizerFactory.Create(plan, [(head.parameters().ToList(), 1.0), (backbone.parameters().ToList(), 0.25)]);
        foreach (var group in optimizer.Optimizer.ParamGroups)
        {
            (double? decay, double? beta1, double? beta2) = ((global::TorchSharp.Modules.ParamGroup)group).Options switch
            {
                global::TorchSharp.Modules.Adam.Options a => (a.weight_decay, a.beta1, a.beta2),
                global::TorchSharp.Modules.AdamW.Options w => (w.weight_decay, w.beta1, w.beta2),
                var other => throw new AssertFailedException($"unexpected options {other?.GetType()}"),
            };
            Assert.AreEqual(0.03, decay, $"{kind}: weight decay");
            Assert.AreEqual(0.8, beta1, $"{kind}: beta1");
            Assert.AreEqual(0.95, beta2, $"{kind}: beta2");
        }
    }
}

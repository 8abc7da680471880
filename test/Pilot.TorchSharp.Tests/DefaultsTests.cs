using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>PILOT built with no arguments has every default of the reference implementation (pilot-optimizer 0.1.0.post3).</summary>
[TestClass]
public sealed class DefaultsTests
{
    // The reference's defaults, restated here on purpose (not read from PilotDefaults) so that a drift in either place fails.
    private const double RefLr = 1e-3, RefBeta1 = 0.9, RefBeta2 = 0.999, RefEps = 1e-8, RefWeightDecay = 0.01;
    private const double RefGamma = 0.95, RefEtaPhi = 0.01;
    private const int RefDegree = 2;
    private static readonly double[] RefInitialPhi = [0, 0, 1.4, 0, 0, 3.0, 0, 0, -2.0];

    [TestMethod]
    public void NoArgumentPilotHasTheReferenceDefaults()
    {
        var p = TestUtil.MakeParameters(1, ScalarType.Float32, [[3]]);
        foreach (var opt in new[] { new PilotOptimizer(p), Optimizers.PILOT(TestUtil.Clone(p)), new PilotOptimizer([new PilotOptimizer.ParamGroup(TestUtil.Clone(p))]) })
        {
            using var _ = opt;
            var o = ((PilotOptimizer.ParamGroup)opt.ParamGroups.Single()).Options;
            Assert.AreEqual(RefLr, o.LearningRate);
            Assert.AreEqual(RefLr, o.InitialLearningRate);
            Assert.AreEqual(RefBeta1, o.beta1);
            Assert.AreEqual(RefBeta2, o.beta2);
            Assert.AreEqual((RefBeta1, RefBeta2), opt.Betas);
            Assert.AreEqual(RefEps, o.eps);
            Assert.AreEqual(RefWeightDecay, o.weight_decay);
            Assert.AreEqual(RefGamma, o.gamma);
            Assert.AreEqual(RefEtaPhi, o.eta_phi);
            Assert.AreEqual(RefDegree, o.degree);
            Assert.IsNull(o.overrides);
            Assert.IsFalse(opt.RecordDiagnostics);
            Assert.AreEqual(PilotImplementation.Auto, opt.Implementation);
            var state = opt.GetPolicyState();
            CollectionAssert.AreEqual(RefInitialPhi, state.Phi);
            Assert.AreEqual(0.0, state.Rho);
            Assert.AreEqual(0L, state.Step);
        }
    }

    [TestMethod]
    public void GroupOptionsLeftUnsetInheritTheOptimizers()
    {
        var a = TestUtil.MakeParameters(1, ScalarType.Float32, [[3]]);
        var b = TestUtil.MakeParameters(2, ScalarType.Float32, [[3]]);
        using var opt = new PilotOptimizer([new PilotOptimizer.ParamGroup(a), new PilotOptimizer.ParamGroup(b, gamma: 0.5)], lr: 0.2, gamma: 0.8, degree: 3);
        var groups = opt.ParamGroups.Cast<PilotOptimizer.ParamGroup>().ToArray();
        Assert.AreEqual(0.2, groups[0].LearningRate);
        Assert.AreEqual(0.8, groups[0].Options.gamma);
        Assert.AreEqual(0.5, groups[1].Options.gamma);
        Assert.AreEqual(3, groups[1].Options.degree);
        Assert.AreEqual(12, opt.GetPolicyState(1).Phi.Length);
    }

    [TestMethod]
    public void TheCallersGroupIsNotModified()
    {
        var group = new PilotOptimizer.ParamGroup(TestUtil.MakeParameters(1, ScalarType.Float32, [[3]]));
        using var opt = new PilotOptimizer([group], lr: 0.3);
        Assert.IsNull(group.Options.LearningRate);
        Assert.IsNull(group.Options.beta1);
    }

    [TestMethod]
    public void BaselineDefaultsAreThePapers()
    {
        var p = TestUtil.MakeParameters(1, ScalarType.Float32, [[3]]);
        using var lion = new Lion(p);
        var lo = ((Lion.ParamGroup)lion.ParamGroups.Single()).Options;
        Assert.AreEqual(1e-4, lo.LearningRate);
        Assert.AreEqual((0.9, 0.99), lion.Betas);
        Assert.AreEqual(0.0, lo.weight_decay);

        using var ada = new AdaBelief(TestUtil.Clone(p));
        var ao = ((AdaBelief.ParamGroup)ada.ParamGroups.Single()).Options;
        Assert.AreEqual(1e-3, ao.LearningRate);
        Assert.AreEqual((0.9, 0.999), ada.Betas);
        Assert.AreEqual(1e-16, ao.eps);
        Assert.AreEqual(0.0, ao.weight_decay);
        Assert.IsTrue(ao.decoupled_weight_decay);
    }
}

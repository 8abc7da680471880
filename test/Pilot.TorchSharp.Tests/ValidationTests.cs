using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>Bad arguments, table-driven: exception type, ParamName and message for each entry point.</summary>
[TestClass]
public sealed class ValidationTests
{
    private static Parameter[] P() => TestUtil.MakeParameters(1, ScalarType.Float32, [[3]]);

    public static IEnumerable<object[]> BadPilotArguments => [
        ["lr", "lr must be a finite number ≥ 0; got -1", (Func<object>)(() => new PilotOptimizer(P(), lr: -1))],
        ["lr", "lr must be a finite number ≥ 0; got NaN", (Func<object>)(() => new PilotOptimizer(P(), lr: double.NaN))],
        ["beta1", "beta1 must be in [0, 1); got 1", (Func<object>)(() => new PilotOptimizer(P(), beta1: 1.0))],
        ["beta1", "beta1 must be in [0, 1); got -0.1", (Func<object>)(() => new PilotOptimizer(P(), beta1: -0.1))],
        ["beta2", "beta2 must be in [0, 1); got 1.2", (Func<object>)(() => new PilotOptimizer(P(), beta2: 1.2))],
        ["eps", "eps must be a finite number > 0; got -1E-08", (Func<object>)(() => new PilotOptimizer(P(), eps: -1e-8))],
        ["eps", "eps must be a finite number > 0; got 0", (Func<object>)(() => new PilotOptimizer(P(), eps: 0))],
        ["weight_decay", "weight_decay must be a finite number ≥ 0; got -0.01", (Func<object>)(() => new PilotOptimizer(P(), weight_decay: -0.01))],
        ["weight_decay", "weight_decay must be a finite number ≥ 0; got Infinity", (Func<object>)(() => new PilotOptimizer(P(), weight_decay: double.PositiveInfinity))],
        ["gamma", "gamma must be in [0, 1); got 1", (Func<object>)(() => new PilotOptimizer(P(), gamma: 1.0))],
        ["eta_phi", "eta_phi must be a finite number ≥ 0; got -0.5", (Func<object>)(() => new PilotOptimizer(P(), eta_phi: -0.5))],
        ["degree", "degree must be an integer ≥ 1; got 0", (Func<object>)(() => new PilotOptimizer(P(), degree: 0))],
        ["overrides", "overrides.PM must be in [0, 1]; got 1.5", (Func<object>)(() => new PilotOptimizer(P(), overrides: new PolicyOverrides(PM: 1.5)))],
        ["overrides", "overrides.PV must be in [0, 0.5]; got 0.6", (Func<object>)(() => new PilotOptimizer(P(), overrides: new PolicyOverrides(PV: 0.6)))],
        ["overrides", "overrides.PS must be in [0, 1]; got -0.1", (Func<object>)(() => new PilotOptimizer(P(), overrides: new PolicyOverrides(PS: -0.1)))],
        ["implementation", "implementation must be Auto, Plain, Fused or MultiTensor; got 7", (Func<object>)(() => new PilotOptimizer(P(), implementation: (PilotImplementation)7))],
        // Per-group options are checked with the same messages.
        ["beta2", "beta2 must be in [0, 1); got 1.2", (Func<object>)(() => new PilotOptimizer([new PilotOptimizer.ParamGroup(P(), beta2: 1.2)]))],
        ["degree", "degree must be an integer ≥ 1; got -1", (Func<object>)(() => new PilotOptimizer([new PilotOptimizer.ParamGroup(P(), degree: -1)]))],
        ["overrides", "overrides.PV must be in [0, 0.5]; got 1", (Func<object>)(() => new PilotOptimizer([new PilotOptimizer.ParamGroup(P(), overrides: new PolicyOverrides(PV: 1))]))],
        ["beta1", "beta1 must be in [0, 1); got 2", (Func<object>)(() => new PilotOptimizer(P()).Betas = (2.0, 0.9))],
        // Baselines.
        ["lr", "lr must be a finite number ≥ 0; got -0.1", (Func<object>)(() => new Lion(P(), lr: -0.1))],
        ["beta2", "beta2 must be in [0, 1); got 1", (Func<object>)(() => new Lion(P(), beta2: 1.0))],
        ["weight_decay", "weight_decay must be a finite number ≥ 0; got -1", (Func<object>)(() => new Lion([new Lion.ParamGroup(P(), weight_decay: -1)]))],
        ["eps", "eps must be a finite number ≥ 0; got -1", (Func<object>)(() => new AdaBelief(P(), eps: -1))],
        ["beta1", "beta1 must be in [0, 1); got 1", (Func<object>)(() => new AdaBelief([new AdaBelief.ParamGroup(P(), beta1: 1)]))],
        // Policies.
        ["degree", "degree must be an integer ≥ 1; got 0", (Func<object>)(() => PilotPolicy.Default(0))],
    ];

    [TestMethod]
    [DynamicData(nameof(BadPilotArguments))]
    public void OutOfRangeArgumentsNameTheArgumentAndTheRange(string paramName, string message, Func<object> create)
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => create());
        Assert.AreEqual(paramName, e.ParamName);
        StringAssert.StartsWith(e.Message, message);
    }

    [TestMethod]
    public void OptionsChangedAfterConstructionAreCheckedAtTheStep()
    {
        var p = P();
        using var opt = new PilotOptimizer(p);
        ((PilotOptimizer.ParamGroup)opt.ParamGroups.First()).Options.gamma = 1.5;
        p[0].grad = ones(3);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => opt.step());
        Assert.AreEqual("gamma", e.ParamName);
        opt.ParamGroups.First().LearningRate = -1;
        ((PilotOptimizer.ParamGroup)opt.ParamGroups.First()).Options.gamma = 0.9;
        Assert.AreEqual("lr", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => opt.step()).ParamName);
    }

    public static IEnumerable<object[]> BadParameterLists => [
        ["PilotOptimizer got an empty parameter list (parameter group 0 has no parameters)", (Func<object>)(() => new PilotOptimizer(Array.Empty<Parameter>()))],
        ["PilotOptimizer got an empty parameter list (parameter group 1 has no parameters)", (Func<object>)(() => new PilotOptimizer([new PilotOptimizer.ParamGroup(P()), new PilotOptimizer.ParamGroup(Array.Empty<Parameter>())]))],
        ["appears twice", (Func<object>)(() => { var p = P(); return new PilotOptimizer([p[0], p[0]]); })],
        ["already in another parameter group", (Func<object>)(() => { var p = P(); return new PilotOptimizer([new PilotOptimizer.ParamGroup(p), new PilotOptimizer.ParamGroup(p)]); })],
        ["has dtype Int64", (Func<object>)(() => new PilotOptimizer([new Parameter(zeros(3, ScalarType.Int64), requires_grad: false)]))],
        ["has dtype Float16", (Func<object>)(() => new PilotOptimizer([new Parameter(zeros(3, ScalarType.Float16))]))],
        ["initial policy has degree 1 but the group's degree is 2", (Func<object>)(() => new PilotOptimizer(P(), initialPolicy: PilotPolicy.Default(1)))],
        ["Lion got an empty parameter list (parameter group 0", (Func<object>)(() => new Lion(Array.Empty<Parameter>()))],
        ["appears twice", (Func<object>)(() => { var p = P(); return new AdaBelief([p[0], p[0]]); })],
        ["empty list of parameter groups", (Func<object>)(() => new PilotOptimizer(Array.Empty<PilotOptimizer.ParamGroup>()))],
    ];

    [TestMethod]
    [DynamicData(nameof(BadParameterLists))]
    public void BadParameterListsAreRejected(string messagePart, Func<object> create)
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => create());
        StringAssert.Contains(e.Message, messagePart);
        Assert.IsNotNull(e.ParamName);
    }

    [TestMethod]
    public void PolicyRejectsWrongLengthAndNonFiniteCoefficients()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => new PilotPolicy(2, [1.0, 2.0]));
        Assert.AreEqual("phi", e.ParamName);
        StringAssert.StartsWith(e.Message, "phi must have 3·(degree+1) = 9 coefficients for degree 2; got 2");
        e = Assert.ThrowsExactly<ArgumentException>(() => new PilotPolicy(1, [0, 0, 0, double.NaN, 0, 0]));
        StringAssert.StartsWith(e.Message, "phi[3] must be finite; got NaN");
    }
}

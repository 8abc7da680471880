using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>SophiaG against values worked out by hand (float64), the Hessian refresh, the clip, state and bad arguments.</summary>
[TestClass]
public sealed class SophiaTests
{
    private static Parameter Theta() => new(tensor(new[] { 1.0, -2.0, 0.5 }));

    private static void AssertValues(double[] expected, Tensor actual, string what)
    {
        var a = TestUtil.ToArray(actual);
        for (int i = 0; i < expected.Length; i++) Assert.AreEqual(expected[i], a[i], 1e-12, $"{what}[{i}]: expected {expected[i]:R}, got {a[i]:R}");
    }

    private static SophiaG.State StateOf(SophiaG opt) => (SophiaG.State)opt.state_dict().State[0];

    [TestMethod]
    public void TwoStepsAndAHessianRefreshByHand()
    {
        var p = Theta();
        using var sophia = new SophiaG([p], lr: 0.1, beta1: 0.9, beta2: 0.99, rho: 0.5, weight_decay: 0.1, bs: 2);

        // Step 1, g = (0.5, −0.1, 0): θ·(1 − 0.01); m = 0.1·g = (0.05, −0.01, 0); h = 0, so |m|/(ρ·B·h + ε) clips to 1
        // where m ≠ 0 (and is 0 where m = 0): θ ← θ − 0.1·sign(m).
        p.grad = tensor(new[] { 0.5, -0.1, 0.0 });
        sophia.step();
        AssertValues([0.99 - 0.1, -1.98 + 0.1, 0.495], p, "θ after step 1");
        AssertValues([0.05, -0.01, 0.0], StateOf(sophia).m, "m after step 1");
        Assert.AreEqual(1L, StateOf(sophia).step);

        // Hessian refresh with ĝ = (1, 2, 0.1): h = 0.01·ĝ² = (0.01, 0.04, 1e−4); θ, m and the step count are untouched.
        p.grad = tensor(new[] { 1.0, 2.0, 0.1 });
        sophia.update_hessian();
        AssertValues([0.01, 0.04, 1e-4], StateOf(sophia).hessian, "h after the refresh");
        AssertValues([0.89, -1.88, 0.495], p, "θ after the refresh");
        Assert.AreEqual(1L, StateOf(sophia).step, "update_hessian is not a step");

        // Step 2, g = (0.5, −0.1, 0.2): θ·0.99 = (0.8811, −1.8612, 0.49005); m = 0.9·m + 0.1·g = (0.095, −0.019, 0.02);
        // ρ·B·h = h; |m|/h = (9.5, 0.475, 200) → clipped to (1, 0.475, 1): θ ← θ − 0.1·sign(m)·ratio.
        p.grad = tensor(new[] { 0.5, -0.1, 0.2 });
        sophia.step();
        AssertValues([0.095, -0.019, 0.02], StateOf(sophia).m, "m after step 2");
        AssertValues([0.8811 - 0.1, -1.8612 + 0.1 * 0.019 / (0.04 + 1e-15), 0.49005 - 0.1], p, "θ after step 2");
        Assert.AreEqual(2L, StateOf(sophia).step);
    }

    [TestMethod]
    public void TheHessianEstimateIsAMovingAverageOfSquaredGradients()
    {
        var p = Theta();
        using var sophia = new SophiaG([p], beta2: 0.5);
        p.grad = tensor(new[] { 2.0, -1.0, 0.0 });
        sophia.update_hessian();
        p.grad = tensor(new[] { 4.0, 1.0, 3.0 });
        sophia.update_hessian();
        // h₁ = 0.5·ĝ₁², h₂ = 0.5·h₁ + 0.5·ĝ₂² = (0.25·4 + 0.5·16, 0.25 + 0.5, 0 + 4.5).
        AssertValues([9.0, 0.75, 4.5], StateOf(sophia).hessian, "h after two refreshes");
        AssertValues([1.0, -2.0, 0.5], p, "the refresh does not move θ");

        // A parameter without a gradient is skipped by both the refresh and the step.
        var q = Theta();
        using var other = new SophiaG([q]);
        other.update_hessian();
        other.step();
        AssertValues([0, 0, 0], StateOf(other).hessian, "h without a gradient");
        Assert.AreEqual(0L, StateOf(other).step);
    }

    [TestMethod]
    public void EveryCoordinateMovesAtMostLrAndExactlyMOverRhoBHWhereNotClipped()
    {
        var p = new Parameter(zeros(1000, ScalarType.Float64));
        const double lr = 0.01, rho = 0.05;
        const int bs = 8;
        using var sophia = new SophiaG([p], lr: lr, beta1: 0, beta2: 0, rho: rho, weight_decay: 0, bs: bs); // β1 = β2 = 0: m = g, h = ĝ²
        using var gen = new Generator(7);
        p.grad = randn(1000, ScalarType.Float64, generator: gen);
        sophia.update_hessian();
        var h = StateOf(sophia).hessian.clone();
        var g = randn(1000, ScalarType.Float64, generator: gen);
        p.grad = g;
        sophia.step();

        var moved = TestUtil.ToArray(p);
        var ga = TestUtil.ToArray(g);
        var ha = TestUtil.ToArray(h);
        int clipped = 0, unclipped = 0;
        for (int i = 0; i < moved.Length; i++)
        {
            double newton = ga[i] / (rho * bs * ha[i] + 1e-15);
            if (Math.Abs(newton) >= 1)
            {
                clipped++;
                Assert.AreEqual(-lr * Math.Sign(ga[i]), moved[i], 1e-15, $"clipped coordinate {i}");
            }
            else
            {
                unclipped++;
                Assert.AreEqual(-lr * newton, moved[i], 1e-15, $"pre-conditioned coordinate {i}");
            }
        }
        Assert.IsGreaterThan(100, clipped, "the example exercises the clip");
        Assert.IsGreaterThan(100, unclipped, "the example exercises the pre-conditioned step");
    }

    [TestMethod]
    public void NoArgumentSophiaHasTheAuthorsDefaults()
    {
        // sophia.py: SophiaG(lr=1e-4, betas=(0.965, 0.99), rho=0.04, weight_decay=1e-1), step(bs=5120); restated on purpose.
        using var sophia = new SophiaG(TestUtil.MakeParameters(1, ScalarType.Float32, [[3]]));
        var o = ((SophiaG.ParamGroup)sophia.ParamGroups.Single()).Options;
        Assert.AreEqual(1e-4, o.LearningRate);
        Assert.AreEqual((0.965, 0.99), sophia.Betas);
        Assert.AreEqual(0.04, o.rho);
        Assert.AreEqual(0.1, o.weight_decay);
        Assert.AreEqual(5120, o.bs);
        Assert.AreEqual(10, SophiaDefaults.HessianInterval, "train_sophiag.py: interval = 10");
        using var viaFactory = Optimizers.Sophia(TestUtil.MakeParameters(1, ScalarType.Float32, [[3]]));
        Assert.AreEqual(0.04, ((SophiaG.ParamGroup)viaFactory.ParamGroups.Single()).Options.rho);
    }

    private static (Tensor x, Tensor y) Data(int seed)
    {
        using var gen = new Generator((ulong)seed);
        return (randn([32, 4], generator: gen), randint(0, 3, [32], generator: gen));
    }

    /// <summary>One training step and, every third step, the Hessian refresh on labels sampled from the model's softmax.</summary>
    private static void TrainStep(Sequential model, SophiaG opt, int step)
    {
        using var scope = NewDisposeScope();
        var (x, y) = Data(step);
        opt.zero_grad();
        nn.functional.cross_entropy(model.call(x), y).backward();
        opt.step();
        if (step % 3 != 2) return;
        opt.zero_grad();
        var logits = model.call(x);
        using var gen = new Generator((ulong)(1000 + step));
        var sampled = logits.detach().softmax(1).multinomial(1, generator: gen).squeeze(1);
        nn.functional.cross_entropy(logits, sampled).backward();
        opt.update_hessian();
        opt.zero_grad();
    }

    [TestMethod]
    public void SavedStateResumesExactlyAndTheHessianSurvives()
    {
        using var model = TestUtil.MakeMlp(seed: 4);
        using var opt = new SophiaG(model.parameters(), lr: 1e-3, bs: 32);
        for (int step = 0; step < 7; step++) TrainStep(model, opt, step);
        Assert.IsTrue(TestUtil.ToArray(((SophiaG.State)opt.state_dict().State[0]).hessian).Any(v => v > 0), "refreshed before saving");

        using var resumed = TestUtil.MakeMlp(seed: 5);
        TestUtil.CopyWeights(model, resumed);
        using var opt2 = new SophiaG(resumed.parameters(), lr: 1e-3, bs: 32);
        using (var ms = new MemoryStream())
        {
            using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) opt.save_state_dict(w);
            ms.Position = 0;
            opt2.load_state_dict(new BinaryReader(ms));
        }
        foreach (var (a, b) in opt.state_dict().State.Zip(opt2.state_dict().State)) Assert.IsTrue(a.ApproximatelyEquals(b));
        for (int step = 7; step < 14; step++)
        {
            TrainStep(model, opt, step);
            TrainStep(resumed, opt2, step);
        }
        foreach (var (a, b) in model.parameters().Zip(resumed.parameters())) TestUtil.AssertBitEqual(a, b, "resumed SophiaG");

        // In-memory state dictionaries too; another optimizer's state is refused with its name.
        using var third = new SophiaG(TestUtil.Clone(model.parameters()), lr: 1e-3, bs: 32);
        third.load_state_dict(opt.state_dict());
        Assert.AreEqual(14L, ((SophiaG.State)third.state_dict().State[0]).step);
        using var lion = new Lion(model.parameters());
        using var saved = new MemoryStream();
        using (var w = new BinaryWriter(saved, System.Text.Encoding.UTF8, leaveOpen: true)) lion.save_state_dict(w);
        saved.Position = 0;
        var e = Assert.ThrowsExactly<InvalidDataException>(() => opt.load_state_dict(new BinaryReader(saved)));
        Assert.AreEqual("expected SophiaG state, found 'Lion'", e.Message);
        e = Assert.ThrowsExactly<InvalidDataException>(() => opt.load_state_dict(lion.state_dict()));
        StringAssert.StartsWith(e.Message, "expected SophiaG state");
    }

    private static Parameter[] P() => TestUtil.MakeParameters(1, ScalarType.Float32, [[3]]);

    public static IEnumerable<object[]> BadArguments => [
        ["lr", "lr must be a finite number ≥ 0; got -1", (Func<object>)(() => new SophiaG(P(), lr: -1))],
        ["beta1", "beta1 must be in [0, 1); got 1", (Func<object>)(() => new SophiaG(P(), beta1: 1))],
        ["beta2", "beta2 must be in [0, 1); got -0.1", (Func<object>)(() => new SophiaG(P(), beta2: -0.1))],
        ["rho", "rho must be a finite number ≥ 0; got -0.04", (Func<object>)(() => new SophiaG(P(), rho: -0.04))],
        ["rho", "rho must be a finite number ≥ 0; got NaN", (Func<object>)(() => new SophiaG(P(), rho: double.NaN))],
        ["weight_decay", "weight_decay must be a finite number ≥ 0; got Infinity", (Func<object>)(() => new SophiaG(P(), weight_decay: double.PositiveInfinity))],
        ["bs", "bs must be an integer ≥ 1; got 0", (Func<object>)(() => new SophiaG(P(), bs: 0))],
        ["bs", "bs must be an integer ≥ 1; got -5", (Func<object>)(() => new SophiaG([new SophiaG.ParamGroup(P(), bs: -5)]))],
        ["beta2", "beta2 must be in [0, 1); got 1.5", (Func<object>)(() => new SophiaG(P()).Betas = (0.9, 1.5))],
        ["rho", "rho must be a finite number ≥ 0; got -1", (Func<object>)(() => Optimizers.Sophia(P(), rho: -1))],
    ];

    [TestMethod]
    [DynamicData(nameof(BadArguments))]
    public void OutOfRangeArgumentsNameTheArgumentAndTheRange(string paramName, string message, Func<object> create)
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => create());
        Assert.AreEqual(paramName, e.ParamName);
        StringAssert.StartsWith(e.Message, message);
    }

    [TestMethod]
    public void OptionsChangedAfterConstructionAreCheckedAtTheStepAndTheRefresh()
    {
        var p = P();
        using var sophia = new SophiaG(p);
        ((SophiaG.ParamGroup)sophia.ParamGroups.First()).Options.rho = -1;
        p[0].grad = ones(3);
        Assert.AreEqual("rho", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => sophia.step()).ParamName);
        Assert.AreEqual("rho", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => sophia.update_hessian()).ParamName);
        var e = Assert.ThrowsExactly<ArgumentException>(() => new SophiaG(Array.Empty<Parameter>()));
        StringAssert.Contains(e.Message, "SophiaG got an empty parameter list (parameter group 0");
        Assert.AreEqual("param_group", e.ParamName);
        Assert.ThrowsExactly<ArgumentNullException>(() => new SophiaG((IEnumerable<Parameter>)null!));
    }
}

/// <summary>The hyper-parameter table: a value added in a later record version is back-filled with its default when an
/// older record is read (pytorch's <c>__setstate__</c> does the same for new flags).</summary>
[TestClass]
public sealed class HyperParameterTableTests
{
    private sealed class TwoVersionOptions : HyperParameterOptions<TwoVersionOptions>
    {
        public double? alpha { get; set; }
        public int? added_later { get; set; }

        internal static int WrittenVersion = 2;

        private static readonly HyperParameterList<TwoVersionOptions> V2 = new(new StateLayout("Test", StateFormat.Magic("TEST"), 2), () => new()) {
            { nameof(alpha), 0.5, Check.UnitInterval, o => o.alpha, (o, v) => o.alpha = v },
            { nameof(added_later), 7, 1, o => o.added_later, (o, v) => o.added_later = v, 2 },
        };

        private static readonly HyperParameterList<TwoVersionOptions> V1 = new(new StateLayout("Test", StateFormat.Magic("TEST"), 1), () => new()) {
            { nameof(alpha), 0.5, Check.UnitInterval, o => o.alpha, (o, v) => o.alpha = v },
        };

        private protected override HyperParameterList<TwoVersionOptions> Declared => WrittenVersion == 1 ? V1 : V2;
    }

    [TestMethod]
    public void AnOlderRecordGetsTheNewValuesDefault()
    {
        byte[] Write(int version, TwoVersionOptions o)
        {
            TwoVersionOptions.WrittenVersion = version;
            using var ms = new MemoryStream();
            using (var w = new BinaryWriter(ms)) o.SaveStateDict(w);
            return ms.ToArray();
        }
        TwoVersionOptions Read(byte[] bytes)
        {
            TwoVersionOptions.WrittenVersion = 2;
            var o = new TwoVersionOptions();
            o.LoadStateDict(new BinaryReader(new MemoryStream(bytes)));
            return o;
        }
        var source = new TwoVersionOptions { LearningRate = 0.1, alpha = 0.25, added_later = 3 };
        var old = Read(Write(1, source));
        Assert.AreEqual(0.25, old.alpha);
        Assert.AreEqual(7, old.added_later, "back-filled with the declared default");
        var current = Read(Write(2, source));
        Assert.AreEqual(3, current.added_later);
        Assert.AreEqual(0.1, current.LearningRate);

        var bad = new TwoVersionOptions { LearningRate = 0.1, alpha = 1.5, added_later = 3 };
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => bad.Validate());
        Assert.AreEqual("alpha", e.ParamName);
        var inherited = new TwoVersionOptions { alpha = 0.75 }.WithDefaults(source);
        Assert.AreEqual((0.1, 0.75, 3), (inherited.LearningRate, inherited.alpha, inherited.added_later));
    }
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>Optimizer state: save/load after real steps resumes the exact trajectory; bad streams fail clearly.</summary>
[TestClass]
public sealed class StateDictTests
{
    private static (Tensor x, Tensor y) Data(int seed)
    {
        using var gen = new Generator((ulong)seed);
        return (randn([32, 4], generator: gen), randint(0, 3, [32], generator: gen));
    }

    private static PilotOptimizer MakePilot(Sequential model) => new(
        [new PilotOptimizer.ParamGroup(model.parameters().Take(2)), new PilotOptimizer.ParamGroup(model.parameters().Skip(2), degree: 1, lr: 0.02)],
        lr: 0.01, eta_phi: 0.05);

    private static void TrainStep(Sequential model, optim.Optimizer opt, int seed)
    {
        using var scope = NewDisposeScope();
        var (x, y) = Data(seed);
        opt.zero_grad();
        nn.functional.cross_entropy(model.call(x), y).backward();
        opt.step();
    }

    public enum Route { Stream, StateDictionary, BaseClassStream, File }

    [TestMethod]
    [DataRow(Route.Stream)]
    [DataRow(Route.StateDictionary)]
    [DataRow(Route.BaseClassStream)]
    [DataRow(Route.File)]
    public void ResumeAfterRealStepsIsBitIdentical(Route route)
    {
        using var model = TestUtil.MakeMlp(seed: 1);
        using var opt = MakePilot(model);
        for (int step = 0; step < 7; step++) TrainStep(model, opt, step);

        // A fresh model copy and a fresh optimizer, then the saved state.
        using var resumed = TestUtil.MakeMlp(seed: 99);
        TestUtil.CopyWeights(model, resumed);
        using var opt2 = MakePilot(resumed);
        string path = Path.Combine(Path.GetTempPath(), $"pilot-state-{Guid.NewGuid():N}.bin");
        try
        {
            switch (route)
            {
                case Route.Stream:
                    {
                        using var ms = new MemoryStream();
                        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) opt.save_state_dict(w);
                        ms.Position = 0;
                        opt2.load_state_dict(new BinaryReader(ms));
                        break;
                    }
                case Route.StateDictionary:
                    opt2.load_state_dict(opt.state_dict());
                    break;
                case Route.BaseClassStream:
                    {
                        // Through OptimizerHelper, as generic training code would call it: same bytes, same result.
                        OptimizerHelper writer = opt, reader = opt2;
                        using var ms = new MemoryStream();
                        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) writer.save_state_dict(w);
                        ms.Position = 0;
                        reader.load_state_dict(new BinaryReader(ms));
                        break;
                    }
                case Route.File:
                    opt.save_state_dict(path);
                    opt2.load_state_dict(path);
                    break;
            }
        }
        finally
        {
            File.Delete(path);
        }

        for (int step = 7; step < 17; step++)
        {
            TrainStep(model, opt, step);
            TrainStep(resumed, opt2, step);
            foreach (var (a, b) in model.parameters().Zip(resumed.parameters())) TestUtil.AssertBitEqual(a, b, $"parameter after step {step + 1}");
        }
        for (int g = 0; g < 2; g++)
        {
            var (s1, s2) = (opt.GetPolicyState(g), opt2.GetPolicyState(g));
            CollectionAssert.AreEqual(s1.Phi, s2.Phi);
            Assert.AreEqual(s1.Rho, s2.Rho);
            Assert.AreEqual(17L, s2.Step);
        }
    }

    [TestMethod]
    public void StateHoldsThreeTensorsPerParameterPlusGroupScalars()
    {
        using var model = TestUtil.MakeMlp(seed: 1);
        using var opt = MakePilot(model);
        var sd = opt.state_dict();
        Assert.AreEqual(2, sd.Options.Count);
        Assert.AreEqual(4 + 2, sd.State.Count);
        long paramCount = model.parameters().Sum(p => p.numel());
        long bytes = sd.State.OfType<PilotOptimizer.State>().Sum(s => s.Bytes);
        Assert.AreEqual(12 * paramCount, bytes, "m, v, g_prev in float32: 12 bytes per parameter");

        // TorchSharp's Adam, for comparison: exp_avg and exp_avg_sq, 8 bytes per parameter.
        using var adam = optim.Adam(model.parameters());
        long adamBytes = adam.state_dict().State.Cast<global::TorchSharp.Modules.Adam.State>()
            .Sum(s => (s.exp_avg.numel() + s.exp_avg_sq.numel()) * s.exp_avg.ElementSize);
        Assert.AreEqual(8 * paramCount, adamBytes);
    }

    private static byte[] Saved(OptimizerHelper opt)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms)) opt.save_state_dict(w);
        return ms.ToArray();
    }

    [TestMethod]
    public void LoadingAnotherOptimizersStateFailsWithItsName()
    {
        using var model = TestUtil.MakeMlp(seed: 1);
        using var pilot = new PilotOptimizer(model.parameters());
        using var adam = optim.Adam(model.parameters());
        using var lion = new Lion(model.parameters());

        var e = Assert.ThrowsExactly<InvalidDataException>(() => pilot.load_state_dict(new BinaryReader(new MemoryStream(Saved(adam)))));
        Assert.AreEqual("expected PilotOptimizer state, found 'Adam'", e.Message);
        e = Assert.ThrowsExactly<InvalidDataException>(() => lion.load_state_dict(new BinaryReader(new MemoryStream(Saved(pilot)))));
        Assert.AreEqual("expected Lion state, found 'PilotOptimizer'", e.Message);
        // TorchSharp's own optimizers reject PILOT state with their (TorchSharp) message.
        Assert.ThrowsExactly<InvalidDataException>(() => adam.load_state_dict(new BinaryReader(new MemoryStream(Saved(pilot)))));
        // In-memory state dictionaries are checked too.
        e = Assert.ThrowsExactly<InvalidDataException>(() => pilot.load_state_dict(lion.state_dict()));
        StringAssert.StartsWith(e.Message, "expected PilotOptimizer state");
        e = Assert.ThrowsExactly<InvalidDataException>(() => pilot.load_state_dict(new BinaryReader(new MemoryStream([]))));
        StringAssert.StartsWith(e.Message, "expected PilotOptimizer state, found an empty");
    }

    [TestMethod]
    public void LoadingStateOfAnotherModelFails()
    {
        using var small = TestUtil.MakeMlp(seed: 1);
        var other = TestUtil.MakeParameters(1, ScalarType.Float32, [[3]]);
        using var a = new PilotOptimizer(small.parameters());
        using var b = new PilotOptimizer(other);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => b.load_state_dict(new BinaryReader(new MemoryStream(Saved(a)))));
        StringAssert.Contains(e.Message, "state records");
        // Same count, other shape.
        var shaped = TestUtil.MakeParameters(1, ScalarType.Float32, [[8, 4], [8], [3, 8], [4]]);
        using var c = new PilotOptimizer(shaped);
        e = Assert.ThrowsExactly<InvalidDataException>(() => c.load_state_dict(new BinaryReader(new MemoryStream(Saved(a)))));
        StringAssert.Contains(e.Message, "does not fit");
    }

    // Offsets in a single-group PILOT stream: name (1 + 14 bytes), two LEB128 counts (1 byte each), lr + initial lr (16),
    // magic (4), version (4), β1 (8), β2 (8).
    private const int VersionOffset = 15 + 2 + 16 + 4;
    private const int Beta2Offset = VersionOffset + 4 + 8;

    [TestMethod]
    public void NewerFormatVersionIsRejected()
    {
        var p = TestUtil.MakeParameters(1, ScalarType.Float32, [[3]]);
        using var opt = new PilotOptimizer(p);
        var bytes = Saved(opt);
        Assert.AreEqual(PilotOptimizer.StateVersion, BitConverter.ToInt32(bytes, VersionOffset), "offset of the version field");
        BitConverter.GetBytes(99).CopyTo(bytes, VersionOffset);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => opt.load_state_dict(new BinaryReader(new MemoryStream(bytes))));
        StringAssert.Contains(e.Message, "version 99 is not supported");
    }

    [TestMethod]
    public void LoadedOptionsAreValidated()
    {
        var p = TestUtil.MakeParameters(1, ScalarType.Float32, [[3]]);
        using var opt = new PilotOptimizer(p);
        var bytes = Saved(opt);
        Assert.AreEqual(PilotDefaults.Beta2, BitConverter.ToDouble(bytes, Beta2Offset), "offset of β2");
        BitConverter.GetBytes(1.5).CopyTo(bytes, Beta2Offset);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => opt.load_state_dict(new BinaryReader(new MemoryStream(bytes))));
        Assert.AreEqual("beta2", e.ParamName);
        StringAssert.StartsWith(e.Message, "beta2 must be in [0, 1); got 1.5");
    }

    [TestMethod]
    public void TruncatedStreamIsRejected()
    {
        var p = TestUtil.MakeParameters(1, ScalarType.Float32, [[30]]);
        using var opt = new PilotOptimizer(p);
        var bytes = Saved(opt);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => opt.load_state_dict(new BinaryReader(new MemoryStream(bytes[..(bytes.Length / 2)]))));
        StringAssert.Contains(e.Message, "truncated");
    }

    [TestMethod]
    public void BaselinesResumeExactly()
    {
        foreach (var make in new Func<IEnumerable<Parameter>, OptimizerHelper>[] {
                     ps => new Lion(ps, lr: 1e-3, weight_decay: 0.1),
                     ps => new AdaBelief(ps, weight_decay: 0.1, decoupled_weight_decay: false) })
        {
            using var model = TestUtil.MakeMlp(seed: 4);
            using var opt = make(model.parameters());
            for (int step = 0; step < 5; step++) TrainStep(model, opt, step);
            using var resumed = TestUtil.MakeMlp(seed: 5);
            TestUtil.CopyWeights(model, resumed);
            using var opt2 = make(resumed.parameters());
            using var ms = new MemoryStream(Saved(opt));
            opt2.load_state_dict(new BinaryReader(ms));
            for (int step = 5; step < 10; step++)
            {
                TrainStep(model, opt, step);
                TrainStep(resumed, opt2, step);
            }
            foreach (var (a, b) in model.parameters().Zip(resumed.parameters())) TestUtil.AssertBitEqual(a, b, opt.GetType().Name);
        }
    }
}

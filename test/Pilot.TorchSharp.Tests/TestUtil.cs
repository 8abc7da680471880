using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests;

/// <summary>Helpers shared by the tests. Randomness comes from seeded generators, never the global RNG (tests run in parallel).</summary>
internal static class TestUtil
{
    /// <summary>Parameters with the given shapes, filled from a seeded normal distribution.</summary>
    public static Parameter[] MakeParameters(int seed, ScalarType dtype, params long[][] shapes)
    {
        using var gen = new Generator((ulong)seed);
        return shapes.Select(s => new Parameter(randn(s, dtype: dtype, generator: gen) * 0.5)).ToArray();
    }

    /// <summary>Deep copies of parameters (same values, independent storage).</summary>
    public static Parameter[] Clone(IEnumerable<Parameter> parameters) =>
        parameters.Select(p => new Parameter(p.detach().clone())).ToArray();

    /// <summary>Sets each parameter's gradient to a copy of the given tensor (null clears it).</summary>
    public static void SetGrads(IReadOnlyList<Parameter> parameters, IReadOnlyList<Tensor?> grads)
    {
        for (int i = 0; i < parameters.Count; i++)
            parameters[i].grad = grads[i]?.clone().to_type(parameters[i].dtype);
    }

    /// <summary>A small MLP 4 → 8 → 3 with deterministic weights.</summary>
    public static Sequential MakeMlp(int seed, ScalarType dtype = ScalarType.Float32)
    {
        var model = nn.Sequential(("fc1", nn.Linear(4, 8)), ("act", nn.Tanh()), ("fc2", nn.Linear(8, 3)));
        model.to(dtype);
        using var gen = new Generator((ulong)seed);
        using (no_grad())
            foreach (var p in model.parameters())
                p.copy_(randn(p.shape, dtype: dtype, generator: gen) * 0.4);
        return model;
    }

    /// <summary>Copies every parameter value of <paramref name="source"/> into <paramref name="target"/>.</summary>
    public static void CopyWeights(nn.Module source, nn.Module target)
    {
        using (no_grad())
            foreach (var (a, b) in source.parameters().Zip(target.parameters()))
                b.copy_(a);
    }

    /// <summary>Asserts |a − e| ≤ rtol·|e| + atol elementwise, reporting the worst element.</summary>
    public static void AssertClose(Tensor expected, Tensor actual, double rtol, double atol, string what)
    {
        using var scope = NewDisposeScope();
        var e = expected.to_type(ScalarType.Float64).cpu();
        var a = actual.to_type(ScalarType.Float64).cpu();
        CollectionAssert.AreEqual(e.shape, a.shape, $"{what}: shape");
        var excess = (a - e).abs() - (rtol * e.abs() + atol);
        double worst = excess.max().item<double>();
        if (worst > 0)
        {
            long idx = excess.argmax().item<long>();
            Assert.Fail($"{what}: element {idx} expected {e.flatten()[idx].item<double>():R} got {a.flatten()[idx].item<double>():R} (rtol {rtol}, atol {atol})");
        }
    }

    /// <summary>Asserts two tensors are bit-identical.</summary>
    public static void AssertBitEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.IsTrue(expected.shape.SequenceEqual(actual.shape) && expected.dtype == actual.dtype, $"{what}: shape or dtype differ");
        Assert.IsTrue(expected.bytes.SequenceEqual(actual.bytes), $"{what}: not bit-identical");
    }

    public static double[] ToArray(Tensor t) => t.to_type(ScalarType.Float64).cpu().data<double>().ToArray();

    public static PilotOptimizer.State StateOf(PilotOptimizer opt, int index) => (PilotOptimizer.State)opt.state_dict().State[index];

    /// <summary>Bytes of every public tensor field or property of the optimizer's state records.</summary>
    public static long StateBytes(OptimizerHelper optimizer)
    {
        long bytes = 0;
        foreach (var state in optimizer.state_dict().State)
        {
            var type = state.GetType();
            var flags = System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance;
            var tensors = type.GetFields(flags).Where(f => f.FieldType == typeof(Tensor)).Select(f => f.GetValue(state))
                .Concat(type.GetProperties(flags).Where(p => p.PropertyType == typeof(Tensor)).Select(p => p.GetValue(state)));
            foreach (var t in tensors.OfType<Tensor>())
                bytes += t.numel() * t.ElementSize;
        }
        return bytes;
    }
}

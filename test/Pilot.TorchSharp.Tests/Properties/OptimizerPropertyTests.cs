using CsCheck;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp.Tests.Properties;

/// <summary>
/// Property tests (CsCheck) of <see cref="PilotOptimizer"/>: for random hyper-parameters in their valid ranges and random
/// gradient sequences mixing zeros, tiny (1e-30), ordinary, huge (1e30) and non-finite (NaN, ±∞) values, after every step
/// ρ is in [−1, 1], φ, the knobs and the parameters are finite and in range, the step count counts the steps taken, and
/// a step whose gradients hold a non-finite value (or one whose square overflows the dtype) changes nothing (parameters,
/// m, v, g_prev, ρ, φ, t) except the skipped-step count.
/// Both implementations (the plain tensor path and the fused CPU path) are checked. Seeded: every run draws the same cases
/// (on failure CsCheck shrinks and prints the smallest failing case and its seed).
/// </summary>
[TestClass]
public sealed class OptimizerPropertyTests
{
    /// <summary>Cases per property; each is a sequence of up to 12 steps.</summary>
    private const int Iterations = 300;

    private static readonly long[][] Shapes = [[2, 3], [2]];

    /// <summary>Hyper-parameters of one case, each drawn from its valid range.</summary>
    internal sealed record Knobs(double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, double Gamma, double EtaPhi, int Degree, bool Double)
    {
        public override string ToString() =>
            $"lr {Lr:R}, beta1 {Beta1:R}, beta2 {Beta2:R}, eps {Eps:R}, wd {WeightDecay:R}, gamma {Gamma:R}, eta_phi {EtaPhi:R}, degree {Degree}, {(Double ? "float64" : "float32")}";
    }

    private static readonly Gen<Knobs> GenKnobs = Gen.Select(
        Gen.Select(Gen.Double[0, 0.1], Gen.Double[0, 0.999], Gen.Double[0, 0.9999], Gen.Double[1e-12, 1e-6], Gen.Double[0, 0.1],
            Gen.Double[0, 0.999], Gen.Double[0, 2], Gen.Int[1, 4]),
        Gen.Bool,
        (k, d) => new Knobs(k.Item1, k.Item2, k.Item3, k.Item4, k.Item5, k.Item6, k.Item7, k.Item8, d));

    private static Gen<double> Signed(double low, double high) =>
        Gen.Select(Gen.Double[low, high], Gen.Bool, (m, negative) => negative ? -m : m);

    /// <summary>One gradient value: mostly ordinary, sometimes zero, tiny or huge.</summary>
    private static readonly Gen<double> FiniteValue = Gen.Frequency<double>(
        (6, Signed(1e-3, 10)), (1, Gen.Const(0.0)), (1, Signed(1e-30, 1e-20)), (1, Signed(1e20, 1e30)));

    /// <summary>One gradient value that may also be NaN or ±∞ (about one in fifteen).</summary>
    private static readonly Gen<double> AnyValue = Gen.Frequency<double>(
        (28, FiniteValue), (1, Gen.Const(double.NaN)), (1, Gen.OneOf<double>(Gen.Const(double.PositiveInfinity), Gen.Const(double.NegativeInfinity))));

    /// <summary>A step: the gradient of each parameter (6 + 2 values), or all zeros, or one scale for all.</summary>
    private static readonly Gen<double[]> Step = Gen.Frequency<double[]>(
        (8, AnyValue.Array[8]),
        (1, Gen.Const(new double[8])),
        (1, Gen.Select(FiniteValue, Signed(0.5, 2).Array[8], (scale, g) => g.Select(v => v * scale).ToArray())));

    private static readonly Gen<(Knobs, double[][])> Cases = Gen.Select(GenKnobs, Step.Array[1, 12]);

    /// <summary>Everything a step may change, copied to the host.</summary>
    private sealed record Snapshot(double[][] Parameters, double[][] Moments, double Step, double Rho, double[] Phi, double[] Knobs, double Skipped)
    {
        public static Snapshot Of(Parameter[] parameters, PilotOptimizer optimizer)
        {
            var records = optimizer.state_dict().State;
            var moments = records.OfType<PilotOptimizer.State>().SelectMany(s => new[] { s.m, s.v, s.g_prev }).Select(ToArray).ToArray();
            var group = records.OfType<PilotOptimizer.GroupState>().Single();
            return new Snapshot(parameters.Select(p => ToArray(p)).ToArray(), moments, group.step.item<double>(), group.rho.item<double>(),
                ToArray(group.phi), ToArray(group.prev_knobs), group.skipped.item<double>());
        }

        public bool SameAs(Snapshot other, out string difference)
        {
            difference = "";
            if (!Same(Parameters, other.Parameters)) difference = "parameters";
            else if (!Same(Moments, other.Moments)) difference = "m, v or g_prev";
            else if (BitConverter.DoubleToInt64Bits(Step) != BitConverter.DoubleToInt64Bits(other.Step)) difference = "t";
            else if (BitConverter.DoubleToInt64Bits(Rho) != BitConverter.DoubleToInt64Bits(other.Rho)) difference = "ρ";
            else if (!Same([Phi], [other.Phi])) difference = "φ";
            else if (!Same([Knobs], [other.Knobs])) difference = "knobs";
            return difference.Length == 0;
        }

        private static bool Same(double[][] a, double[][] b) =>
            a.Length == b.Length && a.Zip(b).All(p => p.First.Select(BitConverter.DoubleToInt64Bits).SequenceEqual(p.Second.Select(BitConverter.DoubleToInt64Bits)));
    }

    private static double[] ToArray(Tensor t)
    {
        using var d = t.detach().to_type(ScalarType.Float64).cpu();
        return d.data<double>().ToArray();
    }

    /// <summary>Runs one case, checking the invariants after every step; throws (for CsCheck to shrink) on a violation.</summary>
    private static void RunCase(Knobs k, double[][] steps, PilotImplementation implementation)
    {
        var dtype = k.Double ? ScalarType.Float64 : ScalarType.Float32;
        var parameters = TestUtil.MakeParameters(17, dtype, Shapes);
        try
        {
            using var optimizer = new PilotOptimizer(parameters, lr: k.Lr, beta1: k.Beta1, beta2: k.Beta2, eps: k.Eps,
                weight_decay: k.WeightDecay, gamma: k.Gamma, eta_phi: k.EtaPhi, degree: k.Degree, implementation: implementation);
            long taken = 0, skipped = 0;
            for (int s = 0; s < steps.Length; s++)
            {
                using var scope = NewDisposeScope();
                var g = steps[s];
                parameters[0].grad = torch.tensor(g[..6], [2, 3], dtype: ScalarType.Float64).to_type(dtype);
                parameters[1].grad = torch.tensor(g[6..], [2], dtype: ScalarType.Float64).to_type(dtype);
                // The skip rule: a NaN or ±∞ gradient, or one whose square overflows the dtype (|g| > 1.8e19 in float32).
                bool finite = parameters.All(p => p.grad!.square().isfinite().all().item<bool>());
                var before = Snapshot.Of(parameters, optimizer);
                optimizer.step();
                var after = Snapshot.Of(parameters, optimizer);
                string at = $"step {s + 1} ({(finite ? "finite" : "non-finite")} gradients)";

                if (!finite)
                {
                    skipped++;
                    if (!after.SameAs(before, out var changed))
                        throw new Exception($"{at}: a skipped step changed {changed}");
                    if (after.Skipped != skipped)
                        throw new Exception($"{at}: skipped-step count {after.Skipped}, expected {skipped}");
                    continue;
                }
                taken++;
                if (after.Step != taken)
                    throw new Exception($"{at}: t = {after.Step}, expected {taken}");
                if (!(after.Rho >= -1 && after.Rho <= 1))
                    throw new Exception($"{at}: ρ = {after.Rho} is outside [−1, 1]");
                if (!after.Phi.All(double.IsFinite))
                    throw new Exception($"{at}: φ is not finite: {string.Join(", ", after.Phi)}");
                var (pm, pv, ps) = (after.Knobs[0], after.Knobs[1], after.Knobs[2]);
                if (!(pm >= 0 && pm <= 1 && pv >= 0 && pv <= 0.5 && ps >= 0 && ps <= 1))
                    throw new Exception($"{at}: knobs p_m {pm}, p_v {pv}, p_s {ps} out of range");
                if (!after.Parameters.SelectMany(p => p).All(double.IsFinite))
                    throw new Exception($"{at}: a parameter is not finite");
            }
            if (optimizer.GetSkippedSteps() != skipped)
                throw new Exception($"GetSkippedSteps() = {optimizer.GetSkippedSteps()}, expected {skipped}");
        }
        finally
        {
            foreach (var p in parameters)
                p.Dispose();
        }
    }

    [TestMethod]
    [DataRow(PilotImplementation.Plain)]
    [DataRow(PilotImplementation.Fused)]
    [DataRow(PilotImplementation.MultiTensor)]
    public void InvariantsHoldForRandomGradientSequences(PilotImplementation implementation) =>
        Cases.Sample((knobs, steps) => RunCase(knobs, steps, implementation), iter: Iterations, seed: "0N0XIzNsQ0O2", threads: 1,
            print: c => $"{c.Item1}; steps: [{string.Join("], [", c.Item2.Select(g => string.Join(", ", g.Select(v => v.ToString("R")))))}]");

    [TestMethod]
    [DataRow(PilotImplementation.Plain)]
    [DataRow(PilotImplementation.Fused)]
    [DataRow(PilotImplementation.MultiTensor)]
    public void NonFiniteStepsChangeNothing(PilotImplementation implementation)
    {
        // Every case ends with a step holding NaN or ±∞ somewhere; RunCase checks that it changes nothing.
        var poisoned = Gen.Select(GenKnobs, Step.Array[0, 6], FiniteValue.Array[8], Gen.Int[0, 7],
            Gen.OneOf<double>(Gen.Const(double.NaN), Gen.Const(double.PositiveInfinity), Gen.Const(double.NegativeInfinity)),
            (k, prefix, last, at, bad) =>
            {
                last[at] = bad;
                return (k, prefix.Append(last).ToArray());
            });
        poisoned.Sample((knobs, steps) => RunCase(knobs, steps, implementation), iter: Iterations, seed: "1xn1HwIbwfUS", threads: 1);
    }
}

using System.Diagnostics;
using System.Reflection;
using Pilot.TorchSharp;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.Cli.Bench;

/// <summary>One row of <see cref="OptimizerBenchmark.Run"/>: the optimizer step alone, timed on one parameter list.</summary>
/// <param name="Optimizer">"PILOT-plain", "PILOT-fast", "PILOT-multitensor", "Adam", "AdamW" or "SophiaG".</param>
/// <param name="Model">The name given for the parameter list (e.g. "SmallCnn").</param>
/// <param name="Device">"cpu" or "cuda".</param>
/// <param name="Params">Number of parameters (elements).</param>
/// <param name="MsPerStep">Median wall-clock milliseconds of one <c>step()</c> after warm-up.</param>
/// <param name="StateBytesPerParam">Bytes of optimizer state tensors per parameter, counted from the state records.</param>
/// <param name="RatioToAdamW">MsPerStep divided by AdamW's MsPerStep measured in the same run.</param>
internal sealed record OptimizerBenchmarkResult(string Optimizer, string Model, string Device, long Params, double MsPerStep,
    double StateBytesPerParam, double RatioToAdamW);

/// <summary>
/// Times the optimizer step alone for PILOT (plain and fast implementations), TorchSharp's Adam and AdamW, and SophiaG on a list of
/// parameter shapes: float32 parameters with random gradients set once, <c>warmup</c> untimed steps each, then
/// <c>steps</c> individually timed steps each (CUDA: synchronised after each step), taken in round-robin blocks of ten
/// steps per optimizer so that a busy machine slows all of them alike; the result is the median. Used by
/// <c>pilot bench optimizer</c>, which takes the parameter shapes from the network itself (<see cref="OptimizerBench.Shapes"/>).
/// </summary>
internal static class OptimizerBenchmark
{
    /// <summary>Default number of timed steps (the median is taken over them).</summary>
    public const int DefaultSteps = 200;

    /// <summary>Default number of untimed warm-up steps.</summary>
    public const int DefaultWarmup = 20;

    /// <summary>The optimizers compared, in table order.</summary>
    public static IReadOnlyList<string> OptimizerNames { get; } = ["PILOT-plain", "PILOT-fast", "PILOT-multitensor", "Adam", "AdamW", "SophiaG"];

    /// <summary>Runs the benchmark for every optimizer in <see cref="OptimizerNames"/> (or the subset given).</summary>
    /// <param name="model">Name of the parameter list, copied into the results.</param>
    /// <param name="shapes">Parameter shapes.</param>
    /// <param name="device">Device for parameters and state; default CPU.</param>
    /// <param name="steps">Timed steps (median over them). Default <see cref="DefaultSteps"/>. Valid: ≥ 1.</param>
    /// <param name="warmup">Untimed warm-up steps. Default <see cref="DefaultWarmup"/>. Valid: ≥ 0.</param>
    /// <param name="optimizers">Subset of <see cref="OptimizerNames"/>; AdamW is always measured for the ratio.</param>
    /// <param name="seed">Seed of the random parameters and gradients.</param>
    public static IReadOnlyList<OptimizerBenchmarkResult> Run(string model, IReadOnlyList<long[]> shapes, Device? device = null,
        int steps = DefaultSteps, int warmup = DefaultWarmup, IEnumerable<string>? optimizers = null, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(shapes);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(warmup, 0);
        device ??= CPU;
        var names = (optimizers ?? OptimizerNames).ToList();
        foreach (var n in names)
            if (!OptimizerNames.Contains(n))
                throw new ArgumentException($"unknown optimizer '{n}'; expected one of {string.Join(", ", OptimizerNames)}", nameof(optimizers));
        if (!names.Contains("AdamW")) names.Add("AdamW");

        // All optimizers are set up first and then stepped in round-robin blocks, so that a busy or throttled machine
        // slows every optimizer alike and the ratios stay meaningful.
        var runs = names.Select(n => new Contender(n, shapes, device, seed)).ToList();
        try
        {
            bool cuda = device.type == DeviceType.CUDA;
            foreach (var run in runs)
            {
                for (int i = 0; i < warmup; i++) run.Optimizer.step();
                if (cuda) torch.cuda.synchronize(device);
            }
            var sw = new Stopwatch();
            for (int done = 0; done < steps; done += BlockSteps)
            {
                foreach (var run in runs)
                {
                    for (int i = done; i < Math.Min(steps, done + BlockSteps); i++)
                    {
                        sw.Restart();
                        run.Optimizer.step();
                        if (cuda) torch.cuda.synchronize(device);
                        run.Times.Add(sw.Elapsed.TotalMilliseconds);
                    }
                }
            }
            double adamW = runs.Single(r => r.Name == "AdamW").Median;
            string deviceName = device.type == DeviceType.CUDA ? "cuda" : device.type.ToString().ToLowerInvariant();
            return OptimizerNames.Where(names.Contains)
                .Select(n => runs.Single(r => r.Name == n))
                .Select(r => new OptimizerBenchmarkResult(r.Name, model, deviceName, r.Params, r.Median,
                    StateBytes((OptimizerHelper)r.Optimizer) / (double)r.Params, r.Median / adamW))
                .ToList();
        }
        finally
        {
            foreach (var run in runs) run.Dispose();
        }
    }

    /// <summary>Steps per optimizer in one round-robin block.</summary>
    private const int BlockSteps = 10;

    private sealed class Contender : IDisposable
    {
        public Contender(string name, IReadOnlyList<long[]> shapes, Device device, int seed)
        {
            Name = name;
            using var gen = new Generator((ulong)seed);
            Parameters = shapes.Select(s => new Parameter(randn(s, generator: gen).mul_(0.1).to(device))).ToArray();
            foreach (var p in Parameters) p.grad = randn(p.shape, generator: gen).to(device);
            Params = Parameters.Sum(p => p.numel());
            Optimizer = name switch
            {
                "PILOT-plain" => new PilotOptimizer(Parameters, implementation: PilotImplementation.Plain),
                "PILOT-fast" => new PilotOptimizer(Parameters, implementation: PilotImplementation.Auto),
                "PILOT-multitensor" => new PilotOptimizer(Parameters, implementation: PilotImplementation.MultiTensor),
                "Adam" => optim.Adam(Parameters),
                "AdamW" => optim.AdamW(Parameters, weight_decay: PilotDefaults.WeightDecay),
                // The step alone; the Hessian refresh every k steps (one more kernel per tensor) and the extra
                // forward/backward it needs belong to the training loop and are not timed here.
                "SophiaG" => new SophiaG(Parameters),
                _ => throw new ArgumentException(name),
            };
        }

        public string Name { get; }
        public Parameter[] Parameters { get; }
        public long Params { get; }
        public optim.Optimizer Optimizer { get; }
        public List<double> Times { get; } = new();

        public double Median
        {
            get
            {
                var t = Times.Order().ToArray();
                return t.Length % 2 == 1 ? t[t.Length / 2] : (t[t.Length / 2 - 1] + t[t.Length / 2]) / 2;
            }
        }

        public void Dispose()
        {
            Optimizer.Dispose();
            foreach (var p in Parameters) p.Dispose();
        }
    }

    /// <summary>
    /// Bytes of memory traffic per float32 parameter of one step, counted from the code: PILOT-fast reads g, g_prev, m, v in
    /// its reduction pass (16 B) and reads θ, g, m, v and writes θ, m, v, g_prev in its update pass (32 B); TorchSharp's
    /// AdamW runs six whole-tensor operations (decay, two moment updates of two kernels each, sqrt, divide, add ε,
    /// addcdiv), about 88 B.
    /// </summary>
    public static IReadOnlyDictionary<string, int> BytesMovedPerParam { get; } = new Dictionary<string, int>
    {
        ["PILOT-fast"] = 48,
        ["AdamW"] = 88,
        ["Adam"] = 80,
    };

    /// <summary>
    /// The machine's memory bandwidth as seen by a copy loop: <paramref name="megabytes"/> MB copied between two native
    /// buffers, split over <paramref name="threads"/> threads, best of five; returns GB/s counting bytes read plus written.
    /// </summary>
    public static double MeasureCopyBandwidth(int megabytes = 256, int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(megabytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(megabytes, 2047);
        if (threads <= 0) threads = Environment.ProcessorCount;
        int bytes = megabytes << 20;
        var src = GC.AllocateUninitializedArray<byte>(bytes, pinned: true);
        var dst = GC.AllocateUninitializedArray<byte>(bytes, pinned: true);
        src.AsSpan().Fill(1);
        dst.AsSpan().Clear();
        int slice = bytes / threads;
        double best = 0;
        for (int rep = 0; rep < 5; rep++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, t =>
            {
                int start = t * slice, length = t == threads - 1 ? bytes - start : slice;
                src.AsSpan(start, length).CopyTo(dst.AsSpan(start, length));
            });
            best = Math.Max(best, 2.0 * bytes / sw.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>
    /// Bytes of all tensors held by the optimizer's state records (every public tensor field or property of each record),
    /// counting a storage shared by several views once per view (the records of this library do not overlap).
    /// </summary>
    public static long StateBytes(OptimizerHelper optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        long bytes = 0;
        foreach (var state in optimizer.state_dict().State)
        {
            var type = state.GetType();
            var tensors = type.GetFields(BindingFlags.Public | BindingFlags.Instance).Where(f => f.FieldType == typeof(Tensor)).Select(f => f.GetValue(state))
                .Concat(type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.PropertyType == typeof(Tensor)).Select(p => p.GetValue(state)));
            foreach (var t in tensors.OfType<Tensor>()) bytes += t.numel() * t.ElementSize;
        }
        return bytes;
    }
}

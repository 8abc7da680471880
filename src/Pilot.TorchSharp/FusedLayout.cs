using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp;

/// <summary>
/// The fused CPU path's view of one parameter group: per element type, one contiguous buffer each for m, v and g_prev
/// (each parameter's <see cref="PilotOptimizer.State"/> tensors are views into them, so state save/load and the plain
/// path see the same memory), the split of every parameter into fixed runs ("chunks") of <see cref="ChunkBytes"/>, and
/// the two passes over those runs on all cores.
/// </summary>
/// <remarks>
/// Parameters and gradients are read in place through their own data pointers; nothing of the model's size is copied or
/// allocated per step. Each run writes its partial sums into its own cache line of <see cref="_partials"/>; the sums
/// are added in run order afterwards, so results are identical whatever thread ran which run.
/// </remarks>
internal sealed unsafe class FusedLayout : IDisposable
{
    /// <summary>
    /// Whether float32 runs use the 512-bit kernels (<see cref="FusedKernels512"/>): true when the CPU has AVX-512.
    /// Settable for tests, which run both widths; the choice changes rounding only (float32 block sums).
    /// </summary>
    internal static bool UseVector512 { get; set; } = Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx512F.IsSupported;

    /// <summary>
    /// Bytes of one run per stream: 128 KB, so that a run's five streams (θ, g, m, v, g_prev; 640 KB) stay in a core's L2
    /// and a model of a few hundred thousand parameters still splits into enough runs to keep every core busy.
    /// </summary>
    public const int ChunkBytes = 128 * 1024;

    private readonly Slab[] _slabs;
    private readonly double[] _partials;
    private readonly int[] _liveChunks;     // (slab << 24 | chunk) of the runs of parameters that have a gradient this step
    private int _liveCount;
    private readonly Action<int> _reduceRun, _updateRun;
    private ReduceCoefficients<float> _reduce32;
    private ReduceCoefficients<double> _reduce64;
    private UpdateCoefficients<float> _update32;
    private UpdateCoefficients<double> _update64;

    private sealed class Slab : IDisposable
    {
        public required ScalarType Dtype;
        public required int[] Members;                 // indices into the group's parameter list
        public required long[] Offsets;                // element offset of each member in the flat buffers
        public required Tensor M, V, GPrev;            // flat buffers
        public required Tensor[] MViews, VViews, GViews;
        public required (int Member, long Start, long Count)[] Chunks;
        public readonly Dictionary<int, int> SlotOf = new();
        public nint[] Theta = [], Grad = [];           // per member, set each step (0 = no gradient this step)
        public nint MBase, VBase, GBase;

        public void Dispose()
        {
            foreach (var t in MViews.Concat(VViews).Concat(GViews)) t.Dispose();
            M.Dispose();
            V.Dispose();
            GPrev.Dispose();
        }
    }

    private FusedLayout(Slab[] slabs)
    {
        _slabs = slabs;
        int chunks = slabs.Sum(s => s.Chunks.Length);
        _partials = new double[chunks * FusedKernels.PartialStride];
        _liveChunks = new int[chunks];
        _reduceRun = ReduceRun;
        _updateRun = UpdateRun;
    }

    /// <summary>Why the fused path cannot run this group, or null when it can.</summary>
    public static string? UnsupportedReason(IReadOnlyList<Parameter> parameters)
    {
        if (!Vector256.IsHardwareAccelerated)
            return "this CPU has no 256-bit vector instructions, which the fused kernels are written for";
        long bytes32 = 0, bytes64 = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            if (p.device_type != DeviceType.CPU) return $"parameter {i} is on {p.device}, the fused path runs on the CPU";
            if (!p.is_contiguous()) return $"parameter {i} is not contiguous";
            if (p.dtype == ScalarType.Float32) bytes32 += p.numel() * 4; else bytes64 += p.numel() * 8;
        }
        if (bytes32 > int.MaxValue || bytes64 > int.MaxValue)
            return "a group's float32 or float64 parameters exceed 2 GiB; split them into several parameter groups";
        return null;
    }

    /// <summary>Moves the states' m, v, g_prev into flat buffers (values kept) and makes the states views of them.</summary>
    public static FusedLayout Build(IReadOnlyList<Parameter> parameters, IReadOnlyList<PilotOptimizer.State> states)
    {
        var slabs = new List<Slab>();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            var members = Enumerable.Range(0, parameters.Count).Where(i => parameters[i].dtype == dtype).ToArray();
            if (members.Length == 0) continue;
            int elementSize = dtype == ScalarType.Float32 ? 4 : 8;
            long chunkElements = ChunkBytes / elementSize;
            var offsets = new long[members.Length];
            long total = 0;
            var chunks = new List<(int, long, long)>();
            for (int k = 0; k < members.Length; k++)
            {
                offsets[k] = total;
                long n = parameters[members[k]].numel();
                for (long start = 0; start < n; start += chunkElements) chunks.Add((k, start, Math.Min(chunkElements, n - start)));
                total += n;
            }
            var m = zeros(total, dtype).DetachFromDisposeScope();
            var v = zeros(total, dtype).DetachFromDisposeScope();
            var gPrev = zeros(total, dtype).DetachFromDisposeScope();
            Tensor[] Views(Tensor flat) => members.Select((member, k) =>
                flat.narrow(0, offsets[k], parameters[member].numel()).view(parameters[member].shape).DetachFromDisposeScope()).ToArray();
            var slab = new Slab
            {
                Dtype = dtype,
                Members = members,
                Offsets = offsets,
                M = m,
                V = v,
                GPrev = gPrev,
                MViews = Views(m),
                VViews = Views(v),
                GViews = Views(gPrev),
                Chunks = chunks.ToArray(),
                Theta = new nint[members.Length],
                Grad = new nint[members.Length],
            };
            for (int k = 0; k < members.Length; k++)
            {
                slab.SlotOf[members[k]] = k;
                states[members[k]].Rebind(slab.MViews[k], slab.VViews[k], slab.GViews[k]);
            }
            slab.MBase = Pointer(m);
            slab.VBase = Pointer(v);
            slab.GBase = Pointer(gPrev);
            slabs.Add(slab);
        }
        return new FusedLayout(slabs.ToArray());
    }

    /// <summary>True while every state still holds the views of this layout (re-initialising or moving a state replaces them).</summary>
    public bool IsBoundTo(IReadOnlyList<PilotOptimizer.State> states)
    {
        foreach (var slab in _slabs)
            for (int k = 0; k < slab.Members.Length; k++)
            {
                var s = states[slab.Members[k]];
                if (!ReferenceEquals(s.m, slab.MViews[k]) || !ReferenceEquals(s.v, slab.VViews[k]) || !ReferenceEquals(s.g_prev, slab.GViews[k]))
                    return false;
            }
        return true;
    }

    private static nint Pointer(Tensor t) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));

    /// <summary>Records this step's parameter and gradient pointers (gradients must be contiguous CPU tensors of the
    /// parameter's dtype) and the runs to process: those of parameters with a gradient.</summary>
    public void BeginStep(IReadOnlyList<(int Index, Parameter Param, Tensor Grad)> live)
    {
        foreach (var slab in _slabs)
        {
            Array.Clear(slab.Theta);
            Array.Clear(slab.Grad);
        }
        foreach (var (index, p, g) in live)
        {
            foreach (var slab in _slabs)
            {
                if (!slab.SlotOf.TryGetValue(index, out int k)) continue;
                slab.Theta[k] = Pointer(p);
                slab.Grad[k] = Pointer(g);
            }
        }
        _liveCount = 0;
        for (int s = 0; s < _slabs.Length; s++)
            for (int c = 0; c < _slabs[s].Chunks.Length; c++)
                if (_slabs[s].Grad[_slabs[s].Chunks[c].Member] != 0) _liveChunks[_liveCount++] = s << 24 | c;
    }

    /// <summary>Pass 1: returns (non-finite indicator: 0 when every gradient and its square are finite, dot, ‖g‖², ‖g_prev‖², G_m, G_v, G_s).</summary>
    public (double Finite, double Dot, double GNormSq, double GPrevNormSq, double Gm, double Gv, double Gs) Reduce(
        in ReduceCoefficients<float> c32, in ReduceCoefficients<double> c64)
    {
        _reduce32 = c32;
        _reduce64 = c64;
        Run(_reduceRun);
        double fin = 0, dot = 0, gg = 0, pp = 0, gm = 0, gv = 0, gs = 0;
        for (int i = 0; i < _liveCount; i++)
        {   // run order: deterministic
            int o = i * FusedKernels.PartialStride;
            fin += _partials[o]; dot += _partials[o + 1]; gg += _partials[o + 2]; pp += _partials[o + 3];
            gm += _partials[o + 4]; gv += _partials[o + 5]; gs += _partials[o + 6];
        }
        return (fin, dot, gg, pp, gm, gv, gs);
    }

    /// <summary>Pass 2: moments, update and g_prev for every run of this step.</summary>
    public void Update(in UpdateCoefficients<float> c32, in UpdateCoefficients<double> c64)
    {
        _update32 = c32;
        _update64 = c64;
        Run(_updateRun);
    }

    private void Run(Action<int> body)
    {
        if (_liveCount <= 1 || Environment.ProcessorCount == 1)
        {
            for (int i = 0; i < _liveCount; i++) body(i);
        }
        else if (OpenMPTeam.Enabled)
        {
            OpenMPTeam.Run(_liveCount, body);     // OMP_WAIT_POLICY=ACTIVE: on libtorch's spinning threads (see OpenMPTeam)
        }
        else
        {
            Parallel.For(0, _liveCount, body);
        }
    }

    private void ReduceRun(int i)
    {
        var (slab, member, start, count) = Locate(i);
        long at = slab.Offsets[member] + start;
        fixed (double* partial = &_partials[i * FusedKernels.PartialStride])
        {
            if (slab.Dtype == ScalarType.Float32 && UseVector512)
            {
                FusedKernels512.Reduce(_reduce32, (float*)slab.Grad[member] + start,
                    (float*)slab.GBase + at, (float*)slab.MBase + at, (float*)slab.VBase + at, count, partial);
            }
            else if (slab.Dtype == ScalarType.Float32)
            {
                FusedKernels.Reduce<float, FloatMath>(_reduce32, (float*)slab.Grad[member] + start,
                    (float*)slab.GBase + at, (float*)slab.MBase + at, (float*)slab.VBase + at, count, partial);
            }
            else
            {
                FusedKernels.Reduce<double, DoubleMath>(_reduce64, (double*)slab.Grad[member] + start,
                    (double*)slab.GBase + at, (double*)slab.MBase + at, (double*)slab.VBase + at, count, partial);
            }
        }
    }

    private void UpdateRun(int i)
    {
        var (slab, member, start, count) = Locate(i);
        long at = slab.Offsets[member] + start;
        if (slab.Dtype == ScalarType.Float32 && UseVector512)
        {
            FusedKernels512.Update(_update32, (float*)slab.Theta[member] + start, (float*)slab.Grad[member] + start,
                (float*)slab.MBase + at, (float*)slab.VBase + at, (float*)slab.GBase + at, count);
        }
        else if (slab.Dtype == ScalarType.Float32)
        {
            FusedKernels.Update<float, FloatMath>(_update32, (float*)slab.Theta[member] + start, (float*)slab.Grad[member] + start,
                (float*)slab.MBase + at, (float*)slab.VBase + at, (float*)slab.GBase + at, count);
        }
        else
        {
            FusedKernels.Update<double, DoubleMath>(_update64, (double*)slab.Theta[member] + start, (double*)slab.Grad[member] + start,
                (double*)slab.MBase + at, (double*)slab.VBase + at, (double*)slab.GBase + at, count);
        }
    }

    private (Slab Slab, int Member, long Start, long Count) Locate(int i)
    {
        int code = _liveChunks[i];
        var slab = _slabs[code >> 24];
        var (member, start, count) = slab.Chunks[code & 0xFFFFFF];
        return (slab, member, start, count);
    }

    public void Dispose()
    {
        foreach (var s in _slabs) s.Dispose();
    }
}

using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp;

/// <summary>
/// The multi-tensor path's view of one parameter group: per element type ("slab"), one flat buffer each for θ, g, m, v and
/// g_prev on the parameters' device. The parameters themselves are re-pointed (<c>set_</c>) at views of the flat θ buffer,
/// their gradients at views of the flat g buffer, and the <see cref="PilotOptimizer.State"/> tensors at views of m, v and
/// g_prev, so that a step is a fixed number of whole-buffer operations and nothing is gathered or written back per tensor.
/// </summary>
/// <remarks>
/// <para>Values are kept when the layout is built: parameters, gradients and state are copied into the flat buffers first.
/// Every step checks, on the host and without any tensor operation, that each parameter still lives where the layout
/// put it (<see cref="IsBoundTo"/>; <c>model.to(device)</c> or a replaced state tensor breaks that, and the layout is
/// rebuilt) and where each gradient lives (<see cref="BeginStep"/>).</para>
/// <para>Gradients: backward accumulates in place into a gradient that exists, so once a parameter's <c>grad</c> is a
/// view of the flat g buffer it stays one under <c>optimizer.zero_grad()</c> (which zeroes in place) and nothing has to be
/// gathered. A gradient that lives elsewhere (the first step; <c>module.zero_grad()</c>, which sets gradients to null; a
/// gradient assigned by hand) is gathered: one <c>cat</c> of the group's gradients into the flat buffer, after which the
/// parameter's <c>grad</c> is set to its view. A parameter whose <c>grad</c> is null is left out of the step, as on the
/// other paths: a mask over the flat buffers (built when the set of such parameters changes, then reused) keeps its
/// elements out of the sums and its values unchanged.</para>
/// </remarks>
internal sealed class MultiTensorLayout : IDisposable
{
    private readonly Slab[] _slabs;

    private MultiTensorLayout(Slab[] slabs) => _slabs = slabs;

    /// <summary>The slabs (one per element type present in the group, float32 first).</summary>
    public IReadOnlyList<Slab> Slabs => _slabs;

    /// <summary>Flat buffers and views of the group's parameters of one element type.</summary>
    internal sealed class Slab : IDisposable
    {
        public required ScalarType Dtype;
        public required int[] Members;                     // indices into the group's parameter list
        public required long[] Offsets, Sizes;             // element offset and count of each member
        public required long Total;
        public required Tensor Theta, Grad, M, V, GPrev;   // flat buffers (the parameters' data is Theta)
        public required Tensor[] ThetaViews, GradViews, GradSegments, MViews, VViews, GViews;
        public required Tensor SizesOnDevice;              // int64 [members]: the repeats of the live mask
        public required nint ThetaBase, GradBase;
        public required int ElementSize;
        public required bool[] LiveFlags;                  // this step: which members have a gradient
        public bool[]? MaskPattern;                        // the Live pattern the masks below were built for
        public Tensor? LiveMask, DeadMask;                 // bool [Total]; null when every member is live

        public bool AllLive => LiveMask is null;

        public void Dispose()
        {
            foreach (var t in ThetaViews.Concat(GradViews).Concat(GradSegments).Concat(MViews).Concat(VViews).Concat(GViews)) t.Dispose();
            foreach (var t in new[] { Theta, Grad, M, V, GPrev, SizesOnDevice }) t.Dispose();
            LiveMask?.Dispose();
            DeadMask?.Dispose();
        }
    }

    /// <summary>Why the multi-tensor path cannot run this group, or null when it can (it runs on every device and layout).</summary>
    public static string? UnsupportedReason(IReadOnlyList<Parameter> parameters)
    {
        for (int i = 0; i < parameters.Count; i++)
            if (parameters[i].is_sparse)
                return $"parameter {i} is sparse";
        return null;
    }

    /// <summary>
    /// Builds the flat buffers on the parameters' device, copies parameter values, gradients and the states' m, v, g_prev
    /// into them, and re-points parameters, gradients and states at views of them.
    /// </summary>
    public static MultiTensorLayout Build(IReadOnlyList<Parameter> parameters, IReadOnlyList<PilotOptimizer.State> states)
    {
        var slabs = new List<Slab>();
        using var noGrad = no_grad();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            var members = Enumerable.Range(0, parameters.Count).Where(i => parameters[i].dtype == dtype).ToArray();
            if (members.Length == 0) continue;
            var device = parameters[members[0]].device;
            var sizes = members.Select(i => parameters[i].numel()).ToArray();
            var offsets = new long[members.Length];
            long total = 0;
            for (int k = 0; k < members.Length; k++)
            {
                offsets[k] = total;
                total += sizes[k];
            }
            Tensor Flat() => zeros(total, dtype, device: device).DetachFromDisposeScope();
            var (theta, grad, m, v, gPrev) = (Flat(), Flat(), Flat(), Flat(), Flat());
            Tensor[] Views(Tensor flat) => members.Select((member, k) =>
                flat.narrow(0, offsets[k], sizes[k]).view(parameters[member].shape).DetachFromDisposeScope()).ToArray();
            var slab = new Slab
            {
                Dtype = dtype,
                Members = members,
                Offsets = offsets,
                Sizes = sizes,
                Total = total,
                Theta = theta,
                Grad = grad,
                M = m,
                V = v,
                GPrev = gPrev,
                ThetaViews = Views(theta),
                GradViews = Views(grad),
                MViews = Views(m),
                VViews = Views(v),
                GViews = Views(gPrev),
                GradSegments = members.Select((_, k) => grad.narrow(0, offsets[k], sizes[k]).DetachFromDisposeScope()).ToArray(),
                SizesOnDevice = tensor(sizes, device: device).DetachFromDisposeScope(),
                ThetaBase = TorchNative.DataPointer(theta),
                GradBase = TorchNative.DataPointer(grad),
                ElementSize = dtype == ScalarType.Float32 ? 4 : 8,
                LiveFlags = new bool[members.Length],
            };
            for (int k = 0; k < members.Length; k++)
            {
                var p = parameters[members[k]];
                slab.ThetaViews[k].copy_(p);
                using (var g = p.grad)
                {
                    if (g is not null)
                    {
                        slab.GradViews[k].copy_(g);
                        p.grad = slab.GradViews[k];
                    }
                }
                p.set_(slab.ThetaViews[k]);
                states[members[k]].Rebind(slab.MViews[k], slab.VViews[k], slab.GViews[k]);
            }
            slabs.Add(slab);
        }
        return new MultiTensorLayout(slabs.ToArray());
    }

    /// <summary>
    /// True while every parameter's data is still its view of the flat θ buffer and every state still holds the views of
    /// this layout. Host-side pointer and reference comparisons only: no tensor operation.
    /// </summary>
    public bool IsBoundTo(IReadOnlyList<Parameter> parameters, IReadOnlyList<PilotOptimizer.State> states)
    {
        foreach (var slab in _slabs)
            for (int k = 0; k < slab.Members.Length; k++)
            {
                var p = parameters[slab.Members[k]];
                if (p.dtype != slab.Dtype) return false;
                if (slab.Sizes[k] > 0 && TorchNative.DataPointer(p) != slab.ThetaBase + (nint)(slab.Offsets[k] * slab.ElementSize)) return false;
                var s = states[slab.Members[k]];
                if (!ReferenceEquals(s.m, slab.MViews[k]) || !ReferenceEquals(s.v, slab.VViews[k]) || !ReferenceEquals(s.g_prev, slab.GViews[k]))
                    return false;
            }
        return true;
    }

    /// <summary>
    /// Finds which parameters have a gradient, gathers into the flat g buffer the gradients that live elsewhere (one
    /// <c>cat</c> per slab, only when there are such) and points those parameters' <c>grad</c> at their views; brings the
    /// live masks up to date. Returns false when no parameter of the group has a gradient.
    /// </summary>
    public bool BeginStep(IReadOnlyList<Parameter> parameters)
    {
        bool any = false;
        foreach (var slab in _slabs)
        {
            List<int>? elsewhere = null;
            for (int k = 0; k < slab.Members.Length; k++)
            {
                var p = parameters[slab.Members[k]];
                nint at = TorchNative.GradDataPointer(p, out bool hasGrad);
                slab.LiveFlags[k] = hasGrad;
                any |= hasGrad;
                if (hasGrad && slab.Sizes[k] > 0 && at != slab.GradBase + (nint)(slab.Offsets[k] * slab.ElementSize))
                    (elsewhere ??= new()).Add(k);
            }
            if (elsewhere is not null) Gather(slab, parameters, elsewhere);
            UpdateMasks(slab);
        }
        return any;
    }

    private static void Gather(Slab slab, IReadOnlyList<Parameter> parameters, List<int> elsewhere)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var parts = new Tensor[slab.Members.Length];
        for (int k = 0; k < parts.Length; k++) parts[k] = slab.GradSegments[k];
        foreach (int k in elsewhere)
        {
            var g = parameters[slab.Members[k]].grad!;
            parts[k] = g.to(slab.Dtype, slab.Theta.device).reshape(-1);
        }
        slab.Grad.copy_(cat(parts));
        foreach (int k in elsewhere) parameters[slab.Members[k]].grad = slab.GradViews[k];
    }

    private static void UpdateMasks(Slab slab)
    {
        bool all = Array.TrueForAll(slab.LiveFlags, x => x);
        if (all)
        {
            slab.LiveMask?.Dispose();
            slab.DeadMask?.Dispose();
            (slab.LiveMask, slab.DeadMask, slab.MaskPattern) = (null, null, null);
            return;
        }
        if (slab.MaskPattern is not null && slab.MaskPattern.AsSpan().SequenceEqual(slab.LiveFlags)) return;
        slab.LiveMask?.Dispose();
        slab.DeadMask?.Dispose();
        using var scope = NewDisposeScope();
        var flags = tensor(slab.LiveFlags, device: slab.Theta.device);
        slab.LiveMask = flags.repeat_interleave(slab.SizesOnDevice, dim: 0, output_size: slab.Total).DetachFromDisposeScope();
        slab.DeadMask = slab.LiveMask.logical_not().DetachFromDisposeScope();
        slab.MaskPattern = (bool[])slab.LiveFlags.Clone();
    }

    public void Dispose()
    {
        foreach (var s in _slabs) s.Dispose();
    }
}

/// <summary>
/// Two entry points of TorchSharp's native glue library (<c>LibTorchSharp</c>, exported C functions) that its managed API
/// does not offer for every device: the address of a tensor's first element (<c>THSTensor_data</c>; the managed
/// <c>bytes</c> refuses CUDA tensors) and a parameter's gradient handle without allocating a managed tensor for it.
/// The multi-tensor path uses them to check, per step and per parameter, where data and gradients live without issuing
/// a tensor operation.
/// </summary>
internal static unsafe class TorchNative
{
    private static readonly delegate* unmanaged[Cdecl]<IntPtr, IntPtr> Data, Grad;
    private static readonly delegate* unmanaged[Cdecl]<IntPtr, void> Dispose;

    static TorchNative()
    {
        TorchRuntime.EnsureLoaded();
        var library = NativeLibrary.Load("LibTorchSharp", typeof(torch).Assembly, null);
        Data = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr>)NativeLibrary.GetExport(library, "THSTensor_data");
        Grad = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr>)NativeLibrary.GetExport(library, "THSTensor_grad");
        Dispose = (delegate* unmanaged[Cdecl]<IntPtr, void>)NativeLibrary.GetExport(library, "THSTensor_dispose");
    }

    /// <summary>Address of the first element of <paramref name="t"/> (a device address for CUDA tensors).</summary>
    public static nint DataPointer(Tensor t) => Data(t.Handle);

    /// <summary>Address of the first element of <paramref name="p"/>'s gradient; <paramref name="hasGrad"/> false when it has none.</summary>
    public static nint GradDataPointer(Tensor p, out bool hasGrad)
    {
        var g = Grad(p.Handle);
        hasGrad = g != IntPtr.Zero;
        if (!hasGrad) return 0;
        try
        {
            return Data(g);
        }
        finally
        {
            Dispose(g);
        }
    }
}

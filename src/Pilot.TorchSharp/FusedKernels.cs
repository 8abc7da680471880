using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Pilot.TorchSharp;

/// <summary>Per-element constants of the fused reduction pass (docs/algorithm.md steps 2 and 4), in the parameters' element type.</summary>
internal struct ReduceCoefficients<T> where T : unmanaged
{
    public bool Meta;                 // compute the meta-gradient sums (η_φ > 0 and some knob learned)
    public T InvB1Prev, InvB2Prev;    // 1/(1 − β^(t−1)), or 1 at the first step
    public T PmPrev, OneMinusPmPrev;  // previous step's knobs
    public T PvPrev, OneMinusPsPrev;
    public T MinusLrOneMinusPsPrev;   // −η·(1 − p_s,prev)
    public T Lr;
}

/// <summary>Per-element constants of the fused update pass (docs/algorithm.md steps 5–7), in the parameters' element type.</summary>
internal struct UpdateCoefficients<T> where T : unmanaged
{
    public T Beta1, OneMinusBeta1, Beta2, OneMinusBeta2;
    public T InvB1, InvB2;            // 1/(1 − β^t)
    public T Pm, OneMinusPm;
    public T OneMinusPs, Pv;          // powers of |n| and v̂
    public bool PowN, PowV;           // false when the power is 0 (x^0 = 1, also for x = 0 or ∞)
    public T Eps;
    public T Decay;                   // 1 − η·λ
    public T Lr;
}

/// <summary>
/// The two vectorised loops of the fused PILOT step over one contiguous run of elements. The reduction writes eight
/// float64 partial sums per run (finiteness, ⟨g, g_prev⟩, ‖g‖², ‖g_prev‖², G_m, G_v, G_s, padding); the caller adds the
/// runs' partials in run order, so the result does not depend on thread timing. Elements past the last full vector are
/// processed as one zero-padded vector through the same code.
/// </summary>
internal static unsafe class FusedKernels
{
    public const int PartialStride = 8; // doubles per run: one 64-byte cache line, so runs never share a line

    /// <summary>Vectors summed per run, widened to float64.</summary>
    private struct Sums
    {
        public Vector256<double> FinLo, FinHi, DotLo, DotHi, GgLo, GgHi, PpLo, PpHi, GmLo, GmHi, GvLo, GvHi, GsLo, GsHi;
    }

    /// <summary>Vectors summed in the element type over a block of <see cref="BlockVectors"/> vectors, then widened into
    /// <see cref="Sums"/>: float32 products are added in float32 only within a block (relative error ~1e−7).</summary>
    private struct BlockSums<T> where T : unmanaged
    {
        public Vector256<T> Fin, Dot, Gg, Pp, Gm, Gv, Gs;
    }

    private const int BlockVectors = 16;

    public static void Reduce<T, TMath>(in ReduceCoefficients<T> c, T* g, T* gPrev, T* m, T* v, long count, double* partial)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TMath : struct, IFusedMath<T>
    {
        int w = Vector256<T>.Count;
        var sums = default(Sums);
        var block = default(BlockSums<T>);
        int inBlock = 0;
        long i = 0;
        for (; i + w <= count; i += w)
        {
            ReduceBody<T, TMath>(c, Vector256.Load(g + i), Vector256.Load(gPrev + i), Vector256.Load(m + i), Vector256.Load(v + i), ref block);
            if (++inBlock == BlockVectors)
            {
                Flush<T, TMath>(ref block, ref sums);
                inBlock = 0;
            }
        }
        if (i < count)
        {
            // Zero padding contributes exactly 0 to every sum (g = 0).
            T* tg = stackalloc T[w], tp = stackalloc T[w], tm = stackalloc T[w], tv = stackalloc T[w];
            for (int k = 0; k < w; k++) { tg[k] = tp[k] = tm[k] = tv[k] = T.Zero; }
            int rest = (int)(count - i);
            for (int k = 0; k < rest; k++) { tg[k] = g[i + k]; tp[k] = gPrev[i + k]; tm[k] = m[i + k]; tv[k] = v[i + k]; }
            ReduceBody<T, TMath>(c, Vector256.Load(tg), Vector256.Load(tp), Vector256.Load(tm), Vector256.Load(tv), ref block);
        }
        Flush<T, TMath>(ref block, ref sums);
        partial[0] = Vector256.Sum(sums.FinLo + sums.FinHi);
        partial[1] = Vector256.Sum(sums.DotLo + sums.DotHi);
        partial[2] = Vector256.Sum(sums.GgLo + sums.GgHi);
        partial[3] = Vector256.Sum(sums.PpLo + sums.PpHi);
        partial[4] = Vector256.Sum(sums.GmLo + sums.GmHi);
        partial[5] = Vector256.Sum(sums.GvLo + sums.GvHi);
        partial[6] = Vector256.Sum(sums.GsLo + sums.GsHi);
        partial[7] = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Flush<T, TMath>(ref BlockSums<T> b, ref Sums s)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TMath : struct, IFusedMath<T>
    {
        TMath.Accumulate(ref s.FinLo, ref s.FinHi, b.Fin);
        TMath.Accumulate(ref s.DotLo, ref s.DotHi, b.Dot);
        TMath.Accumulate(ref s.GgLo, ref s.GgHi, b.Gg);
        TMath.Accumulate(ref s.PpLo, ref s.PpHi, b.Pp);
        TMath.Accumulate(ref s.GmLo, ref s.GmHi, b.Gm);
        TMath.Accumulate(ref s.GvLo, ref s.GvHi, b.Gv);
        TMath.Accumulate(ref s.GsLo, ref s.GsHi, b.Gs);
        b = default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ReduceBody<T, TMath>(in ReduceCoefficients<T> c, Vector256<T> g, Vector256<T> gPrev, Vector256<T> m, Vector256<T> v, ref BlockSums<T> s)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TMath : struct, IFusedMath<T>
    {
        var gg = g * g;
        s.Fin += gg - gg;        // 0 when g² is finite; NaN for NaN, ±∞ or a g whose square overflows (v would be ∞)
        s.Dot += g * gPrev;
        s.Gg += gg;
        s.Pp += gPrev * gPrev;
        if (!c.Meta) return;

        // ∂d/∂p_k of the previous step (PilotOptimizer.UpdateDerivatives), from m, v, g_prev before this step.
        var floor = Vector256.Create(T.CreateTruncating(PilotPolicyMath.MagnitudeFloor));
        var mHat = m * c.InvB1Prev;
        var vHat = v * c.InvB2Prev;
        var n = c.PmPrev * mHat + c.OneMinusPmPrev * gPrev;
        var nAbs = Vector256.MaxNative(Vector256.Abs(n), floor);
        var vAbs = Vector256.MaxNative(Vector256.Abs(vHat), floor);
        var nParts = TMath.Log2Parts(nAbs);
        var vParts = TMath.Log2Parts(vAbs);
        var vPow = TMath.Pow(vParts, vAbs, c.PvPrev, mayBeZero: false);
        var nPow = TMath.Pow(nParts, nAbs, c.OneMinusPsPrev, mayBeZero: false);       // |n|₊^(1−p_s)
        var invD = Vector256<T>.One / (vPow + Vector256.Create(T.CreateTruncating(PilotPolicyMath.MetaDenominatorEpsilon)));
        var signedMagnitude = WithSignOf(nPow, n);
        var dm = c.MinusLrOneMinusPsPrev * (nPow / nAbs) * (mHat - gPrev) * invD; // |n|₊^(−p_s) = |n|₊^(1−p_s)/|n|₊
        var dv = c.Lr * signedMagnitude * vPow * TMath.Ln(vParts) * invD * invD;
        var ds = c.Lr * signedMagnitude * TMath.Ln(nParts) * invD;
        s.Gm += g * dm;
        s.Gv += g * dv;
        s.Gs += g * ds;
    }

    public static void Update<T, TMath>(in UpdateCoefficients<T> c, T* theta, T* g, T* m, T* v, T* gPrev, long count)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TMath : struct, IFusedMath<T>
    {
        int w = Vector256<T>.Count;
        long i = 0;
        for (; i + w <= count; i += w)
            UpdateBody<T, TMath>(c, theta + i, g + i, m + i, v + i, gPrev + i);
        if (i < count)
        {
            T* tt = stackalloc T[w], tg = stackalloc T[w], tm = stackalloc T[w], tv = stackalloc T[w], tp = stackalloc T[w];
            for (int k = 0; k < w; k++) { tt[k] = tg[k] = tm[k] = tv[k] = T.Zero; }
            int rest = (int)(count - i);
            for (int k = 0; k < rest; k++) { tt[k] = theta[i + k]; tg[k] = g[i + k]; tm[k] = m[i + k]; tv[k] = v[i + k]; }
            UpdateBody<T, TMath>(c, tt, tg, tm, tv, tp);
            for (int k = 0; k < rest; k++) { theta[i + k] = tt[k]; m[i + k] = tm[k]; v[i + k] = tv[k]; gPrev[i + k] = tp[k]; }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdateBody<T, TMath>(in UpdateCoefficients<T> c, T* theta, T* gp, T* mp, T* vp, T* gPrev)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TMath : struct, IFusedMath<T>
    {
        var g = Vector256.Load(gp);
        var m = c.Beta1 * Vector256.Load(mp) + c.OneMinusBeta1 * g;
        var v = c.Beta2 * Vector256.Load(vp) + c.OneMinusBeta2 * (g * g);
        var n = c.Pm * (m * c.InvB1) + c.OneMinusPm * g;
        var vHat = v * c.InvB2;
        var nAbs = Vector256.MaxNative(Vector256.Abs(n), Vector256.Create(T.CreateTruncating(PilotPolicyMath.MagnitudeFloor)));
        var magnitude = c.PowN ? TMath.Pow(TMath.Log2Parts(nAbs), nAbs, c.OneMinusPs, mayBeZero: false) : Vector256<T>.One;
        var normaliser = (c.PowV ? TMath.Pow(TMath.Log2Parts(vHat), vHat, c.Pv, mayBeZero: true) : Vector256<T>.One) + Vector256.Create(c.Eps);
        var update = WithSignOf(magnitude, n) / normaliser;
        (c.Decay * Vector256.Load(theta) - c.Lr * update).Store(theta);
        m.Store(mp);
        v.Store(vp);
        g.Store(gPrev);
    }

    /// <summary>magnitude·sign(n) for magnitude ≥ 0: n's sign bit on magnitude, and 0 where n = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> WithSignOf<T>(Vector256<T> magnitude, Vector256<T> n) where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        Vector256.AndNot(Vector256.ConditionalSelect(Vector256.Create(T.NegativeZero), n, magnitude), Vector256.Equals(n, Vector256<T>.Zero));
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pilot.TorchSharp;

/// <summary>
/// The float32 fused kernels of <see cref="FusedKernels"/> on 512-bit vectors, used when the CPU has AVX-512
/// (<see cref="Avx512F.IsSupported"/>): the same operations in the same order, sixteen lanes at a time, with AVX-512's
/// getexp/getmant/scalef in place of bit manipulation (about twice the throughput of the 256-bit loop on such CPUs; the
/// log2 polynomial is fitted to getmant's mantissa range). Keep the two in step: every line here mirrors one in
/// <see cref="FusedKernels"/> and <see cref="FloatMath"/>; <c>FusedParityTests</c> runs both against the plain path.
/// </summary>
internal static unsafe class FusedKernels512
{
    private const int BlockVectors = 8; // 128 elements summed in float32 before widening, as in the 256-bit loop

    // log2(1 + u) = u·P(u) for u in [−0.25, 0.5) (the mantissa range of vgetmantps' [0.75, 1.5) form); Chebyshev fit,
    // max error 6e−8.
    private const float L0 = 1.442695f, L1 = -0.7213485f, L2 = 0.4809008f, L3 = -0.36057156f, L4 = 0.28823653f,
        L5 = -0.24288775f, L6 = 0.21601325f, L7 = -0.17250052f, L8 = 0.07639224f;

    /// <summary>x = 2^E·m with m in [0.75, 1.5) from AVX-512's getmant/getexp; L = log2 m.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector512<float> E, Vector512<float> L) Log2Parts(Vector512<float> x)
    {
        var m = Avx512F.GetMantissa(x, 0b0011);                          // interval [0.75, 1.5), sign of x (x ≥ 0)
        var e = Avx512F.GetExponent(x) - Avx512F.GetExponent(m);         // getexp(m) is −1 for m < 1, else 0
        var u = m - Vector512<float>.One;
        var p = Vector512.Create(L8);
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(L7));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(L6));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(L5));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(L4));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(L3));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(L2));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(L1));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(L0));
        return (e, u * p);
    }

    /// <summary>x^a as in <see cref="FloatMath.Pow"/>; the final 2^k by vscalefps, which also gets the range ends right.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Pow((Vector512<float> E, Vector512<float> L) parts, Vector512<float> x, float a, bool mayBeZero)
    {
        var av = Vector512.Create(a);
        var hi = parts.E * av;
        var al = Vector512.FusedMultiplyAdd(parts.L, av, Vector512.FusedMultiplyAdd(parts.E, av, -hi));
        var k = Vector512.Round(hi + al);
        var f = (hi - k) + al;
        var p = Vector512.Create(FloatMath.E6);
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(FloatMath.E5));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(FloatMath.E4));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(FloatMath.E3));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(FloatMath.E2));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(FloatMath.E1));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(FloatMath.E0));
        var result = Avx512F.Scale(p, k);
        if (mayBeZero) result = Vector512.AndNot(result, Vector512.LessThan(x, Vector512.Create(FloatMath.SmallestNormal)));
        return Vector512.ConditionalSelect(Vector512.Equals(x, Vector512.Create(float.PositiveInfinity)), x, result);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Ln((Vector512<float> E, Vector512<float> L) parts) => (parts.E + parts.L) * FloatMath.Ln2;

    /// <summary>magnitude·sign(n) for magnitude ≥ 0: n's sign bit on magnitude, and 0 where n = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> WithSignOf(Vector512<float> magnitude, Vector512<float> n) =>
        Vector512.AndNot(Vector512.ConditionalSelect(Vector512.Create(-0.0f), n, magnitude), Vector512.Equals(n, Vector512<float>.Zero));

    private struct BlockSums
    {
        public Vector512<float> Fin, Dot, Gg, Pp, Gm, Gv, Gs;
    }

    private struct Sums
    {
        public Vector512<double> Fin, Dot, Gg, Pp, Gm, Gv, Gs;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen(ref Vector512<double> acc, Vector512<float> x)
    {
        var (a, b) = Vector512.Widen(x);
        acc += a + b;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Flush(ref BlockSums b, ref Sums s)
    {
        Widen(ref s.Fin, b.Fin);
        Widen(ref s.Dot, b.Dot);
        Widen(ref s.Gg, b.Gg);
        Widen(ref s.Pp, b.Pp);
        Widen(ref s.Gm, b.Gm);
        Widen(ref s.Gv, b.Gv);
        Widen(ref s.Gs, b.Gs);
        b = default;
    }

    public static void Reduce(in ReduceCoefficients<float> c, float* g, float* gPrev, float* m, float* v, long count, double* partial)
    {
        const int w = 16;
        var sums = default(Sums);
        var block = default(BlockSums);
        int inBlock = 0;
        long i = 0;
        for (; i + w <= count; i += w)
        {
            ReduceBody(c, Vector512.Load(g + i), Vector512.Load(gPrev + i), Vector512.Load(m + i), Vector512.Load(v + i), ref block);
            if (++inBlock == BlockVectors)
            {
                Flush(ref block, ref sums);
                inBlock = 0;
            }
        }
        if (i < count)
        {
            float* tg = stackalloc float[w], tp = stackalloc float[w], tm = stackalloc float[w], tv = stackalloc float[w];
            for (int k = 0; k < w; k++) { tg[k] = tp[k] = tm[k] = tv[k] = 0; }
            int rest = (int)(count - i);
            for (int k = 0; k < rest; k++) { tg[k] = g[i + k]; tp[k] = gPrev[i + k]; tm[k] = m[i + k]; tv[k] = v[i + k]; }
            ReduceBody(c, Vector512.Load(tg), Vector512.Load(tp), Vector512.Load(tm), Vector512.Load(tv), ref block);
        }
        Flush(ref block, ref sums);
        partial[0] = Vector512.Sum(sums.Fin);
        partial[1] = Vector512.Sum(sums.Dot);
        partial[2] = Vector512.Sum(sums.Gg);
        partial[3] = Vector512.Sum(sums.Pp);
        partial[4] = Vector512.Sum(sums.Gm);
        partial[5] = Vector512.Sum(sums.Gv);
        partial[6] = Vector512.Sum(sums.Gs);
        partial[7] = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ReduceBody(in ReduceCoefficients<float> c, Vector512<float> g, Vector512<float> gPrev, Vector512<float> m, Vector512<float> v, ref BlockSums s)
    {
        var gg = g * g;
        s.Fin += gg - gg;        // 0 when g² is finite; NaN for NaN, ±∞ or a g whose square overflows (v would be ∞)
        s.Dot += g * gPrev;
        s.Gg += gg;
        s.Pp += gPrev * gPrev;
        if (!c.Meta) return;

        var floor = Vector512.Create((float)PilotPolicyMath.MagnitudeFloor);
        var mHat = m * c.InvB1Prev;
        var vHat = v * c.InvB2Prev;
        var n = c.PmPrev * mHat + c.OneMinusPmPrev * gPrev;
        var nAbs = Vector512.MaxNative(Vector512.Abs(n), floor);
        var vAbs = Vector512.MaxNative(Vector512.Abs(vHat), floor);
        var nParts = Log2Parts(nAbs);
        var vParts = Log2Parts(vAbs);
        var vPow = Pow(vParts, vAbs, c.PvPrev, mayBeZero: false);
        var nPow = Pow(nParts, nAbs, c.OneMinusPsPrev, mayBeZero: false);
        var invD = Vector512<float>.One / (vPow + Vector512.Create((float)PilotPolicyMath.MetaDenominatorEpsilon));
        var signedMagnitude = WithSignOf(nPow, n);
        var dm = c.MinusLrOneMinusPsPrev * (nPow / nAbs) * (mHat - gPrev) * invD;
        var dv = c.Lr * signedMagnitude * vPow * Ln(vParts) * invD * invD;
        var ds = c.Lr * signedMagnitude * Ln(nParts) * invD;
        s.Gm += g * dm;
        s.Gv += g * dv;
        s.Gs += g * ds;
    }

    public static void Update(in UpdateCoefficients<float> c, float* theta, float* g, float* m, float* v, float* gPrev, long count)
    {
        const int w = 16;
        long i = 0;
        for (; i + w <= count; i += w)
            UpdateBody(c, theta + i, g + i, m + i, v + i, gPrev + i);
        if (i < count)
        {
            float* tt = stackalloc float[w], tg = stackalloc float[w], tm = stackalloc float[w], tv = stackalloc float[w], tp = stackalloc float[w];
            for (int k = 0; k < w; k++) { tt[k] = tg[k] = tm[k] = tv[k] = 0; }
            int rest = (int)(count - i);
            for (int k = 0; k < rest; k++) { tt[k] = theta[i + k]; tg[k] = g[i + k]; tm[k] = m[i + k]; tv[k] = v[i + k]; }
            UpdateBody(c, tt, tg, tm, tv, tp);
            for (int k = 0; k < rest; k++) { theta[i + k] = tt[k]; m[i + k] = tm[k]; v[i + k] = tv[k]; gPrev[i + k] = tp[k]; }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdateBody(in UpdateCoefficients<float> c, float* theta, float* gp, float* mp, float* vp, float* gPrev)
    {
        var g = Vector512.Load(gp);
        var m = c.Beta1 * Vector512.Load(mp) + c.OneMinusBeta1 * g;
        var v = c.Beta2 * Vector512.Load(vp) + c.OneMinusBeta2 * (g * g);
        var n = c.Pm * (m * c.InvB1) + c.OneMinusPm * g;
        var vHat = v * c.InvB2;
        var nAbs = Vector512.MaxNative(Vector512.Abs(n), Vector512.Create((float)PilotPolicyMath.MagnitudeFloor));
        var magnitude = c.PowN ? Pow(Log2Parts(nAbs), nAbs, c.OneMinusPs, mayBeZero: false) : Vector512<float>.One;
        var normaliser = (c.PowV ? Pow(Log2Parts(vHat), vHat, c.Pv, mayBeZero: true) : Vector512<float>.One) + Vector512.Create(c.Eps);
        var update = WithSignOf(magnitude, n) / normaliser;
        (c.Decay * Vector512.Load(theta) - c.Lr * update).Store(theta);
        m.Store(mp);
        v.Store(vp);
        g.Store(gPrev);
    }
}

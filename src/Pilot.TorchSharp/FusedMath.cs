using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Pilot.TorchSharp;

/// <summary>
/// Element-type specific vector math for the fused PILOT kernels: x^a, ln x, and widening a vector of products into
/// float64 accumulators. Implemented by <see cref="FloatMath"/> and <see cref="DoubleMath"/>; the kernels are generic
/// over these structs so the JIT compiles one specialised loop per element type.
/// </summary>
internal interface IFusedMath<T> where T : unmanaged
{
    /// <summary>
    /// x^a for x ≥ 0 and 0 ≤ a ≤ 1 (∞^a = ∞; 0^a = 0 when <paramref name="mayBeZero"/>, which callers whose x is floored
    /// at 1e−12 leave false). <paramref name="parts"/> comes from <see cref="Log2Parts"/>.
    /// </summary>
    static abstract Vector256<T> Pow(in LogParts<T> parts, Vector256<T> x, T a, bool mayBeZero);

    /// <summary>Splits positive x into an integer exponent and log2 of the mantissa (x = 2^(e + l)).</summary>
    static abstract LogParts<T> Log2Parts(Vector256<T> x);

    /// <summary>ln x from <see cref="Log2Parts"/>.</summary>
    static abstract Vector256<T> Ln(in LogParts<T> parts);

    /// <summary>acc += x, widened to float64 lanes.</summary>
    static abstract void Accumulate(ref Vector256<double> lo, ref Vector256<double> hi, Vector256<T> x);
}

/// <summary>x = 2^(E + L): E an integer (as a float), L = log2 of the mantissa in [−0.5, 0.5]; for float64, L holds ln x.</summary>
internal readonly struct LogParts<T>(Vector256<T> e, Vector256<T> l) where T : unmanaged
{
    public readonly Vector256<T> E = e;
    public readonly Vector256<T> L = l;
}

/// <summary>
/// float32: a polynomial log2/exp2 pair written for this kernel (about 2 ulp). x^a = 2^(a·log2 x), with a·E formed
/// exactly by a fused multiply-add so that the result's error does not grow with |log2 x| (float32's own exp(a·log x)
/// loses up to 1e−6 relative for x ≈ 1e−8). Subnormal inputs count as 0.
/// </summary>
internal readonly struct FloatMath : IFusedMath<float>
{
    // log2(1 + u) = u·P(u) for u in [√½ − 1, √2 − 1]; Chebyshev fit, max error 5e−8.
    internal const float L0 = 1.442695f, L1 = -0.72134745f, L2 = 0.48091075f, L3 = -0.36069328f, L4 = 0.28790325f,
        L5 = -0.23916988f, L6 = 0.21607822f, L7 = -0.20586188f, L8 = 0.12310968f;

    // 2^f for f in [−0.5, 0.5]; Chebyshev fit, max relative error 9e−8.
    internal const float E0 = 1f, E1 = 0.6931472f, E2 = 0.2402265f, E3 = 0.05550327f, E4 = 0.009618057f,
        E5 = 0.0013400428f, E6 = 0.00015461445f;

    internal const float Sqrt2 = 1.41421356f;
    internal const float Ln2 = 0.6931471805599453f;
    internal const float SmallestNormal = 1.17549435e-38f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static LogParts<float> Log2Parts(Vector256<float> x)
    {
        var bits = x.AsInt32();
        var exponent = Vector256.ShiftRightArithmetic(bits, 23) - Vector256.Create(127);
        var m = ((bits & Vector256.Create(0x007FFFFF)) | Vector256.Create(0x3F800000)).AsSingle(); // [1, 2)
        var big = Vector256.GreaterThan(m, Vector256.Create(Sqrt2));
        m = Vector256.ConditionalSelect(big, m * 0.5f, m);                                          // [√½, √2)
        var e = Vector256.ConvertToSingle(exponent) + (big & Vector256<float>.One);
        var u = m - Vector256<float>.One;
        var p = Vector256.Create(L8);
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(L7));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(L6));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(L5));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(L4));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(L3));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(L2));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(L1));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(L0));
        return new LogParts<float>(e, u * p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Pow(in LogParts<float> parts, Vector256<float> x, float a, bool mayBeZero)
    {
        var av = Vector256.Create(a);
        var hi = parts.E * av;
        var al = Vector256.FusedMultiplyAdd(parts.L, av, Vector256.FusedMultiplyAdd(parts.E, av, -hi)); // a·E + a·L = hi + al, exactly up to al's rounding
        var k = Vector256.Round(hi + al);
        var f = (hi - k) + al;                                           // hi − k is exact; |f| ≤ 0.5 + tiny
        var p = Vector256.Create(E6);
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(E5));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(E4));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(E3));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(E2));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(E1));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(E0));
        // (2p)·2^(k−1): for 0 ≤ a ≤ 1 and normal x < 2^128, −126 ≤ k ≤ 128, so 2^(k−1) has a valid exponent field
        // (k = −126 flushes a result below 2^−126 to 0).
        var ki = Vector256.ConvertToInt32Native(k);
        var result = (p + p) * Vector256.ShiftLeft(ki + Vector256.Create(126), 23).AsSingle();
        if (mayBeZero) result = Vector256.AndNot(result, Vector256.LessThan(x, Vector256.Create(SmallestNormal)));
        var infinite = Vector256.Equals(x, Vector256.Create(float.PositiveInfinity));
        return Vector256.ConditionalSelect(infinite, x, result);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Ln(in LogParts<float> parts) => (parts.E + parts.L) * Ln2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref Vector256<double> lo, ref Vector256<double> hi, Vector256<float> x)
    {
        var (a, b) = Vector256.Widen(x);
        lo += a;
        hi += b;
    }
}

/// <summary>float64: .NET's vectorised Exp/Log (accurate to about 1 ulp); x^a = exp(a·ln x).</summary>
internal readonly struct DoubleMath : IFusedMath<double>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static LogParts<double> Log2Parts(Vector256<double> x) => new(Vector256<double>.Zero, Vector256.Log(x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Pow(in LogParts<double> parts, Vector256<double> x, double a, bool mayBeZero)
    {
        var result = Vector256.Exp(parts.L * a);
        // ln 0 = −∞ gives exp(a·(−∞)) = 0 for a > 0; the select keeps 0 exact.
        return mayBeZero ? Vector256.ConditionalSelect(Vector256.Equals(x, Vector256<double>.Zero), Vector256<double>.Zero, result) : result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Ln(in LogParts<double> parts) => parts.L;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref Vector256<double> lo, ref Vector256<double> hi, Vector256<double> x) => lo += x;
}

namespace Pilot.TorchSharp;

/// <summary>
/// Argument checks shared by the optimizers. Real <c>if … throw</c> checks, so they hold in Release builds;
/// messages name the argument, the value and the valid range, e.g. "beta2 must be in [0, 1); got 1.2".
/// </summary>
internal static class Check
{
    /// <summary>Requires <paramref name="value"/> ≥ 0 and finite.</summary>
    public static void NonNegative(double value, string name)
    {
        if (!(value >= 0) || double.IsInfinity(value))
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number ≥ 0; got {Format(value)}");
    }

    /// <summary>Requires <paramref name="value"/> &gt; 0 and finite.</summary>
    public static void Positive(double value, string name)
    {
        if (!(value > 0) || double.IsInfinity(value))
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number > 0; got {Format(value)}");
    }

    /// <summary>Requires <paramref name="value"/> in [0, 1).</summary>
    public static void UnitInterval(double value, string name)
    {
        if (!(value >= 0 && value < 1))
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [0, 1); got {Format(value)}");
    }

    /// <summary>Requires <paramref name="value"/> in [<paramref name="low"/>, <paramref name="high"/>] (closed).</summary>
    public static void Closed(double value, double low, double high, string name, string? displayName = null)
    {
        if (!(value >= low && value <= high))
            throw new ArgumentOutOfRangeException(name, value,
                $"{displayName ?? name} must be in [{Format(low)}, {Format(high)}]; got {Format(value)}");
    }

    /// <summary>Requires an integer ≥ <paramref name="min"/>.</summary>
    public static void AtLeast(int value, int min, string name)
    {
        if (value < min)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be an integer ≥ {min}; got {value}");
    }

    /// <summary>Invariant formatting of a double for messages.</summary>
    public static string Format(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}

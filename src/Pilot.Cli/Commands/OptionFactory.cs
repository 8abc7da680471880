using System.CommandLine;
using System.Globalization;

namespace Pilot.Cli.Commands;

/// <summary>Builds System.CommandLine options whose range checks run at parse time (a bad value exits with code 2 naming the option).</summary>
internal static class OptionFactory
{
    /// <summary>An option with a default shown by <c>--help</c>.</summary>
    public static Option<T> WithDefault<T>(string name, string description, T defaultValue, string? helpName = null) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        HelpName = helpName,
    };

    /// <summary>An option without a default (null when absent).</summary>
    public static Option<T?> Optional<T>(string name, string description, string? helpName = null) => new(name)
    {
        Description = description,
        HelpName = helpName,
    };

    /// <summary>An integer option that must be ≥ <paramref name="min"/>.</summary>
    public static Option<int> AtLeast(string name, string description, int defaultValue, int min)
    {
        var option = WithDefault(name, description, defaultValue, "N");
        option.Validators.Add(r =>
        {
            int v = r.GetValueOrDefault<int>();
            if (v < min)
                r.AddError($"{name} must be at least {min}; got {v}.");
        });
        return option;
    }

    /// <summary>A floating-point option that must be finite and &gt; 0.</summary>
    public static Option<double> Positive(string name, string description, double defaultValue)
    {
        var option = WithDefault(name, description, defaultValue, "X");
        option.Validators.Add(r =>
        {
            double v = r.GetValueOrDefault<double>();
            if (!double.IsFinite(v) || v <= 0)
                r.AddError($"{name} must be a finite number greater than 0; got {v.ToString(CultureInfo.InvariantCulture)}.");
        });
        return option;
    }

    /// <summary>A fraction option that must lie in [<paramref name="min"/>, 1).</summary>
    public static Option<double> Fraction(string name, string description, double defaultValue, double min, bool minInclusive)
    {
        var option = WithDefault(name, description, defaultValue, "F");
        option.Validators.Add(r =>
        {
            double v = r.GetValueOrDefault<double>();
            bool ok = double.IsFinite(v) && (minInclusive ? v >= min : v > min) && v < 1;
            if (!ok)
                r.AddError($"{name} must be in {(minInclusive ? "[" : "(")}{min.ToString(CultureInfo.InvariantCulture)}, 1); got {v.ToString(CultureInfo.InvariantCulture)}.");
        });
        return option;
    }

    /// <summary>A comma-separated list option (<c>--seeds 0,1,2</c>), parsed element by element; an empty list is an error.</summary>
    public static Option<T[]> List<T>(string name, string description, T[] defaultValue, Func<string, T> parseOne, string helpName)
    {
        return new Option<T[]>(name)
        {
            Description = description,
            HelpName = helpName,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r =>
            {
                var items = new List<T>();
                foreach (var token in r.Tokens)
                {
                    foreach (var part in token.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        try
                        {
                            items.Add(parseOne(part));
                        }
                        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
                        {
                            r.AddError($"{name}: '{part}' is not valid: {e.Message}");
                            return [];
                        }
                    }
                }
                if (items.Count == 0)
                    r.AddError($"{name} needs at least one value.");
                return items.ToArray();
            },
        };
    }

    /// <summary>Parses an enum member by name, ignoring case; the error lists the valid names.</summary>
    public static TEnum ParseEnum<TEnum>(string text) where TEnum : struct, Enum
        => Enum.TryParse<TEnum>(text, ignoreCase: true, out var value) && Enum.IsDefined(value)
            ? value
            : throw new ArgumentException($"expected one of {string.Join(", ", Enum.GetNames<TEnum>())}.");

    /// <summary>Parses a whole number in invariant culture.</summary>
    public static int ParseInt(string text) => int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);
}

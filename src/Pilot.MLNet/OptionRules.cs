using System.Globalization;
using System.Reflection;

namespace Pilot.MLNet;

/// <summary>
/// What the fields of <see cref="PilotImageClassificationTrainer.Options"/> and their <see cref="PilotOptionAttribute"/>
/// say, read once for every consumer: the trainer's range checks, the <c>pilot</c> command line's flags and the record of
/// training options in a model.
/// </summary>
internal static class OptionRules
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Every public field of the options, in declaration order.</summary>
    public static IReadOnlyList<FieldInfo> Fields { get; } =
        typeof(PilotImageClassificationTrainer.Options).GetFields(BindingFlags.Public | BindingFlags.Instance);

    /// <summary>The field named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">There is no such option.</exception>
    public static FieldInfo Field(string name)
        => Fields.FirstOrDefault(f => f.Name == name) ?? throw new ArgumentException($"Options has no field '{name}'.", nameof(name));

    /// <summary>The attribute of <paramref name="field"/>.</summary>
    /// <exception cref="InvalidOperationException">The field lacks one (every option must have it; a test checks).</exception>
    public static PilotOptionAttribute Attribute(FieldInfo field)
        => field.GetCustomAttribute<PilotOptionAttribute>()
            ?? throw new InvalidOperationException($"Options.{field.Name} lacks [{nameof(PilotOptionAttribute)}].");

    /// <summary>The command-line name of the option without dashes: the attribute's short name, else the field name in kebab case.</summary>
    public static string CommandLineName(FieldInfo field)
        => Attribute(field).ShortName ?? string.Concat(field.Name.Select((c, i) =>
            char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));

    /// <summary>The value type of the field (the underlying type of a nullable one).</summary>
    public static Type ValueType(FieldInfo field) => Nullable.GetUnderlyingType(field.FieldType) ?? field.FieldType;

    /// <summary>The valid range of a numeric option in interval notation (<c>[1, 100000]</c>, <c>(0, ∞)</c>), or null without one.</summary>
    public static string? RangeText(FieldInfo field)
    {
        var a = Attribute(field);
        if (double.IsNaN(a.Min) && double.IsNaN(a.Max))
            return null;
        string min = double.IsNaN(a.Min) ? "-∞" : a.Min.ToString(Inv);
        string max = double.IsNaN(a.Max) ? "∞" : a.Max.ToString(Inv);
        return $"{(a.MinExclusive || double.IsNaN(a.Min) ? "(" : "[")}{min}, {max}{(a.MaxExclusive || double.IsNaN(a.Max) ? ")" : "]")}";
    }

    /// <summary>
    /// Why <paramref name="value"/> is not valid for <paramref name="field"/> (outside its range, not finite, or not a member
    /// of its enum), naming the option <paramref name="name"/>; <see langword="null"/> when it is valid.
    /// </summary>
    public static string? Problem(FieldInfo field, object? value, string name)
    {
        switch (value)
        {
            case null:
                return null;
            case Enum e when !Enum.IsDefined(e.GetType(), e):
                return $"{name} must be one of {string.Join(", ", Enum.GetNames(e.GetType()))}; got {Convert.ToInt64(e, Inv)}.";
            case int or long or double or float:
                break;
            default:
                return null;
        }
        var a = Attribute(field);
        if (double.IsNaN(a.Min) && double.IsNaN(a.Max))
            return null;
        double v = Convert.ToDouble(value, Inv);
        bool aboveMin = double.IsNaN(a.Min) || (a.MinExclusive ? v > a.Min : v >= a.Min);
        bool belowMax = double.IsNaN(a.Max) || (a.MaxExclusive ? v < a.Max : v <= a.Max);
        if (double.IsFinite(v) && aboveMin && belowMax)
            return null;
        string got = Convert.ToString(value, Inv)!;
        bool floating = value is double or float;
        if (double.IsNaN(a.Max))
            return $"{name} must be {(floating ? "finite and " : "")}{(a.MinExclusive ? ">" : "≥")} {a.Min.ToString(Inv)}; got {got}.";
        return $"{name} must be in {RangeText(field)}; got {got}.";
    }
}

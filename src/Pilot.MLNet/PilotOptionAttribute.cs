namespace Pilot.MLNet;

/// <summary>
/// Marks a field of <see cref="PilotImageClassificationTrainer.Options"/> as a user-facing option and describes it once: its
/// one-line help text, its valid range and the short name a command line gives it. The trainer checks the range; the
/// <c>pilot</c> command line builds one flag per option from the field (type, default) and this attribute, so that a new
/// option is declared in one place, as ML.NET's <c>[Argument]</c> attributes drive its command line.
/// </summary>
/// <param name="helpText">One sentence saying what the option does (the default is the field's initial value, from <see cref="PilotImageClassificationDefaults"/>).</param>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false)]
public sealed class PilotOptionAttribute(string helpText) : Attribute
{
    /// <summary>One sentence saying what the option does.</summary>
    public string HelpText { get; } = helpText;

    /// <summary>
    /// The name a command line gives the option (<c>lr</c> for <c>--lr</c>). Default <see langword="null"/>: the field name in
    /// kebab case (<c>WeightDecay</c> is <c>--weight-decay</c>).
    /// </summary>
    public string? ShortName { get; set; }

    /// <summary>
    /// Smallest valid value of a numeric option (see <see cref="MinExclusive"/>). Default <see cref="double.NaN"/>: no lower
    /// bound. A <see langword="null"/> value of a nullable option is always valid; a floating-point option with a bound must
    /// also be finite.
    /// </summary>
    public double Min { get; set; } = double.NaN;

    /// <summary>Largest valid value of a numeric option (see <see cref="MaxExclusive"/>). Default <see cref="double.NaN"/>: no upper bound.</summary>
    public double Max { get; set; } = double.NaN;

    /// <summary>Whether <see cref="Min"/> itself is invalid. Default <see langword="false"/>.</summary>
    public bool MinExclusive { get; set; }

    /// <summary>Whether <see cref="Max"/> itself is invalid. Default <see langword="false"/>.</summary>
    public bool MaxExclusive { get; set; }
}

namespace Pilot.MLNet;

/// <summary>
/// Marks a field of <see cref="PilotImageClassificationTrainer.Options"/> as a user-facing option and gives its one-line help
/// text, so that command-line front ends and generated documentation list every option with the same words.
/// </summary>
/// <param name="helpText">One sentence saying what the option does (the default and range are in the field's XML documentation and in <see cref="PilotImageClassificationDefaults"/>).</param>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false)]
public sealed class PilotOptionAttribute(string helpText) : Attribute
{
    /// <summary>One sentence saying what the option does.</summary>
    public string HelpText { get; } = helpText;
}

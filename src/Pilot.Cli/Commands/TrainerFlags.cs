using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Reflection;
using Pilot.MLNet;
using Pilot.TorchSharp;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;

namespace Pilot.Cli.Commands;

/// <summary>One flag of <c>pilot train</c> made from a trainer option.</summary>
/// <param name="Field">The field of <see cref="Options"/>.</param>
/// <param name="Option">The System.CommandLine option.</param>
/// <param name="Read">Reads the option's value from a parse result, as the field's type (a policy file is read into a <see cref="PilotPolicy"/>).</param>
internal sealed record TrainerFlag(FieldInfo Field, Option Option, Func<ParseResult, object?> Read)
{
    /// <summary>The flag as typed: <c>--weight-decay</c>.</summary>
    public string Name => Option.Name;
}

/// <summary>
/// The flags of <c>pilot train</c> that set trainer options, one per field of <see cref="Options"/>, made from the field
/// (name, type, default) and its <see cref="PilotOptionAttribute"/> (help text, short name, range): a new option of the
/// trainer becomes a flag without a change here. The fields in <see cref="SetByCommand"/> are filled by <c>pilot train</c>
/// itself from its own flags and the data.
/// </summary>
internal sealed class TrainerFlags
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// Options that <c>pilot train</c> sets itself, with the reason: the columns are those its data loading produces; the
    /// validation rows come from <c>--validation-fraction</c>; the seed also drives the data splits (<c>--seed</c>); the
    /// callbacks draw the progress.
    /// </summary>
    public static IReadOnlySet<string> SetByCommand { get; } = new HashSet<string>
    {
        nameof(Options.LabelColumnName),
        nameof(Options.ImageColumnName),
        nameof(Options.ScoreColumnName),
        nameof(Options.PredictedLabelColumnName),
        nameof(Options.ValidationSet),
        nameof(Options.Seed),
        nameof(Options.ProgressCallback),
        nameof(Options.BatchProgressCallback),
    };

    private readonly Options _defaults;

    /// <summary>The flags, in the order of the fields, with the defaults of <paramref name="defaults"/> (not changed).</summary>
    /// <exception cref="NotSupportedException">An option has a type no flag can be made for (a test makes every flag).</exception>
    public TrainerFlags(Options defaults)
    {
        _defaults = defaults.Clone();
        All = OptionRules.Fields.Where(f => !SetByCommand.Contains(f.Name)).Select(Create).ToList();
    }

    /// <summary>Every flag, in the order of the options' fields.</summary>
    public IReadOnlyList<TrainerFlag> All { get; }

    /// <summary>The flag of the option <paramref name="fieldName"/>, e.g. <c>--checkpoint-dir</c> for <c>CheckpointDirectory</c>.</summary>
    public static string FlagOf(string fieldName) => "--" + OptionRules.CommandLineName(OptionRules.Field(fieldName));

    /// <summary>A copy of the defaults with every flag's value from <paramref name="parse"/>.</summary>
    /// <exception cref="CliInputException">A file named by a flag cannot be read (the message names the flag).</exception>
    public Options Bind(ParseResult parse)
    {
        var options = _defaults.Clone();
        foreach (var flag in All)
            flag.Field.SetValue(options, flag.Read(parse));
        return options;
    }

    private TrainerFlag Create(FieldInfo field)
    {
        var type = OptionRules.ValueType(field);
        if (type == typeof(PilotPolicy))
            return PolicyFlag(field);
        if (type == typeof(ImageShape))
            return ShapeFlag(field);
        if (!(type == typeof(int) || type == typeof(double) || type == typeof(bool) || type == typeof(string) || type.IsEnum))
            throw new NotSupportedException($"pilot train has no flag for option {field.Name} of type {field.FieldType}; add a case to {nameof(TrainerFlags)}.");
        var create = typeof(TrainerFlags).GetMethod(nameof(ValueFlag), BindingFlags.NonPublic | BindingFlags.Instance)!.MakeGenericMethod(field.FieldType);
        return (TrainerFlag)create.Invoke(this, [field])!;
    }

    /// <summary>A flag of a value type (number, bool, enum, string; nullable or not) whose range is checked at parse time.</summary>
    private TrainerFlag ValueFlag<T>(FieldInfo field)
    {
        string name = "--" + OptionRules.CommandLineName(field);
        var value = (T)field.GetValue(_defaults)!;
        var option = new Option<T>(name)
        {
            // Help shows a default from DefaultValueFactory, except for none and for a flag that takes no value (a bool).
            Description = Description(field, value is null ? PilotImageClassificationDefaults.ModeDefaultText(field.Name) ?? "none" : value is bool b ? b.ToString() : null),
            HelpName = HelpName(field),
        };
        if (value is not null)
            option.DefaultValueFactory = _ => value;
        // Numbers are checked against their range here; enums are checked by parsing (and a number that names no member
        // by the trainer, before any data is read).
        if (OptionRules.RangeText(field) is not null)
        {
            option.Validators.Add(r =>
            {
                if (OptionRules.Problem(field, r.GetValueOrDefault<T>(), name) is { } problem)
                    r.AddError(problem);
            });
        }
        return new TrainerFlag(field, option, p => p.GetValue(option));
    }

    /// <summary><c>--policy FILE</c>: a PILOT policy JSON (from <c>pilot policy export</c>), read when the command runs.</summary>
    private TrainerFlag PolicyFlag(FieldInfo field)
    {
        string name = "--" + OptionRules.CommandLineName(field);
        var option = new Option<string?>(name) { Description = Description(field, "none"), HelpName = "FILE" };
        return new TrainerFlag(field, option, p => p.GetValue(option) is { } path ? ReadPolicy(path, name) : null);
    }

    /// <summary><c>--image-shape C,H,W</c>: channels, height and width.</summary>
    private TrainerFlag ShapeFlag(FieldInfo field)
    {
        string name = "--" + OptionRules.CommandLineName(field);
        var option = new Option<ImageShape?>(name)
        {
            Description = Description(field, "none"),
            HelpName = "C,H,W",
            CustomParser = r =>
            {
                string text = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
                var parts = text.Split(',', StringSplitOptions.TrimEntries);
                if (parts.Length == 3 && parts.All(x => int.TryParse(x, NumberStyles.Integer, Inv, out _)))
                {
                    var shape = new ImageShape(int.Parse(parts[0], Inv), int.Parse(parts[1], Inv), int.Parse(parts[2], Inv));
                    try
                    {
                        shape.Validate(name);
                        return shape;
                    }
                    catch (ArgumentException e)
                    {
                        r.AddError(e.Message);
                        return null;
                    }
                }
                r.AddError($"{name} takes channels, height and width separated by commas, e.g. 3,32,32; got '{text}'.");
                return null;
            },
        };
        return new TrainerFlag(field, option, p => p.GetValue(option));
    }

    /// <summary>The option's help text, its range, where the CLI's default differs from the library's, and a default that help cannot show.</summary>
    private string Description(FieldInfo field, string? shownDefault)
    {
        string text = OptionRules.Attribute(field).HelpText;
        if (OptionRules.RangeText(field) is { } range)
            text += $" Range {range}.";
        object? library = field.GetValue(new Options());
        object? cli = field.GetValue(_defaults);
        if (!Equals(library, cli))
            text += $" (The library's default is {(library is null ? PilotImageClassificationDefaults.ModeDefaultText(field.Name) ?? "none" : Convert.ToString(library, Inv))}.)";
        if (shownDefault is not null)
            text += $" [default: {shownDefault}]";
        return text;
    }

    private static string? HelpName(FieldInfo field) => OptionRules.ValueType(field) switch
    {
        var t when t == typeof(int) => "N",
        var t when t == typeof(double) => "X",
        var t when t == typeof(string) => field.Name.EndsWith("Directory", StringComparison.Ordinal) ? "DIR"
            : field.Name.EndsWith("Path", StringComparison.Ordinal) || field.Name.EndsWith("File", StringComparison.Ordinal) ? "FILE" : "TEXT",
        _ => null,
    };

    /// <summary>Reads a PILOT policy file named by <paramref name="flag"/>.</summary>
    /// <exception cref="CliInputException">The file does not exist or is not a policy (the message names the flag and the file).</exception>
    internal static PilotPolicy ReadPolicy(string path, string flag)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new CliInputException($"{flag}: file '{full}' does not exist. Write one with 'pilot policy export --model model.zip --out policy.json'.");
        try
        {
            return PilotPolicy.FromJson(File.ReadAllText(full));
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidDataException or FormatException or ArgumentException or KeyNotFoundException or InvalidOperationException)
        {
            throw new CliInputException($"{flag}: '{full}' is not a PILOT policy file ({e.Message}). Write one with 'pilot policy export'.", e);
        }
    }
}

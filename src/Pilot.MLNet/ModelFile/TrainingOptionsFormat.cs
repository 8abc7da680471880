using System.Reflection;
using System.Text;
using System.Text.Json;
using Pilot.MLNet.Models;
using Pilot.MLNet.Training;
using Pilot.TorchSharp;

namespace Pilot.MLNet.ModelFile;

/// <summary>
/// The training options a model records (<see cref="PilotImageClassificationTransformer.TrainingOptions"/>), as a JSON text
/// stream inside the model file, so that tools such as <c>pilot codegen</c> can spell out the pipeline that produced it.
/// </summary>
/// <remarks>
/// <para>Recorded: every option that is a value (architecture, epochs, batch size, learning rate, weight decay, optimizer and
/// its hyper-parameters, initial policy, warm-up, augmentation, image size and shape, early-stopping patience) and the seed
/// actually used. Not recorded: the column names (the transformer stores those itself), the validation data, the callbacks,
/// the checkpoint directory and the pretrained weights path.</para>
/// <para>Format: one JSON object, property names as the <see cref="PilotImageClassificationTrainer.Options"/> fields
/// (<see cref="RecordedFields"/>); <c>null</c> for an option that was not set; enums by name; <c>InitialPolicy</c> as the policy's own JSON object
/// (<see cref="PilotPolicy.ToJson"/>); <c>ImageShape</c> as <c>{"Channels":c,"Height":h,"Width":w}</c>. A property that is
/// missing keeps its default when read, and unknown properties are ignored, so fields can be added without a new model
/// version.</para>
/// </remarks>
internal static class TrainingOptionsFormat
{
    /// <summary>Name of the text stream inside the model.</summary>
    public const string StreamName = "TrainingOptions.json";

    /// <summary>
    /// The options to record for a run: a copy of the plan's options with <see cref="PilotImageClassificationTrainer.Options.Seed"/>,
    /// <see cref="PilotImageClassificationTrainer.Options.Epochs"/> and (for a pretrained network whose backbone trains)
    /// <see cref="PilotImageClassificationTrainer.Options.BackboneLearningRateScale"/> set to the values used, and the
    /// unrecorded fields cleared.
    /// </summary>
    public static PilotImageClassificationTrainer.Options ForRecord(TrainingPlan plan)
    {
        var copy = plan.Options.Clone();
        copy.Seed = plan.Seed;
        copy.Epochs = plan.Epochs;
        if (Backbones.IsPretrained(copy.Architecture) && plan.FineTuning != PilotFineTuning.Head)
            copy.BackboneLearningRateScale = plan.BackboneLearningRateScale;
        copy.ValidationSet = null;
        copy.ProgressCallback = null;
        copy.BatchProgressCallback = null;
        copy.CheckpointDirectory = null;
        copy.PretrainedWeightsPath = null;
        return copy;
    }

    /// <summary>Options a model does not record: data, callbacks and paths.</summary>
    internal static IReadOnlySet<string> Unrecorded { get; } = new HashSet<string>
    {
        nameof(PilotImageClassificationTrainer.Options.ValidationSet),
        nameof(PilotImageClassificationTrainer.Options.ProgressCallback),
        nameof(PilotImageClassificationTrainer.Options.BatchProgressCallback),
        nameof(PilotImageClassificationTrainer.Options.CheckpointDirectory),
        nameof(PilotImageClassificationTrainer.Options.PretrainedWeightsPath),
    };

    /// <summary>The column-name options, which the transformer stores itself.</summary>
    private static readonly HashSet<string> ColumnNames =
    [
        nameof(PilotImageClassificationTrainer.Options.LabelColumnName),
        nameof(PilotImageClassificationTrainer.Options.ImageColumnName),
        nameof(PilotImageClassificationTrainer.Options.ScoreColumnName),
        nameof(PilotImageClassificationTrainer.Options.PredictedLabelColumnName),
    ];

    /// <summary>
    /// The fields of <see cref="PilotImageClassificationTrainer.Options"/> that are recorded: every public field except the
    /// column names and <see cref="Unrecorded"/>, in declaration order (initialised after the two sets above).
    /// </summary>
    internal static IReadOnlyList<FieldInfo> RecordedFields { get; } = OptionRules.Fields
        .Where(f => !Unrecorded.Contains(f.Name) && !ColumnNames.Contains(f.Name))
        .ToArray();

    /// <exception cref="NotSupportedException">An option has a type this format does not know (a new option needs a case here; a test checks every option).</exception>
    public static string Write(PilotImageClassificationTrainer.Options o)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var field in RecordedFields)
            {
                w.WritePropertyName(field.Name);
                switch (field.GetValue(o))
                {
                    case null: w.WriteNullValue(); break;
                    case int i: w.WriteNumberValue(i); break;
                    case double d: w.WriteNumberValue(d); break;
                    case bool b: w.WriteBooleanValue(b); break;
                    case Enum e: w.WriteStringValue(e.ToString()); break;
                    case PilotPolicy policy: w.WriteRawValue(policy.ToJson()); break;
                    case ImageShape shape:
                        w.WriteStartObject();
                        w.WriteNumber(nameof(shape.Channels), shape.Channels);
                        w.WriteNumber(nameof(shape.Height), shape.Height);
                        w.WriteNumber(nameof(shape.Width), shape.Width);
                        w.WriteEndObject();
                        break;
                    case var other: throw new NotSupportedException($"{nameof(TrainingOptionsFormat)} cannot record option {field.Name} of type {other.GetType()}.");
                }
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads what <see cref="Write"/> wrote; column names are left at their defaults (the caller sets them).</summary>
    /// <exception cref="InvalidDataException">The text is not a JSON object of option values of the right types.</exception>
    public static PilotImageClassificationTrainer.Options Read(string json)
    {
        var o = new PilotImageClassificationTrainer.Options();
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"The model's {StreamName} is not a JSON object.");
            foreach (var field in RecordedFields)
            {
                if (!document.RootElement.TryGetProperty(field.Name, out var v))
                    continue; // written before this option existed: keep its default
                field.SetValue(o, ReadValue(v, field));
            }
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException or ArgumentException)
        {
            throw new InvalidDataException($"The model's {StreamName} is not valid: {e.Message}", e);
        }
        return o;
    }

    private static object? ReadValue(JsonElement v, FieldInfo field)
    {
        var type = Nullable.GetUnderlyingType(field.FieldType) ?? field.FieldType;
        if (v.ValueKind == JsonValueKind.Null)
        {
            return !field.FieldType.IsValueType || Nullable.GetUnderlyingType(field.FieldType) is not null
                ? null
                : throw new FormatException($"{field.Name} is null; it needs a value.");
        }
        if (type == typeof(int)) return v.GetInt32();
        if (type == typeof(double)) return v.GetDouble();
        if (type == typeof(bool)) return v.GetBoolean();
        if (type.IsEnum)
        {
            string? name = v.GetString();
            return Enum.TryParse(type, name, ignoreCase: false, out var value) && Enum.IsDefined(type, value!)
                ? value
                : throw new FormatException($"{field.Name} '{name}' is not one of {string.Join(", ", Enum.GetNames(type))}.");
        }
        if (type == typeof(PilotPolicy)) return PilotPolicy.FromJson(v.GetRawText());
        if (type == typeof(ImageShape))
            return new ImageShape(v.GetProperty("Channels").GetInt32(), v.GetProperty("Height").GetInt32(), v.GetProperty("Width").GetInt32());
        throw new FormatException($"{field.Name} has type {type}, which {nameof(TrainingOptionsFormat)} does not read.");
    }
}

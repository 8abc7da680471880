using System.CommandLine;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Pilot.Cli.Codegen;
using Pilot.Cli.Commands;
using Pilot.MLNet;
using Pilot.MLNet.ModelFile;
using Pilot.TorchSharp;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;

namespace Pilot.Cli.Tests;

/// <summary>
/// The trainer's options are the one source of <c>pilot train</c>'s trainer flags and of the options <c>pilot codegen</c>
/// writes: every field has a flag (or is one the command sets itself), the flag sets exactly that field, and the value comes
/// back out of the generated code.
/// </summary>
[TestClass]
public sealed partial class TrainerFlagsTests
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static TempFolder s_folder = null!;

    [ClassInitialize]
    public static void CreateFolder(TestContext _) => s_folder = new TempFolder();

    [ClassCleanup]
    public static void DeleteFolder() => s_folder.Dispose();

    private static IEnumerable<FieldInfo> Fields => OptionRules.Fields;

    private static IEnumerable<FieldInfo> FlagFields => Fields.Where(f => !TrainerFlags.SetByCommand.Contains(f.Name));

    public static IEnumerable<object[]> FlagFieldNames => FlagFields.Select(f => new object[] { f.Name });

    [TestMethod]
    public void EveryOptionHasAFlag_UnlessTheCommandSetsIt()
    {
        var command = new TrainCommand();
        foreach (var field in Fields)
        {
            var flag = command.Trainer.All.SingleOrDefault(f => f.Field == field);
            if (TrainerFlags.SetByCommand.Contains(field.Name))
            {
                Assert.IsNull(flag, $"{field.Name} is set by pilot train itself and must have no flag");
                continue;
            }
            Assert.IsNotNull(flag, $"Options.{field.Name} has no flag");
            Assert.AreEqual(TrainerFlags.FlagOf(field.Name), flag.Name);
            Assert.Contains(OptionRules.Attribute(field).HelpText, flag.Option.Description!, "help text comes from [PilotOption]");
            Assert.IsTrue(command.All.Contains(flag.Option), $"{flag.Name} is not an option of the command");
        }
        Assert.AreEqual(command.All.Count, command.All.Select(o => o.Name).Distinct().Count(), "two options share a name");
    }

    [TestMethod]
    public void WithoutFlags_TheOptionsAreTheLibraryDefaults_ExceptTheCliArchitectureAndEpochs()
    {
        var parsed = Parse([]);
        var library = new Options();
        foreach (var field in FlagFields)
        {
            object? expected = field.Name switch
            {
                nameof(Options.Architecture) => CliDefaults.Architecture,
                nameof(Options.Epochs) => CliDefaults.Epochs,
                _ => field.GetValue(library),
            };
            Assert.AreEqual(Describe(expected), Describe(field.GetValue(parsed)), field.Name);
        }
        Assert.AreEqual(PilotArchitecture.SmallCnn, parsed.Architecture);
        Assert.AreEqual(PilotImageClassificationDefaults.BatchSize, parsed.BatchSize);
        Assert.AreEqual(PilotImageClassificationDefaults.LearningRate, parsed.LearningRate);
    }

    [TestMethod]
    [DynamicData(nameof(FlagFieldNames))]
    public void EachFlag_SetsOnlyItsOption(string fieldName)
    {
        var field = OptionRules.Field(fieldName);
        var (value, args) = Sample(field);
        var parsed = Parse(args);
        var defaults = Parse([]);
        foreach (var other in Fields)
        {
            if (other == field)
                Assert.AreEqual(Describe(value), Describe(other.GetValue(parsed)), $"{string.Join(' ', args)} did not set {fieldName}");
            else
                Assert.AreEqual(Describe(other.GetValue(defaults)), Describe(other.GetValue(parsed)), $"{string.Join(' ', args)} changed {other.Name}");
        }
    }

    [TestMethod]
    public void EveryFlagsValue_ComesBackOutOfTheGeneratedCode()
    {
        // Every flag at once, each with a value other than its default.
        var samples = FlagFields.ToDictionary(f => f.Name, Sample);
        var options = Parse(samples.Values.SelectMany(s => s.Args).ToArray());
        var model = new CodegenModel(options, true, options.Architecture, new ImageShape(3, 24, 40), ["a", "b"], 1, 0.5, PredictedLabelIsKey: true);
        string training = ModelBuilderCodeGenerator.Generate(model).Training;

        foreach (var field in Fields)
        {
            var line = Regex.Match(training, $@"\n\s+{field.Name} = (.*),( //.*)?\n");
            if (TrainingOptionsFormat.Unrecorded.Contains(field.Name))
            {
                Assert.IsFalse(line.Success, $"{field.Name} is not recorded in a model and must not be in the generated code");
                continue;
            }
            Assert.IsTrue(line.Success, $"the generated BuildPipeline does not set {field.Name}");
            if (!samples.TryGetValue(field.Name, out var sample))
                continue; // a column name: set by pilot train, written by codegen as recorded
            if (field.Name == nameof(Options.EarlyStoppingPatience))
            {
                // RetrainModel has no validation set: the generated code leaves early stopping off and says what it was.
                StringAssert.Contains(line.Value, $"trained with {sample.Value}");
                continue;
            }
            Assert.AreEqual(Describe(sample.Value), Describe(ReadLiteral(line.Groups[1].Value, OptionRules.ValueType(field))), field.Name);
        }
    }

    [TestMethod]
    [DataRow("--weight-decay", "-1", "≥ 0")]
    [DataRow("--gamma", "1", "[0, 1)")]
    [DataRow("--beta1", "1.5", "[0, 1)")]
    [DataRow("--eta-phi", "NaN", "finite")]
    [DataRow("--policy-degree", "9", "[1, 8]")]
    [DataRow("--early-stopping-patience", "0", "[1, 100000]")]
    [DataRow("--image-width", "0", "[1, 4096]")]
    [DataRow("--image-shape", "2,8,8", "1 (gray) or 3 (colour)")]
    [DataRow("--image-shape", "3x8x8", "3,32,32")]
    public void OutOfRangeValue_IsAParseErrorNamingTheFlag(string flag, string value, string range)
    {
        var root = new RootCommand { new TrainCommand().Create(_ => 0) };
        var errors = root.Parse(["train", flag, value]).Errors.Select(e => e.Message).ToList();
        Assert.HasCount(1, errors, string.Join("; ", errors));
        StringAssert.Contains(errors[0], flag);
        StringAssert.Contains(errors[0], range);
    }

    [TestMethod]
    public void EarlyStopping_NeedsValidationRowsThatAreNotTheTestRows()
    {
        var result = CliRunner.Run("train", "--early-stopping-patience", "2");
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.Contains("--early-stopping-patience", result.Error);
        Assert.Contains("--validation-fraction", result.Error);
        Assert.IsEmpty(result.Out.Trim(), "nothing is loaded or trained");
    }

    [TestMethod]
    public void WarmupBeyondEpochs_ExitsWith2_NamingTheFlag()
    {
        var result = CliRunner.Run("train", "--epochs", "2", "--warmup-epochs", "3");
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.Contains("--warmup-epochs: WarmupEpochs must be in [0, 2]; got 3.", result.Error, result.ToString());
        Assert.IsEmpty(result.Out.Trim(), "nothing is loaded or trained");
    }

    /// <summary>
    /// Flags the old <c>pilot train</c> lacked reach the trained model: it records them (<c>TrainingOptions.json</c>), and
    /// early stopping ran on held-out training rows.
    /// </summary>
    [TestMethod]
    public void NewFlags_ReachTheTrainedModel()
    {
        string images = s_folder["images"], model = s_folder["flags/model.zip"];
        TinyImageFolder.Write(images, perClass: 12);
        var result = CliRunner.Run("train", "--data", images, "--arch", "SmallCnn", "--epochs", "2", "--batch-size", "8", "--device", "cpu", "--image-size", "8",
            "--weight-decay", "0.5", "--augment", "--warmup-epochs", "1", "--gamma", "0.5", "--eta-phi", "0.125", "--beta1", "0.75",
            "--beta2", "0.875", "--early-stopping-patience", "1", "--validation-fraction", "0.25", "--out", model, "--plots", s_folder["flags/plots"]);
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.Contains("of the training rows)", result.Out, result.ToString());
        Assert.Contains("early stopping: ", result.Out, "the run says which epoch early stopping kept");

        var loaded = new MLContext().Model.Load(model, out _);
        var recorded = ((IEnumerable<ITransformer>)loaded).OfType<PilotImageClassificationTransformer>().Single().TrainingOptions!;
        Assert.AreEqual(0.5, recorded.WeightDecay);
        Assert.IsTrue(recorded.Augment);
        Assert.AreEqual(1, recorded.WarmupEpochs);
        Assert.AreEqual(0.5, recorded.Gamma);
        Assert.AreEqual(0.125, recorded.EtaPhi);
        Assert.AreEqual(0.75, recorded.Beta1);
        Assert.AreEqual(0.875, recorded.Beta2);
        Assert.AreEqual(1, recorded.EarlyStoppingPatience);
        Assert.AreEqual(8, recorded.ImageWidth);
        (loaded as IDisposable)?.Dispose();
    }

    private static Options Parse(string[] args)
    {
        var command = new TrainCommand();
        var root = new RootCommand { command.Create(_ => 0) };
        var parse = root.Parse(["train", .. args]);
        Assert.IsEmpty(parse.Errors, string.Join("; ", parse.Errors.Select(e => e.Message)));
        return command.Bind(parse).Trainer;
    }

    /// <summary>A valid value of <paramref name="field"/> other than its CLI default, and the arguments that set it.</summary>
    private static (object Value, string[] Args) Sample(FieldInfo field)
    {
        string flag = TrainerFlags.FlagOf(field.Name);
        object? current = field.GetValue(CliDefaults.Trainer());
        var type = OptionRules.ValueType(field);
        object value;
        string text;
        if (type == typeof(int))
        {
            int v = current is int i ? i + 1 : 1;
            if (OptionRules.Problem(field, v, flag) is not null)
                v = (int)OptionRules.Attribute(field).Min;
            (value, text) = (v, v.ToString(Inv));
        }
        else if (type == typeof(double))
        {
            double v = current is double d && d != 0 ? d / 2 : 0.5; // a default of 0 halves to itself
            (value, text) = (v, v.ToString("R", Inv));
        }
        else if (type == typeof(bool))
        {
            bool v = !(bool)current!;
            (value, text) = (v, v ? "true" : "false");
        }
        else if (type.IsEnum)
        {
            var v = Enum.GetValues(type).Cast<object>().First(e => !e.Equals(current));
            (value, text) = (v, v.ToString()!);
        }
        else if (type == typeof(string))
        {
            (value, text) = ("some-folder", "some-folder");
        }
        else if (type == typeof(ImageShape))
        {
            (value, text) = (new ImageShape(3, 24, 40), "3,24,40");
        }
        else if (type == typeof(PilotPolicy))
        {
            var policy = PilotPolicy.Default(3);
            text = s_folder[$"policy-{Guid.NewGuid():N}.json"];
            File.WriteAllText(text, policy.ToJson());
            value = policy;
        }
        else
        {
            throw new AssertFailedException($"The test has no sample value for {field.Name} of type {field.FieldType}; add one.");
        }
        Assert.IsNull(OptionRules.Problem(field, value, flag), $"sample of {field.Name} is out of range");
        Assert.AreNotEqual(Describe(current), Describe(value), $"sample of {field.Name} is its default");
        return (value, [flag, text]);
    }

    /// <summary>Reads back a C# literal that codegen wrote.</summary>
    private static object? ReadLiteral(string literal, Type type)
    {
        if (literal == "null")
            return null;
        if (type == typeof(int)) return int.Parse(literal, Inv);
        if (type == typeof(double)) return double.Parse(literal, Inv);
        if (type == typeof(bool)) return bool.Parse(literal);
        if (type == typeof(string)) return literal[2..^1].Replace("\"\"", "\"");
        if (type.IsEnum)
        {
            Assert.StartsWith(type.Name + ".", literal);
            return Enum.Parse(type, literal[(type.Name.Length + 1)..]);
        }
        if (type == typeof(ImageShape))
        {
            var m = ShapeLiteral().Match(literal);
            Assert.IsTrue(m.Success, literal);
            return new ImageShape(int.Parse(m.Groups[1].Value, Inv), int.Parse(m.Groups[2].Value, Inv), int.Parse(m.Groups[3].Value, Inv));
        }
        if (type == typeof(PilotPolicy))
        {
            var m = PolicyLiteral().Match(literal);
            Assert.IsTrue(m.Success, literal);
            var phi = m.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries).Select(x => double.Parse(x, Inv)).ToArray();
            return new PilotPolicy(int.Parse(m.Groups[1].Value, Inv), phi);
        }
        throw new AssertFailedException($"The test cannot read a {type} literal; add a case.");
    }

    private static string Describe(object? value) => value switch
    {
        null => "null",
        PilotPolicy policy => policy.ToJson(),
        double d => d.ToString("R", Inv),
        _ => Convert.ToString(value, Inv) ?? "",
    };

    [GeneratedRegex(@"^new ImageShape\((\d+), (\d+), (\d+)\)$")]
    private static partial Regex ShapeLiteral();

    [GeneratedRegex(@"^new PilotPolicy\((\d+), new double\[\] \{ (.*) \}\)$")]
    private static partial Regex PolicyLiteral();
}

using System.Globalization;
using System.Reflection;
using System.Text;
using Microsoft.ML;
using Pilot.MLNet;
using Pilot.TorchSharp;

namespace Pilot.Cli.Codegen;

/// <summary>The files <see cref="ModelBuilderCodeGenerator.Generate"/> produces, as text.</summary>
/// <param name="ConsumptionFileName"><c>{class}.consumption.cs</c>.</param>
/// <param name="Consumption">ModelInput, ModelOutput, <c>Predict</c>, <c>PredictAllLabels</c>.</param>
/// <param name="TrainingFileName"><c>{class}.training.cs</c>.</param>
/// <param name="Training"><c>BuildPipeline</c>, <c>RetrainModel</c>, <c>SaveModel</c>, <c>Train</c>.</param>
/// <param name="ModelFileName">The name the generated code gives the model file: <c>{class}.zip</c>.</param>
internal sealed record GeneratedCode(string ConsumptionFileName, string Consumption, string TrainingFileName, string Training, string ModelFileName);

/// <summary>
/// <c>pilot codegen</c>: writes Model Builder–shaped C# for a trained model. <c>{class}.consumption.cs</c> has
/// <c>ModelInput</c> (the label and the image as the bytes of an image file), <c>ModelOutput</c> (<c>PredictedLabel</c>,
/// <c>Score</c>), a lazily created <c>PredictionEngine</c>, <c>Predict</c> and <c>PredictAllLabels</c> (labels sorted by
/// score), with the model file resolved next to the assembly; <c>{class}.training.cs</c> has <c>BuildPipeline</c> with the
/// options that trained the model spelled out, <c>RetrainModel</c>, <c>SaveModel</c> and <c>Train</c> (from a folder of images).
/// </summary>
internal static class ModelBuilderCodeGenerator
{
    /// <summary>Default namespace of the generated code: <c>PilotModel</c>.</summary>
    public const string DefaultNamespace = "PilotModel";

    /// <summary>Default class name of the generated code: <c>MLModel</c> (as Model Builder).</summary>
    public const string DefaultClassName = "MLModel";

    /// <summary>
    /// Options the generated <c>BuildPipeline</c> leaves out: data, callbacks and paths, which a model does not record (the
    /// same list as Pilot.MLNet's record of training options; a test checks that they agree).
    /// </summary>
    internal static readonly IReadOnlySet<string> UnrecordedOptions = new HashSet<string>
    {
        nameof(PilotImageClassificationTrainer.Options.ValidationSet),
        nameof(PilotImageClassificationTrainer.Options.ProgressCallback),
        nameof(PilotImageClassificationTrainer.Options.BatchProgressCallback),
        nameof(PilotImageClassificationTrainer.Options.CheckpointDirectory),
        nameof(PilotImageClassificationTrainer.Options.PretrainedWeightsPath),
    };

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// Loads <paramref name="modelPath"/>, generates the code, writes <c>{class}.consumption.cs</c> and
    /// <c>{class}.training.cs</c> into <paramref name="outputDirectory"/> (created when missing) and copies the model there
    /// as <c>{class}.zip</c>. Returns the paths written.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> or <paramref name="className"/> is not a valid C# name.</exception>
    /// <exception cref="FileNotFoundException">The model does not exist.</exception>
    /// <exception cref="InvalidDataException">The model is not one codegen supports (see <see cref="CodegenModel.Load"/>).</exception>
    public static IReadOnlyList<string> WriteFiles(string modelPath, string outputDirectory, string namespaceName = DefaultNamespace,
        string className = DefaultClassName)
    {
        CheckNames(namespaceName, className);
        var model = CodegenModel.Load(new MLContext(), modelPath);
        var code = Generate(model, namespaceName, className);
        string folder = Path.GetFullPath(outputDirectory);
        Directory.CreateDirectory(folder);
        string consumption = Path.Combine(folder, code.ConsumptionFileName);
        string training = Path.Combine(folder, code.TrainingFileName);
        string modelCopy = Path.Combine(folder, code.ModelFileName);
        File.WriteAllText(consumption, code.Consumption);
        File.WriteAllText(training, code.Training);
        if (!string.Equals(Path.GetFullPath(modelPath), modelCopy, StringComparison.Ordinal))
            File.Copy(modelPath, modelCopy, overwrite: true);
        return [consumption, training, modelCopy];
    }

    /// <summary>Generates the two files for <paramref name="model"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> or <paramref name="className"/> is not a valid C# name.</exception>
    public static GeneratedCode Generate(CodegenModel model, string namespaceName = DefaultNamespace, string className = DefaultClassName)
    {
        ArgumentNullException.ThrowIfNull(model);
        CheckNames(namespaceName, className);
        string modelFile = className + ".zip";
        return new GeneratedCode(className + ".consumption.cs", Consumption(model, namespaceName, className, modelFile),
            className + ".training.cs", Training(model, namespaceName, className, modelFile), modelFile);
    }

    private static string Header(CodegenModel m, string modelFile)
    {
        var o = m.TrainingOptions;
        string accuracy = m.FinalTrainAccuracy is { } a ? string.Create(Inv, $" (training accuracy {a:P1} in the last)") : "";
        string epochs = m.EpochsRun == 1 ? "1 epoch" : $"{m.EpochsRun} epochs";
        return $"""
            // This file was generated by `pilot codegen` for {modelFile}: a {m.Architecture} image classifier
            // ({m.InputShape} input, {m.ClassNames.Count} classes) trained with {o.Optimizer} for {epochs}{accuracy}.
            """;
    }

    private static string Consumption(CodegenModel m, string ns, string cls, string modelFile)
    {
        var o = m.TrainingOptions;
        string label = Identifier(o.LabelColumnName, "Label");
        string image = Identifier(o.ImageColumnName, "Image");
        if (image == label)
            image += "Bytes";
        string predicted = Identifier(o.PredictedLabelColumnName, "PredictedLabel");
        string score = Identifier(o.ScoreColumnName, "Score");
        if (score == predicted)
            score += "Vector";
        return $$"""
            {{Header(m, modelFile)}}
            // Add it to a project that references Pilot.MLNet, with the model copied next to the program:
            //   <None Include="{{modelFile}}" CopyToOutputDirectory="PreserveNewest" />
            using System;
            using System.Collections.Generic;
            using System.IO;
            using System.Linq;
            using Microsoft.ML;
            using Microsoft.ML.Data;

            namespace {{ns}};

            public partial class {{cls}}
            {
                /// <summary>One image to classify: the bytes of an image file (PNG, JPEG, BMP or GIF) and, for training, its label.</summary>
                public class ModelInput
                {
                    [ColumnName({{Verbatim(o.LabelColumnName)}})]
                    public string {{label}} { get; set; } = "";

                    [ColumnName({{Verbatim(o.ImageColumnName)}})]
                    public byte[] {{image}} { get; set; } = [];
                }

                /// <summary>The prediction: the most probable class and the probability of every class.</summary>
                public class ModelOutput
                {
                    [ColumnName({{Verbatim(o.PredictedLabelColumnName)}})]
                    public string {{predicted}} { get; set; } = "";

                    /// <summary>One probability per class, in the order of the model's classes (see PredictAllLabels).</summary>
                    [ColumnName({{Verbatim(o.ScoreColumnName)}})]
                    public float[] {{score}} { get; set; } = [];
                }

                /// <summary>The model file: {{modelFile}} in the folder of this assembly.</summary>
                public static readonly string MLNetModelPath = Path.Combine(
                    Path.GetDirectoryName(typeof({{cls}}).Assembly.Location) is { Length: > 0 } folder ? folder : AppContext.BaseDirectory,
                    {{Verbatim(modelFile)}});

                /// <summary>Created on first use. A PredictionEngine is not thread-safe: Predict takes a lock around it.</summary>
                public static readonly Lazy<PredictionEngine<ModelInput, ModelOutput>> PredictEngine = new(CreatePredictEngine, isThreadSafe: true);

                /// <summary>Classifies one image.</summary>
                public static ModelOutput Predict(ModelInput input)
                {
                    var engine = PredictEngine.Value;
                    lock (engine)
                    {
                        return engine.Predict(input);
                    }
                }

                /// <summary>Classifies one image and returns every class with its probability, the most probable first.</summary>
                public static IOrderedEnumerable<KeyValuePair<string, float>> PredictAllLabels(ModelInput input)
                    => GetSortedScoresWithLabels(Predict(input));

                /// <summary>The classes of <paramref name="result"/> with their probabilities, the most probable first.</summary>
                public static IOrderedEnumerable<KeyValuePair<string, float>> GetSortedScoresWithLabels(ModelOutput result)
                {
                    var labels = Labels.Value;
                    return result.{{score}}.Select((probability, i) => new KeyValuePair<string, float>(labels[i], probability))
                        .OrderByDescending(pair => pair.Value);
                }

                /// <summary>The class names in the order of the score vector: the slot names of the score column.</summary>
                public static readonly Lazy<string[]> Labels = new(() =>
                {
                    var column = PredictEngine.Value.OutputSchema[{{Verbatim(o.ScoreColumnName)}}];
                    VBuffer<ReadOnlyMemory<char>> names = default;
                    column.GetSlotNames(ref names);
                    return names.DenseValues().Select(name => name.ToString()).ToArray();
                }, isThreadSafe: true);

                private static PredictionEngine<ModelInput, ModelOutput> CreatePredictEngine()
                {
                    var mlContext = new MLContext();
                    ITransformer mlModel = mlContext.Model.Load(MLNetModelPath, out _);
                    // A model that ends with the classifier predicts class numbers (keys): map them back to the class names.
                    var noRows = mlContext.Data.LoadFromEnumerable(Array.Empty<ModelInput>());
                    if (mlModel.GetOutputSchema(noRows.Schema)[{{Verbatim(o.PredictedLabelColumnName)}}].Type is KeyDataViewType)
                        mlModel = mlModel.Append(mlContext.Transforms.Conversion.MapKeyToValue({{Verbatim(o.PredictedLabelColumnName)}}).Fit(mlModel.Transform(noRows)));
                    return mlContext.Model.CreatePredictionEngine<ModelInput, ModelOutput>(mlModel);
                }
            }

            """;
    }

    private static string Training(CodegenModel m, string ns, string cls, string modelFile)
    {
        var o = m.TrainingOptions;
        bool usesPolicy = o.InitialPolicy is not null;
        string labelCopy = o.LabelColumnName == Pilot.MLNet.Data.PilotDatasets.LabelColumnName ? ""
            : $$"""

                        .Append(mlContext.Transforms.CopyColumns(outputColumnName: {{Verbatim(o.LabelColumnName)}}, inputColumnName: PilotDatasets.LabelColumnName))
            """;
        string recorded = m.OptionsRecorded ? "" : """

                    // This model does not record its training options (it was saved by an older Pilot.MLNet): the values below are
                    // the defaults, except the columns, the architecture and the number of epochs, which it does record.
            """;
        string usings = "using System;\nusing System.IO;\nusing Microsoft.ML;\nusing Microsoft.ML.Transforms;\nusing Pilot.MLNet;\nusing Pilot.MLNet.Data;" +
            (usesPolicy ? "\nusing Pilot.TorchSharp;" : "");
        return $$"""
            {{Header(m, modelFile)}}
            {{usings}}

            namespace {{ns}};

            public partial class {{cls}}
            {
                /// <summary>Trains the model again on a folder of images (one sub-folder per class) and saves it to <paramref name="outputModelPath"/>.</summary>
                public static void Train(string outputModelPath, string imageFolder)
                {
                    var mlContext = new MLContext();
                    IDataView data = LoadImageFolder(mlContext, imageFolder);
                    ITransformer model = RetrainModel(mlContext, data);
                    SaveModel(mlContext, model, data, outputModelPath);
                }

                /// <summary>
                /// Lists a folder of images with one sub-folder per class, named after the class, into the columns of ModelInput:
                /// the label (the sub-folder name) and the image (the bytes of the file).
                /// </summary>
                public static IDataView LoadImageFolder(MLContext mlContext, string imageFolder)
                {
                    IDataView files = PilotDatasets.LoadImageFolder(mlContext, imageFolder);
                    return mlContext.Transforms.LoadRawImageBytes(outputColumnName: {{Verbatim(o.ImageColumnName)}}, imageFolder: imageFolder, inputColumnName: PilotDatasets.ImagePathColumnName){{labelCopy}}
                        .Fit(files).Transform(files);
                }

                /// <summary>Trains the pipeline of <see cref="BuildPipeline"/> on <paramref name="trainData"/> (the columns of ModelInput).</summary>
                public static ITransformer RetrainModel(MLContext mlContext, IDataView trainData)
                {
                    var pipeline = BuildPipeline(mlContext);
                    return pipeline.Fit(trainData);
                }

                /// <summary>Saves <paramref name="model"/> with the schema of <paramref name="data"/>, the data it was trained on.</summary>
                public static void SaveModel(MLContext mlContext, ITransformer model, IDataView data, string modelSavePath)
                {
                    mlContext.Model.Save(model, data.Schema, modelSavePath);
                }

                /// <summary>The pipeline that trained the model, with its options.</summary>
                public static IEstimator<ITransformer> BuildPipeline(MLContext mlContext)
                {{{recorded}}
                    var options = new PilotImageClassificationTrainer.Options
                    {
            {{OptionLines(o, "            ")}}
                    };
                    return mlContext.Transforms.Conversion.MapValueToKey(outputColumnName: {{Verbatim(o.LabelColumnName)}}, inputColumnName: {{Verbatim(o.LabelColumnName)}},
                            keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
                        .Append(mlContext.Pilot.ImageClassification(options))
                        .Append(mlContext.Transforms.Conversion.MapKeyToValue(outputColumnName: {{Verbatim(o.PredictedLabelColumnName)}}, inputColumnName: {{Verbatim(o.PredictedLabelColumnName)}}));
                }
            }

            """;
    }

    /// <summary>One line per recorded option, in declaration order, with the default as a comment where the value differs.</summary>
    private static string OptionLines(PilotImageClassificationTrainer.Options o, string indent)
    {
        var defaults = new PilotImageClassificationTrainer.Options();
        var lines = new List<string>();
        foreach (var field in typeof(PilotImageClassificationTrainer.Options).GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            if (UnrecordedOptions.Contains(field.Name))
                continue;
            object? value = field.GetValue(o);
            string note = "";
            if (field.Name == nameof(o.EarlyStoppingPatience) && value is int patience)
            {
                // Early stopping needs a validation set, which RetrainModel does not have.
                value = null;
                note = string.Create(Inv, $" // trained with {patience}: early stopping needs a validation set (set ValidationSet too)");
            }
            string text = Literal(value, field.FieldType, field.Name);
            string defaultText = Literal(field.GetValue(defaults), field.FieldType, field.Name);
            if (note.Length == 0 && text != defaultText)
                note = $" // default {defaultText}";
            lines.Add($"{indent}{field.Name} = {text},{note}");
        }
        return string.Join("\n", lines);
    }

    /// <summary>A C# expression for an option value.</summary>
    /// <exception cref="NotSupportedException">An option of a type this generator does not know (a new option needs a case here).</exception>
    internal static string Literal(object? value, Type type, string name) => value switch
    {
        null => "null",
        string s => Verbatim(s),
        bool b => b ? "true" : "false",
        int i => i.ToString(Inv),
        double d => DoubleLiteral(d),
        Enum e => $"{e.GetType().Name}.{e}",
        ImageShape shape => string.Create(Inv, $"new ImageShape({shape.Channels}, {shape.Height}, {shape.Width})"),
        PilotPolicy policy => string.Create(Inv, $"new PilotPolicy({policy.Degree}, new double[] {{ {string.Join(", ", policy.Phi.Select(DoubleLiteral))} }})"),
        _ => throw new NotSupportedException($"pilot codegen cannot write option {name} of type {type}; add it to {nameof(ModelBuilderCodeGenerator)}.{nameof(Literal)}."),
    };

    /// <summary>Shortest round-trip form, always with a decimal point or exponent so it reads as a double.</summary>
    private static string DoubleLiteral(double d)
    {
        string text = d.ToString("R", Inv);
        return text.Contains('.') || text.Contains('E') ? text : text + ".0";
    }

    /// <summary>A C# verbatim string literal.</summary>
    private static string Verbatim(string s) => "@\"" + s.Replace("\"", "\"\"") + "\"";

    /// <summary>A C# property name for a column: letters, digits and underscores, not starting with a digit, not a keyword.</summary>
    internal static string Identifier(string column, string fallback)
    {
        var sb = new StringBuilder();
        foreach (char c in column)
            sb.Append(char.IsLetterOrDigit(c) || c == '_' ? c : '_');
        if (sb.Length == 0 || sb.ToString().All(c => c == '_'))
            return fallback;
        if (char.IsDigit(sb[0]))
            sb.Insert(0, '_');
        if (char.IsLower(sb[0]))
            sb[0] = char.ToUpperInvariant(sb[0]);
        return sb.ToString();
    }

    private static void CheckNames(string namespaceName, string className)
    {
        ArgumentNullException.ThrowIfNull(namespaceName);
        ArgumentNullException.ThrowIfNull(className);
        if (NamespaceError(namespaceName) is { } namespaceError)
            throw new ArgumentException(namespaceError, nameof(namespaceName));
        if (ClassNameError(className) is { } classError)
            throw new ArgumentException(classError, nameof(className));
    }

    /// <summary>Why <paramref name="name"/> is not a C# namespace, or <see langword="null"/> when it is one.</summary>
    internal static string? NamespaceError(string name) => name.Split('.').All(IsIdentifier) ? null
        : $"--namespace must be a C# namespace (names of letters, digits and _, not starting with a digit, joined by dots); got '{name}'.";

    /// <summary>Why <paramref name="name"/> is not a C# class name, or <see langword="null"/> when it is one.</summary>
    internal static string? ClassNameError(string name) => IsIdentifier(name) ? null
        : $"--class must be a C# class name (letters, digits and _, not starting with a digit, not a keyword); got '{name}'.";

    private static bool IsIdentifier(string name) =>
        name.Length > 0 && (char.IsLetter(name[0]) || name[0] == '_') && name.All(c => char.IsLetterOrDigit(c) || c == '_')
        && !Keywords.Contains(name);

    private static readonly HashSet<string> Keywords =
    [
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally",
        "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock", "long",
        "namespace", "new", "null", "object", "operator", "out", "override", "params", "private", "protected", "public",
        "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string", "struct", "switch",
        "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void",
        "volatile", "while",
    ];
}

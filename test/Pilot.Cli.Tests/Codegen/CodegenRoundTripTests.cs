using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.Cli.Codegen;
using Pilot.MLNet;

namespace Pilot.Cli.Tests.Codegen;

/// <summary>
/// The generated code compiles and predicts what the model predicts: generated into a new project that references
/// Pilot.MLNet by ProjectReference, built with <c>dotnet build</c> and run on a sample image; its retraining code reproduces
/// the model. Builds run one at a time (they share Pilot.MLNet's Debug build output with the sample tests).
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class CodegenRoundTripTests
{
    private const string Namespace = "RoundTrip.Generated";
    private const string ClassName = "ImageModel";

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void GeneratedProject_Builds_PredictsAsTheModel_AndRetrainsTheSameModel()
    {
        string app = CodegenFixtures.NewFolder();
        var written = ModelBuilderCodeGenerator.WriteFiles(CodegenFixtures.FolderModel, app, Namespace, ClassName);
        CollectionAssert.AreEquivalent(
            new[] { "ImageModel.consumption.cs", "ImageModel.training.cs", "ImageModel.zip" },
            written.Select(Path.GetFileName).ToArray());
        WriteProject(app);

        var build = DotnetProcess.Run(app, ["build", "App.csproj", "-c", "Debug", "-nodeReuse:false", "-p:UseSharedCompilation=false"]);
        Assert.AreEqual(0, build.ExitCode, $"dotnet build of the generated project failed ({build.Elapsed.TotalSeconds:F0} s):\n{build.Output}");
        Console.WriteLine($"build: {build.Elapsed.TotalSeconds:F1} s");

        string image = Directory.EnumerateFiles(CodegenFixtures.ImageFolder, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        string retrained = Path.Combine(app, "retrained.zip");
        var run = DotnetProcess.Run(app, [Path.Combine(app, "bin", "Debug", "net10.0", "App.dll"), image, CodegenFixtures.ImageFolder, retrained]);
        Assert.AreEqual(0, run.ExitCode, $"The generated project's program failed:\n{run.Output}");
        Console.WriteLine($"run: {run.Elapsed.TotalSeconds:F1} s\n{run.Output}");

        // What the model gives directly, in this process.
        var (expectedLabel, expectedScore) = ScoreDirectly(CodegenFixtures.FolderModel, image);
        var lines = run.Output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.AreEqual($"predicted={expectedLabel}", lines.Single(l => l.StartsWith("predicted=", StringComparison.Ordinal)));

        // PredictAllLabels: every class once, sorted by probability, with the model's probabilities.
        var all = lines.Where(l => l.StartsWith("label=", StringComparison.Ordinal))
            .Select(l => l["label=".Length..].Split('='))
            .Select(p => (Label: p[0], Probability: float.Parse(p[1], CultureInfo.InvariantCulture)))
            .ToList();
        var classNames = ClassNames(CodegenFixtures.FolderModel);
        CollectionAssert.AreEquivalent(classNames, all.Select(p => p.Label).ToArray());
        Assert.AreEqual(expectedLabel, all[0].Label);
        for (int i = 1; i < all.Count; i++)
            Assert.IsTrue(all[i - 1].Probability >= all[i].Probability, $"PredictAllLabels is not sorted at {i}: {all[i - 1]} then {all[i]}");
        foreach (var (label, probability) in all)
            Assert.AreEqual(expectedScore[Array.IndexOf(classNames, label)], probability, 1e-6f, $"probability of {label}");

        // Train: the generated BuildPipeline has the model's options, so retraining on the same images gives the same model.
        Assert.IsTrue(File.Exists(retrained), $"The generated Train did not write {retrained}:\n{run.Output}");
        var original = ReadOptions(CodegenFixtures.FolderModel);
        var again = ReadOptions(retrained);
        foreach (var field in typeof(PilotImageClassificationTrainer.Options).GetFields())
            Assert.AreEqual(Describe(field.GetValue(original)), Describe(field.GetValue(again)), $"option {field.Name} of the retrained model");
        var (retrainedLabel, retrainedScore) = ScoreDirectly(retrained, image);
        Assert.AreEqual(expectedLabel, retrainedLabel);
        CollectionAssert.AreEqual(expectedScore, retrainedScore, "The retrained model's scores differ from the original's (training on the CPU with a seed is deterministic).");
    }

    private static void WriteProject(string folder)
    {
        string library = Path.Combine(CodegenFixtures.RepositoryRoot(), "src", "Pilot.MLNet", "Pilot.MLNet.csproj");
        File.WriteAllText(Path.Combine(folder, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <ProjectReference Include="{library}" />
                <None Include="{ClassName}.zip" CopyToOutputDirectory="PreserveNewest" />
              </ItemGroup>
            </Project>
            """);
        // Predicts one image (argument 1), lists every label, then retrains on a folder (argument 2) into a new model (argument 3).
        File.WriteAllText(Path.Combine(folder, "Program.cs"), $$"""
            using System.Globalization;
            using {{Namespace}};

            var input = new {{ClassName}}.ModelInput { Image = File.ReadAllBytes(args[0]) };
            Console.WriteLine($"predicted={{{ClassName}}.Predict(input).PredictedLabel}");
            foreach (var (label, probability) in {{ClassName}}.PredictAllLabels(input))
                Console.WriteLine($"label={label}={probability.ToString("R", CultureInfo.InvariantCulture)}");
            {{ClassName}}.Train(args[2], args[1]);
            Console.WriteLine($"retrained={args[2]}");
            """);
    }

    private static (string Label, float[] Score) ScoreDirectly(string modelPath, string image)
    {
        var ml = new MLContext();
        var model = ml.Model.Load(modelPath, out _);
        try
        {
            var data = ml.Data.LoadFromEnumerable([new ImageRow { Image = File.ReadAllBytes(image) }]);
            var row = ml.Data.CreateEnumerable<ScoredRow>(model.Transform(data), reuseRowObject: false).Single();
            return (row.PredictedLabel, row.Score);
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    private static string[] ClassNames(string modelPath) => Classifier(modelPath, c => c.ClassNames.ToArray());

    private static PilotImageClassificationTrainer.Options ReadOptions(string modelPath)
        => Classifier(modelPath, c => c.TrainingOptions ?? throw new AssertFailedException($"{modelPath} records no training options."));

    private static T Classifier<T>(string modelPath, Func<PilotImageClassificationTransformer, T> read)
    {
        var model = new MLContext().Model.Load(modelPath, out _);
        try
        {
            return read(((IEnumerable<ITransformer>)model).OfType<PilotImageClassificationTransformer>().Single());
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    private static string Describe(object? value) => value switch
    {
        null => "null",
        Pilot.TorchSharp.PilotPolicy policy => policy.ToJson(),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    private sealed class ImageRow
    {
        public string Label { get; set; } = ""; // the model starts with MapValueToKey(Label), which needs the column

        public byte[] Image { get; set; } = [];
    }

    private sealed class ScoredRow
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Pilot.MLNet;
using Pilot.MLNet.Data;
using Pilot.MLNet.Tests.Fixtures;
using Pilot.TorchSharp;

namespace Pilot.Cli.Tests.Codegen;

/// <summary>
/// Two small models trained once per test run (a few seconds each on the CPU), saved under a temporary folder:
/// <list type="bullet">
/// <item><see cref="FolderModel"/>: the Model Builder / samples shape: images as encoded bytes from a folder of PNGs,
/// label mapped to a key before training, the model = classifier + <c>MapKeyToValue</c>.</item>
/// <item><see cref="PixelModel"/>: the <c>pilot train</c> shape: pixel vectors, the model = <c>MapValueToKey</c> + classifier
/// (its predicted label is a key), with non-default options, an initial policy and early stopping.</item>
/// </list>
/// </summary>
internal static class CodegenFixtures
{
    public const int FolderModelSeed = 7;
    public const int ImagesPerClass = 5;

    private static readonly Lazy<string> Root = new(() =>
    {
        string path = Path.Combine(Path.GetTempPath(), "pilot-codegen-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Delete(path);
        return path;
    });

    /// <summary>
    /// Deletes the run's temporary folder (models, generated projects and their builds: several hundred MB) if it was
    /// created. Called at assembly cleanup; the ProcessExit hook above is the fallback, which a test host killed at the
    /// end of the run does not always reach.
    /// </summary>
    public static void DeleteRoot()
    {
        if (Root.IsValueCreated)
            Delete(Root.Value);
    }

    private static void Delete(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static readonly Lazy<string> Images = new(() =>
    {
        string folder = Path.Combine(Root.Value, "images");
        PilotDatasets.WriteImageFolder(PilotDatasets.EmbeddedFashionMnist(new MLContext(seed: 1), train: true), folder, ImagesPerClass);
        return folder;
    });

    private static readonly Lazy<string> Folder = new(TrainFolderModel);
    private static readonly Lazy<(string Path, PilotImageClassificationTrainer.Options Options)> Pixels = new(TrainPixelModel);

    /// <summary>A fresh folder for one test under the run's temporary folder.</summary>
    public static string NewFolder([CallerMemberName] string name = "")
    {
        string path = Path.Combine(Root.Value, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>FashionMNIST PNGs, <see cref="ImagesPerClass"/> per class, one sub-folder per class.</summary>
    public static string ImageFolder => Images.Value;

    /// <summary>model.zip of the folder-trained model.</summary>
    public static string FolderModel => Folder.Value;

    /// <summary>model.zip of the pixel-vector model.</summary>
    public static string PixelModel => Pixels.Value.Path;

    /// <summary>The options <see cref="PixelModel"/> was trained with.</summary>
    public static PilotImageClassificationTrainer.Options PixelModelOptions => Pixels.Value.Options;

    /// <summary>The options of <see cref="FolderModel"/>; the generated <c>Train</c> reproduces this pipeline exactly.</summary>
    public static PilotImageClassificationTrainer.Options FolderModelOptions() => new()
    {
        Architecture = PilotArchitecture.SmallCnn,
        Epochs = 1,
        BatchSize = 16,
        ImageWidth = 28,
        ImageHeight = 28,
        Seed = FolderModelSeed,
    };

    /// <summary>
    /// The same steps as the generated <c>Train</c> (LoadImageFolder, LoadRawImageBytes, MapValueToKey by value, the trainer,
    /// MapKeyToValue), so that retraining with the generated code gives the same model.
    /// </summary>
    private static string TrainFolderModel()
    {
        var ml = new MLContext(seed: 1);
        IDataView files = PilotDatasets.LoadImageFolder(ml, ImageFolder);
        IDataView data = ml.Transforms.LoadRawImageBytes("Image", ImageFolder, PilotDatasets.ImagePathColumnName).Fit(files).Transform(files);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", "Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.Pilot.ImageClassification(FolderModelOptions()))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel", "PredictedLabel"));
        var model = pipeline.Fit(data);
        string path = Path.Combine(Root.Value, "folder-model.zip");
        ml.Model.Save(model, data.Schema, path);
        (model as IDisposable)?.Dispose();
        return path;
    }

    private static (string, PilotImageClassificationTrainer.Options) TrainPixelModel()
    {
        var options = SmallPixelModel.Options();
        string path = Path.Combine(Root.Value, "pixel-model.zip");
        SmallPixelModel.TrainAndSave(options, path);
        return (path, options);
    }

    /// <summary>The repository root: the folder above the test's output that holds Pilot.MLNet.sln.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pilot.MLNet.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"No Pilot.MLNet.sln above {AppContext.BaseDirectory}.");
    }
}

/// <summary>Runs <c>dotnet</c> commands (builds, file-based apps) as child processes, safely inside a test run.</summary>
internal static class DotnetProcess
{
    /// <summary>
    /// Runs <c>dotnet</c> with <paramref name="arguments"/> in <paramref name="workingDirectory"/>; returns the exit code,
    /// the combined output and the wall time. MSBuild node reuse, the MSBuild server and the shared compiler are turned off, so
    /// that no build process outlives the command (one would hold the test run's output open), and the MSBuild variables of
    /// the test run itself are removed.
    /// </summary>
    public static (int ExitCode, string Output, TimeSpan Elapsed) Run(string workingDirectory, IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
            start.ArgumentList.Add(a);
        foreach (string name in start.Environment.Keys.ToList())
        {
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase))
                start.Environment.Remove(name);
        }
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["UseSharedCompilation"] = "false";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var limit = timeout ?? TimeSpan.FromMinutes(5);
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"'dotnet {string.Join(' ', arguments)}' did not finish within {limit.TotalMinutes} minutes. Output so far:\n{stdout.Result}{stderr.Result}");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result, clock.Elapsed);
    }
}

using System.Security.Cryptography;
using Pilot.MLNet.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.MLNet.Models;

/// <summary>
/// The ImageNet-1k weights of <see cref="PilotArchitecture.PretrainedResNet18"/>: the file <c>ResNet18.onnx</c> of the NuGet
/// package <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> 0.24.0 (MIT licence, .NET Foundation), a ResNet exported by
/// CNTK 2.6 and cut before its classifier. Where the file is looked for, how it is checked and how it is loaded.
/// </summary>
/// <remarks>
/// <para>Delivery: building Pilot.MLNet downloads the package (<c>PackageDownload</c>, no dependencies) and copies the file
/// to <see cref="RelativePath"/> under the output folder of every project that references Pilot.MLNet, and into its
/// publish folder: the same place the package's own build step puts it for an app that references
/// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> directly (as ML.NET's <c>DnnFeaturizeImage</c> expects). Users who keep
/// the file elsewhere set <see cref="PilotImageClassificationTrainer.Options.PretrainedWeightsPath"/>.</para>
/// <para>Only training reads the file: a trained model stores all of its weights, so <c>Model.Load</c> and scoring never
/// need it.</para>
/// </remarks>
internal static class PretrainedWeights
{
    /// <summary>The NuGet package the weights come from.</summary>
    internal const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";

    /// <summary>The package version whose file <see cref="Sha256"/> describes.</summary>
    internal const string PackageVersion = "0.24.0";

    /// <summary>Where the file lies in the package (<c>tools/</c> + this) and next to an app: <c>DnnImageModels/ResNet18Onnx/ResNet18.onnx</c>.</summary>
    internal const string RelativePath = "DnnImageModels/ResNet18Onnx/ResNet18.onnx";

    /// <summary>SHA-256 of the package's <c>ResNet18.onnx</c> (63,653,533 bytes), lower-case hex.</summary>
    internal const string Sha256 = "e2552f19db2dfdb01b3669537b6a0f1b44da38d18279535492ed5dfc2ef1ff8f";

    /// <summary>Basic blocks per stage of this network: [2, 2, 2, 3] (the last stage has one block more than torchvision's ResNet-18).</summary>
    internal static readonly IReadOnlyList<int> BlocksPerStage = [2, 2, 2, 3];

    /// <summary>
    /// Per-channel means subtracted from the 0–255 input, in the network's channel order B, G, R: the channel means of the
    /// mean image of the package's <c>ResNetPreprocess.onnx</c> (which subtracts the whole mean image; the three constants
    /// give features with cosine similarity 0.9998 to it and work at any input size).
    /// </summary>
    internal static readonly float[] BgrMean = [103.063f, 115.903f, 123.152f];

    /// <summary>Batch-norm epsilon of the exported network (CNTK's default, the same as TorchSharp's).</summary>
    internal const double BatchNormEpsilon = 1e-5;

    /// <summary>
    /// Finds the weights file: <paramref name="path"/> when given; otherwise <see cref="RelativePath"/> under the app's folder,
    /// then the package in the NuGet global packages folder (<c>NUGET_PACKAGES</c>, else <c>.nuget/packages</c> under the user's
    /// profile), where a restore of Pilot.MLNet leaves it.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/> or at any default place; the message names each place and how to get the file.</exception>
    internal static string Locate(string? path)
    {
        if (path is not null)
        {
            if (string.IsNullOrWhiteSpace(path))
                throw new ArgumentException("PretrainedWeightsPath is empty; give the path of ResNet18.onnx or leave it null for the default places.", "PretrainedWeightsPath");
            string full = Path.GetFullPath(path);
            if (!File.Exists(full))
                throw new FileNotFoundException(
                    $"The pretrained weights file '{full}' (PretrainedWeightsPath) does not exist. It is ResNet18.onnx from the NuGet package {PackageId} {PackageVersion} (tools/{RelativePath}).",
                    full);
            return full;
        }
        var candidates = DefaultLocations().ToList();
        foreach (string candidate in candidates)
            if (File.Exists(candidate))
                return candidate;
        throw new FileNotFoundException(
            $"The pretrained weights file of PretrainedResNet18 was not found; looked for {string.Join(" and ", candidates.Select(c => $"'{c}'"))}. " +
            $"It is ResNet18.onnx from the NuGet package {PackageId} {PackageVersion} (tools/{RelativePath}): building a project that references " +
            $"Pilot.MLNet copies it next to the app; otherwise add a PackageReference to {PackageId} {PackageVersion}, or set " +
            "the trainer option PretrainedWeightsPath to the file.",
            candidates[0]);
    }

    /// <summary>The default places, in the order <see cref="Locate"/> tries them.</summary>
    internal static IEnumerable<string> DefaultLocations()
    {
        yield return Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, RelativePath));
        string? packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(packages))
        {
            string profile = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (!string.IsNullOrEmpty(profile))
                packages = Path.Combine(profile, ".nuget", "packages");
        }
        if (!string.IsNullOrEmpty(packages))
            yield return Path.GetFullPath(Path.Combine(packages, PackageId.ToLowerInvariant(), PackageVersion, "tools", RelativePath));
    }

    /// <summary>
    /// Reads the weights file at <paramref name="path"/> after checking its SHA-256 against <see cref="Sha256"/>, and maps its
    /// initializers to torchvision parameter names.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is damaged or another file; the message names it.</exception>
    internal static OnnxResNetReader.Result Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"The pretrained weights file '{path}' does not exist.", path);
        string digest;
        long length;
        using (var file = File.OpenRead(path))
        {
            length = file.Length;
            digest = Convert.ToHexStringLower(SHA256.HashData(file));
        }
        if (digest != Sha256)
            throw new InvalidDataException(
                $"The pretrained weights file '{path}' is damaged or not ResNet18.onnx of {PackageId} {PackageVersion}: its SHA-256 is {digest} " +
                $"({length} bytes), expected {Sha256} (63653533 bytes). Restore the package again (delete its folder in the NuGet packages folder) " +
                "or point PretrainedWeightsPath at an intact copy.");
        var result = OnnxResNetReader.Read(path);
        if (!result.BlocksPerStage.SequenceEqual(BlocksPerStage))
            throw new InvalidDataException(
                $"The ONNX file '{path}' has blocks per stage [{string.Join(", ", result.BlocksPerStage)}]; PretrainedResNet18 has [{string.Join(", ", BlocksPerStage)}].");
        if (Math.Abs(result.Epsilon - BatchNormEpsilon) > 1e-9)
            throw new InvalidDataException($"The ONNX file '{path}' uses batch-norm epsilon {result.Epsilon}; PretrainedResNet18 uses {BatchNormEpsilon}.");
        return result;
    }

    /// <summary>
    /// Copies the weights of the file at <paramref name="path"/> into every parameter and batch-norm statistic of
    /// <paramref name="network"/> except its head <c>fc</c> (and the batch counters <c>num_batches_tracked</c>, which the file
    /// does not have).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is damaged, or a tensor is missing, extra or of another shape; the message names the file and the tensor.</exception>
    internal static void Load(ResNet network, string path)
    {
        var read = Read(path);
        using var noGrad = torch.no_grad();
        var state = network.state_dict();
        var assigned = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in read.Tensors)
        {
            if (!state.TryGetValue(name, out var target))
                throw new InvalidDataException($"The ONNX file '{path}' has a tensor '{name}' that PretrainedResNet18 does not have.");
            if (!target.shape.SequenceEqual(tensor.Dims))
                throw new InvalidDataException(
                    $"Tensor '{name}' of the ONNX file '{path}' has shape [{string.Join(", ", tensor.Dims)}]; PretrainedResNet18 has [{string.Join(", ", target.shape)}].");
            using var source = torch.tensor(tensor.Values, tensor.Dims);
            target.copy_(source);
            assigned.Add(name);
        }
        var missing = state.Keys.Where(k => !k.StartsWith("fc.", StringComparison.Ordinal) && !k.EndsWith(".num_batches_tracked", StringComparison.Ordinal) && !assigned.Contains(k)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"The ONNX file '{path}' has no weights for {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? ", …" : "")}.");
    }
}

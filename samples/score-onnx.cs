// Scores a folder of images with a Pilot.MLNet model exported to ONNX (`pilot export onnx` or
// PilotImageClassificationTransformer.ExportToOnnx), using only ML.NET and ONNX Runtime: no TorchSharp, no libtorch,
// no reference to Pilot.MLNet.
//
//   dotnet run samples/score-onnx.cs -- model.onnx path/to/images
//
// Images are found in the folder and its sub-folders (.png .jpg .jpeg .bmp .gif), stretched to the model's input size,
// converted to gray for one-channel models, and fed as raw 0–255 pixel values (the exported graph normalises them). The
// trainer resizes with TorchSharp's bilinear filter and makes gray as round(0.299 R + 0.587 G + 0.114 B); ML.NET's resize
// and gray conversion can differ from those by a level here and there, so for identical pixels give images that already
// have the model's size (gray images are converted exactly). When
// the images sit in sub-folders named after the classes (as `pilot` and PilotDatasets.WriteImageFolder lay them out), the
// accuracy against those names is printed too. Last, the script prints the size of its own build output folder: what a
// scoring app with ONNX needs on disk.
#:package Microsoft.ML@6.0.0
#:package Microsoft.ML.ImageAnalytics@6.0.0
#:package Microsoft.ML.OnnxTransformer@6.0.0
#:package Microsoft.ML.OnnxRuntime@1.31.1
// Versions pinned here, not by the repository's central package management, so the file also runs on its own.
#:property ManagePackageVersionsCentrally=false
// ML.NET needs the JIT (reflection), so `dotnet publish` must not compile ahead of time (file-based apps default to AOT).
#:property PublishAot=false
// Only this machine's native libraries (ONNX Runtime ships them for every platform).
#:property RuntimeIdentifier=$(NETCoreSdkRuntimeIdentifier)

using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Transforms.Image;

// The exported model's contract (Pilot.MLNet.Onnx.PilotOnnxModel): input, output and metadata names.
const string InputName = "image";
const string OutputName = "probabilities";
const string ClassNamesKey = "class_names";
string[] imageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif"];

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: dotnet run samples/score-onnx.cs -- <model.onnx> <image-folder>");
    return 2;
}
string modelPath = Path.GetFullPath(args[0]);
string folder = Path.GetFullPath(args[1]);
if (!Directory.Exists(folder))
{
    Console.Error.WriteLine($"error: the image folder '{folder}' does not exist.");
    return 1;
}

// 1. Read the model's input shape and class names with ONNX Runtime.
string[] classNames;
int channels, height, width;
try
{
    using var session = OpenSession(modelPath);
    int[] dims = session.InputMetadata[InputName].Dimensions; // [-1 (batch), C, H, W]
    (channels, height, width) = (dims[1], dims[2], dims[3]);
    classNames = JsonSerializer.Deserialize<string[]>(session.ModelMetadata.CustomMetadataMap[ClassNamesKey])!;
}
catch (Exception e) when (e is InvalidDataException or FileNotFoundException or KeyNotFoundException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
Console.WriteLine($"Model {Path.GetFileName(modelPath)}: {channels}x{height}x{width} input, {classNames.Length} classes ({string.Join(", ", classNames)})");

var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
    .Where(f => imageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
    .Order(StringComparer.Ordinal)
    .Select(f => new ImageFile { Path = f })
    .ToList();
if (files.Count == 0)
{
    Console.Error.WriteLine($"error: no images ({string.Join(" ", imageExtensions)}) in '{folder}' or its sub-folders.");
    return 1;
}

// 2. The ML.NET pipeline: load, resize, (gray), planar float pixels 0–255, then the ONNX model.
var mlContext = new MLContext(seed: 1);
var data = mlContext.Data.LoadFromEnumerable(files);
var pipeline = mlContext.Transforms.LoadImages("Picture", imageFolder: null, inputColumnName: nameof(ImageFile.Path))
    .Append(mlContext.Transforms.ResizeImages("Picture", width, height, resizing: ImageResizingEstimator.ResizingKind.Fill));
var pixels = mlContext.Transforms.ExtractPixels(InputName, "Picture",
    colorsToExtract: channels == 1 ? ImagePixelExtractingEstimator.ColorBits.Red : ImagePixelExtractingEstimator.ColorBits.Rgb,
    interleavePixelColors: false, outputAsFloatArray: true);
var scoring = (channels == 1 ? pipeline.Append(mlContext.Transforms.ConvertToGrayscale("Picture")).Append(pixels) : pipeline.Append(pixels))
    .Append(mlContext.Transforms.ApplyOnnxModel(OutputName, InputName, modelPath));

var stopwatch = Stopwatch.StartNew();
ITransformer model;
try
{
    model = scoring.Fit(data);
}
catch (Exception e) when (FindOnnxRuntimeError(e) is { } ort)
{
    Console.Error.WriteLine($"error: '{modelPath}' is not a valid ONNX model: {ort.Message}");
    return 1;
}
var scored = model.Transform(data);
var probabilities = scored.GetColumn<float[]>(OutputName).ToArray();
stopwatch.Stop();

// 3. Report: one line per image, then accuracy against class-named sub-folders when there are such.
int labelled = 0, correct = 0;
for (int i = 0; i < files.Count; i++)
{
    float[] p = probabilities[i];
    int best = Array.IndexOf(p, p.Max());
    string relative = Path.GetRelativePath(folder, files[i].Path);
    Console.WriteLine($"{relative,-40} {classNames[best],-16} {p[best],7:P1}");

    string parent = Path.GetFileName(Path.GetDirectoryName(files[i].Path)!);
    int truth = Array.FindIndex(classNames, name => FolderName(name) == parent);
    if (truth >= 0)
    {
        labelled++;
        if (truth == best)
            correct++;
    }
}
Console.WriteLine($"Scored {files.Count} images in {stopwatch.Elapsed.TotalSeconds:0.00} s.");
if (labelled > 0)
    Console.WriteLine($"Accuracy against the class sub-folders: {correct}/{labelled} = {correct / (double)labelled:P1}");

long outputBytes = new DirectoryInfo(AppContext.BaseDirectory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
Console.WriteLine($"This app's output folder: {outputBytes / 1e6:0.0} MB ({AppContext.BaseDirectory})");
return 0;

// ONNX Runtime names the problem; this adds which file it was (and checks the file exists first).
static InferenceSession OpenSession(string path)
{
    if (!File.Exists(path))
        throw new FileNotFoundException($"The ONNX model file '{path}' does not exist.", path);
    try
    {
        return new InferenceSession(path);
    }
    catch (OnnxRuntimeException e)
    {
        throw new InvalidDataException($"'{path}' is not a valid ONNX model: {e.Message}", e);
    }
}

// ML.NET wraps ONNX Runtime's exception; find the original for its message.
static OnnxRuntimeException? FindOnnxRuntimeError(Exception? e)
{
    for (; e is not null; e = e.InnerException)
    {
        if (e is OnnxRuntimeException ort)
            return ort;
    }
    return null;
}

// Class sub-folders replace characters that file names cannot hold with '_' ("T-shirt/top" is in "T-shirt_top").
static string FolderName(string className) =>
    string.Concat(className.Select(c => c is '/' or '\\' or ':' or '*' or '?' or '"' or '<' or '>' or '|' || char.IsControl(c) ? '_' : c));

/// <summary>One input row: the path of an image file.</summary>
sealed class ImageFile
{
    public string Path { get; set; } = "";
}

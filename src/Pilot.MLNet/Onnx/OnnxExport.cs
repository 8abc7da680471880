using Google.Protobuf;
using Microsoft.ML;
using Pilot.MLNet.Images;

namespace Pilot.MLNet.Onnx;

/// <summary>
/// Exports a trained <see cref="PilotImageClassificationTransformer"/> to ONNX: what
/// <see cref="PilotImageClassificationTransformer.ExportToOnnx(string)"/> and <c>pilot export onnx</c> call.
/// </summary>
internal static class OnnxExport
{
    /// <summary>What <see cref="OnnxExporter"/> needs to know about <paramref name="transformer"/>'s model.</summary>
    /// <exception cref="ObjectDisposedException">The transformer has been disposed.</exception>
    internal static OnnxExportDescription Describe(PilotImageClassificationTransformer transformer)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        var model = transformer.Model;
        return new OnnxExportDescription(model.Architecture, model.InputShape, model.Normalization.Mean, model.Normalization.Std,
            transformer.ClassNames, BytePixels: model.Domain == PixelDomain.Bytes);
    }

    /// <summary>Writes <paramref name="transformer"/>'s model as ONNX to <paramref name="output"/> (left open).</summary>
    /// <exception cref="ArgumentException"><paramref name="output"/> is not writable.</exception>
    /// <exception cref="ObjectDisposedException">The transformer has been disposed.</exception>
    internal static void Export(PilotImageClassificationTransformer transformer, Stream output)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(output);
        if (!output.CanWrite)
            throw new ArgumentException("The output stream must be writable.", nameof(output));
        OnnxExporter.BuildModel(transformer.Model.Network, Describe(transformer)).WriteTo(output);
    }

    /// <summary>
    /// Writes <paramref name="transformer"/>'s model as ONNX to the file <paramref name="path"/>, created or overwritten;
    /// the file appears only once complete.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="ObjectDisposedException">The transformer has been disposed.</exception>
    internal static void Export(PilotImageClassificationTransformer transformer, string path)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var model = OnnxExporter.BuildModel(transformer.Model.Network, Describe(transformer));
        OnnxExporter.WriteFile(model, path);
    }

    /// <summary>
    /// Loads the ML.NET model file <paramref name="modelPath"/> (a <c>model.zip</c> saved with <c>mlContext.Model.Save</c>,
    /// holding a <see cref="PilotImageClassificationTransformer"/> alone or inside a transformer chain) and writes its
    /// network as ONNX to <paramref name="onnxPath"/>: what <c>pilot export onnx --model model.zip --out model.onnx</c> does.
    /// </summary>
    /// <param name="mlContext">The ML.NET context to load with.</param>
    /// <param name="modelPath">The saved model.</param>
    /// <param name="onnxPath">The ONNX file to create or overwrite; its folder must exist.</param>
    /// <returns>The description of what was exported (architecture, input shape, class names, normalisation).</returns>
    /// <exception cref="FileNotFoundException"><paramref name="modelPath"/> does not exist.</exception>
    /// <exception cref="InvalidDataException">The file holds no <see cref="PilotImageClassificationTransformer"/> (or more than one); the message names the file.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="onnxPath"/> does not exist.</exception>
    internal static OnnxExportDescription ExportModelFile(MLContext mlContext, string modelPath, string onnxPath)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(onnxPath);
        if (!File.Exists(modelPath))
            throw new FileNotFoundException($"The model file '{modelPath}' does not exist.", modelPath);

        var loaded = mlContext.Model.Load(modelPath, out _);
        try
        {
            var pilot = PilotTransformers.All(loaded);
            if (pilot.Count != 1)
                throw new InvalidDataException(pilot.Count == 0
                    ? $"'{modelPath}' holds no Pilot image classifier (PilotImageClassificationTransformer); only those export to ONNX."
                    : $"'{modelPath}' holds {pilot.Count} Pilot image classifiers; export them one at a time.");
            Export(pilot[0], onnxPath);
            return Describe(pilot[0]);
        }
        finally
        {
            foreach (var disposable in PilotTransformers.All(loaded))
                disposable.Dispose();
        }
    }
}

using Google.Protobuf;
using Pilot.MLNet.Training;

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
}

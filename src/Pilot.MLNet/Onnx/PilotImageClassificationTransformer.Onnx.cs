using Pilot.MLNet.Onnx;

namespace Pilot.MLNet;

public sealed partial class PilotImageClassificationTransformer
{
    /// <summary>
    /// Writes the model as an ONNX file that ONNX Runtime, or ML.NET's <c>ApplyOnnxModel</c>, scores without TorchSharp:
    /// input <c>image</c> (float32, batch × C × H × W of <see cref="InputShape"/>, raw pixel values: 0–255 for models trained
    /// on images or byte pixel vectors), output <c>probabilities</c> (float32, batch × K, in <see cref="ClassNames"/> order),
    /// the class names in the model metadata. The names are the constants of <see cref="PilotOnnxModel"/>.
    /// </summary>
    /// <param name="path">The file to create or overwrite; its folder must exist. The file appears only once complete.</param>
    /// <remarks>
    /// The graph normalises with this model's statistics, runs the network in evaluation mode (batch normalisation folded
    /// into the convolutions, dropout removed) and ends in a softmax: its probabilities equal <c>Score</c> to about 1e-6. It
    /// does not decode, resize or convert images: give it pixels of <see cref="InputShape"/>. See docs/onnx.md.
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="ObjectDisposedException">This transformer has been disposed.</exception>
    public void ExportToOnnx(string path) => OnnxExport.Export(this, path);

    /// <summary>Writes the model as ONNX to <paramref name="stream"/>, which is left open; see <see cref="ExportToOnnx(string)"/>.</summary>
    /// <param name="stream">A writable stream.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="stream"/> is not writable.</exception>
    /// <exception cref="ObjectDisposedException">This transformer has been disposed.</exception>
    public void ExportToOnnx(Stream stream) => OnnxExport.Export(this, stream);
}

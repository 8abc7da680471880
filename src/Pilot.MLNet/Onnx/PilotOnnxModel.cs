namespace Pilot.MLNet.Onnx;

/// <summary>
/// The contract of the ONNX models that Pilot.MLNet exports: input and output names, the pixel scale of the input and the
/// metadata keys. Scoring code (ONNX Runtime, ML.NET's <c>ApplyOnnxModel</c>) needs only these facts, not this library.
/// </summary>
/// <remarks>
/// <para>
/// Graph: <see cref="InputName"/> (float32, <c>batch × C × H × W</c>, raw pixel values: 0–255 for models trained on images
/// or byte pixel vectors) → per-channel normalisation <c>(x − mean) / std</c> as one <c>Sub</c> and one <c>Div</c> node, with
/// the model's own statistics (the same arithmetic the TorchSharp model does) → the network with every batch normalisation
/// folded into the convolution before it and dropout removed (the network in evaluation mode) → <c>Softmax</c> →
/// <see cref="OutputName"/> (float32, <c>batch × K</c>, each row sums to 1). The batch dimension is symbolic
/// (<see cref="BatchDimension"/>): any batch size works. Images must already have the model's input size and channel count
/// (the graph does not resize or convert colour).
/// </para>
/// <para>
/// The normalisation stays separate rather than being folded into the first convolution: that convolution pads its input
/// with zeros, and zero in normalised units is not zero in pixel units, so folding the mean would change the outputs along
/// the image border.
/// </para>
/// </remarks>
public static class PilotOnnxModel
{
    /// <summary>Name of the graph input: float32 <c>batch × C × H × W</c> raw pixel values (see <see cref="MetadataKeys.PixelRange"/>).</summary>
    public const string InputName = "image";

    /// <summary>Name of the graph output: float32 <c>batch × K</c> class probabilities (softmax), in class-index order.</summary>
    public const string OutputName = "probabilities";

    /// <summary>The symbolic name of the first (batch) dimension of the input and the output.</summary>
    public const string BatchDimension = "batch";

    /// <summary>
    /// Value of <see cref="MetadataKeys.PixelRange"/> for models trained on images or byte pixel vectors: the input is pixel
    /// values 0–255, as ML.NET's <c>ExtractPixels</c> gives them with its defaults (no scaling, no offset).
    /// </summary>
    public const string BytePixelRange = "0-255";

    /// <summary>
    /// Value of <see cref="MetadataKeys.PixelRange"/> for models trained on float pixel vectors: the input is in the units of
    /// those vectors, whatever they were.
    /// </summary>
    public const string FloatPixelRange = "float";

    /// <summary>The ONNX operator set the graph is written for (default domain).</summary>
    public const int OpsetVersion = 17;

    /// <summary>The ONNX IR version written: 8, the one that goes with <see cref="OpsetVersion"/> 17.</summary>
    public const int IrVersion = 8;

    /// <summary>The producer name written to the model.</summary>
    public const string ProducerName = "Pilot.MLNet";

    /// <summary>Keys of the model's <c>metadata_props</c> (ONNX Runtime: <c>InferenceSession.ModelMetadata.CustomMetadataMap</c>).</summary>
    public static class MetadataKeys
    {
        /// <summary>The class names as a JSON array of strings, index <c>k</c> naming column <c>k</c> of <see cref="OutputName"/>.</summary>
        public const string ClassNames = "class_names";

        /// <summary>The <see cref="PilotArchitecture"/> name, e.g. <c>ResNet18</c>.</summary>
        public const string Architecture = "architecture";

        /// <summary>The input image shape as <c>CxHxW</c>, e.g. <c>1x28x28</c>.</summary>
        public const string InputShape = "input_shape";

        /// <summary>The pixel values the input expects: <see cref="BytePixelRange"/> or <see cref="FloatPixelRange"/>.</summary>
        public const string PixelRange = "pixel_range";

        /// <summary>The per-channel mean (in input pixel units) the graph subtracts, as a JSON array of numbers.</summary>
        public const string NormalizationMean = "normalization_mean";

        /// <summary>The per-channel standard deviation (in input pixel units) the graph divides by, as a JSON array of numbers.</summary>
        public const string NormalizationStd = "normalization_std";
    }
}

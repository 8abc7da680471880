namespace Pilot.MLNet.Onnx;

/// <summary>What the exporter needs to know besides the network's weights.</summary>
/// <param name="Architecture">The network's architecture; decides how the module tree is walked.</param>
/// <param name="InputShape">Shape of one image (C×H×W); fixes the non-batch dimensions of the graph input.</param>
/// <param name="Mean">Per-channel mean, in the units of the input pixels (one value per channel, finite).</param>
/// <param name="Std">Per-channel standard deviation, in the units of the input pixels (one value per channel, finite and &gt; 0).</param>
/// <param name="ClassNames">Class names in output order; as many as the network has outputs.</param>
/// <param name="BytePixels">
/// True (the usual case) when the input pixels are byte values 0–255 (the model was trained on images or byte pixel vectors);
/// false when they are floats in whatever units the model was trained on (float pixel vectors). Only documents the input.
/// </param>
/// <remarks>The network computes on <c>(pixel − Mean[c]) / Std[c]</c>, as <see cref="Scoring.PilotImageModel"/> does.</remarks>
internal sealed record OnnxExportDescription(
    PilotArchitecture Architecture,
    ImageShape InputShape,
    IReadOnlyList<float> Mean,
    IReadOnlyList<float> Std,
    IReadOnlyList<string> ClassNames,
    bool BytePixels = true)
{
    /// <summary>What the input pixel values are, for the model's metadata and doc strings.</summary>
    internal string PixelRange => BytePixels ? PilotOnnxModel.BytePixelRange : PilotOnnxModel.FloatPixelRange;

    /// <summary>Throws a managed exception naming the first invalid member; <paramref name="argumentName"/> is the caller's parameter.</summary>
    internal void Validate(string argumentName)
    {
        if (!Enum.IsDefined(Architecture))
            throw new ArgumentOutOfRangeException(argumentName, Architecture,
                $"{argumentName}.{nameof(Architecture)} {Architecture} is not an architecture the ONNX exporter knows; expected one of {string.Join(", ", Enum.GetNames<PilotArchitecture>())}.");
        InputShape.Validate($"{argumentName}.{nameof(InputShape)}");
        CheckPerChannel(Mean, nameof(Mean), argumentName, mustBePositive: false);
        CheckPerChannel(Std, nameof(Std), argumentName, mustBePositive: true);
        if (ClassNames is null || ClassNames.Count < 2)
            throw new ArgumentException($"{argumentName}.{nameof(ClassNames)} must name at least 2 classes; got {ClassNames?.Count ?? 0}.", argumentName);
        for (int k = 0; k < ClassNames.Count; k++)
        {
            if (ClassNames[k] is null)
                throw new ArgumentException($"{argumentName}.{nameof(ClassNames)}[{k}] is null; every class needs a name.", argumentName);
        }
    }

    private void CheckPerChannel(IReadOnlyList<float>? values, string member, string argumentName, bool mustBePositive)
    {
        if (values is null || values.Count != InputShape.Channels)
            throw new ArgumentException(
                $"{argumentName}.{member} must have one value per channel ({InputShape.Channels}); got {values?.Count.ToString() ?? "null"}.", argumentName);
        for (int c = 0; c < values.Count; c++)
        {
            float v = values[c];
            if (!float.IsFinite(v) || (mustBePositive && v <= 0))
                throw new ArgumentOutOfRangeException(argumentName, v,
                    $"{argumentName}.{member}[{c}] must be finite{(mustBePositive ? " and greater than 0" : "")}; got {v}.");
        }
    }
}

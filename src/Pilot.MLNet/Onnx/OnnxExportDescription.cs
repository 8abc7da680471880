namespace Pilot.MLNet.Onnx;

/// <summary>What the exporter needs to know besides the network's weights.</summary>
/// <param name="Architecture">The network's architecture; decides how the module tree is walked.</param>
/// <param name="InputShape">Shape of one image (C×H×W); fixes the non-batch dimensions of the graph input.</param>
/// <param name="Mean">Per-channel mean, in units of pixel / 255 (one value per channel, finite).</param>
/// <param name="Std">Per-channel standard deviation, in units of pixel / 255 (one value per channel, finite and &gt; 0).</param>
/// <param name="ClassNames">Class names in output order; as many as the network has outputs.</param>
/// <remarks>The network computes on <c>(pixel / 255 − Mean[c]) / Std[c]</c>; for a network trained on <c>pixel / 255</c> pass mean 0 and std 1.</remarks>
internal sealed record OnnxExportDescription(
    PilotArchitecture Architecture,
    ImageShape InputShape,
    IReadOnlyList<float> Mean,
    IReadOnlyList<float> Std,
    IReadOnlyList<string> ClassNames)
{
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

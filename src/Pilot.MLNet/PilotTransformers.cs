using Microsoft.ML;

namespace Pilot.MLNet;

/// <summary>
/// Finds the <see cref="PilotImageClassificationTransformer"/> in a fitted or loaded ML.NET model (alone, or inside a
/// transformer chain, searched depth-first): the one rule that scoring tools, codegen and ONNX export share.
/// </summary>
internal static class PilotTransformers
{
    /// <summary>Every Pilot image classifier in <paramref name="model"/>, in pipeline order.</summary>
    public static IReadOnlyList<PilotImageClassificationTransformer> All(ITransformer model) => Walk(model).ToList();

    /// <summary>
    /// The Pilot image classifier of <paramref name="model"/>, or <see langword="null"/> when it has none.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="source">The model in words for the error message, e.g. <c>'model.zip'</c>.</param>
    /// <exception cref="InvalidDataException">The model holds more than one (which one to use would be a guess).</exception>
    public static PilotImageClassificationTransformer? Single(ITransformer model, string source)
    {
        var all = All(model);
        return all.Count switch
        {
            0 => null,
            1 => all[0],
            _ => throw new InvalidDataException($"{source} holds {all.Count} Pilot image classifiers; use a model with one."),
        };
    }

    private static IEnumerable<PilotImageClassificationTransformer> Walk(ITransformer model) => model switch
    {
        PilotImageClassificationTransformer pilot => [pilot],
        IEnumerable<ITransformer> chain => chain.SelectMany(Walk),
        _ => [],
    };
}

using Microsoft.ML;
using D = Pilot.MLNet.PilotImageClassificationDefaults;

namespace Pilot.MLNet;

/// <summary>
/// Pilot.MLNet's trainers, reached as <c>mlContext.Pilot</c> (an extension property defined in namespace
/// <see cref="Microsoft.ML"/>, so <c>using Microsoft.ML;</c> is enough).
/// </summary>
public sealed class PilotCatalog
{
    private readonly MLContext _mlContext;

    internal PilotCatalog(MLContext mlContext) => _mlContext = mlContext;

    /// <summary>
    /// Creates a <see cref="PilotImageClassificationTrainer"/> with the given column names and every other option at its
    /// default (<see cref="PilotImageClassificationDefaults"/>).
    /// </summary>
    /// <param name="labelColumnName">The label column, a key type (use <c>MapValueToKey</c>). Default <c>"Label"</c>.</param>
    /// <param name="imageColumnName">The image column: encoded bytes (<c>LoadRawImageBytes</c>), <c>MLImage</c> (<c>LoadImages</c>), or a pixel vector (then use the <see cref="PilotImageClassificationTrainer.Options"/> overload to set <c>ImageShape</c>). Default <c>"Image"</c>.</param>
    /// <param name="scoreColumnName">The output column of class probabilities. Default <c>"Score"</c>.</param>
    /// <param name="predictedLabelColumnName">The output column of the predicted class. Default <c>"PredictedLabel"</c>.</param>
    /// <param name="validationSet">Data scored after each epoch, with the same columns; default <see langword="null"/>.</param>
    public PilotImageClassificationTrainer ImageClassification(
        string labelColumnName = D.LabelColumnName,
        string imageColumnName = D.ImageColumnName,
        string scoreColumnName = D.ScoreColumnName,
        string predictedLabelColumnName = D.PredictedLabelColumnName,
        IDataView? validationSet = null)
        => ImageClassification(new PilotImageClassificationTrainer.Options
        {
            LabelColumnName = labelColumnName,
            ImageColumnName = imageColumnName,
            ScoreColumnName = scoreColumnName,
            PredictedLabelColumnName = predictedLabelColumnName,
            ValidationSet = validationSet,
        });

    /// <summary>Creates a <see cref="PilotImageClassificationTrainer"/> with the given options (copied: later changes to <paramref name="options"/> do not affect it).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is outside its range; the message names it.</exception>
    public PilotImageClassificationTrainer ImageClassification(PilotImageClassificationTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new PilotImageClassificationTrainer(_mlContext, options);
    }
}

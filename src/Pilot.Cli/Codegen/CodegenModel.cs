using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet;

namespace Pilot.Cli.Codegen;

/// <summary>What <see cref="ModelBuilderCodeGenerator"/> needs to know about a saved model, read by <see cref="Load"/>.</summary>
/// <param name="TrainingOptions">
/// The options the model was trained with, column names included: <see cref="PilotImageClassificationTransformer.TrainingOptions"/>,
/// or, for a model that does not record them, the defaults with the column names, architecture and epochs the model does record.
/// </param>
/// <param name="OptionsRecorded">Whether the model recorded its training options (else <paramref name="TrainingOptions"/> is partly defaults).</param>
/// <param name="Architecture">The network.</param>
/// <param name="InputShape">The network input (channels × height × width).</param>
/// <param name="ClassNames">The classes, in score order.</param>
/// <param name="EpochsRun">Epochs in the training history (fewer than configured after early stopping).</param>
/// <param name="FinalTrainAccuracy">Training accuracy of the last epoch, or <see langword="null"/> without a history.</param>
/// <param name="PredictedLabelIsKey">Whether the model's predicted-label column holds keys (the model ends without <c>MapKeyToValue</c>).</param>
internal sealed record CodegenModel(
    PilotImageClassificationTrainer.Options TrainingOptions,
    bool OptionsRecorded,
    PilotArchitecture Architecture,
    ImageShape InputShape,
    IReadOnlyList<string> ClassNames,
    int EpochsRun,
    double? FinalTrainAccuracy,
    bool PredictedLabelIsKey)
{
    /// <summary>
    /// Loads the model at <paramref name="modelPath"/> and checks that the generated code can use it: it holds a Pilot image
    /// classifier, and it scores rows that have only the label (text) and the image (encoded image bytes) columns, as the
    /// generated <c>ModelInput</c> does.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an ML.NET model, has no Pilot image classifier, or needs input columns the generated code does not provide; the message names the file and what is wrong.</exception>
    public static CodegenModel Load(MLContext mlContext, string modelPath)
    {
        string full = Path.GetFullPath(modelPath);
        if (!File.Exists(full))
            throw new FileNotFoundException($"Model '{full}' does not exist.", full);
        ITransformer model;
        try
        {
            model = mlContext.Model.Load(full, out _);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or IOException or ArgumentException)
        {
            throw new InvalidDataException($"'{full}' is not an ML.NET model that this version of Pilot.MLNet can load: {e.Message}", e);
        }

        try
        {
            var classifier = PilotTransformers.Single(model, $"'{full}'")
                ?? throw new InvalidDataException($"'{full}' has no Pilot image classifier (PilotImageClassificationTransformer); codegen needs a model trained with mlContext.Pilot.ImageClassification or 'pilot train'.");

            // The generated ModelInput: the label as text and the image as the bytes of an image file.
            var input = new DataViewSchema.Builder();
            input.AddColumn(classifier.LabelColumnName, TextDataViewType.Instance);
            input.AddColumn(classifier.ImageColumnName, new VectorDataViewType(NumberDataViewType.Byte));
            DataViewSchema output;
            try
            {
                output = model.GetOutputSchema(input.ToSchema());
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                throw new InvalidDataException(
                    $"'{full}' cannot score rows with only a '{classifier.LabelColumnName}' text column and a '{classifier.ImageColumnName}' column of " +
                    $"encoded image bytes, which is what the generated ModelInput holds ({e.Message}). Codegen supports models whose image column " +
                    "is read from outside the model, e.g. with LoadRawImageBytes applied to the data before training.", e);
            }
            bool predictedIsKey = output.GetColumnOrNull(classifier.PredictedLabelColumnName)?.Type is KeyDataViewType;

            var history = classifier.TrainingHistory;
            var recorded = classifier.TrainingOptions;
            var options = recorded ?? new PilotImageClassificationTrainer.Options
            {
                LabelColumnName = classifier.LabelColumnName,
                ImageColumnName = classifier.ImageColumnName,
                ScoreColumnName = classifier.ScoreColumnName,
                PredictedLabelColumnName = classifier.PredictedLabelColumnName,
                Architecture = classifier.Architecture,
                Epochs = history.Count > 0 ? history[0].Epochs : null,
            };
            return new CodegenModel(options, recorded is not null, classifier.Architecture, classifier.InputShape, classifier.ClassNames,
                history.Count, history.Count > 0 ? history[^1].TrainAccuracy : null, predictedIsKey);
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }
}

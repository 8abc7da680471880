using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet;
using Pilot.MLNet.Data;
using Pilot.TorchSharp;

namespace Pilot.MLNet.Tests.Fixtures;

/// <summary>
/// A small model in the <c>pilot train</c> shape, trained in a few seconds on the CPU: pixel vectors of the embedded
/// FashionMNIST sample (60 training and 20 validation rows), saved as <c>MapValueToKey</c> + classifier, trained with
/// non-default options, an initial policy and early stopping. Shared by the tests of the options a model records
/// (Pilot.MLNet.Tests) and of codegen (Pilot.Cli.Tests, which links this file).
/// </summary>
internal static class SmallPixelModel
{
    /// <summary>The options the model is trained with: a new instance each call (options are mutable).</summary>
    public static PilotImageClassificationTrainer.Options Options() => new()
    {
        Architecture = PilotArchitecture.SmallCnn,
        Optimizer = PilotOptimizerKind.Pilot,
        Epochs = 2,
        BatchSize = 20,
        LearningRate = 2e-3,
        WeightDecay = 0.0,
        Gamma = 0.9,
        EtaPhi = 0.005,
        PolicyDegree = 1,
        InitialPolicy = PilotPolicy.Default(degree: 1),
        WarmupEpochs = 1,
        Augment = true,
        ImageShape = new ImageShape(1, 28, 28),
        EarlyStoppingPatience = 3,
        Seed = 11,
    };

    /// <summary>Trains the model with <paramref name="options"/> and saves it to <paramref name="path"/>.</summary>
    public static void TrainAndSave(PilotImageClassificationTrainer.Options options, string path)
    {
        var ml = new MLContext(seed: 1);
        var sample = PilotDatasets.EmbeddedFashionMnist(ml, train: false);
        var train = ml.Data.TakeRows(sample.Data, 60);
        var validation = ml.Data.TakeRows(ml.Data.SkipRows(sample.Data, 60), 20);
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label", "Label").Fit(sample.Data);
        var classifier = ml.Pilot.ImageClassification(options).Fit(toKey.Transform(train), toKey.Transform(validation));
        using var chain = new TransformerChain<ITransformer>(toKey, classifier);
        ml.Model.Save(chain, train.Schema, path);
    }
}

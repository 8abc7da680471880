using Microsoft.ML;
using Microsoft.ML.Data;

namespace Pilot.MLNet.Tests.Training;

[TestClass]
public sealed class SmokeTrainingTests
{
    [TestMethod]
    public void SyntheticPixelVectorsTrainAndEvaluate()
    {
        var ml = new MLContext(seed: 1);
        var keyed = ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(600, seed: 1));
        var map = ml.Transforms.Conversion.MapValueToKey("Label").Fit(keyed);
        var train = map.Transform(keyed);
        var test = map.Transform(ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(150, seed: 2)));
        using var model = ml.Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 3)).Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        Console.WriteLine($"accuracy {metrics.MacroAccuracy}, log loss {metrics.LogLoss}");
        foreach (var r in model.TrainingHistory) Console.WriteLine(r);
        Assert.IsGreaterThan(0.9, metrics.MicroAccuracy);
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Data;

namespace Pilot.MLNet.Tests;

/// <summary>
/// The standard ML.NET image-classification pipeline (folder of images → MapValueToKey → LoadRawImageBytes → trainer →
/// Evaluate) with PNGs written from the embedded FashionMNIST sample.
/// </summary>
[TestClass]
public sealed class ImageFolderPipelineTests
{
    [TestMethod]
    public void FolderOfPngsTrainsThroughLoadRawImageBytesAndEvaluates()
    {
        var ml = new MLContext(seed: 1);
        using var folder = new TestFolder();
        string trainFolder = Path.Combine(folder.Path, "train"), testFolder = Path.Combine(folder.Path, "test");
        Assert.AreEqual(2000, PilotDatasets.WriteImageFolder(PilotDatasets.EmbeddedFashionMnist(ml, train: true), trainFolder, maxPerClass: 200));
        Assert.AreEqual(500, PilotDatasets.WriteImageFolder(PilotDatasets.EmbeddedFashionMnist(ml, train: false), testFolder, maxPerClass: 50));

        var train = ml.Data.ShuffleRows(PilotDatasets.LoadImageFolder(ml, trainFolder), seed: 1);
        var options = FashionMnistPipelineTests.SmallCnnOptions(); // default network input: 32×32, channels from the data
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Image", trainFolder, "ImagePath"))
            .Append(ml.Pilot.ImageClassification(options));
        var model = pipeline.Fit(train);
        try
        {
            var trained = ((IEnumerable<ITransformer>)model).OfType<PilotImageClassificationTransformer>().Single();
            Assert.AreEqual(new ImageShape(1, 32, 32), trained.InputShape, "gray PNGs give one channel; raw images default to 32×32");

            // Score the test folder: same label mapping, images read from the test folder.
            var testData = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train)
                .Append(ml.Transforms.LoadRawImageBytes("Image", testFolder, "ImagePath").Fit(PilotDatasets.LoadImageFolder(ml, testFolder)))
                .Transform(PilotDatasets.LoadImageFolder(ml, testFolder));
            var metrics = ml.MulticlassClassification.Evaluate(trained.Transform(testData));
            Console.WriteLine($"(b) PNG folder, SmallCnn 32×32, 2 epochs on 2000: test accuracy {metrics.MicroAccuracy:P2} on 500, log loss {metrics.LogLoss:F4}");
            Assert.IsGreaterThan(0.6, metrics.MicroAccuracy);
            Assert.IsLessThan(Math.Log(10), metrics.LogLoss);
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    public void MLImageColumnsFromLoadImagesAreAccepted()
    {
        var ml = new MLContext(seed: 1);
        using var folder = new TestFolder();
        PilotDatasets.WriteImageFolder(PilotDatasets.EmbeddedFashionMnist(ml, train: true), folder.Path, maxPerClass: 10);
        var data = PilotDatasets.LoadImageFolder(ml, folder.Path);
        var options = FashionMnistPipelineTests.SmallCnnOptions();
        options.Epochs = 1;
        options.ImageShape = new ImageShape(3, 28, 28); // colour forced, native size
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", folder.Path, "ImagePath"))
            .Append(ml.Pilot.ImageClassification(options));
        var model = pipeline.Fit(data);
        try
        {
            var trained = ((IEnumerable<ITransformer>)model).OfType<PilotImageClassificationTransformer>().Single();
            Assert.AreEqual(new ImageShape(3, 28, 28), trained.InputShape);
            var scores = model.Transform(data).GetColumn<float[]>("Score").ToArray();
            Assert.HasCount(100, scores);
            Assert.IsTrue(scores.All(s => s.Length == 10 && Math.Abs(s.Sum() - 1) < 1e-4));
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }
}

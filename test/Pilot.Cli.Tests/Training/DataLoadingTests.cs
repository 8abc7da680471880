using Microsoft.ML;
using Pilot.Cli.Training;

namespace Pilot.Cli.Tests;

[TestClass]
public sealed class DataLoadingTests
{
    [TestMethod]
    public void ImageFolder_IsSplitIntoTrainAndTestWithSortedClassNames()
    {
        using var folder = new TempFolder();
        Assert.AreEqual(60, TinyImageFolder.Write(folder["images"]));
        var ml = new MLContext(seed: 0);
        var data = DataChoice.Resolve(folder["images"], folder["no-system-data"]);

        var split = DataLoading.LoadForTraining(ml, data, testFraction: 0.25, validationFraction: 0, seed: 0);
        CollectionAssert.AreEqual(TinyImageFolder.Classes, split.ClassNames.ToArray());
        long train = DataLoading.Count(split.Train), test = DataLoading.Count(split.Test);
        Assert.AreEqual(60, train + test);
        Assert.IsTrue(test is > 5 and < 30, $"test rows: {test}");
        Assert.AreSame(split.Test, split.Validation, "without --validation-fraction the test rows are validated on");
        Assert.IsNull(split.Shape, "image files are decoded by the trainer");
        Assert.IsNotNull(split.Train.Schema.GetColumnOrNull("Image"));

        var withValidation = DataLoading.LoadForTraining(ml, data, testFraction: 0.25, validationFraction: 0.3, seed: 0);
        long v = DataLoading.Count(withValidation.Validation ?? throw new AssertFailedException("no validation rows"));
        Assert.IsGreaterThan(0, v);
        Assert.AreEqual(train, DataLoading.Count(withValidation.Train) + v, "validation rows come out of the training rows");
        Assert.AreEqual(test, DataLoading.Count(withValidation.Test), "the test rows do not change");
    }

    [TestMethod]
    public void Embedded_WhenTheSystemFolderIsMissing()
    {
        using var folder = new TempFolder();
        var data = DataChoice.Resolve(null, folder["no-system-data"]);
        Assert.IsTrue(data.IsEmbedded);
        var split = DataLoading.LoadForTraining(new MLContext(0), data, 0.2, 0, 0);
        Assert.AreEqual(6000, DataLoading.Count(split.Train));
        Assert.AreEqual(1000, DataLoading.Count(split.Test));
        Assert.AreEqual("T-shirt/top", split.ClassNames[0]);
        Assert.AreEqual(new Pilot.MLNet.ImageShape(1, 28, 28), split.Shape);
    }

    [TestMethod]
    public void FolderInNoKnownFormat_IsAnInputErrorNamingData()
    {
        using var folder = new TempFolder();
        Directory.CreateDirectory(folder["empty"]);
        var data = DataChoice.Resolve(folder["empty"], folder["none"]);
        var e = Assert.ThrowsExactly<CliInputException>(() => DataLoading.LoadForTraining(new MLContext(0), data, 0.2, 0, 0));
        Assert.StartsWith("--data: ", e.Message);
        Assert.Contains(folder["empty"], e.Message);

        var result = CliRunner.Run("evaluate", "--data", folder["empty"]);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
    }

    [TestMethod]
    [DataRow("/data/fashion-mnist", true)]
    [DataRow("/data/FashionMNIST/", true)]
    [DataRow("/data/fashion_mnist", true)]
    [DataRow("/data/mnist", false)]
    public void IdxFolderName_DecidesFashionMnistClassNames(string folder, bool fashion)
        => Assert.AreEqual(fashion, DataLoading.IsFashionMnist(folder));
}

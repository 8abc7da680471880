using Microsoft.ML;
using Pilot.MLNet.Data;
using static Pilot.MLNet.Tests.Data.DataTestHelpers;

namespace Pilot.MLNet.Tests.Data;

[TestClass]
public sealed class EmbeddedFashionMnistTests
{
    private static readonly MLContext Ml = new(seed: 1);

    [TestMethod]
    [DataRow(true, 6000)]
    [DataRow(false, 1000)]
    public void EmbeddedSampleLoads(bool train, int count)
    {
        Assert.AreEqual(count, train ? PilotDatasets.EmbeddedTrainCount : PilotDatasets.EmbeddedTestCount);
        var set = PilotDatasets.EmbeddedFashionMnist(Ml, train);

        Assert.AreEqual(new ImageShape(1, 28, 28), set.Shape);
        Assert.AreEqual((long)count, set.Data.GetRowCount());
        CollectionAssert.AreEqual(PilotDatasets.FashionMnistClassNames.ToArray(), set.ClassNames.ToArray());
        var rows = ReadRows(set.Data);
        Assert.AreEqual(count, rows.Count);

        // All ten classes, roughly balanced (the first N of FashionMNIST: 560–643 per class in train, 87–115 in test).
        var perClass = rows.GroupBy(r => r.Label).ToDictionary(g => g.Key, g => g.Count());
        CollectionAssert.AreEquivalent(PilotDatasets.FashionMnistClassNames.ToArray(), perClass.Keys.ToArray());
        Assert.IsTrue(perClass.Values.All(n => n > count / 10 * 0.8 && n < count / 10 * 1.2), string.Join(", ", perClass));
        // Real images, not blank: FashionMNIST's mean pixel is about 73 (0.286 × 255).
        double mean = rows.Average(r => r.Image.Average(b => (double)b));
        Assert.AreEqual(73, mean, 8);
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void EmbeddedSampleIsTheStartOfTheDebianPackage(bool train)
    {
        DataTestHelpers.RequireFullFashionMnist();

        var full = PilotDatasets.LoadFashionMnist(Ml, PilotDatasets.DebianFashionMnistFolder, train);
        var sample = PilotDatasets.EmbeddedFashionMnist(Ml, train);

        Assert.AreEqual(train ? 60_000L : 10_000L, full.Data.GetRowCount());
        Assert.AreEqual(full.Shape, sample.Shape);
        var sampleRows = ReadRows(sample.Data);
        var fullRows = ReadRows(full.Data, limit: sampleRows.Count);
        for (int i = 0; i < sampleRows.Count; i++)
        {
            Assert.AreEqual(fullRows[i].Label, sampleRows[i].Label, $"label of row {i}");
            CollectionAssert.AreEqual(fullRows[i].Image, sampleRows[i].Image, $"pixels of row {i}");
        }
    }
}

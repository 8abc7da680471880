using Microsoft.ML;
using Microsoft.ML.Data;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;

namespace Pilot.MLNet.Tests;

[TestClass]
public sealed class SchemaAndInputTests
{
    private sealed class FlatRow
    {
        public string Label { get; set; } = "";

        [VectorType(144)]
        public byte[] Image { get; set; } = [];
    }

    private sealed class EncodedRow
    {
        public string Label { get; set; } = "";
        public byte[] Image { get; set; } = [];
    }

    private static IDataView Keyed(MLContext ml, IDataView data) =>
        ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);

    /// <summary>Compares two schema shapes column by column: name, kind, item type, key-ness and annotation names/types.</summary>
    private static void AssertSameShape(SchemaShape expected, SchemaShape actual)
    {
        var expectedColumns = expected.ToDictionary(c => c.Name);
        var actualColumns = actual.ToDictionary(c => c.Name);
        CollectionAssert.AreEquivalent(expectedColumns.Keys.ToArray(), actualColumns.Keys.ToArray());
        foreach (var (name, e) in expectedColumns)
        {
            var a = actualColumns[name];
            Assert.AreEqual(e.Kind, a.Kind, $"{name}: kind");
            Assert.AreEqual(e.ItemType, a.ItemType, $"{name}: item type");
            Assert.AreEqual(e.IsKey, a.IsKey, $"{name}: key");
            CollectionAssert.AreEquivalent(
                e.Annotations.Select(m => $"{m.Name}:{m.Kind}:{m.ItemType}").ToArray(),
                a.Annotations.Select(m => $"{m.Name}:{m.Kind}:{m.ItemType}").ToArray(), $"{name}: annotations");
        }
    }

    [TestMethod]
    public void OutputSchemaBeforeFitEqualsTheFittedTransformers()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainerTestData.SyntheticKeyed(ml, 60, seed: 1);
        var trainer = ml.Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 1));
        var before = trainer.GetOutputSchema(Shapes.Create(data.Schema));
        using var model = trainer.Fit(data);
        var fitted = model.GetOutputSchema(data.Schema);
        AssertSameShape(before, Shapes.Create(fitted));

        var score = fitted["Score"];
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 3), score.Type);
        var predicted = fitted["PredictedLabel"];
        Assert.AreEqual(new KeyDataViewType(typeof(uint), 3), predicted.Type);
        VBuffer<ReadOnlyMemory<char>> keyValues = default;
        predicted.GetKeyValues(ref keyValues);
        CollectionAssert.AreEqual(new[] { "h", "v", "s" }, keyValues.DenseValues().Select(v => v.ToString()).ToArray());
        CollectionAssert.AreEqual(new[] { "h", "v", "s" }, model.ClassNames.ToArray());
    }

    [TestMethod]
    public void StringLabelIsRejectedNamingTheColumnAndTheFix()
    {
        var ml = new MLContext(seed: 1);
        var raw = ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(30, seed: 1));
        var trainer = ml.Pilot.ImageClassification(TrainerTestData.FastOptions());
        foreach (var action in new Action[] { () => trainer.Fit(raw), () => trainer.GetOutputSchema(Shapes.Create(raw.Schema)) })
        {
            var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(action);
            Assert.AreEqual(nameof(Options.LabelColumnName), e.ParamName);
            StringAssert.Contains(e.Message, "'Label'");
            StringAssert.Contains(e.Message, "MapValueToKey");
        }
    }

    [TestMethod]
    public void MissingColumnsAreRejectedByName()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainerTestData.SyntheticKeyed(ml, 30, seed: 1);
        var noImage = ml.Pilot.ImageClassification(new Options { ImageColumnName = "Pixels" });
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => noImage.Fit(data));
        Assert.AreEqual(nameof(Options.ImageColumnName), e.ParamName);
        StringAssert.Contains(e.Message, "'Pixels'");
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => noImage.GetOutputSchema(Shapes.Create(data.Schema)));
        StringAssert.Contains(e.Message, "'Pixels'");

        var noLabel = ml.Pilot.ImageClassification(labelColumnName: "Class");
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => noLabel.Fit(data));
        Assert.AreEqual(nameof(Options.LabelColumnName), e.ParamName);
        StringAssert.Contains(e.Message, "'Class'");
    }

    [TestMethod]
    public void PixelVectorOfTheWrongSizeIsRejectedWithBothSizes()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainerTestData.SyntheticKeyed(ml, 30, seed: 1); // 1×12×12 = 144 values
        var options = TrainerTestData.FastOptions();
        options.ImageShape = new ImageShape(1, 10, 10);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Pilot.ImageClassification(options).Fit(data));
        Assert.AreEqual(nameof(Options.ImageColumnName), e.ParamName);
        StringAssert.Contains(e.Message, "'Image'");
        StringAssert.Contains(e.Message, "144");
        StringAssert.Contains(e.Message, "100");
    }

    [TestMethod]
    public void FlatPixelVectorNeedsImageShape()
    {
        var ml = new MLContext(seed: 1);
        var rows = TrainerTestData.Synthetic(30, seed: 1).Select(r => new FlatRow { Label = r.Label, Image = r.Image });
        var data = Keyed(ml, ml.Data.LoadFromEnumerable(rows));
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Pilot.ImageClassification(TrainerTestData.FastOptions()).Fit(data));
        Assert.AreEqual(nameof(Options.ImageShape), e.ParamName);
        StringAssert.Contains(e.Message, "144");

        var options = TrainerTestData.FastOptions(epochs: 1);
        options.ImageShape = TrainerTestData.SyntheticShape;
        using var model = ml.Pilot.ImageClassification(options).Fit(data);
        Assert.AreEqual(TrainerTestData.SyntheticShape, model.InputShape);
    }

    [TestMethod]
    public void UndecodableImageBytesAreRejectedNamingColumnAndRow()
    {
        var ml = new MLContext(seed: 1);
        var rows = new List<EncodedRow>();
        foreach (var r in TrainerTestData.Synthetic(6, seed: 1))
            rows.Add(new EncodedRow { Label = r.Label, Image = EncodePng(ml, r.Image) });
        rows[4].Image = [1, 2, 3, 4, 5];
        var data = Keyed(ml, ml.Data.LoadFromEnumerable(rows));
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 1)).Fit(data));
        StringAssert.Contains(e.Message, "Row 4");
        StringAssert.Contains(e.Message, "'Image'");
    }

    [TestMethod]
    public void SingleClassIsRejected()
    {
        var ml = new MLContext(seed: 1);
        var data = Keyed(ml, ml.Data.LoadFromEnumerable(TrainerTestData.Synthetic(9, seed: 1).Where(r => r.Label == "h")));
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Pilot.ImageClassification(TrainerTestData.FastOptions()).Fit(data));
        Assert.AreEqual(nameof(Options.LabelColumnName), e.ParamName);
        StringAssert.Contains(e.Message, "2 or greater");
    }

    [TestMethod]
    public void EarlyStoppingWithoutValidationSetIsRejected()
    {
        var ml = new MLContext(seed: 1);
        var options = TrainerTestData.FastOptions();
        options.EarlyStoppingPatience = 2;
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Pilot.ImageClassification(options).Fit(TrainerTestData.SyntheticKeyed(ml, 9, 1)));
        Assert.AreEqual(nameof(Options.EarlyStoppingPatience), e.ParamName);
    }

    [TestMethod]
    public void ScoringDataWithoutTheImageColumnIsRejected()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainerTestData.SyntheticKeyed(ml, 30, seed: 1);
        using var model = ml.Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 1)).Fit(data);
        var withoutImage = ml.Transforms.DropColumns("Image").Fit(data).Transform(data);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.Transform(withoutImage));
        StringAssert.Contains(e.Message, "'Image'");
    }

    /// <summary>Encodes a 12×12 gray image as PNG with ML.NET's image type (no extra package needed).</summary>
    internal static byte[] EncodePng(MLContext ml, byte[] gray)
    {
        var rgba = new byte[gray.Length * 4];
        for (int i = 0; i < gray.Length; i++)
        {
            rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = gray[i];
            rgba[4 * i + 3] = 255;
        }
        using var image = MLImage.CreateFromPixels(12, 12, MLPixelFormat.Rgba32, rgba);
        string path = Path.Combine(Path.GetTempPath(), $"pilot-{Guid.NewGuid():N}.png");
        try
        {
            image.Save(path);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

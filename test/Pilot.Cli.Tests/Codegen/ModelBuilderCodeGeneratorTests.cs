using System.Reflection;
using Microsoft.ML;
using Pilot.Cli.Codegen;
using Pilot.MLNet;
using Pilot.MLNet.Data;
using Pilot.MLNet.ModelFile;

namespace Pilot.Cli.Tests.Codegen;

[TestClass]
public sealed class ModelBuilderCodeGeneratorTests
{
    [TestMethod]
    public void BuildPipeline_SpellsOutEveryRecordedOptionAndTheColumns()
    {
        var code = ModelBuilderCodeGenerator.Generate(CodegenModel.Load(new MLContext(), CodegenFixtures.PixelModel));
        foreach (var field in typeof(PilotImageClassificationTrainer.Options).GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            bool expected = !TrainingOptionsFormat.Unrecorded.Contains(field.Name);
            Assert.AreEqual(expected, code.Training.Contains($"\n            {field.Name} = "), field.Name);
        }
    }

    [TestMethod]
    public void Load_DescribesTheModel()
    {
        var folder = CodegenModel.Load(new MLContext(), CodegenFixtures.FolderModel);
        Assert.IsTrue(folder.OptionsRecorded);
        Assert.AreEqual(PilotArchitecture.SmallCnn, folder.Architecture);
        Assert.AreEqual(new ImageShape(1, 28, 28), folder.InputShape);
        Assert.AreEqual(1, folder.EpochsRun);
        Assert.IsFalse(folder.PredictedLabelIsKey, "the folder model ends with MapKeyToValue");
        CollectionAssert.AreEqual(PilotDatasets.FashionMnistClassNames.Select(n => n.Replace('/', '_')).Order(StringComparer.Ordinal).ToArray(),
            folder.ClassNames.ToArray());

        var pixels = CodegenModel.Load(new MLContext(), CodegenFixtures.PixelModel);
        Assert.IsTrue(pixels.PredictedLabelIsKey, "the pixel model ends with the classifier");
        Assert.AreEqual(11, pixels.TrainingOptions.Seed);
    }

    [TestMethod]
    public void WriteFiles_WritesBothFilesAndCopiesTheModel()
    {
        string folder = Path.Combine(CodegenFixtures.NewFolder(), "new", "sub");
        var written = ModelBuilderCodeGenerator.WriteFiles(CodegenFixtures.FolderModel, folder, "A.B", "Classifier");
        CollectionAssert.AreEqual(new[] { "Classifier.consumption.cs", "Classifier.training.cs", "Classifier.zip" }, written.Select(Path.GetFileName).ToArray());
        CollectionAssert.AreEqual(File.ReadAllBytes(CodegenFixtures.FolderModel), File.ReadAllBytes(Path.Combine(folder, "Classifier.zip")));
        StringAssert.Contains(File.ReadAllText(written[0]), "namespace A.B;");
        StringAssert.Contains(File.ReadAllText(written[1]), "public partial class Classifier");
    }

    [TestMethod]
    public void Load_MissingFile_ThrowsFileNotFoundNamingIt()
    {
        string path = Path.Combine(CodegenFixtures.NewFolder(), "none.zip");
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => CodegenModel.Load(new MLContext(), path));
        StringAssert.Contains(e.Message, path);
    }

    [TestMethod]
    public void Load_NotAModel_ThrowsInvalidDataNamingTheFile()
    {
        string path = Path.Combine(CodegenFixtures.NewFolder(), "text.zip");
        File.WriteAllText(path, "not a zip");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => CodegenModel.Load(new MLContext(), path));
        StringAssert.Contains(e.Message, path);
    }

    [TestMethod]
    public void Load_ModelWithoutPilotClassifier_ThrowsInvalidData()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(new[] { new LabelRow { Label = "a" }, new LabelRow { Label = "b" } });
        string path = Path.Combine(CodegenFixtures.NewFolder(), "other.zip");
        ml.Model.Save(ml.Transforms.Conversion.MapValueToKey("Label").Fit(data), data.Schema, path);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => CodegenModel.Load(ml, path));
        StringAssert.Contains(e.Message, "has no Pilot image classifier");
        StringAssert.Contains(e.Message, path);
    }

    [TestMethod]
    public void Load_ModelThatReadsImageFilesItself_ThrowsInvalidDataSayingWhatIsSupported()
    {
        // LoadRawImageBytes inside the model: it needs an ImagePath column, which the generated ModelInput does not have.
        var ml = new MLContext(seed: 1);
        var files = PilotDatasets.LoadImageFolder(ml, CodegenFixtures.ImageFolder);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Image", CodegenFixtures.ImageFolder, PilotDatasets.ImagePathColumnName))
            .Append(ml.Pilot.ImageClassification(new PilotImageClassificationTrainer.Options
            {
                Architecture = PilotArchitecture.SmallCnn, Epochs = 1, BatchSize = 25, ImageWidth = 8, ImageHeight = 8,
            }));
        var model = pipeline.Fit(files);
        string path = Path.Combine(CodegenFixtures.NewFolder(), "paths.zip");
        ml.Model.Save(model, files.Schema, path);
        model.Dispose();
        var e = Assert.ThrowsExactly<InvalidDataException>(() => CodegenModel.Load(ml, path));
        StringAssert.Contains(e.Message, "LoadRawImageBytes applied to the data before training");
    }

    [TestMethod]
    [DataRow("1abc", "MLModel", "--namespace")]
    [DataRow("A..B", "MLModel", "--namespace")]
    [DataRow("A.class", "MLModel", "--namespace")]
    [DataRow("App", "My Model", "--class")]
    [DataRow("App", "", "--class")]
    [DataRow("App", "static", "--class")]
    public void Generate_InvalidNames_ThrowArgumentExceptionNamingTheOption(string ns, string cls, string option)
    {
        var model = CodegenModel.Load(new MLContext(), CodegenFixtures.FolderModel);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ModelBuilderCodeGenerator.Generate(model, ns, cls));
        StringAssert.StartsWith(e.Message, option);
    }

    [TestMethod]
    [DataRow("Label", "Label")]
    [DataRow("image bytes", "Image_bytes")]
    [DataRow("2nd", "_2nd")]
    [DataRow("class", "Class")]
    [DataRow("!!", "Fallback")]
    public void Identifier_MakesAPropertyName(string column, string expected)
        => Assert.AreEqual(expected, ModelBuilderCodeGenerator.Identifier(column, "Fallback"));

    [TestMethod]
    public void Literal_OfAnUnknownType_ThrowsNotSupportedNamingTheOption()
    {
        var e = Assert.ThrowsExactly<NotSupportedException>(() => ModelBuilderCodeGenerator.Literal(new object(), typeof(object), "NewOption"));
        StringAssert.Contains(e.Message, "NewOption");
    }

    [TestMethod]
    [DataRow(0.001, "0.001")]
    [DataRow(1e-5, "1E-05")]
    [DataRow(0.0, "0.0")]
    [DataRow(2.0, "2.0")]
    public void Literal_OfADouble_IsACSharpDoubleThatRoundTrips(double value, string expected)
        => Assert.AreEqual(expected, ModelBuilderCodeGenerator.Literal(value, typeof(double), "x"));

    private sealed class LabelRow
    {
        public string Label { get; set; } = "";
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Pilot.MLNet.Models;
using Pilot.MLNet.Onnx;
using Pilot.MLNet.Training;
using TorchSharp;
using static Pilot.MLNet.Tests.Onnx.OnnxTestSupport;
using static TorchSharp.torch;

namespace Pilot.MLNet.Tests.Models;

/// <summary>
/// PretrainedResNet18: the ImageNet weights read from the package's ResNet18.onnx (copied next to the tests by the build),
/// checked against ONNX Runtime running that same file; the input preparation built into the network; input sizes; the
/// errors for a missing or damaged weights file; ONNX export.
/// </summary>
[TestClass]
public sealed class PretrainedResNet18Tests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>The package's file, where the build copies it (and where the trainer looks first).</summary>
    private static string WeightsFile => PretrainedWeights.Locate(null);

    /// <summary>One network with the ImageNet weights for the whole class (reading and checking 64 MB takes a moment); only evaluated.</summary>
    private static readonly Lazy<ResNet> Loaded = new(() =>
    {
        var net = (ResNet)new DefaultGeneratorSession(5).Use(() =>
            Backbones.CreateForTraining(PilotArchitecture.PretrainedResNet18, new ImageShape(3, 224, 224), 10, PilotFineTuning.Full, null));
        net.eval();
        return net;
    });

    [ClassCleanup]
    public static void Cleanup()
    {
        if (Loaded.IsValueCreated)
            Loaded.Value.Dispose();
    }

    [TestMethod]
    public void DefaultLocationIsNextToTheApp()
    {
        Assert.AreEqual(Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, PretrainedWeights.RelativePath)), WeightsFile);
    }

    [TestMethod]
    public void WeightMappingGivesOnnxRuntimeFeaturesOfThePackageModel()
    {
        // The package's model: input 'Input247' [1,3,224,224] already prepared (BGR minus mean), output [1,512,1,1].
        var shape = new ImageShape(3, 224, 224);
        float[] pixels = ColourImages(shape, 1, first: 4);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = tensor(pixels, [1, 3, 224, 224]);
        float[] prepared = ResNet.PrepareImageNetInput(x).contiguous().data<float>().ToArray();
        float[] ours = Loaded.Value.Features(x).data<float>().ToArray();

        using var session = new InferenceSession(WeightsFile);
        string inputName = session.InputMetadata.Keys.Single(), outputName = session.OutputMetadata.Keys.Single();
        using var input = OrtValue.CreateTensorValueFromMemory(prepared, [1, 3, 224, 224]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [input], [outputName]);
        float[] reference = outputs[0].GetTensorDataAsSpan<float>().ToArray();

        Assert.HasCount(512, reference);
        Assert.HasCount(512, ours);
        float maxDifference = ours.Zip(reference, (a, b) => Math.Abs(a - b)).Max();
        float largest = reference.Max(Math.Abs);
        TestContext.WriteLine($"max |TorchSharp − ONNX Runtime| = {maxDifference:E2}; largest feature {largest:F3}");
        Assert.IsLessThanOrEqualTo(2e-5f, maxDifference);
        Assert.IsGreaterThan(0.5f, largest, "the features are all near zero: the comparison would prove little");
    }

    [TestMethod]
    public void TheFileHoldsBlocks2223AndEveryTrunkTensor()
    {
        var read = PretrainedWeights.Read(WeightsFile);
        CollectionAssert.AreEqual(new[] { 2, 2, 2, 3 }, read.BlocksPerStage.ToArray());
        Assert.HasCount(110, read.Tensors);
        Assert.AreEqual(15_897_152L + 11_648L, read.Tensors.Values.Sum(t => (long)t.Values.Length));
        CollectionAssert.AreEqual(new long[] { 64, 3, 7, 7 }, read.Tensors["conv1.weight"].Dims);
        CollectionAssert.AreEqual(new long[] { 512, 256, 1, 1 }, read.Tensors["layer4.0.downsample.0.weight"].Dims);
        CollectionAssert.AreEqual(new long[] { 512 }, read.Tensors["layer4.2.bn2.running_var"].Dims);
        // The statistics assume 0–255 input: bn1's variances are in the thousands, not near 1.
        Assert.IsGreaterThan(1000f, read.Tensors["bn1.running_var"].Values.Average());
    }

    [TestMethod]
    public void PreparationReordersToBgrAndSubtractsTheMeans()
    {
        using var scope = NewDisposeScope();
        var rgb = tensor(new float[] { 10, 200, 30, 40, 250, 0 }, [1, 3, 1, 2]); // R = 10, 200; G = 30, 40; B = 250, 0
        float[] prepared = ResNet.PrepareImageNetInput(rgb).data<float>().ToArray();
        float[] expected = [250 - 103.063f, 0 - 103.063f, 30 - 115.903f, 40 - 115.903f, 10 - 123.152f, 200 - 123.152f];
        CollectionAssert.AreEqual(expected, prepared);

        var gray = tensor(new float[] { 7, 255 }, [1, 1, 1, 2]);
        float[] fromGray = ResNet.PrepareImageNetInput(gray).data<float>().ToArray();
        CollectionAssert.AreEqual(new[] { 7 - 103.063f, 255 - 103.063f, 7 - 115.903f, 255 - 115.903f, 7 - 123.152f, 255 - 123.152f }, fromGray);
    }

    [TestMethod]
    public void GrayInputEqualsItsPlaneRepeatedToRgb()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var net = (ResNet)Backbones.Create(PilotArchitecture.PretrainedResNet18, new ImageShape(1, 40, 36), 4);
        net.eval();
        var gray = tensor(RealImages(new ImageShape(1, 40, 36), 2), [2, 1, 40, 36]);
        var fromGray = net.forward(gray).data<float>().ToArray();
        var fromRgb = net.forward(gray.expand(-1, 3, -1, -1).contiguous()).data<float>().ToArray();
        CollectionAssert.AreEqual(fromRgb, fromGray);
    }

    [TestMethod]
    [DataRow(3, 32, 32)]   // the smallest input: layer4 ends at 1×1
    [DataRow(3, 33, 47)]   // odd sides: the stride-2 layers floor
    [DataRow(1, 97, 65)]
    [DataRow(3, 160, 128)]
    public void AnySizeFromTheMinimumGivesFeaturesAndLogits(int c, int h, int w)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var shape = new ImageShape(c, h, w);
        Backbones.Validate(PilotArchitecture.PretrainedResNet18, shape, 5);
        using var net = (ResNet)Backbones.Create(PilotArchitecture.PretrainedResNet18, shape, 5);
        net.eval();
        var x = tensor(RealImages(shape, 2), [2, c, h, w]);
        CollectionAssert.AreEqual(new long[] { 2, 512 }, net.Features(x).shape);
        var logits = net.forward(x);
        CollectionAssert.AreEqual(new long[] { 2, 5 }, logits.shape);
        Assert.IsTrue(logits.isfinite().all().item<bool>());
        // forward is the head on the features.
        CollectionAssert.AreEqual(logits.data<float>().ToArray(), net.Head.forward(net.Features(x)).data<float>().ToArray());
    }

    [TestMethod]
    [DataRow(3, 31, 224)]
    [DataRow(1, 224, 16)]
    public void SidesBelow32AreRejectedNamingTheInput(int c, int h, int w)
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            Backbones.Validate(PilotArchitecture.PretrainedResNet18, new ImageShape(c, h, w), 5));
        Assert.AreEqual("input", e.ParamName);
        StringAssert.Contains(e.Message, "at least 32");
    }

    [TestMethod]
    public void MissingWeightsFileIsNamed()
    {
        string path = Path.Combine(Path.GetTempPath(), "pilot-missing-" + Guid.NewGuid().ToString("N"), "ResNet18.onnx");
        var e = Assert.ThrowsExactly<FileNotFoundException>(() =>
            Backbones.CreateForTraining(PilotArchitecture.PretrainedResNet18, new ImageShape(3, 64, 64), 3, PilotFineTuning.Head, path));
        Assert.AreEqual(path, e.FileName);
        StringAssert.Contains(e.Message, path);
        StringAssert.Contains(e.Message, PretrainedWeights.PackageId);
    }

    [TestMethod]
    public void TruncatedWeightsFileIsNamedAsDamaged()
    {
        using var folder = new TestFolder();
        string path = folder.File("ResNet18.onnx");
        using (var source = File.OpenRead(WeightsFile))
        using (var target = File.Create(path))
        {
            var buffer = new byte[1 << 20];
            int read = source.Read(buffer);
            target.Write(buffer, 0, read);
        }
        var e = Assert.ThrowsExactly<InvalidDataException>(() =>
            Backbones.CreateForTraining(PilotArchitecture.PretrainedResNet18, new ImageShape(3, 64, 64), 3, PilotFineTuning.Head, path));
        StringAssert.Contains(e.Message, path);
        StringAssert.Contains(e.Message, "damaged");
    }

    [TestMethod]
    public void ReaderNamesTheFileForBytesThatAreNotOnnx()
    {
        using var folder = new TestFolder();
        string path = folder.File("garbage.onnx");
        File.WriteAllBytes(path, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x12]);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => OnnxResNetReader.Read(path));
        StringAssert.Contains(e.Message, path);
    }

    [TestMethod]
    public void ReaderRejectsAGraphThatIsNotAnUnfoldedResNet()
    {
        // Our own export folds batch norm into biased convolutions: not the layout the reader maps.
        using var folder = new TestFolder();
        string path = folder.File("folded.onnx");
        var shape = new ImageShape(3, 64, 64);
        using var net = Backbones.Create(PilotArchitecture.ResNet18, shape, 3);
        net.eval();
        File.WriteAllBytes(path, ExportToBytes(net, new OnnxExportDescription(PilotArchitecture.ResNet18, shape, [0f, 0f, 0f], [1f, 1f, 1f], ClassNames(3))));
        var e = Assert.ThrowsExactly<InvalidDataException>(() => OnnxResNetReader.Read(path));
        StringAssert.Contains(e.Message, path);
        TestContext.WriteLine(e.Message);
    }

    [TestMethod]
    [DataRow(3, 64, 64, 2, PilotFineTuning.Full)]      // the layer4 head
    [DataRow(1, 45, 70, 3, PilotFineTuning.Full)]      // gray, sides that are not multiples of 32
    [DataRow(3, 64, 64, 2, PilotFineTuning.Head)]      // the standardised layer3 + layer4 head
    [DataRow(1, 45, 70, 3, PilotFineTuning.Head)]
    public void OnnxExportMatchesTorchSharp(int c, int h, int w, int batch, PilotFineTuning mode)
    {
        var shape = new ImageShape(c, h, w);
        using var net = (ResNet)new DefaultGeneratorSession(3).Use(() =>
            Backbones.CreateForTraining(PilotArchitecture.PretrainedResNet18, shape, 4, mode, null));
        net.eval();
        // The trainer's normalisation is the identity for this architecture: the model takes raw pixels.
        var description = new OnnxExportDescription(PilotArchitecture.PretrainedResNet18, shape, new float[c], Enumerable.Repeat(1f, c).ToArray(), ClassNames(4));
        float[] pixels = c == 3 ? ColourImages(shape, batch) : RealImages(shape, batch);
        using (no_grad())
        {
            // A trained-looking head: probabilities far from uniform (and a standardisation fitted to 24 images, as training
            // fits it to the training set: fitted to the 2 or 3 scored images, near-equal features get the floor's scale,
            // which magnifies float rounding beyond any real model's).
            if (net.Head is StandardizedLinear standardized)
            {
                const int FitImages = 24;
                using var features = net.Features(tensor(c == 3 ? ColourImages(shape, FitImages) : RealImages(shape, FitImages), [FitImages, c, h, w]));
                standardized.Fit(features);
                using var random = new DefaultGeneratorSession(4).Use(() => randn(standardized.Weight.shape));
                standardized.Weight.copy_(random);
            }
            else
                ((global::TorchSharp.Modules.Linear)net.Head).weight!.mul_(20);
        }
        float[] expected = TorchProbabilities(net, description, pixels, batch);
        using var session = new InferenceSession(ExportToBytes(net, description));
        var (actual, outputShape) = OrtProbabilities(session, shape, pixels, batch);

        CollectionAssert.AreEqual(new long[] { batch, 4 }, outputShape);
        float maxDifference = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        TestContext.WriteLine($"{shape}: max |ONNX Runtime − TorchSharp| = {maxDifference:E2}");
        Assert.IsLessThanOrEqualTo(1e-4f, maxDifference);
        Assert.IsGreaterThan(0.05f, expected.Max(p => Math.Abs(p - 0.25f)), "the reference probabilities are all near uniform");
    }

    [TestMethod]
    [DataRow(null)] // Head, the default
    [DataRow(PilotFineTuning.LastStage)]
    [DataRow(PilotFineTuning.Full)]
    public void TrainedModelExportsToOnnxWithTheTransformersScores(PilotFineTuning? fineTuning)
    {
        // The path of `pilot export onnx`: the trainer's model (identity normalisation, raw pixels in), exported and scored by
        // ONNX Runtime on the same pixels.
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(ColourRows(36, seed: 1));
        var options = TrainerTestData.FastOptions(epochs: 1);
        options.Architecture = PilotArchitecture.PretrainedResNet18;
        options.FineTuning = fineTuning;
        options.BatchSize = 12;
        options.LearningRate = 1e-3;
        options.ImageHeight = options.ImageWidth = 32; // the pixels' own size (the pretrained default would resize them)
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Fit(rows);
        using var model = ml.Pilot.ImageClassification(options).Fit(pipeline.Transform(rows));
        Assert.AreEqual(new ImageShape(3, 32, 32), model.Model.InputShape);
        CollectionAssert.AreEqual(new[] { 0f, 0f, 0f }, model.Model.Normalization.Mean);
        CollectionAssert.AreEqual(new[] { 1f, 1f, 1f }, model.Model.Normalization.Std);

        var testRows = ColourRows(9, seed: 2);
        var scores = model.Transform(pipeline.Transform(ml.Data.LoadFromEnumerable(testRows))).GetColumn<float[]>("Score").ToArray();
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream);
        using var session = new InferenceSession(stream.ToArray());
        float[] pixels = [.. testRows.SelectMany(r => r.Image.Select(b => (float)b))];
        var (actual, outputShape) = OrtProbabilities(session, new ImageShape(3, 32, 32), pixels, testRows.Length);

        CollectionAssert.AreEqual(new long[] { testRows.Length, 3 }, outputShape);
        float maxDifference = scores.SelectMany(x => x).Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        TestContext.WriteLine($"PretrainedResNet18 trained with FineTuning {fineTuning?.ToString() ?? "default"}: max |ONNX Runtime − Transform| = {maxDifference:E2}");
        Assert.IsLessThanOrEqualTo(1e-4f, maxDifference);
    }

    /// <summary>One row of 3×32×32 colour pixels: the class is the brightest channel ("r", "g" or "b"), with noise.</summary>
    public sealed class ColourRow
    {
        public string Label { get; set; } = "";

        [Microsoft.ML.Data.VectorType(3, 32, 32)]
        public byte[] Image { get; set; } = [];
    }

    private static ColourRow[] ColourRows(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(i =>
        {
            var image = new byte[3 * 32 * 32];
            for (int p = 0; p < image.Length; p++)
                image[p] = (byte)(random.Next(0, 120) + (p / 1024 == i % 3 ? 120 : 0));
            return new ColourRow { Label = "rgb"[i % 3].ToString(), Image = image };
        })];
    }

    /// <summary>
    /// Colour images of <paramref name="shape"/> (3 channels): channel k of image n is FashionMNIST test image
    /// <c>first + 3n + k</c>, resized by nearest neighbour (pixel values 0–255), so the three channels differ.
    /// </summary>
    internal static float[] ColourImages(ImageShape shape, int count, int first = 0)
    {
        var plane = shape with { Channels = 1 };
        var result = new float[count * shape.Size];
        for (int n = 0; n < count; n++)
            for (int k = 0; k < 3; k++)
                RealImages(plane, 1, first + 3 * n + k).CopyTo(result, n * shape.Size + k * plane.Size);
        return result;
    }
}

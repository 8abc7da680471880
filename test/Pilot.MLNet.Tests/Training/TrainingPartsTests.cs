using Microsoft.ML;
using Microsoft.ML.Data;
using Pilot.MLNet.Images;
using Pilot.MLNet.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.MLNet.Tests.Training;

[TestClass]
public sealed class TrainingPartsTests
{
    [TestMethod]
    public void LearningRateWarmsUpLinearlyThenFollowsACosine()
    {
        const double peak = 0.1;
        // 10 steps, 4 of warm-up: 0.025, 0.05, 0.075, 0.1, then cosine over the 6 remaining steps from the peak.
        double[] expected = [.. Enumerable.Range(1, 4).Select(s => peak * s / 4), .. Enumerable.Range(0, 6).Select(s => peak * 0.5 * (1 + Math.Cos(Math.PI * s / 6)))];
        var actual = Enumerable.Range(0, 10).Select(s => LearningRateSchedule.At(peak, s, 10, 4)).ToArray();
        for (int s = 0; s < 10; s++)
            Assert.AreEqual(expected[s], actual[s], 1e-15, $"step {s}");
        Assert.AreEqual(peak / 2, LearningRateSchedule.At(peak, 7, 10, 4), 1e-15, "half-way through the decay is half the peak");
        Assert.AreEqual(peak, LearningRateSchedule.At(peak, 0, 5, 0), "no warm-up starts at the peak");
        for (int s = 1; s < 100; s++)
            Assert.IsLessThan(LearningRateSchedule.At(peak, s - 1, 100, 0), LearningRateSchedule.At(peak, s, 100, 0));
        Assert.IsGreaterThan(0.0, LearningRateSchedule.At(peak, 99, 100, 0));
        Assert.AreEqual(peak, LearningRateSchedule.At(peak, 9, 10, 10), "all warm-up ends at the peak");
    }

    [TestMethod]
    public void LearningRateRejectsStepsOutsideTheRun()
    {
        Assert.AreEqual("step", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LearningRateSchedule.At(1, 10, 10, 0)).ParamName);
        Assert.AreEqual("totalSteps", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LearningRateSchedule.At(1, 0, 0, 0)).ParamName);
        Assert.AreEqual("warmupSteps", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LearningRateSchedule.At(1, 0, 10, 11)).ParamName);
    }

    [TestMethod]
    [DataRow(null, false, 0, "cpu")]
    [DataRow(null, false, 2, "cuda:0")]
    [DataRow(1, false, 2, "cuda:1")]
    [DataRow(-1, false, 2, "cpu")]
    [DataRow(0, true, 0, "cpu")]
    [DataRow(3, true, 2, "cpu")]
    public void DeviceFollowsTheMLContext(int? gpuDeviceId, bool fallbackToCpu, int cudaDevices, string expected)
    {
        var device = DeviceSelection.Choose(gpuDeviceId, fallbackToCpu, cudaDevices);
        Assert.AreEqual(expected, device.type == DeviceType.CPU ? "cpu" : $"cuda:{device.index}");
    }

    [TestMethod]
    public void RequestedGpuWithoutFallbackIsAClearError()
    {
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => DeviceSelection.Choose(0, fallbackToCpu: false, cudaDevices: 0));
        StringAssert.Contains(e.Message, "GpuDeviceId is 0");
        StringAssert.Contains(e.Message, "FallbackToCpu");
        e = Assert.ThrowsExactly<InvalidOperationException>(() => DeviceSelection.Choose(2, fallbackToCpu: false, cudaDevices: 2));
        StringAssert.Contains(e.Message, "only 2 CUDA device");

        // Through the trainer: a device id no machine has, no fallback.
        var ml = new MLContext(seed: 1) { GpuDeviceId = 99, FallbackToCpu = false };
        var data = TrainerTestData.SyntheticKeyed(ml, 9, seed: 1);
        e = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 1)).Fit(data));
        StringAssert.Contains(e.Message, "GpuDeviceId is 99");
    }

    [TestMethod]
    public void AugmentationWithoutPaddingOnlyFlips()
    {
        using var images = torch.arange(2 * 3 * 4 * 5, ScalarType.Float32).view(2, 3, 4, 5).repeat(20, 1, 1, 1); // 40 images
        using var generator = new Generator(5);
        using var output = Augmentation.Apply(images, generator, padding: 0);
        CollectionAssert.AreEqual(images.shape, output.shape);
        int flipped = 0;
        for (int i = 0; i < 40; i++)
        {
            using var a = images[i];
            using var b = output[i];
            using var f = a.flip(2);
            bool same = a.eq(b).all().item<bool>(), mirror = f.eq(b).all().item<bool>();
            Assert.IsTrue(same || mirror, $"image {i} is neither itself nor its mirror image");
            flipped += mirror ? 1 : 0;
        }
        Assert.IsTrue(flipped is > 5 and < 35, $"about half the images should be flipped; {flipped} of 40 were");
    }

    [TestMethod]
    public void AugmentationCropsAreShiftsOfThePaddedImage()
    {
        using var images = torch.ones(64, 1, 8, 8);
        using var generator = new Generator(9);
        using var output = Augmentation.Apply(images, generator, padding: 4);
        var distinct = new HashSet<string>();
        for (int i = 0; i < 64; i++)
        {
            using var image = output[i, 0];
            // A shifted window over a zero-padded block of ones: the ones form one rectangle touching two opposite corners' sides.
            using var rows = image.sum(1L, keepdim: false);
            using var columns = image.sum(0L, keepdim: false);
            var r = rows.data<float>().ToArray();
            var c = columns.data<float>().ToArray();
            int onesRows = r.Count(v => v > 0), onesColumns = c.Count(v => v > 0);
            Assert.AreEqual(onesRows * onesColumns, (int)image.sum().item<float>(), $"image {i}: the ones form a rectangle");
            Assert.IsTrue(onesRows >= 4 && onesColumns >= 4, $"image {i}: a shift is at most 4 pixels");
            distinct.Add($"{string.Join(",", r)}|{string.Join(",", c)}");
        }
        Assert.IsGreaterThan(10, distinct.Count, "crops should vary");

        // Same seed, same crops.
        using var g1 = new Generator(3);
        using var g2 = new Generator(3);
        using var a = Augmentation.Apply(images, g1);
        using var b = Augmentation.Apply(images, g2);
        Assert.IsTrue(a.eq(b).all().item<bool>());
    }

    [TestMethod]
    public void GrayPixelsConvertExactlyAndColourUsesLuminance()
    {
        var rgba = new byte[] { 10, 10, 10, 255, 200, 100, 50, 255 }; // one gray pixel, one colour pixel
        using var image = MLImage.CreateFromPixels(2, 1, MLPixelFormat.Rgba32, rgba);
        var gray = new float[2];
        Assert.IsFalse(ImagePixelReader.ToPlanes(image, 1, gray));
        Assert.AreEqual(10f, gray[0]);
        Assert.AreEqual(MathF.Round(0.299f * 200 + 0.587f * 100 + 0.114f * 50), gray[1]);
        var colour = new float[6];
        ImagePixelReader.ToPlanes(image, 3, colour);
        CollectionAssert.AreEqual(new float[] { 10, 200, 10, 100, 10, 50 }, colour);

        using var bgra = MLImage.CreateFromPixels(1, 1, MLPixelFormat.Bgra32, [50, 100, 200, 255]);
        var bgr = new float[3];
        ImagePixelReader.ToPlanes(bgra, 3, bgr);
        CollectionAssert.AreEqual(new float[] { 200, 100, 50 }, bgr, "planes are red, green, blue whatever the pixel format");
    }

    [TestMethod]
    public void PixelVectorsAreResizedToTheRequestedInputSize()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainerTestData.SyntheticKeyed(ml, 60, seed: 1);
        var options = TrainerTestData.FastOptions(epochs: 1);
        options.ImageWidth = 16;
        options.ImageHeight = 20;
        using var model = ml.Pilot.ImageClassification(options).Fit(data);
        Assert.AreEqual(new ImageShape(1, 20, 16), model.InputShape);
        var scores = model.Transform(data).GetColumn<float[]>("Score").ToArray();
        Assert.IsTrue(scores.All(s => s.Length == 3 && Math.Abs(s.Sum() - 1) < 1e-4));
    }

    [TestMethod]
    public void NormalisationStatisticsComeFromTheTrainingData()
    {
        var ml = new MLContext(seed: 1);
        var rows = TrainerTestData.Synthetic(60, seed: 1);
        var data = TrainerTestData.SyntheticKeyed(ml, 60, seed: 1);
        using var model = ml.Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 1)).Fit(data);
        var pixels = rows.SelectMany(r => r.Image).Select(v => (double)v).ToArray();
        double mean = pixels.Average(), std = Math.Sqrt(pixels.Select(v => (v - mean) * (v - mean)).Average());
        Assert.AreEqual(mean, model.Model.Normalization.Mean.Single(), 1e-3);
        Assert.AreEqual(std, model.Model.Normalization.Std.Single(), 1e-3);
    }

    [TestMethod]
    public void TrainsOnCudaWhenAGpuIsPresent()
    {
        if (!torch.cuda.is_available())
            Assert.Inconclusive("CUDA is not available here (no GPU, or the CPU build of libtorch: build with -p:PilotCuda=true).");
        var ml = new MLContext(seed: 1);
        var data = TrainerTestData.SyntheticKeyed(ml, 300, seed: 1);
        using var model = ml.Pilot.ImageClassification(TrainerTestData.FastOptions(epochs: 3)).Fit(data);
        Assert.AreEqual(DeviceType.CUDA, model.Model.Device.type);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(TrainerTestData.SyntheticKeyed(ml, 90, seed: 2)));
        Assert.IsGreaterThan(0.9, metrics.MicroAccuracy);
    }
}

using System.Collections.Concurrent;
using Microsoft.ML;
using Pilot.Cli.Tests.Codegen;

namespace Pilot.Cli.Tests.Samples;

/// <summary>
/// The two server patterns of docs/usage.md, "Serving" (the classes below are the ones printed there): predictions made
/// from many threads at once equal those of one engine used sequentially.
/// </summary>
[TestClass]
public sealed class ServingPatternTests
{
    private const int Threads = 8;

    [TestMethod]
    public void ThreadLocalEngines_FromManyThreads_PredictAsOneEngineSequentially()
    {
        using var classifier = new ThreadLocalClassifier<ImageInput, ImageOutput>(CodegenFixtures.FolderModel);
        AssertConcurrentEqualsSequential(classifier.Predict);
    }

    [TestMethod]
    public void PooledEngines_FromManyThreads_PredictAsOneEngineSequentially()
    {
        using var classifier = new PooledClassifier<ImageInput, ImageOutput>(CodegenFixtures.FolderModel);
        AssertConcurrentEqualsSequential(classifier.Predict);
    }

    private static void AssertConcurrentEqualsSequential(Func<ImageInput, ImageOutput> predict)
    {
        var images = Directory.EnumerateFiles(CodegenFixtures.ImageFolder, "*.png", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
        var ml = new MLContext();
        var model = ml.Model.Load(CodegenFixtures.FolderModel, out _);
        ImageOutput[] expected;
        using (var engine = ml.Model.CreatePredictionEngine<ImageInput, ImageOutput>(model))
            expected = images.Select(image => Copy(engine.Predict(new ImageInput { Image = image }))).ToArray();
        (model as IDisposable)?.Dispose();

        // Every thread scores every image, starting at a different one, so that calls overlap on different rows.
        var results = new ConcurrentBag<(int Image, ImageOutput Output)>();
        var errors = new ConcurrentBag<Exception>();
        using var start = new Barrier(Threads);
        var workers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            try
            {
                for (int k = 0; k < images.Length; k++)
                {
                    int i = (k + t * images.Length / Threads) % images.Length;
                    results.Add((i, predict(new ImageInput { Image = images[i] })));
                }
            }
            catch (Exception e)
            {
                errors.Add(e); // an exception escaping a thread would end the test host
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        if (!errors.IsEmpty)
            throw new AggregateException("Predictions from several threads failed.", errors);

        Assert.AreEqual(Threads * images.Length, results.Count);
        foreach (var (i, output) in results)
        {
            Assert.AreEqual(expected[i].PredictedLabel, output.PredictedLabel, $"image {i}");
            CollectionAssert.AreEqual(expected[i].Score, output.Score, $"scores of image {i}");
        }
    }

    private static ImageOutput Copy(ImageOutput o) => new() { PredictedLabel = o.PredictedLabel, Score = (float[])o.Score.Clone() };

    public sealed class ImageInput
    {
        public string Label { get; set; } = "";
        public byte[] Image { get; set; } = [];
    }

    public sealed class ImageOutput
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }
}

// ---- As in docs/usage.md, "Serving" ----

/// <summary>Scores images from any number of threads: one model, one PredictionEngine per thread.</summary>
public sealed class ThreadLocalClassifier<TInput, TOutput> : IDisposable
    where TInput : class
    where TOutput : class, new()
{
    private readonly ITransformer _model;
    private readonly ThreadLocal<PredictionEngine<TInput, TOutput>> _engine;

    public ThreadLocalClassifier(string modelPath)
    {
        var mlContext = new MLContext();
        _model = mlContext.Model.Load(modelPath, out _);
        _engine = new(() => mlContext.Model.CreatePredictionEngine<TInput, TOutput>(_model), trackAllValues: true);
    }

    public TOutput Predict(TInput input) => _engine.Value!.Predict(input);

    public void Dispose()
    {
        foreach (var engine in _engine.Values)
            engine.Dispose();
        _engine.Dispose();
        (_model as IDisposable)?.Dispose(); // the network's native memory
    }
}

/// <summary>Scores from any thread with at most as many engines as calls that ever ran at the same time.</summary>
public sealed class PooledClassifier<TInput, TOutput> : IDisposable
    where TInput : class
    where TOutput : class, new()
{
    private readonly MLContext _mlContext = new();
    private readonly ITransformer _model;
    private readonly ConcurrentBag<PredictionEngine<TInput, TOutput>> _engines = new();

    public PooledClassifier(string modelPath) => _model = _mlContext.Model.Load(modelPath, out _);

    public TOutput Predict(TInput input)
    {
        if (!_engines.TryTake(out var engine))
            engine = _mlContext.Model.CreatePredictionEngine<TInput, TOutput>(_model);
        try
        {
            return engine.Predict(input);
        }
        finally
        {
            _engines.Add(engine); // back to the pool for the next call
        }
    }

    public void Dispose()
    {
        while (_engines.TryTake(out var engine))
            engine.Dispose();
        (_model as IDisposable)?.Dispose();
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.ML.Runtime;
using Pilot.MLNet.Models;
using Pilot.TorchSharp;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.MLNet.Training;

/// <summary>What a training run produces.</summary>
/// <param name="Network">The trained network, in evaluation mode on the training device; the caller owns it.</param>
/// <param name="History">One report per completed epoch.</param>
/// <param name="Policy">PILOT's learned policy at the end of training; <see langword="null"/> for other optimizers.</param>
internal sealed record TrainingResult(nn.Module<Tensor, Tensor> Network, IReadOnlyList<PilotEpochReport> History, PilotPolicy? Policy);

/// <summary>
/// The training loop: mini-batches drawn from in-memory tensors on the training device, shuffled each epoch by a generator
/// seeded from the plan; warm-up + cosine learning rate per step; cross-entropy; metrics summed on the device and read once
/// per epoch; validation over the whole validation set; early stopping on validation loss; checkpoints after every epoch.
/// </summary>
internal static class TrainingLoop
{
    /// <summary>Odd constant mixed into the seed of the shuffling generator so its stream differs from the default generator's.</summary>
    private const ulong ShuffleSeedMix = 0x9E3779B97F4A7C15UL;

    public static TrainingResult Run(TrainingPlan plan, InMemoryImageSet train, InMemoryImageSet? validation, IChannel channel)
    {
        var o = plan.Options;
        var device = plan.Device;
        int n = train.Count, batchSize = o.BatchSize;
        int stepsPerEpoch = (n + batchSize - 1) / batchSize;
        long totalSteps = (long)o.Epochs * stepsPerEpoch, warmupSteps = (long)o.WarmupEpochs * stepsPerEpoch;

        // Weight initialisation and dropout draw from the default generator: a private stream of it, seeded.
        var random = new DefaultGeneratorSession(plan.Seed);
        if (device.type == DeviceType.CUDA)
            torch.cuda.manual_seed_all(plan.Seed);
        var network = random.Use(() => Backbones.Create(o.Architecture, train.Shape, plan.ClassCount));
        bool success = false;
        try
        {
            network.to(device);
            using var optimizer = OptimizerFactory.Create(plan, network.parameters());
            using var generator = new Generator(unchecked((ulong)plan.Seed ^ ShuffleSeedMix));
            using var images = train.Images.to(device);
            using var labels = train.Labels.to(device);
            using var mean = torch.tensor(train.Statistics.Mean, [1, train.Shape.Channels, 1, 1]).to(device);
            using var std = torch.tensor(train.Statistics.Std, [1, train.Shape.Channels, 1, 1]).to(device);
            using var validationImages = validation?.Images.to(device);
            using var validationLabels = validation?.Labels.to(device);

            var history = new List<PilotEpochReport>();
            double bestLoss = double.PositiveInfinity;
            int sinceBest = 0;
            byte[] bestWeights = [];
            bool finished = false;

            var fingerprint = o.CheckpointDirectory is null ? null : Fingerprint(plan, train, validation);
            if (o.CheckpointDirectory is { } directory && Checkpoint.TryRead(directory, fingerprint!, message => channel.Warning(message)) is { } checkpoint)
            {
                LoadWeights(network, checkpoint.Weights);
                using (var stream = new MemoryStream(checkpoint.OptimizerState))
                using (var reader = new BinaryReader(stream))
                    optimizer.load_state_dict(reader);
                using (var state = torch.tensor(checkpoint.GeneratorState))
                    generator.set_state(state);
                random.Restore(checkpoint.GlobalGeneratorState);
                history.AddRange(checkpoint.History);
                bestLoss = checkpoint.BestValidationLoss;
                sinceBest = checkpoint.EpochsSinceBest;
                bestWeights = checkpoint.BestWeights;
                finished = checkpoint.Finished;
                channel.Info($"Resuming from the checkpoint in '{directory}' after epoch {checkpoint.CompletedEpochs} of {o.Epochs}{(finished ? " (finished)" : "")}.");
            }

            for (int epoch = history.Count; epoch < o.Epochs && !finished; epoch++)
            {
                var clock = Stopwatch.StartNew();
                network.train();
                double lastLearningRate = 0;
                double trainLoss, trainAccuracy;
                using (var lossSum = torch.zeros(1, ScalarType.Float64, device))
                using (var correct = torch.zeros(1, ScalarType.Int64, device))
                using (var order = torch.randperm(n, generator: generator).to(device))
                {
                    for (int batch = 0; batch < stepsPerEpoch; batch++)
                    {
                        using var scope = NewDisposeScope();
                        int start = batch * batchSize, count = Math.Min(batchSize, n - start);
                        var index = order.narrow(0, start, count);
                        var x = images.index_select(0, index).to(ScalarType.Float32);
                        if (o.Augment)
                            x = Augmentation.Apply(x, generator);
                        x = (x - mean) / std;
                        var y = labels.index_select(0, index);

                        lastLearningRate = LearningRateSchedule.At(o.LearningRate, (long)epoch * stepsPerEpoch + batch, totalSteps, warmupSteps);
                        foreach (var group in optimizer.ParamGroups)
                            group.LearningRate = lastLearningRate;
                        optimizer.zero_grad();
                        var logits = random.Use(() => network.forward(x));
                        var loss = nn.functional.cross_entropy(logits, y);
                        loss.backward();
                        optimizer.step();

                        using (no_grad())
                        {
                            lossSum.add_(loss.detach().to(ScalarType.Float64) * count);
                            correct.add_(logits.argmax(1).eq(y).sum());
                        }
                        if (o.BatchProgressCallback is { } onBatch)
                            onBatch(new PilotBatchProgress(epoch + 1, o.Epochs, batch + 1, stepsPerEpoch,
                                lossSum.item<double>() / Math.Min(n, start + count)));
                    }
                    trainLoss = lossSum.item<double>() / n;
                    trainAccuracy = (double)correct.item<long>() / n;
                }
                double trainSeconds = clock.Elapsed.TotalSeconds;

                double? validationLoss = null, validationAccuracy = null;
                if (validationImages is not null)
                {
                    (validationLoss, validationAccuracy) = Evaluate(network, validationImages, validationLabels!, mean, std, batchSize);
                    if (validationLoss < bestLoss)
                    {
                        bestLoss = validationLoss.Value;
                        sinceBest = 0;
                        if (o.EarlyStoppingPatience is not null)
                            bestWeights = SaveWeights(network);
                    }
                    else
                        sinceBest++;
                }
                bool stopEarly = o.EarlyStoppingPatience is { } patience && sinceBest >= patience;
                finished = stopEarly || epoch + 1 == o.Epochs;

                var report = new PilotEpochReport(epoch + 1, o.Epochs, trainLoss, trainAccuracy, validationLoss, validationAccuracy,
                    lastLearningRate, clock.Elapsed.TotalSeconds, n / Math.Max(trainSeconds, 1e-9));
                history.Add(report);
                channel.Info(Describe(report));

                if (o.CheckpointDirectory is { } checkpointDirectory)
                    Checkpoint.Write(checkpointDirectory, fingerprint!, new CheckpointState
                    {
                        CompletedEpochs = epoch + 1,
                        Finished = finished,
                        BestValidationLoss = bestLoss,
                        EpochsSinceBest = sinceBest,
                        History = history,
                        Weights = SaveWeights(network),
                        BestWeights = bestWeights,
                        OptimizerState = SaveOptimizer(optimizer),
                        GeneratorState = StateBytes(generator.get_state()),
                        GlobalGeneratorState = random.State,
                    });
                o.ProgressCallback?.Invoke(report);
                if (stopEarly)
                    channel.Info($"Early stopping after epoch {epoch + 1}: no lower validation loss for {sinceBest} epochs.");
            }

            if (bestWeights.Length > 0)
                LoadWeights(network, bestWeights);
            network.eval();
            success = true;
            return new TrainingResult(network, history, Policy: null);
        }
        finally
        {
            if (!success)
                network.Dispose();
        }
    }

    /// <summary>Mean cross-entropy and accuracy of <paramref name="network"/> over all of <paramref name="images"/> (evaluation mode).</summary>
    internal static (double Loss, double Accuracy) Evaluate(nn.Module<Tensor, Tensor> network, Tensor images, Tensor labels,
        Tensor mean, Tensor std, int batchSize)
    {
        network.eval();
        long n = images.shape[0];
        using var lossSum = torch.zeros(1, ScalarType.Float64, images.device);
        using var correct = torch.zeros(1, ScalarType.Int64, images.device);
        using (no_grad())
        {
            for (long start = 0; start < n; start += batchSize)
            {
                using var scope = NewDisposeScope();
                long count = Math.Min(batchSize, n - start);
                var x = (images.narrow(0, start, count).to(ScalarType.Float32) - mean) / std;
                var y = labels.narrow(0, start, count);
                var logits = network.forward(x);
                lossSum.add_(nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).to(ScalarType.Float64));
                correct.add_(logits.argmax(1).eq(y).sum());
            }
        }
        return (lossSum.item<double>() / n, (double)correct.item<long>() / n);
    }

    private static string Describe(PilotEpochReport r)
    {
        var c = CultureInfo.InvariantCulture;
        string validation = r.ValidationLoss is { } vl
            ? string.Create(c, $"; validation loss {vl:F4}, accuracy {r.ValidationAccuracy:P2}")
            : "";
        return string.Create(c, $"Epoch {r.Epoch}/{r.Epochs}: train loss {r.TrainLoss:F4}, accuracy {r.TrainAccuracy:P2}{validation}; lr {r.LearningRate:G3}; {r.Seconds:F1} s ({r.ImagesPerSecond:F0} images/s).");
    }

    internal static byte[] SaveWeights(nn.Module network)
    {
        using var stream = new MemoryStream();
        network.save(stream);
        return stream.ToArray();
    }

    internal static void LoadWeights(nn.Module network, byte[] weights)
    {
        using var stream = new MemoryStream(weights, writable: false);
        network.load(stream);
    }

    private static byte[] SaveOptimizer(OptimizerHelper optimizer)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            optimizer.save_state_dict(writer);
        return stream.ToArray();
    }

    private static byte[] StateBytes(Tensor state)
    {
        using (state)
            return state.data<byte>().ToArray();
    }

    /// <summary>The set-up a checkpoint must match to be resumed: every option that shapes the trajectory, and the data.</summary>
    private static List<(string, string)> Fingerprint(TrainingPlan plan, InMemoryImageSet train, InMemoryImageSet? validation)
    {
        var o = plan.Options;
        string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        return
        [
            (nameof(o.Architecture), o.Architecture.ToString()),
            (nameof(o.Epochs), o.Epochs.ToString(CultureInfo.InvariantCulture)),
            (nameof(o.BatchSize), o.BatchSize.ToString(CultureInfo.InvariantCulture)),
            (nameof(o.LearningRate), R(o.LearningRate)),
            (nameof(o.WeightDecay), R(o.WeightDecay)),
            (nameof(o.Optimizer), o.Optimizer.ToString()),
            (nameof(o.Beta1), R(o.Beta1)),
            (nameof(o.Beta2), R(o.Beta2)),
            (nameof(o.Gamma), R(o.Gamma)),
            (nameof(o.EtaPhi), R(o.EtaPhi)),
            (nameof(o.PolicyDegree), o.PolicyDegree.ToString(CultureInfo.InvariantCulture)),
            (nameof(o.InitialPolicy), o.InitialPolicy?.ToJson() ?? "none"),
            (nameof(o.FreezePolicy), o.FreezePolicy.ToString()),
            (nameof(o.WarmupEpochs), o.WarmupEpochs.ToString(CultureInfo.InvariantCulture)),
            (nameof(o.Augment), o.Augment.ToString()),
            (nameof(o.EarlyStoppingPatience), o.EarlyStoppingPatience?.ToString(CultureInfo.InvariantCulture) ?? "off"),
            ("Seed", plan.Seed.ToString(CultureInfo.InvariantCulture)),
            ("InputShape", train.Shape.ToString()),
            ("Classes", plan.ClassCount.ToString(CultureInfo.InvariantCulture)),
            ("TrainingData", DataHash(train)),
            ("ValidationData", validation is null ? "none" : DataHash(validation)),
        ];
    }

    /// <summary>Row count and SHA-256 of the pixels and labels.</summary>
    private static string DataHash(InMemoryImageSet set)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        AppendTensor(hash, set.Images);
        AppendTensor(hash, set.Labels);
        return $"{set.Count} images, sha256 {Convert.ToHexStringLower(hash.GetHashAndReset())}";
    }

    private static void AppendTensor(IncrementalHash hash, Tensor tensor)
    {
        using var flat = tensor.contiguous().view(-1);
        long elements = flat.shape[0], perChunk = Math.Max(1, (1L << 26) / flat.ElementSize);
        for (long start = 0; start < elements; start += perChunk)
        {
            using var chunk = flat.narrow(0, start, Math.Min(perChunk, elements - start)).contiguous();
            hash.AppendData(chunk.bytes);
        }
    }
}

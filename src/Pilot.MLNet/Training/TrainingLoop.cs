using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.ML.Runtime;
using Pilot.MLNet.Images;
using Pilot.MLNet.ModelFile;
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
/// <remarks>
/// With <see cref="PilotFineTuning.Head"/> the loop first runs every training and validation image through the frozen
/// backbone once (the feature pass, reported to the batch callback as <see cref="PilotTrainingStage.FeaturePass"/>), keeps the
/// features on the device and trains only the head on them: batches, validation, checkpoints (the head's weights only) and
/// early stopping work on features instead of images. A <see cref="StandardizedLinear"/> head is fitted to the training
/// features after the feature pass, before the first epoch (a resumed run takes it from the checkpoint). <see cref="PilotFineTuning.LastStage"/> is the same machinery with
/// another split: the cached activations are the output of the frozen early stages and the trained part is the last stage
/// with the head (two parameter groups, the last stage's learning rate scaled by
/// <see cref="PilotImageClassificationTrainer.Options.BackboneLearningRateScale"/>). With <see cref="PilotFineTuning.Full"/> on a pretrained network the
/// head and the backbone are two parameter groups (the backbone's learning rate scaled by
/// <see cref="PilotImageClassificationTrainer.Options.BackboneLearningRateScale"/>) and the backbone's batch-norm layers keep
/// their pretrained running statistics.
/// </remarks>
internal static class TrainingLoop
{
    /// <summary>Odd constant mixed into the seed of the shuffling generator so its stream differs from the default generator's.</summary>
    private const ulong ShuffleSeedMix = 0x9E3779B97F4A7C15UL;

    public static TrainingResult Run(TrainingPlan plan, InMemoryImageSet train, InMemoryImageSet? validation, IChannel channel)
    {
        // Weight initialisation and dropout draw from the default generator: a private stream of it, seeded.
        var random = new DefaultGeneratorSession(plan.Seed);
        if (plan.Device.type == DeviceType.CUDA)
            torch.cuda.manual_seed_all(plan.Seed);
        var network = random.Use(() => Backbones.CreateForTraining(plan.Options.Architecture, train.Shape, plan.ClassCount, plan.FineTuning, plan.Options.PretrainedWeightsPath));
        try
        {
            using var run = new TrainingRun(plan, network, random, train, validation, channel);
            return run.Execute();
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The state of one training run; owns the optimizer, the generator and the device copies of the data.</summary>
    private sealed class TrainingRun : IDisposable
    {
        private readonly TrainingPlan _plan;
        private readonly PilotImageClassificationTrainer.Options _o;
        private readonly nn.Module<Tensor, Tensor> _network;
        private readonly nn.Module<Tensor, Tensor> _trained; // the network, or the suffix that trains over cached activations
        private readonly Func<Tensor, Tensor>? _prefix; // the frozen prefix whose outputs are cached (Head, LastStage)
        private readonly IHeadedNetwork? _headed; // set when the network is pretrained (or fine-tuned by its head)
        private readonly bool _cached; // Head or LastStage: train _trained over the cached outputs of _prefix
        private readonly DefaultGeneratorSession _random;
        private readonly IChannel _channel;
        private readonly TrainingOptimizer _optimizer;
        private readonly Generator _generator;
        private readonly Tensor _labels, _mean, _std;
        private readonly Tensor? _validationLabels;
        private Tensor _inputs; // images N × C × H × W; with Head (LastStage), the cached features N × F (activations N × C' × H' × W') after the feature pass
        private Tensor? _validationInputs;
        private readonly InMemoryImageSet _train;
        private readonly List<(string, string)>? _fingerprint;
        private readonly int _count, _stepsPerEpoch;
        private readonly long _totalSteps, _warmupSteps;
        private readonly List<PilotEpochReport> _history = [];
        private double _bestLoss = double.PositiveInfinity;
        private int _sinceBest;
        private byte[] _bestWeights = [];
        private bool _finished;

        public TrainingRun(TrainingPlan plan, nn.Module<Tensor, Tensor> network, DefaultGeneratorSession random,
            InMemoryImageSet train, InMemoryImageSet? validation, IChannel channel)
        {
            _plan = plan;
            _o = plan.Options;
            _network = network;
            _random = random;
            _channel = channel;
            var device = plan.Device;
            network.to(device);
            _cached = HeadedNetwork.IsCached(plan.FineTuning);
            _headed = network as IHeadedNetwork is { } h && (h.IsPretrained || _cached) ? h : null;
            if (_cached && _headed is null)
                throw new InvalidOperationException($"{plan.Options.Architecture} has no separate head to train.");
            (_prefix, _trained) = _cached ? HeadedNetwork.Split(_headed!, plan.FineTuning) : (null, network);
            if (_cached)
                CheckCacheSize(plan, _headed!, train, validation, channel);
            _optimizer = OptimizerFactory.Create(plan, ParameterGroups(plan, network, _headed, _trained));
            _generator = new Generator(unchecked((ulong)plan.Seed ^ ShuffleSeedMix));
            _train = train;
            _inputs = train.Images.to(device);
            _labels = train.Labels.to(device);
            var normalization = Backbones.InputNormalization(_o.Architecture, train.Statistics);
            _mean = torch.tensor(normalization.Mean, [1, train.Shape.Channels, 1, 1]).to(device);
            _std = torch.tensor(normalization.Std, [1, train.Shape.Channels, 1, 1]).to(device);
            _validationInputs = validation?.Images.to(device);
            _validationLabels = validation?.Labels.to(device);
            _count = train.Count;
            _stepsPerEpoch = (_count + _o.BatchSize - 1) / _o.BatchSize;
            _totalSteps = (long)_plan.Epochs * _stepsPerEpoch;
            _warmupSteps = (long)_o.WarmupEpochs * _stepsPerEpoch;
            _fingerprint = _o.CheckpointDirectory is null ? null : Fingerprint(plan, train, validation);
        }

        /// <summary>
        /// The optimizer's parameter groups with their learning-rate factors: the head at 1 and the backbone at
        /// <see cref="PilotImageClassificationTrainer.Options.BackboneLearningRateScale"/> for a pretrained network trained
        /// fully; the head at 1 and the last stage at the same factor for LastStage; the head alone for Head fine-tuning; one
        /// group of every parameter for a network trained from scratch. Parameters outside <paramref name="trained"/> stop
        /// recording gradients.
        /// </summary>
        private static List<(IReadOnlyList<Parameter> Parameters, double Scale)> ParameterGroups(TrainingPlan plan,
            nn.Module<Tensor, Tensor> network, IHeadedNetwork? headed, nn.Module<Tensor, Tensor> trained)
        {
            if (headed is null)
                return [(network.parameters().ToList(), 1.0)];
            var trainedHandles = new HashSet<IntPtr>(trained.parameters().Select(p => p.Handle));
            foreach (var p in network.parameters().Where(p => !trainedHandles.Contains(p.Handle)))
                p.requires_grad = false;
            var head = headed.Head.parameters().ToList();
            var backbone = HeadedNetwork.BackboneParameters(network, headed).Where(p => trainedHandles.Contains(p.Handle)).ToList();
            return backbone.Count == 0 ? [(head, 1.0)] : [(head, 1.0), (backbone, plan.BackboneLearningRateScale)];
        }

        /// <summary>
        /// Refuses a cache of activations (Head, LastStage) larger than <see cref="MaxCacheFraction"/> of the memory the
        /// process may use (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>: the machine's or the container's limit), and
        /// warns above <see cref="PilotImageClassificationDefaults.ActivationCacheWarningBytes"/>: the cache is 4 bytes per
        /// value, <see cref="HeadedNetwork.CachedValuesPerImage"/> values per training and validation image, on the training
        /// device, in place of the decoded images.
        /// </summary>
        private static void CheckCacheSize(TrainingPlan plan, IHeadedNetwork headed, InMemoryImageSet train, InMemoryImageSet? validation,
            IChannel channel) =>
            CheckActivationCache(plan.FineTuning, HeadedNetwork.CachedValuesPerImage(headed, plan.FineTuning, train.Shape.Height, train.Shape.Width),
                train.Count + (validation?.Count ?? 0), train.Shape.Height, train.Shape.Width, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
                message => channel.Warning(message));

        public TrainingResult Execute()
        {
            if (_o.CheckpointDirectory is { } directory && Checkpoint.TryRead(directory, _fingerprint!, message => _channel.Warning(message)) is { } checkpoint)
                Restore(directory, checkpoint);
            else
                _o.Observer?.OnStart(_network, _train, _totalSteps);
            if (_cached && !_finished)
            {
                ComputeFeatures();
                // A standardising head is fitted to the training features once; a resumed run has it from the checkpoint.
                if (_history.Count == 0 && _trained is StandardizedLinear standardized)
                    standardized.Fit(_inputs);
            }

            for (int epoch = _history.Count; epoch < _plan.Epochs && !_finished; epoch++)
            {
                var clock = Stopwatch.StartNew();
                int diagnosticsMark = _optimizer.DiagnosticsMark;
                var (trainLoss, trainAccuracy, learningRate) = TrainEpoch(epoch);
                double trainSeconds = clock.Elapsed.TotalSeconds;

                double? validationLoss = null, validationAccuracy = null;
                if (_validationInputs is not null)
                {
                    (validationLoss, validationAccuracy) = _cached
                        ? Evaluate(_trained, _validationInputs, _validationLabels!, null, null, _o.BatchSize)
                        : Evaluate(_network, _validationInputs, _validationLabels!, _mean, _std, _o.BatchSize);
                    if (validationLoss < _bestLoss)
                    {
                        _bestLoss = validationLoss.Value;
                        _sinceBest = 0;
                        if (_o.EarlyStoppingPatience is not null)
                            _bestWeights = NetworkWeights.Save(_trained);
                    }
                    else
                        _sinceBest++;
                }
                bool stopEarly = _o.EarlyStoppingPatience is { } patience && _sinceBest >= patience;
                _finished = stopEarly || epoch + 1 == _plan.Epochs;

                var (pm, pv, ps, rho) = _optimizer.EpochKnobs(diagnosticsMark);
                var report = new PilotEpochReport(epoch + 1, _plan.Epochs, trainLoss, trainAccuracy, validationLoss, validationAccuracy,
                    learningRate, clock.Elapsed.TotalSeconds, _count / Math.Max(trainSeconds, 1e-9), pm, pv, ps, rho);
                _history.Add(report);
                _channel.Info(Describe(report));
                if (_o.CheckpointDirectory is { } checkpointDirectory)
                    WriteCheckpoint(checkpointDirectory);
                _o.ProgressCallback?.Invoke(report);
                if (stopEarly)
                    _channel.Info($"Early stopping after epoch {epoch + 1}: no lower validation loss for {_sinceBest} epochs.");
            }

            if (_bestWeights.Length > 0)
                NetworkWeights.Load(_trained, _bestWeights, expectedDigest: null, "the best epoch's network");
            _network.eval();
            return new TrainingResult(_network, _history, _optimizer.Pilot?.ExportPolicy());
        }

        /// <summary>One pass over the shuffled training data; returns mean loss, accuracy and the last step's learning rate.</summary>
        private (double Loss, double Accuracy, double LearningRate) TrainEpoch(int epoch)
        {
            _trained.train();
            if (_headed is not null && _plan.FineTuning != PilotFineTuning.Head && !_o.UpdateBatchNormStatistics)
                HeadedNetwork.FreezeBatchNormStatistics(_network, _headed);
            int n = _count, batchSize = _o.BatchSize;
            double learningRate = 0;
            using var lossSum = torch.zeros(1, ScalarType.Float64, _plan.Device);
            using var correct = torch.zeros(1, ScalarType.Int64, _plan.Device);
            using var order = torch.randperm(n, generator: _generator).to(_plan.Device);
            for (int batch = 0; batch < _stepsPerEpoch; batch++)
            {
                using var scope = NewDisposeScope();
                int start = batch * batchSize, count = Math.Min(batchSize, n - start);
                var index = order.narrow(0, start, count);
                var x = _inputs.index_select(0, index).to(ScalarType.Float32);
                if (!_cached)
                {
                    if (_o.Augment)
                        x = Augmentation.Apply(x, _generator);
                    x = (x - _mean) / _std;
                }
                var y = _labels.index_select(0, index);

                learningRate = LearningRateSchedule.At(_o.LearningRate, (long)epoch * _stepsPerEpoch + batch, _totalSteps, _warmupSteps);
                _optimizer.SetLearningRate(learningRate);
                _optimizer.Optimizer.zero_grad();
                var logits = _random.Use(() => _trained.forward(x));
                var loss = nn.functional.cross_entropy(logits, y);
                loss.backward();
                _optimizer.Optimizer.step();
                AfterStep((long)epoch * _stepsPerEpoch + batch, x);
                _o.Observer?.OnStep((long)epoch * _stepsPerEpoch + batch + 1, _network);

                using (no_grad())
                {
                    lossSum.add_(loss.detach().to(ScalarType.Float64) * count);
                    correct.add_(logits.argmax(1).eq(y).sum());
                }
                if (_o.BatchProgressCallback is { } onBatch)
                    onBatch(new PilotBatchProgress(epoch + 1, _plan.Epochs, batch + 1, _stepsPerEpoch, lossSum.item<double>() / (start + count)));
            }
            return (lossSum.item<double>() / n, (double)correct.item<long>() / n, learningRate);
        }

        /// <summary>
        /// Head and LastStage fine-tuning: replaces the training and validation images by the outputs of the frozen prefix
        /// (the backbone's features, or the early stages' activations; evaluation mode, no gradients,
        /// <see cref="PilotImageClassificationDefaults.ScoringBatchSize"/> images at a time), reporting each batch.
        /// </summary>
        private void ComputeFeatures()
        {
            var clock = Stopwatch.StartNew();
            long total = _inputs.shape[0] + (_validationInputs?.shape[0] ?? 0);
            int batchSize = PilotImageClassificationDefaults.ScoringBatchSize;
            int batches = (int)((_inputs.shape[0] + batchSize - 1) / batchSize + ((_validationInputs?.shape[0] ?? 0) + batchSize - 1) / batchSize);
            int done = 0;
            _network.eval();
            Tensor Pass(Tensor images)
            {
                long n = images.shape[0];
                var parts = new List<Tensor>();
                using (no_grad())
                {
                    for (long start = 0; start < n; start += batchSize)
                    {
                        using var scope = NewDisposeScope();
                        var x = (images.narrow(0, start, Math.Min(batchSize, n - start)).to(ScalarType.Float32) - _mean) / _std;
                        parts.Add(_prefix!(x).MoveToOuterDisposeScope());
                        done++;
                        _o.BatchProgressCallback?.Invoke(new PilotBatchProgress(0, _plan.Epochs, done, batches, double.NaN, PilotTrainingStage.FeaturePass));
                    }
                }
                var features = torch.cat(parts, 0);
                foreach (var part in parts)
                    part.Dispose();
                images.Dispose();
                return features;
            }
            _inputs = Pass(_inputs);
            if (_validationInputs is not null)
                _validationInputs = Pass(_validationInputs);
            double seconds = clock.Elapsed.TotalSeconds;
            _channel.Info(string.Create(CultureInfo.InvariantCulture,
                $"Feature pass: {total} images through the frozen {(_plan.FineTuning == PilotFineTuning.Head ? "backbone" : "early stages")} in {seconds:F1} s ({total / Math.Max(seconds, 1e-9):F1} images/s)."));
        }

        /// <summary>The optimizer's work after a step (<see cref="IStepHook"/>), if it has any.</summary>
        private void AfterStep(long step, Tensor x)
        {
            if (_optimizer.Hook?.AfterStep(new TrainingStep(step, () => _random.Use(() => _trained.forward(x)), _generator)) is { } note)
                _channel.Trace(note);
        }

        private void Restore(string directory, CheckpointState checkpoint)
        {
            NetworkWeights.Load(_trained, checkpoint.Weights, expectedDigest: null, "network of the checkpoint's run");
            _optimizer.LoadState(checkpoint.OptimizerState);
            using (var state = torch.tensor(checkpoint.GeneratorState))
                _generator.set_state(state);
            _random.Restore(checkpoint.GlobalGeneratorState);
            _history.AddRange(checkpoint.History);
            _bestLoss = checkpoint.BestValidationLoss;
            _sinceBest = checkpoint.EpochsSinceBest;
            _bestWeights = checkpoint.BestWeights;
            _finished = checkpoint.Finished;
            _channel.Info($"Resuming from the checkpoint in '{directory}' after epoch {checkpoint.CompletedEpochs} of {_plan.Epochs}{(_finished ? " (finished)" : "")}.");
        }

        private void WriteCheckpoint(string directory) => Checkpoint.Write(directory, _fingerprint!, new CheckpointState
        {
            CompletedEpochs = _history.Count,
            Finished = _finished,
            BestValidationLoss = _bestLoss,
            EpochsSinceBest = _sinceBest,
            History = _history,
            Weights = NetworkWeights.Save(_trained),
            BestWeights = _bestWeights,
            OptimizerState = _optimizer.SaveState(),
            GeneratorState = StateBytes(_generator.get_state()),
            GlobalGeneratorState = _random.State,
        });

        public void Dispose()
        {
            _optimizer.Dispose();
            _generator.Dispose();
            _inputs.Dispose();
            _labels.Dispose();
            _mean.Dispose();
            _std.Dispose();
            _validationInputs?.Dispose();
            _validationLabels?.Dispose();
        }
    }

    /// <summary>
    /// The rule of the training run's cache check: refuses a cache of activations of <paramref name="images"/> ×
    /// <paramref name="valuesPerImage"/> float32 values larger than <see cref="MaxCacheFraction"/> of <paramref name="available"/>
    /// bytes, and calls <paramref name="warn"/> above <see cref="PilotImageClassificationDefaults.ActivationCacheWarningBytes"/>.
    /// </summary>
    internal static void CheckActivationCache(PilotFineTuning mode, long valuesPerImage, long images, int height, int width, long available,
        Action<string> warn)
    {
        long bytes = images * valuesPerImage * sizeof(float);
        string what = string.Create(CultureInfo.InvariantCulture,
            $"FineTuning {mode} caches {FormatBytes(bytes)} of activations ({images} images at {height}×{width})");
        if (bytes > available * MaxCacheFraction)
            throw new InvalidOperationException(
                $"{what}: more than half of the {FormatBytes(available)} of memory available to this process. " +
                "Use fewer or smaller images (ImageWidth, ImageHeight), FineTuning Head (768 values per image) or Full (no cache).");
        if (bytes > PilotImageClassificationDefaults.ActivationCacheWarningBytes)
            warn(what + "; it is kept in memory for the whole training run.");
    }

    /// <summary>Largest share of the memory available to the process that a cache of activations may take: one half.</summary>
    private const double MaxCacheFraction = 0.5;

    private static string FormatBytes(long bytes) => bytes >= 1L << 30
        ? (bytes / (double)(1L << 30)).ToString("F1", CultureInfo.InvariantCulture) + " GiB"
        : (bytes / (double)(1L << 20)).ToString("F0", CultureInfo.InvariantCulture) + " MiB";

    /// <summary>
    /// Mean cross-entropy and accuracy of <paramref name="network"/> over all of <paramref name="images"/> (evaluation mode),
    /// normalised by <paramref name="mean"/> and <paramref name="std"/> unless they are <see langword="null"/> (features).
    /// </summary>
    internal static (double Loss, double Accuracy) Evaluate(nn.Module<Tensor, Tensor> network, Tensor images, Tensor labels,
        Tensor? mean, Tensor? std, int batchSize)
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
                var x = images.narrow(0, start, count).to(ScalarType.Float32);
                if (mean is not null && std is not null)
                    x = (x - mean) / std;
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
            (nameof(o.Epochs), plan.Epochs.ToString(CultureInfo.InvariantCulture)),
            (nameof(o.BatchSize), o.BatchSize.ToString(CultureInfo.InvariantCulture)),
            (nameof(o.LearningRate), R(o.LearningRate)),
            (nameof(o.WeightDecay), R(o.WeightDecay)),
            (nameof(o.Optimizer), o.Optimizer.ToString()),
            (nameof(o.Beta1), o.Beta1 is { } b1 ? R(b1) : "default"),
            (nameof(o.Beta2), o.Beta2 is { } b2 ? R(b2) : "default"),
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
            .. FineTuningFingerprint(plan),
        ];
    }

    /// <summary>
    /// The fine-tuning entries of the fingerprint, for pretrained networks only (so that checkpoints of networks trained
    /// from scratch, written before fine-tuning existed, still resume).
    /// </summary>
    private static List<(string, string)> FineTuningFingerprint(TrainingPlan plan)
    {
        var o = plan.Options;
        if (!Backbones.IsPretrained(o.Architecture))
            return [];
        return
        [
            (nameof(o.FineTuning), plan.FineTuning.ToString()),
            (nameof(o.BackboneLearningRateScale), plan.BackboneLearningRateScale.ToString("R", CultureInfo.InvariantCulture)),
            (nameof(o.UpdateBatchNormStatistics), o.UpdateBatchNormStatistics.ToString()),
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

using Pilot.MLNet;
using Pilot.MLNet.Images;
using Pilot.MLNet.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.Cli.Bench;

/// <summary>One recorded point of a trajectory: the weights after <paramref name="Step"/> optimizer steps (0: the initial weights).</summary>
/// <param name="Step">Optimizer steps taken.</param>
/// <param name="Weights">The flat weights (<see cref="FlatWeights"/>), float32 on the CPU.</param>
internal sealed record TrajectoryPoint(long Step, Tensor Weights);

/// <summary>
/// Records a training run's weight trajectory through the trainer's <see cref="ITrainingObserver"/> hook: the initial
/// weights, then about <c>points</c> evenly spaced snapshots (every ⌈steps / points⌉ steps, and always the last step);
/// also keeps the first <c>subsetImages</c> training images, normalised as the loop normalises them, for the loss.
/// </summary>
internal sealed class TrajectoryRecorder : ITrainingObserver, IDisposable
{
    private readonly int _points, _subsetImages;
    private readonly List<TrajectoryPoint> _trajectory = [];
    private long _interval = 1, _totalSteps;

    /// <param name="points">Snapshots after the start, at least 1.</param>
    /// <param name="subsetImages">Training images to keep for the loss, at least 1.</param>
    public TrajectoryRecorder(int points, int subsetImages)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(subsetImages, 1);
        _points = points;
        _subsetImages = subsetImages;
    }

    /// <summary>The recorded points in step order, the initial weights first.</summary>
    public IReadOnlyList<TrajectoryPoint> Trajectory => _trajectory;

    /// <summary>The first training images, normalised (float32, CPU); null before the run starts.</summary>
    public Tensor? SubsetImages { get; private set; }

    /// <summary>Their labels (int64, CPU).</summary>
    public Tensor? SubsetLabels { get; private set; }

    /// <summary>Shape of one image as the network sees it.</summary>
    public ImageShape? Shape { get; private set; }

    public void OnStart(nn.Module<Tensor, Tensor> network, InMemoryImageSet train, long totalSteps)
    {
        if (_subsetImages > train.Count)
            throw new ArgumentOutOfRangeException(nameof(train), $"The loss subset of {_subsetImages} images is larger than the {train.Count} training images.");
        _totalSteps = totalSteps;
        _interval = Math.Max(1, (totalSteps + _points - 1) / _points);
        Shape = train.Shape;
        using (var scope = NewDisposeScope())
        {
            var c = train.Shape.Channels;
            var mean = torch.tensor(train.Statistics.Mean, [1, c, 1, 1]);
            var std = torch.tensor(train.Statistics.Std, [1, c, 1, 1]);
            SubsetImages = ((train.Images.narrow(0, 0, _subsetImages).to(ScalarType.Float32) - mean) / std).DetachFromDisposeScope();
            SubsetLabels = train.Labels.narrow(0, 0, _subsetImages).clone().DetachFromDisposeScope();
        }
        _trajectory.Add(new TrajectoryPoint(0, FlatWeights.Read(network)));
    }

    public void OnStep(long step, nn.Module<Tensor, Tensor> network)
    {
        if (step % _interval == 0 || step == _totalSteps)
            _trajectory.Add(new TrajectoryPoint(step, FlatWeights.Read(network)));
    }

    public void Dispose()
    {
        foreach (var point in _trajectory)
            point.Weights.Dispose();
        _trajectory.Clear();
        SubsetImages?.Dispose();
        SubsetLabels?.Dispose();
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using Spectre.Console;

namespace Pilot.Cli.Reporting;

/// <summary>Running figures of the current epoch after one training batch.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Batch">1-based batch within the epoch.</param>
/// <param name="BatchesPerEpoch">Batches in one epoch.</param>
/// <param name="Loss">Mean training loss over the epoch so far.</param>
/// <param name="Accuracy">Training accuracy over the epoch so far, in [0, 1]; null when the trainer does not report it per batch.</param>
/// <param name="ImagesPerSecond">Training throughput over the epoch so far.</param>
/// <param name="Rho">PILOT's ρ after this batch; null for other optimizers.</param>
/// <param name="PM">PILOT's p_m at this batch; null for other optimizers.</param>
/// <param name="PV">PILOT's p_v at this batch; null for other optimizers.</param>
/// <param name="PS">PILOT's p_s at this batch; null for other optimizers.</param>
internal sealed record BatchProgress(
    int Epoch, int Batch, int BatchesPerEpoch, double Loss, double ImagesPerSecond, double? Accuracy = null,
    double? Rho = null, double? PM = null, double? PV = null, double? PS = null);

/// <summary>Progress of the feature pass of Head and LastStage fine-tuning (every image once through the frozen layers, before epoch 1).</summary>
/// <param name="Batch">Batches done, in [1, <paramref name="Batches"/>].</param>
/// <param name="Batches">Batches of the pass (training and validation images).</param>
/// <param name="ImagesPerSecond">Images per second so far.</param>
internal sealed record FeatureProgress(int Batch, int Batches, double ImagesPerSecond);

/// <summary>Receives training progress; implementations draw it.</summary>
internal interface ITrainingProgress
{
    /// <summary>Called after each batch of the feature pass (Head and LastStage fine-tuning only).</summary>
    void OnFeatureBatch(FeatureProgress features);

    /// <summary>Called after each training batch (when the trainer reports batches).</summary>
    void OnBatch(BatchProgress batch);

    /// <summary>Called after each epoch, validation included.</summary>
    void OnEpoch(EpochRecord epoch);
}

/// <summary>
/// Chooses how training progress is shown: a live Spectre.Console display (bar per epoch with batch progress, loss,
/// accuracy, images/s, ETA and PILOT's ρ, p_m, p_v, p_s) on a terminal, plain lines otherwise.
/// </summary>
internal static class TrainingProgress
{
    /// <summary>Runs <paramref name="work"/> while showing its progress on <paramref name="console"/>.</summary>
    /// <param name="console">Where to draw.</param>
    /// <param name="epochs">Number of epochs the run will have (for the overall bar and ETA).</param>
    /// <param name="work">The training; it reports through the <see cref="ITrainingProgress"/> it is given.</param>
    public static T Run<T>(CliConsole console, int epochs, Func<ITrainingProgress, T> work)
    {
        if (!console.IsTerminal)
            return work(new PlainProgress(console.Out, epochs, PlainProgress.DefaultBatchLineInterval));

        T result = default!;
        new Progress(console.Ansi)
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 24 }, new PercentageColumn(),
                new RemainingTimeColumn(), new FiguresColumn())
            .Start(ctx => result = work(new LiveProgress(ctx, epochs)));
        return result;
    }

    /// <summary>Formats the figures of a running epoch: <c>loss 0.4123  acc 85.10%  1,950 img/s  ρ 0.31  p_m 0.80 …</c>.</summary>
    internal static string Figures(double loss, double? accuracy, double imagesPerSecond, double? rho, double? pm, double? pv, double? ps)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"loss {loss:F4}");
        if (accuracy is not null)
            text.Append(CultureInfo.InvariantCulture, $"  acc {100 * accuracy:F2}%");
        text.Append(CultureInfo.InvariantCulture, $"  {imagesPerSecond:N0} img/s");
        if (rho is not null)
            text.Append(CultureInfo.InvariantCulture, $"  ρ {rho:F3}");
        if (pm is not null && pv is not null && ps is not null)
            text.Append(CultureInfo.InvariantCulture, $"  p_m {pm:F3}  p_v {pv:F3}  p_s {ps:F3}");
        return text.ToString();
    }

    /// <summary>Formats a finished epoch on one line, validation figures included when present.</summary>
    internal static string EpochLine(EpochRecord e, int epochs)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"epoch {e.Epoch}/{epochs}  train ");
        text.Append(Figures(e.TrainLoss, e.TrainAccuracy, e.ImagesPerSecond, e.Rho, e.PM, e.PV, e.PS));
        if (e.ValidationLoss is not null && e.ValidationAccuracy is not null)
            text.Append(CultureInfo.InvariantCulture, $"  |  validation loss {e.ValidationLoss:F4}  acc {100 * e.ValidationAccuracy:F2}%");
        text.Append(CultureInfo.InvariantCulture, $"  |  lr {e.LearningRate:0.###e+0}  {e.Seconds:F1} s");
        return text.ToString();
    }

    /// <summary>Most epoch lines a run prints (plus its first and last epoch): 30.</summary>
    internal const int MaxEpochLines = 30;

    /// <summary>
    /// Whether the finished epoch <paramref name="epoch"/> of <paramref name="epochs"/> gets its own line: every epoch of a
    /// run of at most <see cref="MaxEpochLines"/> epochs; otherwise the first, the last and every ⌈epochs / 30⌉-th (Head's
    /// 100 epochs over cached features would print 100 lines in a few seconds). The history file and the plots keep every
    /// epoch (a long run that stops early may end between two printed epochs).
    /// </summary>
    internal static bool ShowsEpoch(int epoch, int epochs)
        => epochs <= MaxEpochLines || epoch == 1 || epoch >= epochs || epoch % ((epochs + MaxEpochLines - 1) / MaxEpochLines) == 0;

    internal static string Duration(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}

/// <summary>
/// Plain-text progress: one line per epoch (at most about <see cref="TrainingProgress.MaxEpochLines"/> of them), and a batch
/// line at most every <c>batchLineInterval</c>.
/// </summary>
internal sealed class PlainProgress : ITrainingProgress
{
    /// <summary>Least time between two batch lines, so that a log file shows a long epoch is alive without flooding.</summary>
    internal static readonly TimeSpan DefaultBatchLineInterval = TimeSpan.FromSeconds(15);

    private readonly TextWriter _out;
    private readonly int _epochs;
    private readonly TimeSpan _interval;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastLine;

    public PlainProgress(TextWriter output, int epochs, TimeSpan batchLineInterval)
    {
        _out = output;
        _epochs = epochs;
        _interval = batchLineInterval;
    }

    public void OnFeatureBatch(FeatureProgress f)
    {
        var now = _clock.Elapsed;
        if (now - _lastLine < _interval && f.Batch != f.Batches)
            return;
        _lastLine = now;
        _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  features {f.Batch}/{f.Batches} batches  {f.ImagesPerSecond:N1} img/s{(f.Batch == f.Batches ? "  done" : "")}"));
        _out.Flush();
    }

    public void OnBatch(BatchProgress b)
    {
        var now = _clock.Elapsed;
        if (now - _lastLine < _interval || b.Batch == b.BatchesPerEpoch)
            return;
        _lastLine = now;
        double done = ((b.Epoch - 1) + (double)b.Batch / b.BatchesPerEpoch) / _epochs;
        string eta = done > 0 ? TrainingProgress.Duration(now * ((1 - done) / done)) : "?";
        _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  epoch {b.Epoch}/{_epochs}  batch {b.Batch}/{b.BatchesPerEpoch}  ") +
            TrainingProgress.Figures(b.Loss, b.Accuracy, b.ImagesPerSecond, b.Rho, b.PM, b.PV, b.PS) + $"  ETA {eta}");
        _out.Flush();
    }

    public void OnEpoch(EpochRecord e)
    {
        if (!TrainingProgress.ShowsEpoch(e.Epoch, _epochs))
            return;
        _lastLine = _clock.Elapsed;
        _out.WriteLine(TrainingProgress.EpochLine(e, _epochs));
        _out.Flush();
    }
}

/// <summary>Live progress: an overall bar (ETA of the run) and one bar per epoch with batch progress and figures.</summary>
internal sealed class LiveProgress : ITrainingProgress
{
    private readonly ProgressContext _ctx;
    private readonly int _epochs;
    private readonly ProgressTask _total;
    private ProgressTask? _current;
    private ProgressTask? _features;
    private int _currentEpoch;

    public LiveProgress(ProgressContext ctx, int epochs)
    {
        _ctx = ctx;
        _epochs = epochs;
        _total = ctx.AddTask("all epochs", maxValue: epochs);
    }

    public void OnFeatureBatch(FeatureProgress f)
    {
        _features ??= _ctx.AddTask("features (frozen layers)", maxValue: f.Batches);
        _features.Value = f.Batch;
        _features.Tag = string.Create(CultureInfo.InvariantCulture, $"{f.ImagesPerSecond:N1} img/s");
        if (f.Batch == f.Batches)
            _features.StopTask();
    }

    public void OnBatch(BatchProgress b)
    {
        var task = EpochTask(b.Epoch, b.BatchesPerEpoch);
        task.Value = b.Batch;
        task.Tag = TrainingProgress.Figures(b.Loss, b.Accuracy, b.ImagesPerSecond, b.Rho, b.PM, b.PV, b.PS);
        _total.Value = b.Epoch - 1 + (double)b.Batch / b.BatchesPerEpoch;
    }

    public void OnEpoch(EpochRecord e)
    {
        var task = EpochTask(e.Epoch, 1);
        task.Value = task.MaxValue;
        task.Tag = TrainingProgress.EpochLine(e, _epochs)[$"epoch {e.Epoch}/{_epochs}  ".Length..];
        task.StopTask();
        _total.Value = e.Epoch;
        if (e.Epoch >= _epochs)
            _total.StopTask();
    }

    private ProgressTask EpochTask(int epoch, int batches)
    {
        if (_current is null || _currentEpoch != epoch)
        {
            // An epoch that does not keep its line (TrainingProgress.ShowsEpoch) hands its bar to the next epoch.
            if (_current is not null && !TrainingProgress.ShowsEpoch(_currentEpoch, _epochs))
            {
                _current.Description = $"epoch {epoch}/{_epochs}";
                _current.MaxValue = batches;
                _current.Value = 0;
            }
            else
            {
                _current?.StopTask();
                _current = _ctx.AddTask($"epoch {epoch}/{_epochs}", maxValue: batches);
            }
            _currentEpoch = epoch;
        }
        return _current;
    }
}

/// <summary>A progress column showing the figures kept in <see cref="ProgressTask.Tag"/> (plain text, wrapped when narrow).</summary>
internal sealed class FiguresColumn : ProgressColumn
{
    protected override bool NoWrap => false;

    public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        => new Text(task.Tag as string ?? "");
}

using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Pilot.Cli.Reporting;
using Pilot.MLNet;

namespace Pilot.Cli.Bench;

/// <summary>One run of the paper protocol to do: what identifies it in the results file.</summary>
/// <param name="Model">Network.</param>
/// <param name="Optimizer">Optimizer.</param>
/// <param name="Seed">Seed.</param>
/// <param name="Epochs">Epochs.</param>
/// <param name="Device">Device kind the run uses: <c>cpu</c> or <c>cuda</c>.</param>
/// <param name="Policy">
/// Null for a fresh PILOT (or another optimizer); <c>frozen:&lt;source&gt;</c> or <c>init:&lt;source&gt;</c> when PILOT starts
/// from an exported policy, frozen or not.
/// </param>
internal sealed record PaperRunSpec(PilotArchitecture Model, PilotOptimizerKind Optimizer, int Seed, int Epochs, string Device, string? Policy)
{
    /// <summary>Whether <paramref name="run"/> is this run (same model, optimizer, seed, epochs, device kind and policy).</summary>
    public bool Matches(PaperRun run)
        => run.Model == Model && run.Optimizer == Optimizer && run.Seed == Seed && run.Epochs == Epochs
           && string.Equals(run.Device, Device, StringComparison.OrdinalIgnoreCase) && run.Policy == Policy;

    /// <inheritdoc/>
    public override string ToString()
        => $"{Model} {Optimizer} seed {Seed}, {Epochs} epoch{(Epochs == 1 ? "" : "s")}, {Device}{(Policy is null ? "" : ", policy " + Policy)}";
}

/// <summary>One finished run as stored in the results file (accuracy as a fraction in [0, 1]).</summary>
internal sealed record PaperRun
{
    public required PilotArchitecture Model { get; init; }
    public required PilotOptimizerKind Optimizer { get; init; }
    public required int Seed { get; init; }
    public required int Epochs { get; init; }

    /// <summary><c>cpu</c> or <c>cuda</c>.</summary>
    public required string Device { get; init; }

    /// <summary>Numeric precision of training: <c>fp32</c>, or <c>bf16</c> where the trainer used it.</summary>
    public required string Precision { get; init; }

    public required double TestAccuracy { get; init; }
    public required double MacroF1 { get; init; }
    public required double TestLoss { get; init; }
    public required double SecondsPerEpoch { get; init; }

    /// <summary><c>frozen:&lt;source&gt;</c> / <c>init:&lt;source&gt;</c> for PILOT started from an exported policy; absent otherwise.</summary>
    public string? Policy { get; init; }

    /// <summary>
    /// PILOT only: the policy at the end of training, in <see cref="Pilot.TorchSharp.PilotPolicy"/>'s JSON form
    /// (<c>{"format":"pilot-policy","version":1,"degree":d,"phi":[…]}</c>), so that policy transfer can start from it;
    /// absent for other optimizers and in records written before it was kept.
    /// </summary>
    public JsonObject? LearnedPolicy { get; init; }

    public required IReadOnlyList<PaperEpoch> History { get; init; }

    /// <summary>Commit, threads, OpenMP wait policy and data folder of the run; absent in records written before it was kept.</summary>
    public BenchEnvironment? Environment { get; init; }

    /// <summary>A file name for this run's learned policy: <c>SmallCnn-Pilot-seed0-cpu.json</c> (with <c>-frozen</c>/<c>-init</c> for transfer runs).</summary>
    public string PolicyFileName()
        => $"{Model}-{Optimizer}-seed{Seed}-{Device}{(Policy is null ? "" : "-" + Policy.Split(':')[0])}.json";
}

/// <summary>One epoch of a paper run: the test split is the per-epoch validation set.</summary>
internal sealed record PaperEpoch(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    double? TestLoss,
    double? TestAccuracy,
    double LearningRate,
    double Seconds,
    double? Rho = null,
    [property: JsonPropertyName("p_m")] double? PM = null,
    [property: JsonPropertyName("p_v")] double? PV = null,
    [property: JsonPropertyName("p_s")] double? PS = null)
{
    /// <summary>The paper-record view of an epoch whose validation rows were the test split.</summary>
    public static PaperEpoch From(EpochRecord e)
        => new(e.Epoch, e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate, e.Seconds, e.Rho, e.PM, e.PV, e.PS);
}

/// <summary>
/// The accumulating results file <c>{"runs": [...]}</c>. Each finished run is appended by rewriting the file
/// atomically (a temporary file in the same folder, then a rename), so an interrupted benchmark never leaves a
/// half-written file and a re-run only does what is missing.
/// </summary>
internal sealed class PaperResultsFile
{
    private sealed record Document(List<PaperRun> Runs);

    /// <summary>Opens <paramref name="path"/>; the file need not exist yet.</summary>
    public PaperResultsFile(string path) => Path = System.IO.Path.GetFullPath(path);

    /// <summary>Full path of the file.</summary>
    public string Path { get; }

    /// <summary>Reads every run in the file; none when it does not exist.</summary>
    /// <exception cref="CliInputException">The file exists but is not a results file (the message names the file).</exception>
    public IReadOnlyList<PaperRun> Read()
    {
        if (!File.Exists(Path))
            return [];
        try
        {
            var doc = JsonSerializer.Deserialize<Document>(File.ReadAllText(Path), Json.Options);
            return doc?.Runs ?? throw new JsonException("the top-level object has no \"runs\" array");
        }
        catch (JsonException e)
        {
            throw new CliInputException(
                $"--out: '{Path}' is not a benchmark results file ({{\"runs\": [...]}}): {e.Message} Fix or move it, or pass another --out.", e);
        }
    }

    /// <summary>Adds <paramref name="run"/> to the runs now in the file and replaces the file atomically.</summary>
    public void Append(PaperRun run)
    {
        var runs = Read().ToList();
        runs.Add(run);
        string folder = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(folder);
        string temp = System.IO.Path.Combine(folder, $".{System.IO.Path.GetFileName(Path)}.{Environment.ProcessId}.tmp");
        File.WriteAllText(temp, JsonSerializer.Serialize(new Document(runs), Json.Options) + "\n");
        File.Move(temp, Path, overwrite: true);
    }

    /// <summary>Folder next to the results file that holds the learned policies: <c>fashion-mnist.json</c> → <c>fashion-mnist.policies</c>.</summary>
    public string PolicyFolder
        => System.IO.Path.Combine(System.IO.Path.GetDirectoryName(Path)!, System.IO.Path.GetFileNameWithoutExtension(Path) + ".policies");

    /// <summary>
    /// Writes <paramref name="run"/>'s learned policy to <see cref="PolicyFolder"/> as a file that <c>--policy</c> accepts;
    /// returns its path, or null when the run kept no policy (not PILOT).
    /// </summary>
    public string? WritePolicy(PaperRun run)
    {
        if (run.LearnedPolicy is null)
            return null;
        Directory.CreateDirectory(PolicyFolder);
        string file = System.IO.Path.Combine(PolicyFolder, run.PolicyFileName());
        File.WriteAllText(file, run.LearnedPolicy.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return file;
    }
}

using System.Text;

namespace Pilot.MLNet.Training;

/// <summary>What a checkpoint holds: everything needed to continue a run after its last completed epoch.</summary>
internal sealed class CheckpointState
{
    /// <summary>Epochs completed.</summary>
    public required int CompletedEpochs { get; init; }

    /// <summary>True when the run ended (all epochs, or early stopping).</summary>
    public required bool Finished { get; init; }

    /// <summary>Early stopping: lowest validation loss so far (∞ before the first).</summary>
    public required double BestValidationLoss { get; init; }

    /// <summary>Early stopping: epochs since the best one.</summary>
    public required int EpochsSinceBest { get; init; }

    /// <summary>Reports of the completed epochs.</summary>
    public required IReadOnlyList<PilotEpochReport> History { get; init; }

    /// <summary>Network weights and buffers (TorchSharp <c>Module.save</c> format).</summary>
    public required byte[] Weights { get; init; }

    /// <summary>Weights of the best epoch (early stopping), or empty.</summary>
    public required byte[] BestWeights { get; init; }

    /// <summary>Optimizer state (TorchSharp <c>save_state_dict</c> format).</summary>
    public required byte[] OptimizerState { get; init; }

    /// <summary>State of the shuffling/augmentation generator.</summary>
    public required byte[] GeneratorState { get; init; }

    /// <summary>State of TorchSharp's default CPU generator (weight initialisation, dropout on the CPU).</summary>
    public required byte[] GlobalGeneratorState { get; init; }
}

/// <summary>
/// The per-epoch checkpoint file <c>pilot-checkpoint.bin</c> of <see cref="PilotImageClassificationTrainer.Options.CheckpointDirectory"/>.
/// Written to a temporary file and renamed over the previous one, so a crash leaves the previous checkpoint intact. A
/// fingerprint of the training set-up (options that shape the run, input shape, classes, a hash of the data) guards resuming.
/// </summary>
internal static class Checkpoint
{
    public const string FileName = "pilot-checkpoint.bin";
    private const string Magic = "PILOTCKP";
    private const int Version = 1;

    /// <summary>Largest blob accepted when reading (2 GiB − 1: one .NET array).</summary>
    private const long MaxBlob = int.MaxValue;

    // *** Binary format (version 1) ***
    // 8 bytes: "PILOTCKP"; int: version
    // int: fingerprint entries n; n times: string key, string value
    // int: completed epochs; bool: finished; double: best validation loss; int: epochs since best
    // training history (EpochReportFormat)
    // 5 blobs (long length, bytes): weights, best weights, optimizer state, generator state, default generator state

    public static void Write(string directory, IReadOnlyList<(string Key, string Value)> fingerprint, CheckpointState state)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, FileName), temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Encoding.ASCII.GetBytes(Magic));
            writer.Write(Version);
            writer.Write(fingerprint.Count);
            foreach (var (key, value) in fingerprint)
            {
                writer.Write(key);
                writer.Write(value);
            }
            writer.Write(state.CompletedEpochs);
            writer.Write(state.Finished);
            writer.Write(state.BestValidationLoss);
            writer.Write(state.EpochsSinceBest);
            EpochReportFormat.Write(writer, state.History);
            foreach (var blob in new[] { state.Weights, state.BestWeights, state.OptimizerState, state.GeneratorState, state.GlobalGeneratorState })
            {
                writer.Write((long)blob.Length);
                writer.Write(blob);
            }
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads the checkpoint in <paramref name="directory"/>, or returns <see langword="null"/> when there is none.</summary>
    /// <exception cref="InvalidOperationException">The checkpoint was written by a different set-up (the message names the first difference).</exception>
    /// <exception cref="InvalidDataException">The file is truncated, corrupt or from a newer version.</exception>
    public static CheckpointState? TryRead(string directory, IReadOnlyList<(string Key, string Value)> fingerprint)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            return null;
        try
        {
            using var stream = File.OpenRead(path);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            if (Encoding.ASCII.GetString(reader.ReadBytes(Magic.Length)) != Magic)
                throw new InvalidDataException($"'{path}' is not a Pilot.MLNet checkpoint.");
            int version = reader.ReadInt32();
            if (version != Version)
                throw new InvalidDataException($"Checkpoint '{path}' has format version {version}; this version of Pilot.MLNet reads version {Version}.");
            int entries = reader.ReadInt32();
            if (entries < 0 || entries > 1000)
                throw new InvalidDataException($"Checkpoint '{path}' is corrupt: {entries} fingerprint entries.");
            var saved = new Dictionary<string, string>();
            for (int i = 0; i < entries; i++)
                saved[reader.ReadString()] = reader.ReadString();
            foreach (var (key, value) in fingerprint)
                if (!saved.TryGetValue(key, out var old) || old != value)
                    throw new InvalidOperationException(
                        $"The checkpoint in '{directory}' belongs to a different training set-up: {key} was {old ?? "(absent)"}, now {value}. " +
                        "Use another CheckpointDirectory, or delete the checkpoint to start over.");
            int completed = reader.ReadInt32();
            bool finished = reader.ReadBoolean();
            double best = reader.ReadDouble();
            int sinceBest = reader.ReadInt32();
            var history = EpochReportFormat.Read(reader);
            if (completed < 0 || completed != history.Count)
                throw new InvalidDataException($"Checkpoint '{path}' is corrupt: {completed} completed epochs but {history.Count} reports.");
            var blobs = new byte[5][];
            for (int i = 0; i < blobs.Length; i++)
            {
                long length = reader.ReadInt64();
                if (length < 0 || length > MaxBlob || length > stream.Length - stream.Position)
                    throw new InvalidDataException($"Checkpoint '{path}' is truncated or corrupt (blob {i} claims {length} bytes).");
                blobs[i] = reader.ReadBytes((int)length);
            }
            return new CheckpointState
            {
                CompletedEpochs = completed, Finished = finished, BestValidationLoss = best, EpochsSinceBest = sinceBest,
                History = history, Weights = blobs[0], BestWeights = blobs[1], OptimizerState = blobs[2],
                GeneratorState = blobs[3], GlobalGeneratorState = blobs[4],
            };
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"Checkpoint '{path}' is truncated.", e);
        }
    }
}

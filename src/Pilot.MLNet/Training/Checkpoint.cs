using System.Security.Cryptography;
using System.Text;
using Pilot.MLNet.ModelFile;

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
/// Written to a temporary file, flushed to disk and renamed over the previous one, so a crash leaves the previous
/// checkpoint intact; the one before is kept as <c>pilot-checkpoint.prev.bin</c> and used when the newest is unreadable
/// (truncated or damaged: a SHA-256 digest at the end of the file detects damage). A fingerprint of the training set-up
/// (options that shape the run, input shape, classes, a hash of the data) guards resuming.
/// </summary>
internal static class Checkpoint
{
    public const string FileName = "pilot-checkpoint.bin";

    /// <summary>The checkpoint before the newest, kept for when the newest is unreadable.</summary>
    public const string PreviousFileName = "pilot-checkpoint.prev.bin";

    /// <summary>Suffix of the file being written; a leftover one (from a crash while writing) is ignored and overwritten.</summary>
    public const string TemporarySuffix = ".tmp";

    private const string Magic = "PILOTCKP";
    //private const int Version = 1; // Initial
    private const int Version = 2; // SHA-256 digest of the file at its end
    private const int DigestLength = 32;

    /// <summary>Largest blob accepted when reading (2 GiB − 1: one .NET array).</summary>
    private const long MaxBlob = int.MaxValue;

    // *** Binary format (version 2) ***
    // 8 bytes: "PILOTCKP"; int: version
    // int: fingerprint entries n; n times: string key, string value
    // int: completed epochs; bool: finished; double: best validation loss; int: epochs since best
    // training history (EpochReportFormat)
    // 5 blobs (long length, bytes): weights, best weights, optimizer state, generator state, default generator state
    // 32 bytes: SHA-256 of everything before it (since version 2)

    public static void Write(string directory, IReadOnlyList<(string Key, string Value)> fingerprint, CheckpointState state)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, FileName), temporary = path + TemporarySuffix;
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        using (var stream = new HashingStream(file, hash))
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
            file.Write(hash.GetHashAndReset());
            file.Flush(flushToDisk: true);
        }
        // Keep the checkpoint being replaced: if the new one is ever unreadable, resuming falls back to it.
        if (File.Exists(path))
            File.Move(path, Path.Combine(directory, PreviousFileName), overwrite: true);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>
    /// Reads the newest usable checkpoint in <paramref name="directory"/>: <see cref="FileName"/>, or
    /// <see cref="PreviousFileName"/> when that one is missing, truncated or damaged (then <paramref name="warn"/> says so).
    /// Returns <see langword="null"/> when there is none.
    /// </summary>
    /// <exception cref="InvalidOperationException">The checkpoint was written by a different set-up (the message names the first difference).</exception>
    /// <exception cref="InvalidDataException">No checkpoint file is readable (truncated, damaged or from a newer version).</exception>
    public static CheckpointState? TryRead(string directory, IReadOnlyList<(string Key, string Value)> fingerprint, Action<string>? warn = null)
    {
        string newest = Path.Combine(directory, FileName), previous = Path.Combine(directory, PreviousFileName);
        if (!File.Exists(newest))
        {
            if (!File.Exists(previous))
                return null;
            warn?.Invoke($"'{newest}' is missing; resuming from the previous checkpoint '{previous}'.");
            return ReadFile(previous, directory, fingerprint);
        }
        try
        {
            return ReadFile(newest, directory, fingerprint);
        }
        catch (InvalidDataException e) when (File.Exists(previous))
        {
            warn?.Invoke($"{e.Message} Resuming from the previous checkpoint '{previous}' instead.");
            try
            {
                return ReadFile(previous, directory, fingerprint);
            }
            catch (InvalidDataException again)
            {
                throw new InvalidDataException(
                    $"No checkpoint in '{directory}' is readable: {e.Message} {again.Message} Delete the checkpoint files to start over.", again);
            }
        }
    }

    /// <summary>Reads one checkpoint file.</summary>
    /// <exception cref="InvalidOperationException">The checkpoint was written by a different set-up.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, damaged or from a newer version.</exception>
    private static CheckpointState ReadFile(string path, string directory, IReadOnlyList<(string Key, string Value)> fingerprint)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            if (Encoding.ASCII.GetString(reader.ReadBytes(Magic.Length)) != Magic)
                throw new InvalidDataException($"'{path}' is not a Pilot.MLNet checkpoint.");
            int version = reader.ReadInt32();
            if (version < 1 || version > Version)
                throw new InvalidDataException($"Checkpoint '{path}' has format version {version}; this version of Pilot.MLNet reads versions 1 to {Version}.");
            long end = stream.Length;
            if (version >= 2)
            {
                end -= DigestLength;
                if (end < stream.Position)
                    throw new EndOfStreamException();
                CheckDigest(stream, end, path);
                stream.Position = Magic.Length + sizeof(int);
            }
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
                if (length < 0 || length > MaxBlob || length > end - stream.Position)
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

    /// <summary>Compares the SHA-256 of the first <paramref name="end"/> bytes with the digest stored after them.</summary>
    private static void CheckDigest(Stream stream, long end, string path)
    {
        stream.Position = 0;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        for (long left = end; left > 0;)
        {
            int read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (read == 0)
                throw new EndOfStreamException();
            hash.AppendData(buffer, 0, read);
            left -= read;
        }
        var stored = new byte[DigestLength];
        stream.ReadExactly(stored);
        if (!CryptographicOperations.FixedTimeEquals(hash.GetHashAndReset(), stored))
            throw new InvalidDataException($"Checkpoint '{path}' is damaged (truncated or altered): its SHA-256 digest does not match its contents.");
    }

    /// <summary>A write-through stream that also feeds every byte written to a hash.</summary>
    private sealed class HashingStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            inner.Write(buffer);
        }
    }
}

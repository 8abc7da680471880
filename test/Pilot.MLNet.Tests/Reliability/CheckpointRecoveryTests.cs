using System.Text;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using Pilot.MLNet.ModelFile;
using Pilot.MLNet.Training;

namespace Pilot.MLNet.Tests.Reliability;

/// <summary>
/// What a crash can leave in a checkpoint directory, and that resuming copes with it: a leftover temporary file (killed
/// while writing), a truncated or damaged newest checkpoint (then the previous one is used), no newest checkpoint at all
/// (killed between the two renames), or nothing readable (a clear error). Every resumed run ends with the weights of an
/// uninterrupted run, bit for bit. Also: counts and lengths in a crafted checkpoint are checked before allocation.
/// </summary>
[TestClass]
public sealed class CheckpointRecoveryTests
{
    private const int Epochs = 3;
    private static byte[]? _reference;

    /// <summary>Thrown by the progress callback to stop a run after an epoch (after its checkpoint is written).</summary>
    private sealed class Interrupted : Exception;

    private static IDataView Data(MLContext ml) => ReliabilityFixture.PixelData(ml, 90);

    private static PilotImageClassificationTrainer.Options Options(string? directory, int stopAfter = 0)
    {
        var o = TrainerTestData.FastOptions(Epochs);
        o.Augment = true; // every random stream (shuffling, augmentation, dropout) must be restored
        o.CheckpointDirectory = directory;
        if (stopAfter > 0)
            o.ProgressCallback = r => { if (r.Epoch == stopAfter) throw new Interrupted(); };
        return o;
    }

    /// <summary>Trains (to the end, or until interrupted after an epoch); returns the weights and the log's warnings.</summary>
    private static (byte[]? Weights, List<string> Log) Train(string? directory, int stopAfter = 0)
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Kind is ChannelMessageKind.Warning or ChannelMessageKind.Info) lock (log) log.Add(e.Message); };
        try
        {
            using var model = ml.Pilot.ImageClassification(Options(directory, stopAfter)).Fit(Data(ml));
            return (NetworkWeights.Save(model.Model.Network), log);
        }
        catch (Interrupted)
        {
            return (null, log);
        }
    }

    private static byte[] Reference => _reference ??= Train(null).Weights!;

    private static string Newest(string directory) => Path.Combine(directory, Checkpoint.FileName);

    private static string Previous(string directory) => Path.Combine(directory, Checkpoint.PreviousFileName);

    private static string Temporary(string directory) => Newest(directory) + Checkpoint.TemporarySuffix;

    /// <summary>A run interrupted after epoch 2: the newest checkpoint is epoch 2's, the previous one epoch 1's.</summary>
    private static string Interrupt(TestFolder folder)
    {
        string directory = folder.File("checkpoints");
        Assert.IsNull(Train(directory, stopAfter: 2).Weights);
        Assert.IsTrue(File.Exists(Newest(directory)) && File.Exists(Previous(directory)));
        return directory;
    }

    private static void AssertResumedToReference(string directory, string after, string? warning)
    {
        var (weights, log) = Train(directory);
        Assert.IsTrue(log.Any(m => m.Contains($"after epoch {after} of {Epochs}", StringComparison.Ordinal)), $"resumed after epoch {after}: {string.Join(" | ", log)}");
        if (warning is not null)
            Assert.IsTrue(log.Any(m => m.Contains(warning, StringComparison.Ordinal)), $"warning “{warning}”: {string.Join(" | ", log)}");
        Assert.IsTrue(Reference.AsSpan().SequenceEqual(weights), "the resumed weights equal the uninterrupted run's, bit for bit");
    }

    [TestMethod]
    public void ResumingAfterAnInterruptionGivesTheUninterruptedWeights()
    {
        using var folder = new TestFolder();
        AssertResumedToReference(Interrupt(folder), after: "2", warning: null);
    }

    [TestMethod]
    public void LeftoverTemporaryFileAndTruncatedNewestCheckpointFallBackToThePreviousOne()
    {
        using var folder = new TestFolder();
        string directory = Interrupt(folder);
        var newest = File.ReadAllBytes(Newest(directory));
        File.WriteAllBytes(Temporary(directory), newest[..(newest.Length / 3)]); // killed while writing the next one
        File.WriteAllBytes(Newest(directory), newest[..(newest.Length / 2)]);    // and the newest is cut short
        AssertResumedToReference(directory, after: "1", warning: "Resuming from the previous checkpoint");
    }

    [TestMethod]
    public void DamagedNewestCheckpointFallsBackToThePreviousOne()
    {
        using var folder = new TestFolder();
        string directory = Interrupt(folder);
        var bytes = File.ReadAllBytes(Newest(directory));
        bytes[bytes.Length / 2] ^= 0x10; // one bit inside the weights: only the digest notices
        File.WriteAllBytes(Newest(directory), bytes);
        AssertResumedToReference(directory, after: "1", warning: "SHA-256");
    }

    [TestMethod]
    public void MissingNewestCheckpointFallsBackToThePreviousOne()
    {
        // Killed between moving the newest checkpoint aside and moving the new one in: only .prev and .tmp exist.
        using var folder = new TestFolder();
        string directory = Interrupt(folder);
        File.Move(Newest(directory), Temporary(directory));
        AssertResumedToReference(directory, after: "1", warning: "is missing");
    }

    [TestMethod]
    public void LeftoverTemporaryFileAloneStartsOver()
    {
        // Killed while writing the very first checkpoint.
        using var folder = new TestFolder();
        string directory = folder.File("checkpoints");
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Temporary(directory), Encoding.ASCII.GetBytes("PILOTCKP half a checkpoint"));
        var (weights, log) = Train(directory);
        Assert.IsFalse(log.Any(m => m.Contains("Resuming", StringComparison.Ordinal)), string.Join(" | ", log));
        Assert.IsTrue(Reference.AsSpan().SequenceEqual(weights));
        Assert.IsFalse(File.Exists(Temporary(directory)), "the leftover is replaced by the next write");
    }

    [TestMethod]
    public void NoReadableCheckpointIsAClearError()
    {
        using var folder = new TestFolder();
        string directory = Interrupt(folder);
        foreach (var path in new[] { Newest(directory), Previous(directory) })
            File.WriteAllBytes(path, File.ReadAllBytes(path)[..100]);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => Train(directory));
        StringAssert.Contains(e.Message, Newest(directory));
        StringAssert.Contains(e.Message, Previous(directory));
        StringAssert.Contains(e.Message, "Delete the checkpoint files to start over");
    }

    [TestMethod]
    public void CheckpointOfAnotherSetUpIsRefusedByName()
    {
        using var folder = new TestFolder();
        string directory = Interrupt(folder);
        var ml = new MLContext(seed: 1);
        var options = Options(directory);
        options.Seed = 8;
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Pilot.ImageClassification(options).Fit(Data(ml)));
        StringAssert.Contains(e.Message, "Seed was 7, now 8");
        StringAssert.Contains(e.Message, directory);
    }

    [TestMethod]
    public void CheckpointHoldingAnotherOptimizersStateIsRefused()
    {
        // A checkpoint whose set-up says PILOT but whose optimizer state is Lion's (as a mixed-up or hand-edited directory
        // could hold): the optimizer's own reader names both types instead of reading Lion's moments as PILOT's.
        using var folder = new TestFolder();
        string pilotDirectory = folder.File("pilot"), lionDirectory = folder.File("lion"), mixed = folder.File("mixed");
        Assert.IsNull(Train(pilotDirectory, stopAfter: 1).Weights);
        var ml = new MLContext(seed: 1);
        var lion = Options(lionDirectory, stopAfter: 1);
        lion.Optimizer = PilotOptimizerKind.Lion;
        Assert.ThrowsExactly<Interrupted>(() => ml.Pilot.ImageClassification(lion).Fit(Data(ml)));

        var lionState = Checkpoint.TryRead(lionDirectory, [])!;
        Checkpoint.Write(mixed, ReadFingerprint(Newest(pilotDirectory)), lionState);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => Train(mixed));
        StringAssert.Contains(e.Message, "expected PilotOptimizer state, found 'Lion'");
    }

    /// <summary>The fingerprint entries of a checkpoint file (format 2: magic, version, count, key/value strings).</summary>
    private static List<(string, string)> ReadFingerprint(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        reader.ReadBytes(8);
        Assert.AreEqual(2, reader.ReadInt32());
        return Enumerable.Range(0, reader.ReadInt32()).Select(_ => (reader.ReadString(), reader.ReadString())).ToList();
    }

    /// <summary>A version-1 checkpoint (no digest, so every field is read as written) up to the fingerprint.</summary>
    private static void WriteVersion1(string directory, Action<BinaryWriter> rest, int fingerprintEntries = 1)
    {
        Directory.CreateDirectory(directory);
        using var writer = new BinaryWriter(File.Create(Newest(directory)), Encoding.UTF8);
        writer.Write("PILOTCKP"u8);
        writer.Write(1);
        writer.Write(fingerprintEntries);
        if (fingerprintEntries == 1)
        {
            writer.Write("Seed");
            writer.Write("7");
        }
        rest(writer);
    }

    private static readonly (string, string)[] Fingerprint = [("Seed", "7")];

    [TestMethod]
    public void CraftedCheckpointCountsAreCheckedBeforeAllocating()
    {
        using var folder = new TestFolder();
        string directory = folder.File("crafted");

        WriteVersion1(directory, _ => { }, fingerprintEntries: 1_000_000_000);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => Checkpoint.TryRead(directory, Fingerprint));
        StringAssert.Contains(e.Message, "1000000000 fingerprint entries");

        WriteVersion1(directory, w => { w.Write(0); w.Write(false); w.Write(double.PositiveInfinity); w.Write(0); w.Write(int.MaxValue); });
        e = Assert.ThrowsExactly<InvalidDataException>(() => Checkpoint.TryRead(directory, Fingerprint));
        StringAssert.Contains(e.Message, "2147483647 epochs");

        WriteVersion1(directory, w => { w.Write(0); w.Write(false); w.Write(double.PositiveInfinity); w.Write(0); w.Write(0); w.Write(1L << 40); });
        e = Assert.ThrowsExactly<InvalidDataException>(() => Checkpoint.TryRead(directory, Fingerprint));
        StringAssert.Contains(e.Message, "claims 1099511627776 bytes");
    }
}

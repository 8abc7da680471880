using Microsoft.ML;
using Microsoft.ML.Runtime;
using Pilot.MLNet.Images;
using Pilot.MLNet.Models;
using Pilot.MLNet.Scoring;
using Pilot.MLNet.Training;
using Pilot.TorchSharp;
using TorchSharp;

namespace Pilot.MLNet.ModelFile;

/// <summary>
/// What a <see cref="PilotImageClassificationTransformer"/> keeps in a model file, in the order of the file: the
/// columns, the network's description, the label's key values, the training history, the learned policy and the
/// network's weights (the streams it names live next to this file: <see cref="LabelKeyValues"/>,
/// <see cref="EpochReportFormat"/>, <see cref="NetworkWeights"/>, <see cref="TrainingOptionsFormat"/>).
/// </summary>
/// <param name="Model">The network with its preprocessing description; owned by whoever receives the contents.</param>
/// <param name="KeyValues">The training label's key values, or <see langword="null"/> when it had none.</param>
/// <param name="LabelColumnName">Name of the label column the model was trained on.</param>
/// <param name="ImageColumnName">Name of the image column the model reads.</param>
/// <param name="ScoreColumnName">Name of the class-probability output column.</param>
/// <param name="PredictedLabelColumnName">Name of the predicted-class output column.</param>
/// <param name="History">One report per training epoch.</param>
/// <param name="Policy">The learned PILOT policy, or <see langword="null"/> when another optimizer trained the model.</param>
/// <param name="TrainingOptions">The recorded training options, or <see langword="null"/> (models saved before they were recorded).</param>
internal sealed record ClassifierModelContents(
    PilotImageModel Model, LabelKeyValues? KeyValues,
    string LabelColumnName, string ImageColumnName, string ScoreColumnName, string PredictedLabelColumnName,
    IReadOnlyList<PilotEpochReport> History, PilotPolicy? Policy, PilotImageClassificationTrainer.Options? TrainingOptions);

/// <summary>
/// The model-file format of <see cref="PilotImageClassificationTransformer"/> (loader signature
/// <see cref="PilotImageClassificationTransformer.LoaderSignature"/>): writes and reads <see cref="ClassifierModelContents"/>
/// with ML.NET's <see cref="ModelSaveContext"/> and <see cref="ModelLoadContext"/>. Reading checks every size and flag
/// before it allocates, so a damaged or hostile file gives an <see cref="InvalidDataException"/>, never a crash.
/// </summary>
internal static class ClassifierModelFormat
{
    // *** Binary format ***
    // int: id of label column name
    // int: id of image column name
    // int: id of score column name
    // int: id of predicted label column name
    // int: architecture (PilotArchitecture)
    // byte: what the classifier reads (HeadInput; since version 0x00010003, Layer4 before)
    // int, int, int: input shape (channels, height, width)
    // byte: pixel units (0: bytes 0-255, 1: floats)
    // byte: 1 when trained on pixel vectors, then int, int, int: their shape (channels, height, width); else 0
    // int: number of classes K
    // float x channels: per-channel mean; float x channels: per-channel standard deviation
    // byte: 1 when the label has key values, then the key values (BinarySaver type and value, K values); else 0
    // training history (EpochReportFormat)
    // byte: 1 when there is a learned PILOT policy, then int id of its JSON (PilotPolicy.ToJson); else 0
    // 32 bytes: SHA-256 digest of the weights stream (since version 0x00010002)
    // binary stream "TorchSharpWeights": the network's parameters and buffers (TorchSharp Module.save)
    // text stream "TrainingOptions.json", optional (absent in models saved before it was added): the training options (TrainingOptionsFormat)

    /// <summary>Name of the binary stream holding the network's weights inside the model.</summary>
    internal const string WeightsStreamName = "TorchSharpWeights";

    /// <summary>Largest class count a model file may claim.</summary>
    internal const int MaxClasses = 1 << 20;

    /// <summary>First format version with the SHA-256 digest of the weights stream.</summary>
    internal const uint VersionWithWeightsDigest = 0x00010002;

    /// <summary>First format version that records what the classifier reads (<see cref="HeadInput"/>).</summary>
    internal const uint VersionWithHeadInput = 0x00010003;

    /// <summary>Longest training-options text read from a model: 1 Mi characters (the options take a few hundred).</summary>
    private const int MaxTrainingOptionsChars = 1 << 20;

    /// <summary>The versions this code writes and reads.</summary>
    internal static VersionInfo VersionInfo => new(
        modelSignature: "PILOTIMG",
        //verWrittenCur: 0x00010001, // Initial
        //verWrittenCur: VersionWithWeightsDigest, // SHA-256 digest of the weights stream
        verWrittenCur: VersionWithHeadInput, // what the classifier reads
        verReadableCur: VersionWithHeadInput,
        verWeCanReadBack: 0x00010001,
        loaderAssemblyName: typeof(PilotImageClassificationTransformer).Assembly.FullName,
        loaderSignature: PilotImageClassificationTransformer.LoaderSignature);

    /// <summary>Writes <paramref name="contents"/> at the model <paramref name="ctx"/> is positioned at.</summary>
    internal static void Save(ModelSaveContext ctx, ClassifierModelContents contents, IHostEnvironment host)
    {
        ctx.CheckAtModel();
        ctx.SetVersionInfo(VersionInfo);

        var model = contents.Model;
        ctx.SaveNonEmptyString(contents.LabelColumnName);
        ctx.SaveNonEmptyString(contents.ImageColumnName);
        ctx.SaveNonEmptyString(contents.ScoreColumnName);
        ctx.SaveNonEmptyString(contents.PredictedLabelColumnName);
        var w = ctx.Writer;
        w.Write((int)model.Architecture);
        w.Write((byte)model.HeadInput);
        WriteShape(w, model.InputShape);
        w.Write((byte)model.Domain);
        w.Write(model.VectorShape.HasValue);
        if (model.VectorShape is { } vectorShape)
            WriteShape(w, vectorShape);
        w.Write(model.ClassCount);
        foreach (float v in model.Normalization.Mean) w.Write(v);
        foreach (float v in model.Normalization.Std) w.Write(v);
        w.Write(contents.KeyValues is not null);
        contents.KeyValues?.Save(host, w.BaseStream);
        EpochReportFormat.Write(w, contents.History);
        w.Write(contents.Policy is not null);
        if (contents.Policy is not null)
            ctx.SaveNonEmptyString(contents.Policy.ToJson());
        var weights = NetworkWeights.Save(model.Network);
        w.Write(NetworkWeights.Digest(weights));
        ctx.SaveBinaryStream(WeightsStreamName, writer => writer.Write(weights));
        if (contents.TrainingOptions is not null)
            ctx.SaveTextStream(TrainingOptionsFormat.StreamName, writer => writer.Write(TrainingOptionsFormat.Write(contents.TrainingOptions)));
    }

    /// <summary>
    /// Reads the model <paramref name="ctx"/> is positioned at, building its network on the device
    /// <paramref name="env"/> chooses.
    /// </summary>
    /// <exception cref="InvalidDataException">The model is truncated, damaged or of a kind this version cannot read; the message says what.</exception>
    internal static ClassifierModelContents Load(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(VersionInfo);
        try
        {
            string label = ctx.LoadNonEmptyString(), image = ctx.LoadNonEmptyString();
            string score = ctx.LoadNonEmptyString(), predicted = ctx.LoadNonEmptyString();
            var r = ctx.Reader;
            var architecture = (PilotArchitecture)r.ReadInt32();
            if (!Enum.IsDefined(architecture))
                throw new InvalidDataException($"The model names architecture {(int)architecture}, unknown to this version of Pilot.MLNet.");
            var headInput = ctx.Header.ModelVerWritten >= VersionWithHeadInput ? (HeadInput)r.ReadByte() : HeadInput.Layer4;
            if (!headInput.IsValidFor(architecture))
                throw new InvalidDataException($"The model names classifier input {(byte)headInput} for {architecture}, unknown to this version of Pilot.MLNet.");
            var inputShape = ReadShape(r, "input shape");
            byte domain = r.ReadByte();
            if (domain > (byte)PixelDomain.Floats)
                throw new InvalidDataException($"The model names pixel units {domain}; expected 0 or 1.");
            ImageShape? vectorShape = r.ReadByte() switch
            {
                0 => null,
                1 => ReadShape(r, "pixel-vector shape"),
                var b => throw new InvalidDataException($"Corrupt model: pixel-vector flag {b}."),
            };
            int classCount = r.ReadInt32();
            if (classCount < 2 || classCount > MaxClasses)
                throw new InvalidDataException($"The model claims {classCount} classes; expected 2 to {MaxClasses}.");
            var mean = new float[inputShape.Channels];
            var std = new float[inputShape.Channels];
            for (int c = 0; c < mean.Length; c++) mean[c] = r.ReadSingle();
            for (int c = 0; c < std.Length; c++) std[c] = r.ReadSingle();
            if (mean.Any(v => !float.IsFinite(v)) || std.Any(v => !float.IsFinite(v) || v <= 0))
                throw new InvalidDataException("The model's normalisation statistics are not finite or have a non-positive standard deviation.");
            LabelKeyValues? keyValues = r.ReadByte() switch
            {
                0 => null,
                1 => LabelKeyValues.Load(env, r.BaseStream, classCount),
                var b => throw new InvalidDataException($"Corrupt model: key-values flag {b}."),
            };
            var history = EpochReportFormat.Read(r);
            PilotPolicy? policy = r.ReadByte() switch
            {
                0 => null,
                1 => PilotPolicy.FromJson(ctx.LoadNonEmptyString()),
                var b => throw new InvalidDataException($"Corrupt model: policy flag {b}."),
            };
            byte[]? digest = ctx.Header.ModelVerWritten >= VersionWithWeightsDigest ? r.ReadBytes(NetworkWeights.DigestLength) : null;
            if (digest is { Length: < NetworkWeights.DigestLength })
                throw new EndOfStreamException();

            byte[]? weights = null;
            if (!ctx.TryLoadBinaryStream(WeightsStreamName, reader => weights = NetworkWeights.ReadStream(reader.BaseStream)))
                throw new InvalidDataException($"The model has no '{WeightsStreamName}' stream (network weights).");
            // The header's sizes decide how much the network allocates: the stored weights must be at least that large.
            long linearBytes = sizeof(float) * Backbones.LinearParameterCount(architecture, inputShape, classCount, headInput);
            if (weights!.Length < linearBytes)
                throw new InvalidDataException(
                    $"The model claims a {architecture} for {inputShape} images and {classCount} classes, whose linear layers alone need " +
                    $"{linearBytes} bytes, but its weights stream has {weights.Length}.");

            var device = DeviceSelection.Choose(env);
            // Creating the network draws initial weights from the default generator: never inside another run's draws.
            var network = DefaultGeneratorSession.Exclusive(() => Backbones.Create(architecture, inputShape, classCount, headInput));
            try
            {
                NetworkWeights.Load(network, weights, digest, $"{architecture} for {inputShape} images and {classCount} classes");
                network.to(device);
                PilotImageClassificationTrainer.Options? trainingOptions = null;
                ctx.TryLoadTextStream(TrainingOptionsFormat.StreamName,
                    reader => trainingOptions = TrainingOptionsFormat.Read(ReadAtMost(reader, MaxTrainingOptionsChars, TrainingOptionsFormat.StreamName)));
                var model = new PilotImageModel(network, device, architecture, inputShape, classCount, (PixelDomain)domain,
                    vectorShape, new ChannelStatistics(mean, std));
                return new ClassifierModelContents(model, keyValues, label, image, score, predicted, history, policy, trainingOptions);
            }
            catch
            {
                network.Dispose();
                throw;
            }
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("The Pilot image-classification model is truncated.", e);
        }
    }

    /// <summary>Reads a text stream of the model, refusing one longer than <paramref name="maxChars"/> (a stream that inflates without end).</summary>
    private static string ReadAtMost(TextReader reader, int maxChars, string what)
    {
        var buffer = new char[maxChars + 1];
        int total = 0, read;
        while (total < buffer.Length && (read = reader.Read(buffer, total, buffer.Length - total)) > 0)
            total += read;
        if (total > maxChars)
            throw new InvalidDataException($"The model's {what} stream is longer than {maxChars} characters.");
        return new string(buffer, 0, total);
    }

    private static void WriteShape(BinaryWriter writer, ImageShape shape)
    {
        writer.Write(shape.Channels);
        writer.Write(shape.Height);
        writer.Write(shape.Width);
    }

    private static ImageShape ReadShape(BinaryReader reader, string what)
    {
        var shape = new ImageShape(reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
        try
        {
            shape.Validate(what);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"The model's {what} {shape} is invalid: {e.Message}", e);
        }
        return shape;
    }
}

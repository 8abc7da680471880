namespace Pilot.MLNet.ModelFile;

/// <summary>Binary form of a training history (a list of <see cref="PilotEpochReport"/>), used by checkpoints and model files.</summary>
internal static class EpochReportFormat
{
    // *** Binary format ***
    // int: number of reports n, in [0, MaxEpochs]
    // n times:
    //   int: Epoch; int: Epochs
    //   double: TrainLoss; double: TrainAccuracy
    //   6 nullable doubles (ValidationLoss, ValidationAccuracy, MeanPm, MeanPv, MeanPs, Rho): byte 0 (null) or 1 then the double
    //   double: LearningRate; double: Seconds; double: ImagesPerSecond

    public static void Write(BinaryWriter writer, IReadOnlyList<PilotEpochReport> history)
    {
        writer.Write(history.Count);
        foreach (var r in history)
        {
            writer.Write(r.Epoch);
            writer.Write(r.Epochs);
            writer.Write(r.TrainLoss);
            writer.Write(r.TrainAccuracy);
            WriteNullable(writer, r.ValidationLoss);
            WriteNullable(writer, r.ValidationAccuracy);
            WriteNullable(writer, r.MeanPm);
            WriteNullable(writer, r.MeanPv);
            WriteNullable(writer, r.MeanPs);
            WriteNullable(writer, r.Rho);
            writer.Write(r.LearningRate);
            writer.Write(r.Seconds);
            writer.Write(r.ImagesPerSecond);
        }
    }

    /// <exception cref="InvalidDataException">The count is out of range or the stream ends early.</exception>
    public static List<PilotEpochReport> Read(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        if (count < 0 || count > PilotImageClassificationDefaults.MaxEpochs)
            throw new InvalidDataException($"Training history claims {count} epochs; expected 0 to {PilotImageClassificationDefaults.MaxEpochs}.");
        var history = new List<PilotEpochReport>(count);
        for (int i = 0; i < count; i++)
        {
            int epoch = reader.ReadInt32(), epochs = reader.ReadInt32();
            double trainLoss = reader.ReadDouble(), trainAccuracy = reader.ReadDouble();
            double? validationLoss = ReadNullable(reader), validationAccuracy = ReadNullable(reader);
            double? pm = ReadNullable(reader), pv = ReadNullable(reader), ps = ReadNullable(reader), rho = ReadNullable(reader);
            double lr = reader.ReadDouble(), seconds = reader.ReadDouble(), imagesPerSecond = reader.ReadDouble();
            history.Add(new PilotEpochReport(epoch, epochs, trainLoss, trainAccuracy, validationLoss, validationAccuracy, lr,
                seconds, imagesPerSecond, pm, pv, ps, rho));
        }
        return history;
    }

    private static void WriteNullable(BinaryWriter writer, double? value)
    {
        writer.Write(value.HasValue);
        if (value is { } v)
            writer.Write(v);
    }

    private static double? ReadNullable(BinaryReader reader) => reader.ReadByte() switch
    {
        0 => null,
        1 => reader.ReadDouble(),
        var b => throw new InvalidDataException($"Corrupt training history: presence flag {b}, expected 0 or 1."),
    };
}

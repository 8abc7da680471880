using Microsoft.ML;
using Microsoft.ML.Data;

namespace Pilot.MLNet.Tests;

/// <summary>One synthetic row: a string label and a 1×12×12 gray image as a known-size byte vector.</summary>
internal sealed class SyntheticRow
{
    public string Label { get; set; } = "";

    [VectorType(1, 12, 12)]
    public byte[] Image { get; set; } = [];
}

/// <summary>Small deterministic data sets for trainer tests.</summary>
internal static class TrainerTestData
{
    public static readonly ImageShape SyntheticShape = new(1, 12, 12);

    /// <summary>Every <see cref="PilotOptimizerKind"/>, one test row each: a new optimizer is tested without a new row.</summary>
    public static IEnumerable<object[]> EveryOptimizer => Enum.GetValues<PilotOptimizerKind>().Select(kind => new object[] { kind });

    /// <summary>
    /// <paramref name="count"/> noisy 12×12 images of three classes: a bright horizontal bar ("h"), a vertical bar ("v"),
    /// or a bright square ("s"); easy to separate, so a few epochs of a small network learn them.
    /// </summary>
    public static SyntheticRow[] Synthetic(int count, int seed)
    {
        var random = new Random(seed);
        var rows = new SyntheticRow[count];
        string[] classes = ["h", "v", "s"];
        for (int i = 0; i < count; i++)
        {
            int k = i % 3;
            var image = new byte[144];
            for (int p = 0; p < image.Length; p++)
                image[p] = (byte)random.Next(0, 80);
            int at = random.Next(2, 10);
            for (int j = 0; j < 12; j++)
            {
                int y = k == 0 ? at : j, x = k == 0 ? j : at;
                if (k == 2)
                    (y, x) = (4 + j % 4, 4 + j / 4);
                image[y * 12 + x] = (byte)random.Next(180, 256);
            }
            rows[i] = new SyntheticRow { Label = classes[k], Image = image };
        }
        return rows;
    }

    /// <summary>A synthetic data view with the label mapped to a key (as every trainer pipeline needs).</summary>
    public static IDataView SyntheticKeyed(MLContext mlContext, int count, int seed)
    {
        var data = mlContext.Data.LoadFromEnumerable(Synthetic(count, seed));
        return mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
    }

    /// <summary>Options for a fast SmallCnn run on the CPU.</summary>
    public static PilotImageClassificationTrainer.Options FastOptions(int epochs = 2, int seed = 7) => new()
    {
        Architecture = PilotArchitecture.SmallCnn,
        Epochs = epochs,
        BatchSize = 32,
        LearningRate = 3e-3,
        Seed = seed,
    };
}

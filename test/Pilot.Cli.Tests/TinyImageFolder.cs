using Microsoft.ML;
using Pilot.MLNet.Data;

namespace Pilot.Cli.Tests;

/// <summary>A small Model Builder style data set: PNG files of three FashionMNIST classes, one sub-folder per class.</summary>
internal static class TinyImageFolder
{
    public static readonly string[] Classes = ["Bag", "Sneaker", "Trouser"];

    private sealed class LabelRow
    {
        public string Label { get; set; } = "";
    }

    /// <summary>Writes <paramref name="perClass"/> images of each of <see cref="Classes"/> (from the embedded FashionMNIST sample) into <paramref name="folder"/>.</summary>
    public static int Write(string folder, int perClass = 20)
    {
        var ml = new MLContext(seed: 1);
        var sample = PilotDatasets.EmbeddedFashionMnist(ml, train: true);
        var three = ml.Data.FilterByCustomPredicate<LabelRow>(sample.Data, row => !Classes.Contains(row.Label));
        return PilotDatasets.WriteImageFolder(sample with { Data = three }, folder, perClass);
    }
}

namespace Pilot.Cli.Training;

/// <summary>The data a command works on: a folder given with <c>--data</c> (or the system FashionMNIST), or the embedded subset.</summary>
/// <param name="Folder">Full path of the data folder; null for the embedded FashionMNIST subset.</param>
/// <param name="Description">How the data is named in output.</param>
internal sealed record DataChoice(string? Folder, string Description)
{
    /// <summary>The file names of FashionMNIST's training images in the Debian package (gzip) or unpacked.</summary>
    private static readonly string[] FashionMnistMarkers = ["train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"];

    /// <summary>Whether this is the embedded subset.</summary>
    public bool IsEmbedded => Folder is null;

    /// <summary>
    /// <paramref name="data"/> when given (it must exist), otherwise the full FashionMNIST in
    /// <paramref name="systemFashionMnist"/> when installed there, otherwise the embedded subset.
    /// </summary>
    /// <exception cref="CliInputException"><paramref name="data"/> does not exist.</exception>
    public static DataChoice Resolve(string? data, string systemFashionMnist)
    {
        if (data is not null)
        {
            string full = Path.GetFullPath(data);
            if (!Directory.Exists(full))
                throw new CliInputException(File.Exists(full)
                    ? $"--data: '{full}' is a file; pass a folder: one sub-folder of images per class, a FashionMNIST/MNIST IDX folder or a CIFAR-10 binary folder."
                    : $"--data: '{full}' does not exist. Pass a folder: one sub-folder of images per class, a FashionMNIST/MNIST IDX folder or a CIFAR-10 binary folder.");
            return new DataChoice(full, full);
        }
        if (FashionMnistMarkers.Any(m => File.Exists(Path.Combine(systemFashionMnist, m))))
            return new DataChoice(systemFashionMnist, $"FashionMNIST from {systemFashionMnist}");
        return new DataChoice(null, "the embedded FashionMNIST subset (install the Debian package dataset-fashion-mnist, or pass --data, for the full set)");
    }
}

namespace Pilot.MLNet.Data;

/// <summary>The on-disk layouts of an image data set that <see cref="PilotDatasets"/> reads; see <see cref="PilotDatasets.DetectFormat"/>.</summary>
public enum DatasetFormat
{
    /// <summary>
    /// Model Builder layout: one sub-folder per class, named after the class, holding image files (.png .jpg .jpeg .bmp
    /// .gif); read with <see cref="PilotDatasets.LoadImageFolder"/>.
    /// </summary>
    ImageFolder,

    /// <summary>
    /// MNIST/FashionMNIST IDX files: <c>train-images-idx3-ubyte</c>, <c>train-labels-idx1-ubyte</c>, <c>t10k-images-idx3-ubyte</c>,
    /// <c>t10k-labels-idx1-ubyte</c> (each optionally <c>.gz</c>; <c>.idx</c> in place of <c>-idx</c> also accepted); read with
    /// <see cref="PilotDatasets.LoadIdxFolder"/> or <see cref="PilotDatasets.LoadFashionMnist"/>.
    /// </summary>
    Idx,

    /// <summary>
    /// The binary version of CIFAR-10: <c>data_batch_1.bin</c> … <c>data_batch_5.bin</c> and <c>test_batch.bin</c>, in the folder
    /// or in its <c>cifar-10-batches-bin</c> sub-folder; read with <see cref="PilotDatasets.LoadCifar10"/>.
    /// </summary>
    Cifar10Binary,
}

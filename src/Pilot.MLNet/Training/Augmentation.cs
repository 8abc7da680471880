using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.MLNet.Training;

/// <summary>
/// The training augmentation of <see cref="PilotImageClassificationTrainer.Options.Augment"/>: per image, a random crop of
/// the original size from the image zero-padded by <see cref="PilotImageClassificationDefaults.AugmentPadding"/> pixels on
/// every side, then a horizontal flip with probability 1/2 (torchvision's <c>RandomCrop(size, padding=4)</c> +
/// <c>RandomHorizontalFlip()</c>, applied to raw pixel values before normalisation). Random numbers come from
/// the CPU generator passed in, so a seeded generator gives the same batches on any device.
/// </summary>
internal static class Augmentation
{
    /// <summary>Returns the augmented copy of <paramref name="images"/> (N × C × H × W, float).</summary>
    public static Tensor Apply(Tensor images, Generator generator, int padding = PilotImageClassificationDefaults.AugmentPadding)
    {
        long n = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3];
        var device = images.device;
        using var scope = NewDisposeScope();
        var offsetY = torch.randint(0, 2 * padding + 1, [n], dtype: ScalarType.Int64, generator: generator).to(device);
        var offsetX = torch.randint(0, 2 * padding + 1, [n], dtype: ScalarType.Int64, generator: generator).to(device);
        var flip = (torch.rand([n], generator: generator) < 0.5).to(device);

        var padded = nn.functional.pad(images, [padding, padding, padding, padding]);
        // Row r of image i comes from padded row offsetY[i] + r; column likewise (two gathers, no per-image loop).
        var rows = (offsetY.view(n, 1) + torch.arange(h, device: device)).view(n, 1, h, 1).expand(n, c, h, w + 2 * padding);
        var cropped = padded.gather(2, rows);
        var columns = (offsetX.view(n, 1) + torch.arange(w, device: device)).view(n, 1, 1, w).expand(n, c, h, w);
        cropped = cropped.gather(3, columns);
        var result = torch.where(flip.view(n, 1, 1, 1), cropped.flip(3), cropped);
        return result.MoveToOuterDisposeScope();
    }
}

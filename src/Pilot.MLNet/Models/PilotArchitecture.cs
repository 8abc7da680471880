namespace Pilot.MLNet;

/// <summary>The network that <see cref="PilotImageClassificationTrainer"/> trains.</summary>
public enum PilotArchitecture
{
    /// <summary>
    /// Two conv3×3–BatchNorm–ReLU–maxpool2 blocks (32 and 64 channels), then linear(→128)–ReLU–dropout(0.25)–linear(→classes).
    /// The network the project benchmarks against the Python reference; about 0.42 M parameters on 28×28 gray input.
    /// </summary>
    SmallCnn,

    /// <summary>ResNet-18 (basic blocks, torchvision layout); a 3×3 stride-1 stem without max-pool when the input side is ≤ 64.</summary>
    ResNet18,

    /// <summary>ResNet-34 (basic blocks, torchvision layout); a 3×3 stride-1 stem without max-pool when the input side is ≤ 64.</summary>
    ResNet34,

    /// <summary>
    /// ResNet with blocks [2, 2, 2, 3] pretrained on ImageNet-1k: the network of ML.NET's
    /// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> package (MIT licence, .NET Foundation), whose <c>ResNet18.onnx</c>
    /// training reads (see <see cref="PilotImageClassificationTrainer.Options.PretrainedWeightsPath"/>), with a new
    /// classifier: over the 512 averages of the last stage, or with <see cref="PilotFineTuning.Head"/> (the default) over the
    /// averages of the last two stages (256 + 512), standardised. Takes raw 0–255 pixels, colour or gray (repeated to 3 channels), and prepares them inside the
    /// network (RGB → BGR, minus the ImageNet channel means B 103.063, G 115.903, R 123.152); the trainer's per-channel
    /// normalisation is off for it. Always the 7×7 stride-2 stem and max-pool; input sides at least 32 (total stride 32).
    /// </summary>
    PretrainedResNet18,
}

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
}

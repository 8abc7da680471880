using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.MLNet.Models;

/// <summary>
/// The small convolutional network of <see cref="PilotArchitecture.SmallCnn"/>:
/// conv3×3(C→32, pad 1)–BatchNorm2d–ReLU–maxpool2, conv3×3(32→64, pad 1)–BatchNorm2d–ReLU–maxpool2, flatten,
/// linear(64·⌊H/4⌋·⌊W/4⌋→128)–ReLU–dropout(0.25)–linear(128→K).
/// </summary>
/// <remarks>
/// The sub-modules are registered in forward order under the names <c>conv1 bn1 relu1 pool1 conv2 bn2 relu2 pool2
/// flatten fc1 relu3 dropout fc2</c>, so <c>named_children()</c> lists the whole network as a chain and parameter names
/// read <c>conv1.weight</c>, <c>bn1.running_mean</c>, <c>fc2.bias</c> and so on. Convolutions and linear layers have biases
/// and keep TorchSharp's default (PyTorch's) initialisation, as the Python reference network does.
/// </remarks>
internal sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    /// <summary>Output channels of the first convolution.</summary>
    internal const int Channels1 = 32;

    /// <summary>Output channels of the second convolution.</summary>
    internal const int Channels2 = 64;

    /// <summary>Width of the hidden fully connected layer.</summary>
    internal const int Hidden = 128;

    /// <summary>Dropout probability before the classifier.</summary>
    internal const double DropoutProbability = 0.25;

    /// <summary>Total down-sampling of the two max-pools: each image side must be at least this long.</summary>
    internal const int MinSide = 4;

    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly ReLU relu1;
    private readonly MaxPool2d pool1;
    private readonly Conv2d conv2;
    private readonly BatchNorm2d bn2;
    private readonly ReLU relu2;
    private readonly MaxPool2d pool2;
    private readonly Flatten flatten;
    private readonly Linear fc1;
    private readonly ReLU relu3;
    private readonly Dropout dropout;
    private readonly Linear fc2;

    /// <summary>Creates the network; the caller (<see cref="Backbones.Create"/>) has validated the arguments.</summary>
    internal SmallCnn(ImageShape input, int numClasses) : base(nameof(SmallCnn))
    {
        long flattened = FlattenedSize(input);

        conv1 = nn.Conv2d(input.Channels, Channels1, kernel_size: 3, padding: 1);
        bn1 = nn.BatchNorm2d(Channels1);
        relu1 = nn.ReLU();
        pool1 = nn.MaxPool2d(kernel_size: 2);
        conv2 = nn.Conv2d(Channels1, Channels2, kernel_size: 3, padding: 1);
        bn2 = nn.BatchNorm2d(Channels2);
        relu2 = nn.ReLU();
        pool2 = nn.MaxPool2d(kernel_size: 2);
        flatten = nn.Flatten();
        fc1 = nn.Linear(flattened, Hidden);
        relu3 = nn.ReLU();
        dropout = nn.Dropout(DropoutProbability);
        fc2 = nn.Linear(Hidden, numClasses);

        // Registered explicitly (not by reflection) so that the order is the forward order, guaranteed.
        register_module(nameof(conv1), conv1);
        register_module(nameof(bn1), bn1);
        register_module(nameof(relu1), relu1);
        register_module(nameof(pool1), pool1);
        register_module(nameof(conv2), conv2);
        register_module(nameof(bn2), bn2);
        register_module(nameof(relu2), relu2);
        register_module(nameof(pool2), pool2);
        register_module(nameof(flatten), flatten);
        register_module(nameof(fc1), fc1);
        register_module(nameof(relu3), relu3);
        register_module(nameof(dropout), dropout);
        register_module(nameof(fc2), fc2);
    }

    /// <summary>Maps an N×C×H×W batch to N×K logits.</summary>
    /// <summary>Inputs of <c>fc1</c>: the 64 feature maps after two 2×2 max-pools, flattened.</summary>
    internal static long FlattenedSize(ImageShape input) => (long)Channels2 * (input.Height / MinSide) * (input.Width / MinSide);

    public override Tensor forward(Tensor input)
    {
        using var c1 = conv1.forward(input);
        using var b1 = bn1.forward(c1);
        using var r1 = relu1.forward(b1);
        using var p1 = pool1.forward(r1);
        using var c2 = conv2.forward(p1);
        using var b2 = bn2.forward(c2);
        using var r2 = relu2.forward(b2);
        using var p2 = pool2.forward(r2);
        using var f = flatten.forward(p2);
        using var h = fc1.forward(f);
        using var r3 = relu3.forward(h);
        using var d = dropout.forward(r3);
        return fc2.forward(d);
    }
}

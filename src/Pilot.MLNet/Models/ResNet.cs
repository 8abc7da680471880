using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.MLNet.Models;

/// <summary>
/// ResNet with basic blocks in torchvision's layout (He et al. 2016, "Deep Residual Learning for Image Recognition"):
/// a stem, four stages <c>layer1</c>…<c>layer4</c> of 64, 128, 256 and 512 channels (stages 2–4 start with a stride-2
/// block), global average pooling and a linear classifier <c>fc</c>.
/// </summary>
/// <remarks>
/// <para>
/// Stem: with <see cref="SmallImageStem"/> (input sides ≤ <see cref="Backbones.SmallImageMaxSide"/>) a 3×3 stride-1
/// convolution and no max-pool, as is usual for CIFAR-sized images; otherwise torchvision's 7×7 stride-2 convolution
/// followed by a 3×3 stride-2 max-pool. The stem's convolution is always named <c>conv1</c>, so parameter names match
/// torchvision's (<c>conv1.weight</c>, <c>bn1.weight</c>, <c>layer1.0.conv1.weight</c>, <c>layer2.0.downsample.0.weight</c>,
/// <c>layer2.0.downsample.1.running_var</c>, <c>fc.bias</c>, …).
/// </para>
/// <para>
/// Initialisation follows torchvision: convolutions Kaiming-normal with fan-out and the ReLU gain, batch-norm weight 1 and
/// bias 0; <c>fc</c> keeps the default linear initialisation. Convolutions have no bias (batch norm follows each).
/// </para>
/// <para>
/// With <see cref="ImageNetInput"/> (<see cref="PilotArchitecture.PretrainedResNet18"/>) the network takes raw 0–255 RGB
/// (or gray) pixels and prepares them as the ImageNet weights expect before <c>conv1</c>: a gray plane is repeated to three
/// channels, RGB is reordered to BGR and the per-channel means <see cref="PretrainedWeights.BgrMean"/> are subtracted (no
/// division). The preparation has no parameters and no module, so parameter names stay torchvision's. The network then
/// splits into the trunk <see cref="Features"/> (everything up to the flattened averages) and the <see cref="Head"/>
/// <c>fc</c>: <c>forward(x) = Head.forward(Features(x))</c>.
/// </para>
/// <para>
/// <see cref="HeadInput"/> says what <c>fc</c> reads: the 512 averages of <c>layer4</c> (a <see cref="Linear"/>,
/// torchvision's head), or the 256 averages of <c>layer3</c> followed by the 512 of <c>layer4</c> (a
/// <see cref="StandardizedLinear"/>; <see cref="HeadInput.Layer3AndLayer4"/>).
/// </para>
/// </remarks>
internal sealed class ResNet : nn.Module<Tensor, Tensor>, IHeadedNetwork
{
    /// <summary>Output channels of the stem and of <c>layer1</c>; each later stage doubles them.</summary>
    internal const int BaseChannels = 64;

    /// <summary>Channels of <c>layer4</c>: the inputs of the classifier <c>fc</c> with <see cref="HeadInput.Layer4"/>.</summary>
    internal const int Layer4Channels = BaseChannels * 8;

    /// <summary>Channels of <c>layer3</c>, which <see cref="HeadInput.Layer3AndLayer4"/> adds to the classifier's inputs.</summary>
    internal const int Layer3Channels = BaseChannels * 4;

    /// <summary>Basic blocks per stage for ResNet-18.</summary>
    internal static readonly IReadOnlyList<int> ResNet18Blocks = [2, 2, 2, 2];

    /// <summary>Basic blocks per stage for ResNet-34.</summary>
    internal static readonly IReadOnlyList<int> ResNet34Blocks = [3, 4, 6, 3];

    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly ReLU relu;
    private readonly MaxPool2d? maxpool;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Sequential layer4;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Flatten flatten;
    private readonly nn.Module<Tensor, Tensor> fc; // Linear, or StandardizedLinear with HeadInput.Layer3AndLayer4
    private readonly LastStageAndHead lastStage; // not registered: a view of layer4, avgpool, flatten and fc

    /// <summary>Creates the network; the caller (<see cref="Backbones.Create"/>) has validated the arguments.</summary>
    /// <param name="inputChannels">1 or 3.</param>
    /// <param name="blocksPerStage">Four block counts, e.g. <see cref="ResNet18Blocks"/>.</param>
    /// <param name="numClasses">Number of outputs of <c>fc</c>.</param>
    /// <param name="smallImageStem">Use the 3×3 stride-1 stem without max-pool.</param>
    /// <param name="imageNetInput">Prepare raw 0–255 pixels for ImageNet weights (gray → 3 channels, RGB → BGR, minus
    /// <see cref="PretrainedWeights.BgrMean"/>); <c>conv1</c> then always has 3 input channels.</param>
    /// <param name="headInput">What <c>fc</c> reads (see the remarks).</param>
    internal ResNet(int inputChannels, IReadOnlyList<int> blocksPerStage, int numClasses, bool smallImageStem, bool imageNetInput = false,
        HeadInput headInput = HeadInput.Layer4)
        : base(nameof(ResNet))
    {
        SmallImageStem = smallImageStem;
        ImageNetInput = imageNetInput;
        InputChannels = inputChannels;
        HeadInput = headInput;
        FeatureCount = FeatureCountFor(headInput);
        if (imageNetInput)
            inputChannels = 3;
        conv1 = smallImageStem
            ? nn.Conv2d(inputChannels, BaseChannels, kernel_size: 3, stride: 1, padding: 1, bias: false)
            : nn.Conv2d(inputChannels, BaseChannels, kernel_size: 7, stride: 2, padding: 3, bias: false);
        bn1 = nn.BatchNorm2d(BaseChannels);
        relu = nn.ReLU();
        maxpool = smallImageStem ? null : nn.MaxPool2d(kernel_size: 3, stride: 2, padding: 1);

        int channels = BaseChannels;
        layer1 = MakeStage(ref channels, BaseChannels, blocksPerStage[0], stride: 1);
        layer2 = MakeStage(ref channels, BaseChannels * 2, blocksPerStage[1], stride: 2);
        layer3 = MakeStage(ref channels, BaseChannels * 4, blocksPerStage[2], stride: 2);
        layer4 = MakeStage(ref channels, BaseChannels * 8, blocksPerStage[3], stride: 2);
        avgpool = nn.AdaptiveAvgPool2d(1);
        flatten = nn.Flatten();
        fc = headInput == HeadInput.Layer3AndLayer4 ? new StandardizedLinear(FeatureCount, numClasses) : nn.Linear(FeatureCount, numClasses);

        register_module(nameof(conv1), conv1);
        register_module(nameof(bn1), bn1);
        register_module(nameof(relu), relu);
        if (maxpool is not null)
            register_module(nameof(maxpool), maxpool);
        register_module(nameof(layer1), layer1);
        register_module(nameof(layer2), layer2);
        register_module(nameof(layer3), layer3);
        register_module(nameof(layer4), layer4);
        register_module(nameof(avgpool), avgpool);
        register_module(nameof(flatten), flatten);
        register_module(nameof(fc), fc);
        lastStage = new LastStageAndHead(layer4, avgpool, flatten, fc, headInput);

        InitializeLikeTorchvision();
    }

    /// <summary>True when the stem is the 3×3 stride-1 convolution without max-pool.</summary>
    internal bool SmallImageStem { get; }

    /// <summary>True when the network prepares raw 0–255 pixels for ImageNet weights itself (see the remarks).</summary>
    internal bool ImageNetInput { get; }

    /// <summary>Channels of the input the network takes (1 or 3); with <see cref="ImageNetInput"/> a gray input is repeated to 3.</summary>
    internal int InputChannels { get; }

    /// <summary>What the classifier <c>fc</c> reads.</summary>
    internal HeadInput HeadInput { get; }

    /// <summary>Inputs of the classifier <c>fc</c>: 512 with <see cref="HeadInput.Layer4"/>, 768 with <see cref="HeadInput.Layer3AndLayer4"/>.</summary>
    internal int FeatureCount { get; }

    /// <summary>The inputs of the classifier for <paramref name="headInput"/> (see <see cref="FeatureCount"/>).</summary>
    internal static int FeatureCountFor(HeadInput headInput) =>
        headInput == HeadInput.Layer3AndLayer4 ? Layer3Channels + Layer4Channels : Layer4Channels;

    /// <summary>The <c>layer3</c> stage (for exporters that tap its output with <see cref="HeadInput.Layer3AndLayer4"/>).</summary>
    internal Sequential Layer3 => layer3;

    /// <summary>The classifier <c>fc</c>: <see cref="FeatureCount"/> features → K logits; a <see cref="Linear"/> or a <see cref="StandardizedLinear"/>.</summary>
    internal nn.Module<Tensor, Tensor> Head => fc;

    /// <summary>Maps an N×C×H×W batch to N×K logits: <c>Head.forward(Features(input))</c>.</summary>
    public override Tensor forward(Tensor input)
    {
        using var features = Features(input);
        return fc.forward(features);
    }

    /// <summary>
    /// The trunk: an N×C×H×W batch (raw 0–255 pixels with <see cref="ImageNetInput"/>, else normalised input) to the
    /// N × <see cref="FeatureCount"/> input of <see cref="Head"/>: the global averages of <c>layer4</c>, preceded by those of
    /// <c>layer3</c> with <see cref="HeadInput.Layer3AndLayer4"/>. Runs in the module's current mode (call <c>eval()</c> for
    /// frozen batch-norm statistics) and records gradients unless the caller disables them.
    /// </summary>
    internal Tensor Features(Tensor input)
    {
        using var x3 = EarlyStages(input);
        return lastStage.Features(x3);
    }

    /// <summary>
    /// The network up to the output of <c>layer3</c> (256 channels at 1/16 of the input side, rounded up): the frozen prefix
    /// of <see cref="PilotFineTuning.LastStage"/> fine-tuning. Runs in the module's current mode.
    /// </summary>
    internal Tensor EarlyStages(Tensor input)
    {
        using var prepared = ImageNetInput ? PrepareImageNetInput(input) : null;
        using var stem = StemForward(prepared ?? input);
        using var x1 = layer1.forward(stem);
        using var x2 = layer2.forward(x1);
        return layer3.forward(x2);
    }

    /// <summary>
    /// Values per image of <see cref="EarlyStages"/>' output: 256 × ⌈H/s⌉ × ⌈W/s⌉ with s = 16 for the 7×7 stride-2 stem
    /// with max-pool (each of its two stride-2 layers and of <c>layer2</c>, <c>layer3</c> halves the side, rounding up),
    /// s = 4 for the small-image stem.
    /// </summary>
    internal long EarlyStagesValuesPerImage(int height, int width)
    {
        int halvings = SmallImageStem ? 2 : 4;
        static long Side(int side, int halvings)
        {
            long s = side;
            for (int i = 0; i < halvings; i++)
                s = (s + 1) / 2;
            return s;
        }
        return BaseChannels * 4L * Side(height, halvings) * Side(width, halvings);
    }

    /// <summary>
    /// Raw 0–255 RGB (or gray) N×C×H×W pixels → BGR minus <see cref="PretrainedWeights.BgrMean"/>, N×3×H×W: what the ImageNet
    /// weights were trained on.
    /// </summary>
    internal static Tensor PrepareImageNetInput(Tensor input)
    {
        using var scope = NewDisposeScope();
        long channels = input.shape[1];
        var bgr = channels switch
        {
            1 => input.expand(-1, 3, -1, -1),
            3 => input.flip(1),
            _ => throw new ArgumentException($"The input has {channels} channels; PretrainedResNet18 takes 1 (gray) or 3 (RGB).", nameof(input)),
        };
        var mean = torch.tensor(PretrainedWeights.BgrMean, [1, 3, 1, 1], dtype: input.dtype, device: input.device);
        return (bgr - mean).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    Tensor IHeadedNetwork.Features(Tensor input) => Features(input);

    /// <inheritdoc/>
    int IHeadedNetwork.FeatureCount => FeatureCount;

    /// <inheritdoc/>
    nn.Module<Tensor, Tensor> IHeadedNetwork.Head => fc;

    /// <summary>True for the ImageNet-pretrained network (<see cref="ImageNetInput"/>).</summary>
    bool IHeadedNetwork.IsPretrained => ImageNetInput;

    /// <inheritdoc/>
    Tensor IHeadedNetwork.EarlyStages(Tensor input) => EarlyStages(input);

    /// <inheritdoc/>
    nn.Module<Tensor, Tensor> IHeadedNetwork.LastStage => lastStage;

    /// <inheritdoc/>
    long IHeadedNetwork.EarlyStagesValuesPerImage(int height, int width) => EarlyStagesValuesPerImage(height, width);

    private Tensor StemForward(Tensor input)
    {
        using var c = conv1.forward(input);
        using var b = bn1.forward(c);
        if (maxpool is null)
            return relu.forward(b);
        using var r = relu.forward(b);
        return maxpool.forward(r);
    }

    private static Sequential MakeStage(ref int inChannels, int outChannels, int blocks, int stride)
    {
        var stage = nn.Sequential();
        for (int i = 0; i < blocks; i++)
        {
            // Only the first block of a stage changes resolution or width; Sequential names the blocks "0", "1", ….
            stage.append(new BasicBlock(inChannels, outChannels, i == 0 ? stride : 1));
            inChannels = outChannels;
        }
        return stage;
    }

    private void InitializeLikeTorchvision()
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, module) in named_modules())
        {
            switch (module)
            {
                case Conv2d conv:
                    nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                    break;
                case BatchNorm2d bn:
                    nn.init.ones_(bn.weight);
                    nn.init.zeros_(bn.bias);
                    break;
            }
        }
    }
}

/// <summary>
/// <c>layer4</c>, global average pooling, flatten and <c>fc</c> of a <see cref="ResNet"/>, as one module over the output of
/// <c>layer3</c>: what <see cref="PilotFineTuning.LastStage"/> trains. It shares the network's modules (registered under the
/// network's names, so its state dictionary holds the network's <c>layer4.…</c> and <c>fc.…</c> entries) and owns none of
/// them: disposing it does nothing.
/// </summary>
internal sealed class LastStageAndHead : nn.Module<Tensor, Tensor>
{
    private readonly HeadInput headInput;
    private readonly Sequential layer4;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Flatten flatten;
    private readonly nn.Module<Tensor, Tensor> fc;

    internal LastStageAndHead(Sequential layer4, AdaptiveAvgPool2d avgpool, Flatten flatten, nn.Module<Tensor, Tensor> fc, HeadInput headInput)
        : base(nameof(LastStageAndHead))
    {
        this.headInput = headInput;
        this.layer4 = layer4;
        this.avgpool = avgpool;
        this.flatten = flatten;
        this.fc = fc;
        register_module(nameof(layer4), layer4);
        register_module(nameof(avgpool), avgpool);
        register_module(nameof(flatten), flatten);
        register_module(nameof(fc), fc);
    }

    /// <summary>N × 256 × h × w activations of <c>layer3</c> → N × K logits.</summary>
    public override Tensor forward(Tensor input)
    {
        using var features = Features(input);
        return fc.forward(features);
    }

    /// <summary>N × 256 × h × w activations of <c>layer3</c> → the classifier's input (see <see cref="ResNet.Features"/>).</summary>
    internal Tensor Features(Tensor input)
    {
        using var x4 = layer4.forward(input);
        using var pooled4 = avgpool.forward(x4);
        var features4 = flatten.forward(pooled4);
        if (headInput == HeadInput.Layer4)
            return features4;
        using (features4)
        {
            using var pooled3 = avgpool.forward(input);
            using var features3 = flatten.forward(pooled3);
            return torch.cat([features3, features4], 1);
        }
    }

    /// <summary>The modules belong to the <see cref="ResNet"/>; it disposes them.</summary>
    protected override void Dispose(bool disposing)
    {
    }
}

/// <summary>
/// The ResNet basic block: conv3×3(stride s)–BN–ReLU–conv3×3–BN, plus the identity or, when the stride or width changes,
/// a <c>downsample</c> of conv1×1(stride s)–BN (named <c>downsample.0</c> and <c>downsample.1</c>), then ReLU.
/// </summary>
internal sealed class BasicBlock : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly ReLU relu;
    private readonly Conv2d conv2;
    private readonly BatchNorm2d bn2;
    private readonly Sequential? downsample;

    /// <summary>Creates a block from <paramref name="inChannels"/> to <paramref name="outChannels"/> with the given stride on its first convolution.</summary>
    internal BasicBlock(int inChannels, int outChannels, int stride) : base(nameof(BasicBlock))
    {
        Stride = stride;
        conv1 = nn.Conv2d(inChannels, outChannels, kernel_size: 3, stride: stride, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(outChannels);
        relu = nn.ReLU();
        conv2 = nn.Conv2d(outChannels, outChannels, kernel_size: 3, stride: 1, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(outChannels);
        if (stride != 1 || inChannels != outChannels)
            downsample = nn.Sequential(
                nn.Conv2d(inChannels, outChannels, kernel_size: 1, stride: stride, bias: false),
                nn.BatchNorm2d(outChannels));

        register_module(nameof(conv1), conv1);
        register_module(nameof(bn1), bn1);
        register_module(nameof(relu), relu);
        register_module(nameof(conv2), conv2);
        register_module(nameof(bn2), bn2);
        if (downsample is not null)
            register_module(nameof(downsample), downsample);
    }

    /// <summary>Stride of the first convolution (and of the downsample path).</summary>
    internal int Stride { get; }

    /// <summary>True when the shortcut is the 1×1 convolution + batch norm rather than the identity.</summary>
    internal bool HasDownsample => downsample is not null;

    /// <summary>The first 3×3 convolution (for exporters that walk the block by type).</summary>
    internal Conv2d Conv1 => conv1;

    /// <summary>The batch normalisation after <see cref="Conv1"/>.</summary>
    internal BatchNorm2d Bn1 => bn1;

    /// <summary>The ReLU, applied after <see cref="Bn1"/> and again after the residual sum.</summary>
    internal ReLU Relu => relu;

    /// <summary>The second 3×3 convolution.</summary>
    internal Conv2d Conv2 => conv2;

    /// <summary>The batch normalisation after <see cref="Conv2"/>.</summary>
    internal BatchNorm2d Bn2 => bn2;

    /// <summary>The shortcut's 1×1 convolution and batch normalisation, or <see langword="null"/> for the identity.</summary>
    internal Sequential? Downsample => downsample;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var c1 = conv1.forward(input);
        using var b1 = bn1.forward(c1);
        using var r1 = relu.forward(b1);
        using var c2 = conv2.forward(r1);
        using var b2 = bn2.forward(c2);
        Tensor sum;
        if (downsample is null)
        {
            sum = b2.add(input);
        }
        else
        {
            using var shortcut = downsample.forward(input);
            sum = b2.add(shortcut);
        }
        using (sum)
            return relu.forward(sum);
    }
}

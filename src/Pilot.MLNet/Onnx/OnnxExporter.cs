using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using Pilot.MLNet.Onnx.Proto;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.MLNet.Onnx;

/// <summary>
/// Writes a TorchSharp network of one of the <see cref="PilotArchitecture"/> backbones as an ONNX model (the contract is
/// described on <see cref="PilotOnnxModel"/>): per-channel normalisation of raw pixels, the network in evaluation mode
/// with batch normalisation folded into the preceding convolutions and dropout removed, and a softmax.
/// </summary>
/// <remarks>
/// TorchSharp has no ONNX exporter; this one knows the few layer types of our backbones and walks the module tree by
/// type, so it never runs the network and takes every name from the module itself: a module's children are written in
/// registration order (which is their forward order in our backbones), a <see cref="Conv2d"/> with the
/// <see cref="BatchNorm2d"/> that follows it folded in, a <see cref="Sequential"/> as its children in order, a ResNet
/// <see cref="Models.BasicBlock"/> through its typed parts (two convolutions, the optional downsample and the residual
/// sum), and the <see cref="Models.StandardizedLinear"/> head of <see cref="Models.HeadInput.Layer3AndLayer4"/> as the
/// averages of the tapped <c>layer3</c> output joined to <c>layer4</c>'s, standardised, then Gemm. The network's type must match the description's architecture (a <see cref="Models.ResNet"/> for the ResNets,
/// preparing ImageNet input exactly when the architecture is <see cref="PilotArchitecture.PretrainedResNet18"/>). Any
/// other layer, or a layer where no layer of its type can stand, is rejected with a <see cref="NotSupportedException"/>
/// that names it. Weights are read as they are (the module's training flag is not changed); batch-norm folding uses the
/// running statistics, in double precision.
/// </remarks>
internal static class OnnxExporter
{
    /// <summary>The layer types the exporter can write, for error messages.</summary>
    internal const string SupportedLayers =
        "Conv2d (zero padding), BatchNorm2d (with running statistics, after a Conv2d), ReLU, MaxPool2d, AdaptiveAvgPool2d(1), Flatten(1, -1), Linear, Dropout, " +
        "Sequential (of these), ResNet BasicBlock, StandardizedLinear (the head over ResNet layer3 + layer4)";

    /// <summary>Writes the ONNX model of <paramref name="network"/> to <paramref name="output"/>.</summary>
    /// <param name="network">The network, as built by <c>Backbones.Create</c> for <paramref name="description"/>'s architecture and shape; on any device.</param>
    /// <param name="description">Architecture, input shape, normalisation and class names.</param>
    /// <param name="output">A writable stream; left open.</param>
    /// <exception cref="ArgumentException">An argument is invalid or does not match the network; the message names it.</exception>
    /// <exception cref="NotSupportedException">The network has a layer the exporter does not know; the message names the layer.</exception>
    internal static void Export(nn.Module<Tensor, Tensor> network, OnnxExportDescription description, Stream output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!output.CanWrite)
            throw new ArgumentException("The output stream must be writable.", nameof(output));
        BuildModel(network, description).WriteTo(output);
    }

    /// <summary>Writes the ONNX model of <paramref name="network"/> to the file <paramref name="path"/> (created or overwritten).</summary>
    /// <param name="network">The network, as built by <c>Backbones.Create</c>; on any device.</param>
    /// <param name="description">Architecture, input shape, normalisation and class names.</param>
    /// <param name="path">The file to write; its folder must exist. Nothing is written when the network cannot be exported, and
    /// the file appears only once it is complete.</param>
    /// <exception cref="ArgumentException">An argument is invalid or does not match the network; the message names it.</exception>
    /// <exception cref="NotSupportedException">The network has a layer the exporter does not know; the message names the layer.</exception>
    internal static void Export(nn.Module<Tensor, Tensor> network, OnnxExportDescription description, string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var model = BuildModel(network, description); // fails before the file is touched
        WriteFile(model, path);
    }

    /// <summary>Writes <paramref name="model"/> next to <paramref name="path"/> and then moves it there, so a failed write leaves no partial model.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    internal static void WriteFile(ModelProto model, string path)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"Cannot write the ONNX model '{full}': the folder '{folder}' does not exist.");
        string temporary = full + ".partial";
        try
        {
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
                model.WriteTo(file);
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
        }
    }

    /// <summary>Builds the ONNX model in memory.</summary>
    /// <param name="network">The network, as built by <c>Backbones.Create</c>; on any device.</param>
    /// <param name="description">Architecture, input shape, normalisation and class names.</param>
    /// <exception cref="ArgumentException">An argument is invalid or does not match the network; the message names it.</exception>
    /// <exception cref="NotSupportedException">The network has a layer the exporter does not know; the message names the layer.</exception>
    internal static ModelProto BuildModel(nn.Module<Tensor, Tensor> network, OnnxExportDescription description)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(description);
        description.Validate(nameof(description));

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();

        var builder = new OnnxGraphBuilder();
        builder.Reserve(PilotOnnxModel.InputName);
        builder.Reserve(PilotOnnxModel.OutputName);
        var walker = new Walker(builder, description);

        bool resNet = description.Architecture switch
        {
            PilotArchitecture.SmallCnn => false,
            PilotArchitecture.ResNet18 or PilotArchitecture.ResNet34 or PilotArchitecture.PretrainedResNet18 => true,
            _ => throw new ArgumentOutOfRangeException(nameof(description), description.Architecture,
                $"Architecture {description.Architecture} is not one the ONNX exporter knows."),
        };
        if (resNet != network is Models.ResNet)
            throw new NotSupportedException(resNet
                ? $"The description names {description.Architecture} but the network is a {network.GetType().Name}, not a ResNet."
                : $"The description names {description.Architecture} but the network is a ResNet.");

        string x = walker.EmitNormalization(PilotOnnxModel.InputName);
        if (description.Architecture == PilotArchitecture.PretrainedResNet18 || network is Models.ResNet { ImageNetInput: true })
            x = walker.EmitImageNetInput(network, x);
        string logits = walker.EmitNetwork(network, x);
        if (walker.Classes != description.ClassNames.Count)
            throw new ArgumentException(
                $"{nameof(description)}.{nameof(OnnxExportDescription.ClassNames)} has {description.ClassNames.Count} names but the network has {walker.Classes} outputs.",
                nameof(description));
        builder.AddNode("Softmax", PilotOnnxModel.OutputName, [logits], [OnnxGraphBuilder.Int("axis", 1)],
            doc: "Class probabilities (softmax of the logits over the class axis).", output: PilotOnnxModel.OutputName);

        return Assemble(builder.Graph, description);
    }

    private static ModelProto Assemble(GraphProto graph, OnnxExportDescription d)
    {
        var shape = d.InputShape;
        string classList = string.Join(", ", d.ClassNames.Select((name, k) => $"{k}: {name}"));
        graph.Name = $"{d.Architecture}-{shape}";
        graph.DocString = $"Pilot.MLNet {d.Architecture} image classifier for {shape} images and {d.ClassNames.Count} classes.";
        graph.Input.Add(new ValueInfoProto
        {
            Name = PilotOnnxModel.InputName,
            Type = OnnxGraphBuilder.FloatTensorType([null, shape.Channels, shape.Height, shape.Width], PilotOnnxModel.BatchDimension),
            DocString = $"Images, float32 {PilotOnnxModel.BatchDimension}×{shape.Channels}×{shape.Height}×{shape.Width} (CHW), raw pixel values ({PixelText(d)}).",
        });
        graph.Output.Add(new ValueInfoProto
        {
            Name = PilotOnnxModel.OutputName,
            Type = OnnxGraphBuilder.FloatTensorType([null, d.ClassNames.Count], PilotOnnxModel.BatchDimension),
            DocString = $"Class probabilities, float32 {PilotOnnxModel.BatchDimension}×{d.ClassNames.Count}; column k is class k: {classList}.",
        });

        var model = new ModelProto
        {
            IrVersion = PilotOnnxModel.IrVersion,
            ProducerName = PilotOnnxModel.ProducerName,
            ProducerVersion = ProducerVersion(),
            ModelVersion = 1,
            Graph = graph,
            DocString =
                $"{d.Architecture} image classifier exported by Pilot.MLNet. Input '{PilotOnnxModel.InputName}': float32 " +
                $"{PilotOnnxModel.BatchDimension}×{shape.Channels}×{shape.Height}×{shape.Width}, raw pixel values ({PixelText(d)}) " +
                $"(normalised inside the graph). Output '{PilotOnnxModel.OutputName}': float32 {PilotOnnxModel.BatchDimension}×{d.ClassNames.Count} " +
                $"class probabilities. Classes: {classList}.",
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = PilotOnnxModel.OpsetVersion });
        AddMetadata(model, PilotOnnxModel.MetadataKeys.ClassNames, JsonSerializer.Serialize(d.ClassNames));
        AddMetadata(model, PilotOnnxModel.MetadataKeys.Architecture, d.Architecture.ToString());
        AddMetadata(model, PilotOnnxModel.MetadataKeys.InputShape, shape.ToString());
        AddMetadata(model, PilotOnnxModel.MetadataKeys.PixelRange, d.PixelRange);
        AddMetadata(model, PilotOnnxModel.MetadataKeys.NormalizationMean, JsonSerializer.Serialize(d.Mean));
        AddMetadata(model, PilotOnnxModel.MetadataKeys.NormalizationStd, JsonSerializer.Serialize(d.Std));
        return model;
    }

    private static string PixelText(OnnxExportDescription d) =>
        d.BytePixels ? "0 to 255" : "floats in the units of the training pixel vectors";

    private static void AddMetadata(ModelProto model, string key, string value) =>
        model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });

    private static string ProducerVersion()
    {
        var assembly = typeof(OnnxExporter).Assembly;
        return assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString() ?? "0";
    }

    /// <summary>Emits the nodes of one network, tracking the activation shape so mismatches are caught at export time.</summary>
    private sealed class Walker(OnnxGraphBuilder builder, OnnxExportDescription description)
    {
        // The activation shape after the last emitted layer: C×H×W while spatial, then Features after a flatten.
        private long channels = description.InputShape.Channels;
        private long height = description.InputShape.Height;
        private long width = description.InputShape.Width;
        private long? features;

        // With HeadInput.Layer3AndLayer4: the output of layer3 and its channel count, kept for the classifier.
        private (string Name, long Channels)? layer3Output;

        /// <summary>Output count of the last Linear layer emitted.</summary>
        internal long Classes { get; private set; }

        /// <summary>(x − mean) / std per channel, as Sub and Div: the same float arithmetic as the TorchSharp model.</summary>
        internal string EmitNormalization(string input)
        {
            long[] dims = [1, description.InputShape.Channels, 1, 1];
            string mean = builder.AddInitializer("normalize.mean", dims, [.. description.Mean], "per-channel mean, input pixel units");
            string std = builder.AddInitializer("normalize.std", dims, [.. description.Std], "per-channel standard deviation, input pixel units");
            string centred = builder.AddNode("Sub", "normalize.sub", [input, mean]);
            return builder.AddNode("Div", "normalize", [centred, std], doc: "(pixel − mean) / std per channel");
        }

        /// <summary>
        /// PretrainedResNet18's input preparation (<c>ResNet.PrepareImageNetInput</c>): gray repeated to 3 channels, RGB → BGR,
        /// minus the ImageNet channel means, written as one 1×1 convolution whose weight is the 0/1 channel map and whose
        /// bias is minus the means (x·1 + 0 + 0 − m rounds exactly as x − m does).
        /// </summary>
        internal string EmitImageNetInput(nn.Module network, string input)
        {
            if (network is not Models.ResNet { ImageNetInput: true })
                throw new NotSupportedException($"The {description.Architecture} network ({network.GetType().Name}) does not prepare ImageNet input itself.");
            if (description.Architecture != PilotArchitecture.PretrainedResNet18)
                throw new NotSupportedException(
                    $"The network prepares ImageNet input ({PilotArchitecture.PretrainedResNet18}) but the description names {description.Architecture}.");
            int inChannels = (int)channels;
            var weight = new float[3 * inChannels];
            for (int o = 0; o < 3; o++)
                weight[o * inChannels + (inChannels == 1 ? 0 : 2 - o)] = 1; // output B, G, R from input R, G, B (or gray)
            float[] bias = [.. Models.PretrainedWeights.BgrMean.Select(m => -m)];
            string w = builder.AddInitializer("imagenet_input.weight", [3, inChannels, 1, 1], weight,
                inChannels == 1 ? "gray repeated to B, G, R" : "RGB reordered to BGR");
            string b = builder.AddInitializer("imagenet_input.bias", [3], bias, "minus the ImageNet channel means (B, G, R), 0-255 units");
            channels = 3;
            return builder.AddNode("Conv", "imagenet_input", [input, w, b], [OnnxGraphBuilder.Ints("kernel_shape", [1, 1])],
                doc: "ImageNet input: BGR minus channel means");
        }

        /// <summary>The whole network: its layers in order, ending in the flattened logits.</summary>
        internal string EmitNetwork(nn.Module network, string input)
        {
            string x = EmitChildren(network, "", input);
            RequireFlat("the last layer");
            return x;
        }

        /// <summary>
        /// The children of <paramref name="module"/> in registration order, each by its type: a convolution with the batch
        /// normalisation after it folded in, a <see cref="Sequential"/> as its own children, a
        /// <see cref="Models.BasicBlock"/>, or one of the simple layers. Node names are the children's paths.
        /// </summary>
        private string EmitChildren(nn.Module module, string prefix, string input)
        {
            var children = module.named_children().ToList();
            if (children.Count == 0)
                throw new NotSupportedException(prefix.Length == 0
                    ? $"The {description.Architecture} network ({module.GetType().Name}) has no layers to export."
                    : $"Layer '{prefix.TrimEnd('.')}' ({Describe(module)}) has no layers.");
            string x = input;
            for (int i = 0; i < children.Count; i++)
            {
                var (name, child) = children[i];
                string path = prefix + name;
                switch (child)
                {
                    case Conv2d conv:
                        BatchNorm2d? bn = null;
                        string? bnPath = null;
                        if (i + 1 < children.Count && children[i + 1].module is BatchNorm2d next)
                        {
                            (bnPath, bn) = (prefix + children[i + 1].name, next);
                            i++;
                        }
                        x = EmitConv(path, conv, bnPath, bn, x);
                        break;
                    case BatchNorm2d:
                        throw new NotSupportedException(
                            $"Layer '{path}' (BatchNorm2d) does not follow a Conv2d; the ONNX exporter only folds batch normalisation into the convolution before it.");
                    case Sequential:
                        x = EmitChildren(child, path + ".", x);
                        if (module is Models.ResNet { HeadInput: Models.HeadInput.Layer3AndLayer4 } resNet && ReferenceEquals(child, resNet.Layer3))
                            layer3Output = (x, channels);
                        break;
                    case Models.BasicBlock block:
                        x = EmitBasicBlock(path, block, x);
                        break;
                    default:
                        x = EmitSimpleLayer(path, child, x);
                        break;
                }
            }
            return x;
        }

        /// <summary>
        /// A ResNet basic block through its typed parts: conv–BN–ReLU–conv–BN, plus the identity or the downsample, then
        /// the sum and the ReLU again. Node names are the parts' paths in the block.
        /// </summary>
        private string EmitBasicBlock(string path, Models.BasicBlock block, string input)
        {
            long inChannels = channels, inHeight = height, inWidth = width;

            string x = EmitConv(PathOf(path, block, block.Conv1), block.Conv1, PathOf(path, block, block.Bn1), block.Bn1, input);
            x = EmitSimpleLayer(PathOf(path, block, block.Relu), block.Relu, x);
            x = EmitConv(PathOf(path, block, block.Conv2), block.Conv2, PathOf(path, block, block.Bn2), block.Bn2, x);
            var (mainChannels, mainHeight, mainWidth) = (channels, height, width);

            (channels, height, width) = (inChannels, inHeight, inWidth);
            string shortcut = block.Downsample is { } downsample
                ? EmitChildren(downsample, PathOf(path, block, downsample) + ".", input)
                : input;
            if ((channels, height, width) != (mainChannels, mainHeight, mainWidth))
                throw new NotSupportedException(
                    $"Block '{path}': the residual branch gives {mainChannels}×{mainHeight}×{mainWidth} but the shortcut gives {channels}×{height}×{width}.");

            string sum = builder.AddNode("Add", $"{path}.add", [x, shortcut], doc: "residual connection");
            return EmitSimpleLayer(PathOf(path, block, block.Relu), block.Relu, sum);
        }

        /// <summary>ReLU, MaxPool2d, AdaptiveAvgPool2d(1), Flatten, Linear and Dropout (dropped: evaluation mode).</summary>
        private string EmitSimpleLayer(string name, nn.Module module, string x)
        {
            switch (module)
            {
                case ReLU:
                    return builder.AddNode("Relu", name, [x]);

                case Dropout:
                    return x; // identity in evaluation mode

                case MaxPool2d pool:
                {
                    RequireSpatial(name);
                    long[] kernel = pool.kernel_size;
                    long[] stride = pool.stride ?? kernel;
                    long[] padding = pool.padding ?? [0, 0];
                    long[] dilation = pool.dilation ?? [1, 1];
                    height = PooledSize(name, height, kernel[0], stride[0], padding[0], dilation[0], pool.ceil_mode);
                    width = PooledSize(name, width, kernel[1], stride[1], padding[1], dilation[1], pool.ceil_mode);
                    return builder.AddNode("MaxPool", name, [x],
                    [
                        OnnxGraphBuilder.Ints("kernel_shape", kernel),
                        OnnxGraphBuilder.Ints("strides", stride),
                        OnnxGraphBuilder.Ints("pads", [padding[0], padding[1], padding[0], padding[1]]),
                        OnnxGraphBuilder.Ints("dilations", dilation),
                        OnnxGraphBuilder.Int("ceil_mode", pool.ceil_mode ? 1 : 0),
                    ]);
                }

                case AdaptiveAvgPool2d avg when avg.output_size.All(s => s == 1):
                    RequireSpatial(name);
                    (height, width) = (1, 1);
                    return builder.AddNode("GlobalAveragePool", name, [x]);

                case Flatten flatten when flatten.start_dim == 1 && flatten.end_dim == -1:
                    RequireSpatial(name);
                    features = channels * height * width;
                    return builder.AddNode("Flatten", name, [x], [OnnxGraphBuilder.Int("axis", 1)]);

                case Linear linear:
                {
                    RequireFlat($"layer '{name}' (Linear)");
                    if (linear.in_features != features)
                        throw new ArgumentException(
                            $"Layer '{name}' (Linear) expects {linear.in_features} inputs but a {description.InputShape} image gives {features} there: " +
                            $"the network was not built for {nameof(OnnxExportDescription.InputShape)} {description.InputShape}.", nameof(description));
                    var weight = ToFloats(linear.weight!);
                    string w = builder.AddInitializer($"{name}.weight", [linear.out_features, linear.in_features], weight);
                    var inputs = new List<string> { x, w };
                    if (linear.bias is not null)
                        inputs.Add(builder.AddInitializer($"{name}.bias", [linear.out_features], ToFloats(linear.bias)));
                    features = linear.out_features;
                    Classes = linear.out_features;
                    return builder.AddNode("Gemm", name, inputs, [OnnxGraphBuilder.Int("transB", 1)]);
                }

                case Models.StandardizedLinear linear:
                    return EmitStandardizedHead(name, linear, x);

                default:
                    throw new NotSupportedException(
                        $"Layer '{name}' ({Describe(module)}) is not supported by the ONNX exporter for {description.Architecture}; it supports {SupportedLayers}.");
            }
        }

        /// <summary>
        /// The classifier of <see cref="Models.HeadInput.Layer3AndLayer4"/>: the global averages of <c>layer3</c>'s output
        /// joined before <paramref name="x"/> (the flattened averages of <c>layer4</c>), minus the feature means, divided by the
        /// feature scales (Sub and Div, the TorchSharp model's arithmetic), then Gemm.
        /// </summary>
        private string EmitStandardizedHead(string name, Models.StandardizedLinear linear, string x)
        {
            RequireFlat($"layer '{name}' (StandardizedLinear)");
            if (layer3Output is not { } tap)
                throw new NotSupportedException($"Layer '{name}' (StandardizedLinear) reads layer3 and layer4, but the network has no layer3 the exporter could tap.");
            long joined = tap.Channels + features!.Value;
            if (linear.InFeatures != joined)
                throw new ArgumentException(
                    $"Layer '{name}' (StandardizedLinear) expects {linear.InFeatures} inputs but layer3 and layer4 give {tap.Channels} + {features} there.",
                    nameof(description));
            string pooled3 = builder.AddNode("GlobalAveragePool", $"{name}.layer3_pool", [tap.Name]);
            string flat3 = builder.AddNode("Flatten", $"{name}.layer3_flatten", [pooled3], [OnnxGraphBuilder.Int("axis", 1)]);
            string both = builder.AddNode("Concat", $"{name}.concat", [flat3, x], [OnnxGraphBuilder.Int("axis", 1)],
                doc: "global averages of layer3, then of layer4");
            string mean = builder.AddInitializer($"{name}.feature_mean", [joined], ToFloats(linear.FeatureMean), "training mean of each feature");
            string scale = builder.AddInitializer($"{name}.feature_scale", [joined], ToFloats(linear.FeatureScale), "scale of each feature");
            string centred = builder.AddNode("Sub", $"{name}.centre", [both, mean]);
            string standardised = builder.AddNode("Div", $"{name}.standardise", [centred, scale], doc: "(feature − mean) / scale");
            string w = builder.AddInitializer($"{name}.weight", [linear.OutFeatures, linear.InFeatures], ToFloats(linear.Weight));
            string b = builder.AddInitializer($"{name}.bias", [linear.OutFeatures], ToFloats(linear.Bias));
            features = linear.OutFeatures;
            Classes = linear.OutFeatures;
            return builder.AddNode("Gemm", name, [standardised, w, b], [OnnxGraphBuilder.Int("transB", 1)]);
        }

        /// <summary>A convolution, with the batch normalisation that follows it (if any) folded into its weight and bias.</summary>
        private string EmitConv(string name, Conv2d conv, string? bnName, BatchNorm2d? bn, string x)
        {
            RequireSpatial(name);
            if (conv.transposed)
                throw new NotSupportedException($"Layer '{name}' is a transposed convolution, which the ONNX exporter does not support; it supports {SupportedLayers}.");
            if (conv.padding_mode != PaddingModes.Zeros)
                throw new NotSupportedException($"Layer '{name}' (Conv2d) pads with {conv.padding_mode}; the ONNX exporter supports zero padding only.");
            if (conv.padding is null)
                throw new NotSupportedException($"Layer '{name}' (Conv2d) uses padding '{conv.padding_type}'; the ONNX exporter needs explicit padding sizes.");
            if (conv.in_channels != channels)
                throw new ArgumentException(
                    $"Layer '{name}' (Conv2d) expects {conv.in_channels} input channels but gets {channels} there " +
                    $"(for {nameof(OnnxExportDescription.InputShape)} {description.InputShape}).", nameof(description));

            long outChannels = conv.out_channels;
            long[] kernel = conv.kernel_size;
            long[] stride = conv.stride;
            long[] padding = conv.padding;
            long[] dilation = conv.dilation;
            double[] w = ToDoubles(conv.weight!);
            double[] b = conv.bias is null ? new double[outChannels] : ToDoubles(conv.bias);
            long perChannel = w.Length / outChannels;

            string doc = $"{name}";
            if (bn is not null)
            {
                if (bn.num_features != outChannels)
                    throw new NotSupportedException($"Layer '{bnName}' (BatchNorm2d) has {bn.num_features} features but '{name}' gives {outChannels} channels.");
                if (bn.running_mean is null || bn.running_var is null)
                    throw new NotSupportedException(
                        $"Layer '{bnName}' (BatchNorm2d) keeps no running statistics (track_running_stats = false); the ONNX exporter folds the running statistics into '{name}'.");
                double[] mean = ToDoubles(bn.running_mean), variance = ToDoubles(bn.running_var);
                double[]? gamma = bn.weight is null ? null : ToDoubles(bn.weight);
                double[]? beta = bn.bias is null ? null : ToDoubles(bn.bias);
                for (long o = 0; o < outChannels; o++)
                {
                    // BN(conv(x)) = γ (W x + b − μ) / √(σ² + ε) + β = (s W) x + (s (b − μ) + β), s = γ / √(σ² + ε).
                    double s = (gamma?[o] ?? 1.0) / Math.Sqrt(variance[o] + bn.eps);
                    for (long j = o * perChannel; j < (o + 1) * perChannel; j++)
                        w[j] *= s;
                    b[o] = s * (b[o] - mean[o]) + (beta?[o] ?? 0.0);
                }
                doc = $"{name} with {bnName} folded in (running statistics, eps {bn.eps.ToString(CultureInfo.InvariantCulture)})";
            }

            long[] weightDims = [.. conv.weight!.shape];
            string wName = builder.AddInitializer($"{name}.weight", weightDims, Array.ConvertAll(w, v => (float)v), bn is null ? null : doc);
            string bName = builder.AddInitializer($"{name}.bias", [outChannels], Array.ConvertAll(b, v => (float)v), bn is null ? null : doc);

            height = ConvolvedSize(name, height, kernel[0], stride[0], padding[0], dilation[0]);
            width = ConvolvedSize(name, width, kernel[1], stride[1], padding[1], dilation[1]);
            channels = outChannels;
            return builder.AddNode("Conv", name, [x, wName, bName],
            [
                OnnxGraphBuilder.Ints("kernel_shape", kernel),
                OnnxGraphBuilder.Ints("strides", stride),
                OnnxGraphBuilder.Ints("pads", [padding[0], padding[1], padding[0], padding[1]]),
                OnnxGraphBuilder.Ints("dilations", dilation),
                OnnxGraphBuilder.Int("group", conv.groups),
            ], doc);
        }

        private void RequireSpatial(string name)
        {
            if (features is not null)
                throw new NotSupportedException($"Layer '{name}' needs an image-shaped input but comes after the flatten; the ONNX exporter cannot place it.");
        }

        private void RequireFlat(string what)
        {
            if (features is null)
                throw new NotSupportedException($"The network has no Flatten before {what}; the ONNX exporter expects the {description.Architecture} layout to end in Flatten and Linear layers.");
        }

        private long ConvolvedSize(string name, long size, long kernel, long stride, long padding, long dilation) =>
            CheckedSize(name, (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1);

        private long PooledSize(string name, long size, long kernel, long stride, long padding, long dilation, bool ceil)
        {
            long span = size + 2 * padding - dilation * (kernel - 1) - 1;
            long output = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
            // PyTorch: with ceil_mode, the last window must start inside the (left-padded) input.
            if (ceil && (output - 1) * stride >= size + padding)
                output--;
            return CheckedSize(name, output);
        }

        private long CheckedSize(string name, long size) => size >= 1
            ? size
            : throw new ArgumentException($"Layer '{name}' would produce an empty map for {description.InputShape} images.", nameof(description));
    }

    /// <summary>The path of <paramref name="part"/>, a child of <paramref name="parent"/> (at <paramref name="parentPath"/>), under the name the parent registered it with.</summary>
    private static string PathOf(string parentPath, nn.Module parent, nn.Module part)
    {
        foreach (var (name, child) in parent.named_children())
        {
            if (ReferenceEquals(child, part))
                return $"{parentPath}.{name}";
        }
        throw new NotSupportedException($"Layer '{parentPath}' ({Describe(parent)}) does not register its {Describe(part)} as a child.");
    }

    private static string Describe(nn.Module module) => module switch
    {
        AdaptiveAvgPool2d a => $"AdaptiveAvgPool2d({string.Join(", ", a.output_size)})",
        Flatten f => $"Flatten({f.start_dim}, {f.end_dim})",
        _ => module.GetType().Name,
    };

    private static double[] ToDoubles(Tensor t)
    {
        using var d = t.detach().cpu().to_type(ScalarType.Float64).contiguous();
        return d.data<double>().ToArray();
    }

    private static float[] ToFloats(Tensor t)
    {
        using var d = t.detach().cpu().to_type(ScalarType.Float32).contiguous();
        return d.data<float>().ToArray();
    }
}

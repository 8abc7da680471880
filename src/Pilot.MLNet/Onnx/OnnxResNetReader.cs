using System.Buffers.Binary;
using System.Globalization;
using Google.Protobuf;
using Pilot.MLNet.Onnx.Proto;

namespace Pilot.MLNet.Onnx;

/// <summary>One float32 tensor read from an ONNX file: its dimensions and row-major values.</summary>
internal sealed record OnnxFloatTensor(long[] Dims, float[] Values);

/// <summary>
/// The weights of a ResNet with basic blocks, read from an ONNX inference graph (Conv without bias, BatchNormalization
/// with its four statistics, Relu, MaxPool, Add) and named as torchvision names them: <c>conv1.weight</c>,
/// <c>bn1.{weight,bias,running_mean,running_var}</c>, <c>layer{s}.{b}.conv{1,2}.weight</c>, <c>layer{s}.{b}.bn{1,2}.*</c>,
/// <c>layer{s}.0.downsample.{0.weight,1.*}</c>.
/// </summary>
/// <remarks>
/// <para>The graph is followed along its data flow from the graph input, not by node order or node names (exporters name
/// nodes as they like: CNTK's are <c>Convolution…</c>, <c>BatchNormalization…</c>): the input's Conv is <c>conv1</c>, the
/// BatchNormalization it feeds is <c>bn1</c>, then Relu and MaxPool. From then on each basic block starts at the current
/// activation <c>x</c>: the 3×3 Conv that consumes <c>x</c> is the block's <c>conv1</c>; a 1×1 Conv that also consumes
/// <c>x</c> is its <c>downsample.0</c> (with <c>downsample.1</c>, its BatchNormalization); conv1–BN–Relu–conv2–BN meets the
/// shortcut in an Add, whose Relu is the next <c>x</c>. A block with a down-sampling shortcut starts a new stage (stages
/// 2–4; stage 1 keeps 64 channels and has none). The walk ends at the first activation that no basic block consumes.</para>
/// <para>Weights may be stored as <c>float_data</c> (packed, as CNTK writes them) or <c>raw_data</c> (little-endian).
/// Anything the walk does not expect (another operator on the path, a Conv with a bias, an initializer that is not
/// float32 or whose size differs from its dimensions) is an <see cref="InvalidDataException"/> naming the file and the
/// node.</para>
/// </remarks>
internal static class OnnxResNetReader
{
    /// <summary>The result of reading: the named tensors, the blocks found per stage, and the batch-norm epsilon used.</summary>
    internal sealed record Result(IReadOnlyDictionary<string, OnnxFloatTensor> Tensors, IReadOnlyList<int> BlocksPerStage, float Epsilon);

    /// <summary>Reads and maps the ResNet weights of the ONNX file <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not an ONNX model, or its graph is not a basic-block ResNet; the message names the file.</exception>
    internal static Result Read(string path)
    {
        ModelProto model;
        try
        {
            using var file = File.OpenRead(path);
            model = ModelProto.Parser.ParseFrom(file);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"The ONNX file '{path}' is damaged: it is not a readable ONNX model ({e.Message}).", e);
        }
        return Read(model, path);
    }

    /// <summary>Maps the ResNet weights of an ONNX model already parsed; <paramref name="path"/> is for messages.</summary>
    /// <exception cref="InvalidDataException">The graph is not a basic-block ResNet.</exception>
    internal static Result Read(ModelProto model, string path) => new Walk(model, path).Run();

    private sealed class Walk
    {
        private readonly string _path;
        private readonly GraphProto _graph;
        private readonly Dictionary<string, TensorProto> _initializers = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
        private readonly Dictionary<string, OnnxFloatTensor> _tensors = new(StringComparer.Ordinal);
        private float? _epsilon;

        internal Walk(ModelProto model, string path)
        {
            _path = path;
            _graph = model.Graph ?? throw Bad("it has no graph");
            foreach (var initializer in _graph.Initializer)
                _initializers[initializer.Name] = initializer;
            foreach (var node in _graph.Node)
                foreach (string input in node.Input)
                {
                    if (!_consumers.TryGetValue(input, out var list))
                        _consumers[input] = list = [];
                    list.Add(node);
                }
        }

        internal Result Run()
        {
            var inputs = _graph.Input.Where(i => !_initializers.ContainsKey(i.Name)).ToList();
            if (inputs.Count != 1)
                throw Bad($"its graph has {inputs.Count} data inputs; a ResNet has one (the image)");

            // Stem: conv1 → bn1 → relu → maxpool.
            string x = inputs[0].Name;
            var conv1 = Single(x, "Conv", "the image input");
            x = ReadConv(conv1, "conv1", expectedKernel: 7);
            x = ReadBatchNorm(Single(x, "BatchNormalization", $"Conv '{conv1.Name}'"), "bn1");
            x = Single(x, "Relu", "bn1").Output[0];
            x = Single(x, "MaxPool", "the stem's Relu").Output[0];

            var blocks = new List<int> { 0 };
            while (TryBlock(ref x, blocks)) { }
            if (blocks.Count != 4)
                throw Bad($"its graph has {blocks.Count} stages of basic blocks ({string.Join(", ", blocks)} blocks); a ResNet has 4");
            return new Result(_tensors, blocks, _epsilon ?? 1e-5f);
        }

        /// <summary>Reads one basic block starting at activation <paramref name="x"/>; false when no block starts there.</summary>
        private bool TryBlock(ref string x, List<int> blocks)
        {
            var convs = Consumers(x).Where(n => n.OpType == "Conv").ToList();
            if (convs.Count == 0)
                return false;
            var main = convs.Where(c => KernelSide(c) == 3).ToList();
            var shortcut = convs.Where(c => KernelSide(c) == 1).ToList();
            if (main.Count != 1 || shortcut.Count > 1 || main.Count + shortcut.Count != convs.Count)
                throw Bad($"activation '{x}' feeds {convs.Count} Conv nodes that are not a basic block's 3×3 convolution and optional 1×1 shortcut");

            if (shortcut.Count == 1 && blocks[^1] > 0)
                blocks.Add(0); // a down-sampling block after other blocks starts the next stage
            string prefix = $"layer{blocks.Count}.{blocks[^1]}";

            string y = ReadConv(main[0], prefix + ".conv1", expectedKernel: 3);
            y = ReadBatchNorm(Single(y, "BatchNormalization", prefix + ".conv1"), prefix + ".bn1");
            y = Single(y, "Relu", prefix + ".bn1").Output[0];
            y = ReadConv(Single(y, "Conv", prefix + ".relu"), prefix + ".conv2", expectedKernel: 3);
            y = ReadBatchNorm(Single(y, "BatchNormalization", prefix + ".conv2"), prefix + ".bn2");

            string identity = x;
            if (shortcut.Count == 1)
            {
                identity = ReadConv(shortcut[0], prefix + ".downsample.0", expectedKernel: 1);
                identity = ReadBatchNorm(Single(identity, "BatchNormalization", prefix + ".downsample.0"), prefix + ".downsample.1");
            }
            var add = Single(y, "Add", prefix + ".bn2");
            if (!add.Input.Contains(identity))
                throw Bad($"the residual Add '{add.Name}' of block {prefix} does not take the block's shortcut '{identity}'");
            x = Single(add.Output[0], "Relu", $"the residual Add of {prefix}").Output[0];
            blocks[^1]++;
            return true;
        }

        private string ReadConv(NodeProto conv, string name, int expectedKernel)
        {
            if (conv.Input.Count != 2)
                throw Bad($"Conv '{conv.Name}' ({name}) has {conv.Input.Count} inputs; a convolution followed by batch normalisation has no bias");
            var weight = Float(conv.Input[1], conv, name);
            if (weight.Dims.Length != 4 || weight.Dims[2] != expectedKernel || weight.Dims[3] != expectedKernel)
                throw Bad($"Conv '{conv.Name}' ({name}) has weight dimensions [{string.Join(", ", weight.Dims)}]; expected a {expectedKernel}×{expectedKernel} kernel");
            if (Attribute(conv, "group") is { } group && group.I != 1)
                throw Bad($"Conv '{conv.Name}' ({name}) is a grouped convolution (group {group.I})");
            _tensors.Add(name + ".weight", weight);
            return conv.Output[0];
        }

        private string ReadBatchNorm(NodeProto bn, string name)
        {
            if (bn.Input.Count != 5)
                throw Bad($"BatchNormalization '{bn.Name}' ({name}) has {bn.Input.Count} inputs; expected 5 (X, scale, B, mean, var)");
            string[] parts = ["weight", "bias", "running_mean", "running_var"];
            for (int i = 0; i < parts.Length; i++)
                _tensors.Add($"{name}.{parts[i]}", Float(bn.Input[i + 1], bn, name));
            float epsilon = Attribute(bn, "epsilon")?.F ?? 1e-5f;
            if (_epsilon is { } e && e != epsilon)
                throw Bad($"BatchNormalization '{bn.Name}' ({name}) has epsilon {epsilon.ToString(CultureInfo.InvariantCulture)}, the others {e.ToString(CultureInfo.InvariantCulture)}");
            _epsilon = epsilon;
            return bn.Output[0];
        }

        private OnnxFloatTensor Float(string initializer, NodeProto node, string name)
        {
            if (!_initializers.TryGetValue(initializer, out var t))
                throw Bad($"input '{initializer}' of {node.OpType} '{node.Name}' ({name}) is not an initializer");
            if (t.DataType != (int)TensorProto.Types.DataType.Float)
                throw Bad($"initializer '{initializer}' ({name}) has data type {t.DataType}; expected float32 (1)");
            long count = 1;
            foreach (long d in t.Dims)
                count = d < 0 || count * Math.Max(d, 1) > int.MaxValue ? throw Bad($"initializer '{initializer}' has dimensions [{string.Join(", ", t.Dims)}]") : count * d;
            float[] values;
            if (t.HasRawData)
            {
                var raw = t.RawData.Span;
                if (raw.Length != count * sizeof(float))
                    throw Bad($"initializer '{initializer}' ({name}) has {raw.Length} bytes of raw_data; its dimensions need {count * sizeof(float)}");
                values = new float[count];
                for (int i = 0; i < values.Length; i++)
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * sizeof(float)));
            }
            else
            {
                if (t.FloatData.Count != count)
                    throw Bad($"initializer '{initializer}' ({name}) has {t.FloatData.Count} values; its dimensions [{string.Join(", ", t.Dims)}] need {count}");
                values = [.. t.FloatData];
            }
            return new OnnxFloatTensor([.. t.Dims], values);
        }

        private IReadOnlyList<NodeProto> Consumers(string value) =>
            _consumers.TryGetValue(value, out var list) ? list : [];

        /// <summary>The one node of type <paramref name="opType"/> that consumes <paramref name="value"/>.</summary>
        private NodeProto Single(string value, string opType, string after)
        {
            var nodes = Consumers(value).Where(n => n.OpType == opType).ToList();
            if (nodes.Count != 1)
                throw Bad($"{nodes.Count} {opType} nodes follow {after} (value '{value}'); a basic-block ResNet has one there");
            return nodes[0];
        }

        private static int KernelSide(NodeProto conv) =>
            Attribute(conv, "kernel_shape") is { } k && k.Ints.Count == 2 && k.Ints[0] == k.Ints[1] ? (int)k.Ints[0] : -1;

        private static AttributeProto? Attribute(NodeProto node, string name) =>
            node.Attribute.FirstOrDefault(a => a.Name == name);

        private InvalidDataException Bad(string problem) =>
            new($"The ONNX file '{_path}' is not the ResNet this reader expects: {problem}.");
    }
}

using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Pilot.MLNet.Onnx.Proto;

namespace Pilot.MLNet.Onnx;

/// <summary>Accumulates the nodes and float initializers of an ONNX graph, in topological order, with unique names.</summary>
internal sealed class OnnxGraphBuilder
{
    private readonly GraphProto graph = new();
    private readonly HashSet<string> names = new(StringComparer.Ordinal);

    /// <summary>The graph built so far (inputs and outputs are declared by the caller).</summary>
    internal GraphProto Graph => graph;

    /// <summary>Reserves <paramref name="name"/> (a graph input, say) so no node output or initializer takes it.</summary>
    internal void Reserve(string name)
    {
        if (!names.Add(name))
            throw new InvalidOperationException($"The ONNX value name '{name}' is already used.");
    }

    /// <summary>Adds a float32 initializer with the given dimensions (row-major data) and returns its (unique) name.</summary>
    internal string AddInitializer(string name, ReadOnlySpan<long> dims, float[] data, string? doc = null)
    {
        long count = 1;
        foreach (long d in dims)
            count *= d;
        if (count != data.Length)
            throw new InvalidOperationException($"Initializer '{name}': dimensions [{string.Join(", ", dims.ToArray())}] hold {count} values, data has {data.Length}.");

        string unique = Unique(name);
        var tensor = new TensorProto { Name = unique, DataType = (int)TensorProto.Types.DataType.Float, RawData = LittleEndianBytes(data) };
        foreach (long d in dims)
            tensor.Dims.Add(d);
        if (doc is not null)
            tensor.DocString = doc;
        graph.Initializer.Add(tensor);
        return unique;
    }

    /// <summary>
    /// Adds a node with one output and returns that output's name: <paramref name="output"/> when given (a name the caller
    /// has <see cref="Reserve"/>d, such as the graph output), else a unique name made from <paramref name="name"/>.
    /// </summary>
    internal string AddNode(string opType, string name, IEnumerable<string> inputs, IEnumerable<AttributeProto>? attributes = null,
        string? doc = null, string? output = null)
    {
        if (output is not null && !names.Contains(output))
            throw new InvalidOperationException($"The ONNX value name '{output}' was not reserved.");
        output ??= Unique(name);
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.Add(inputs);
        node.Output.Add(output);
        if (attributes is not null)
            node.Attribute.Add(attributes);
        if (doc is not null)
            node.DocString = doc;
        graph.Node.Add(node);
        return output;
    }

    /// <summary>An INT attribute.</summary>
    internal static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>An INTS attribute.</summary>
    internal static AttributeProto Ints(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(values);
        return a;
    }

    /// <summary>A float32 tensor type with the given dimensions; a null entry is the symbolic dimension <paramref name="symbol"/>.</summary>
    internal static TypeProto FloatTensorType(IEnumerable<long?> dims, string symbol)
    {
        var shape = new TensorShapeProto();
        foreach (long? d in dims)
            shape.Dim.Add(d is long v ? new TensorShapeProto.Types.Dimension { DimValue = v } : new TensorShapeProto.Types.Dimension { DimParam = symbol });
        return new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } };
    }

    private string Unique(string name)
    {
        string candidate = name;
        for (int i = 1; !names.Add(candidate); i++)
            candidate = $"{name}_{i}";
        return candidate;
    }

    // ONNX raw_data is fixed-width little-endian.
    private static ByteString LittleEndianBytes(float[] data)
    {
        if (BitConverter.IsLittleEndian)
            return ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan()));
        var bytes = new byte[data.Length * sizeof(float)];
        for (int i = 0; i < data.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), data[i]);
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }
}

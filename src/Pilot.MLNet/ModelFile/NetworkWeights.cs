using System.Security.Cryptography;
using System.Text;
using TorchSharp;

namespace Pilot.MLNet.ModelFile;

/// <summary>
/// The network weights stream of a model file (TorchSharp's <c>Module.save</c> format), read defensively: a SHA-256 digest
/// recorded at save time detects damaged bytes, and the stream's structure (tensor count, names, element types, shapes,
/// byte counts) is checked against the network before TorchSharp reads it, so that nothing is allocated from a size
/// in the file and a mismatch is an <see cref="InvalidDataException"/> saying which tensor differs.
/// </summary>
internal static class NetworkWeights
{
    /// <summary>Bytes of the digest (SHA-256).</summary>
    public const int DigestLength = 32;

    /// <summary>Most dimensions a tensor of the stream may claim before its shape is compared with the network's.</summary>
    private const int MaxRank = 8;

    /// <summary>
    /// Largest weights stream read: 1 GiB, above any network <c>Backbones.Create</c> builds (two linear layers of at most
    /// 2^26 weights each plus about 21 million convolution weights), so a stream that inflates without end is cut off.
    /// </summary>
    public const int MaxStreamBytes = 1 << 30;

    /// <summary>Reads a weights stream into memory, refusing one longer than <see cref="MaxStreamBytes"/>.</summary>
    public static byte[] ReadStream(Stream stream)
    {
        using var copy = new MemoryStream();
        var buffer = new byte[81920];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            if (copy.Length + read > MaxStreamBytes)
                throw new InvalidDataException($"The model's weights stream is longer than {MaxStreamBytes} bytes, more than any network of this library has.");
            copy.Write(buffer, 0, read);
        }
        return copy.ToArray();
    }

    /// <summary>The network's parameters and buffers in TorchSharp's <c>Module.save</c> format.</summary>
    public static byte[] Save(torch.nn.Module network)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            network.save(writer);
        return stream.ToArray();
    }

    /// <summary>The SHA-256 digest of a weights stream.</summary>
    public static byte[] Digest(ReadOnlySpan<byte> weights) => SHA256.HashData(weights);

    /// <summary>
    /// Loads <paramref name="weights"/> into <paramref name="network"/> after checking the digest (when there is one) and the
    /// structure of the stream.
    /// </summary>
    /// <param name="network">The freshly created network the weights belong to.</param>
    /// <param name="weights">The stream's bytes.</param>
    /// <param name="expectedDigest">The digest recorded with the weights, or <see langword="null"/> (files without one).</param>
    /// <param name="description">Describes the network for messages, e.g. "SmallCnn for 1x28x28 images and 10 classes".</param>
    /// <exception cref="InvalidDataException">The digest differs, or the stream does not fit the network.</exception>
    public static void Load(torch.nn.Module network, byte[] weights, byte[]? expectedDigest, string description)
    {
        if (expectedDigest is not null && !CryptographicOperations.FixedTimeEquals(Digest(weights), expectedDigest))
            throw new InvalidDataException(
                $"The model's network weights are damaged: the {weights.Length} bytes of the weights stream do not match the SHA-256 digest recorded when the model was saved.");
        Check(network, weights, description);
        using var stream = new MemoryStream(weights, writable: false);
        using var reader = new BinaryReader(stream);
        network.load(reader);
    }

    /// <summary>Checks the structure of a weights stream against <paramref name="network"/>'s state dictionary.</summary>
    internal static void Check(torch.nn.Module network, byte[] weights, string description)
    {
        var expected = network.state_dict();
        using var stream = new MemoryStream(weights, writable: false);
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        InvalidDataException Mismatch(string what) =>
            new($"The model's network weights do not fit a {description}: {what}.");
        try
        {
            long count = ReadLength(reader);
            if (count != expected.Count)
                throw Mismatch($"the weights stream holds {count} tensors, the network has {expected.Count}");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (long i = 0; i < count; i++)
            {
                string name = reader.ReadString();
                if (!expected.TryGetValue(name, out var tensor))
                    throw Mismatch($"the weights stream has a tensor '{name}' the network does not have");
                if (!seen.Add(name))
                    throw Mismatch($"the weights stream holds tensor '{name}' twice");
                long type = ReadLength(reader);
                if (type != (long)tensor.dtype)
                    throw Mismatch($"tensor '{name}' has element type {type} in the weights stream, {(int)tensor.dtype} ({tensor.dtype}) in the network");
                long rank = ReadLength(reader);
                if (rank != tensor.dim() || rank > MaxRank)
                    throw Mismatch($"tensor '{name}' has {rank} dimensions in the weights stream, {tensor.dim()} in the network");
                for (int d = 0; d < rank; d++)
                {
                    long size = ReadLength(reader);
                    if (size != tensor.shape[d])
                        throw Mismatch($"tensor '{name}' has size {size} in dimension {d} in the weights stream, {tensor.shape[d]} in the network");
                }
                long bytes = tensor.NumberOfElements * tensor.ElementSize;
                if (stream.Length - stream.Position < bytes)
                    throw new InvalidDataException($"The model's network weights are truncated: tensor '{name}' needs {bytes} bytes, {stream.Length - stream.Position} remain.");
                stream.Position += bytes;
            }
            if (stream.Position != stream.Length)
                throw Mismatch($"{stream.Length - stream.Position} bytes follow the last tensor");
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException)
        {
            throw new InvalidDataException("The model's network weights are truncated or damaged.", e);
        }
    }

    /// <summary>A non-negative LEB128 number as TorchSharp writes it (at most 9 bytes: 63 bits).</summary>
    private static long ReadLength(BinaryReader reader)
    {
        long result = 0;
        for (int i = 0; i < 9; i++)
        {
            byte b = reader.ReadByte();
            result |= (long)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
                return result;
        }
        throw new FormatException("A length in the weights stream is longer than 9 bytes.");
    }
}

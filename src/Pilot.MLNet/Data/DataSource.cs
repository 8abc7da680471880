using System.IO.Compression;
using System.Reflection;

namespace Pilot.MLNet.Data;

/// <summary>Something to read a data file from: a file on disk or a manifest resource, with the name used in error messages.</summary>
/// <param name="Name">How messages refer to it, quoted: <c>'path/to/file'</c> or <c>embedded resource 'Name'</c>.</param>
/// <param name="Open">Opens a new seekable stream positioned at the start.</param>
internal sealed record DataSource(string Name, Func<Stream> Open)
{
    private const int FileBufferBytes = 1 << 16;

    /// <summary>The gzip magic number: the first two bytes of every gzip stream (RFC 1952).</summary>
    private static ReadOnlySpan<byte> GzipMagic => [0x1f, 0x8b];

    /// <summary>A file on disk; throws <see cref="FileNotFoundException"/> naming <paramref name="what"/> and the path when it is missing.</summary>
    internal static DataSource FromFile(string path, string what)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"The {what} '{path}' does not exist.", path);
        return new DataSource($"'{path}'", () => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileBufferBytes));
    }

    /// <summary>A manifest resource of <paramref name="assembly"/>.</summary>
    internal static DataSource FromResource(Assembly assembly, string resourceName)
        => new($"embedded resource '{resourceName}'", () => assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"{assembly.GetName().Name} has no embedded resource '{resourceName}'; the build did not embed it."));

    /// <summary>
    /// Opens the source and, when it starts with the gzip magic number (whatever its name), a decompressing stream over it.
    /// </summary>
    /// <param name="compressed">Whether the data is gzip-compressed.</param>
    /// <param name="storedLength">The length of the stored (for gzip: compressed) data.</param>
    internal Stream OpenDecompressed(out bool compressed, out long storedLength)
    {
        var raw = Open();
        try
        {
            if (!raw.CanSeek)
                throw new InvalidOperationException($"{Name}: the stream must be seekable.");
            storedLength = raw.Length;
            Span<byte> magic = stackalloc byte[2];
            int n = raw.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            raw.Position = 0;
            compressed = n == 2 && magic.SequenceEqual(GzipMagic);
            return compressed ? new GZipStream(raw, CompressionMode.Decompress, leaveOpen: false) : raw;
        }
        catch
        {
            raw.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads until <paramref name="buffer"/> is full or the data ends; returns the number of bytes read. Corrupt compressed
    /// data becomes an <see cref="InvalidDataException"/> that names this source.
    /// </summary>
    internal int ReadBlock(Stream stream, Span<byte> buffer)
    {
        try
        {
            return stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{Name}: the gzip data is corrupt ({e.Message}).", e);
        }
    }

    /// <summary>The name used in messages (<see cref="Name"/>).</summary>
    public override string ToString() => Name;

    /// <summary>True when <paramref name="stream"/> has no more data.</summary>
    internal bool AtEnd(Stream stream)
    {
        Span<byte> one = stackalloc byte[1];
        return ReadBlock(stream, one) == 0;
    }
}

using TorchSharp.Modules;

namespace Pilot.TorchSharp;

/// <summary>
/// The optimizer-state stream shared by <see cref="PilotOptimizer"/>, <see cref="Lion"/>, <see cref="AdaBelief"/> and
/// <see cref="SophiaG"/> (written through <see cref="HyperParameterOptions{TSelf}"/> and <see cref="ParameterState"/>).
/// </summary>
/// <remarks>
/// <para>The stream is the one TorchSharp's <c>OptimizerHelper.save_state_dict</c> writes, so state saved or loaded through
/// a base-class reference is the same bytes:</para>
/// <code>
/// string   optimizer type name ("PilotOptimizer", "Lion", "AdaBelief", "SophiaG")   — TorchSharp's type guard
/// LEB128   number of parameter groups G
/// LEB128   number of state records S
/// G ×      group options:  double initial lr, double lr (TorchSharp), uint32 magic, int32 format version, hyper-parameters
/// S ×      state records:  int32 record version, then the record's tensors (TorchSharp tensor format)
/// </code>
/// <para>Reading checks the type name, the magic and the version, and throws <see cref="InvalidDataException"/>
/// ("expected PilotOptimizer state, found 'Adam'") instead of reading garbage. A version newer than the library's is
/// rejected; older versions are read with explicit defaults for fields they lack (none yet: every format is version 1).</para>
/// </remarks>
internal static class StateFormat
{
    /// <summary>Writes the magic and version that open a group-options record.</summary>
    public static void WriteHeader(BinaryWriter writer, uint magic, int version)
    {
        writer.Write(magic);
        writer.Write(version);
    }

    /// <summary>Reads and checks the header written by <see cref="WriteHeader"/>; returns the version.</summary>
    public static int ReadHeader(BinaryReader reader, uint magic, int currentVersion, string optimizerName)
    {
        uint found = reader.ReadUInt32();
        if (found != magic)
            throw new InvalidDataException($"expected {optimizerName} state, found a group record with magic 0x{found:X8} (expected 0x{magic:X8})");
        return CheckVersion(reader.ReadInt32(), currentVersion, optimizerName);
    }

    /// <summary>Checks a record version against the newest this library reads.</summary>
    public static int CheckVersion(int version, int currentVersion, string optimizerName)
    {
        if (version < 1 || version > currentVersion)
            throw new InvalidDataException(
                $"{optimizerName} state format version {version} is not supported; this library reads versions 1 to {currentVersion}");
        return version;
    }

    /// <summary>Magic of a group-options record, from four ASCII characters (little-endian).</summary>
    public static uint Magic(string fourChars) =>
        (uint)fourChars[0] | (uint)fourChars[1] << 8 | (uint)fourChars[2] << 16 | (uint)fourChars[3] << 24;

    /// <summary>
    /// Reads a stream written by <c>save_state_dict</c> into <paramref name="optimizer"/>, with the checks described on
    /// <see cref="StateFormat"/>, then runs <paramref name="afterLoad"/> (validation of the loaded options).
    /// </summary>
    public static void Load(OptimizerHelper optimizer, BinaryReader reader, string expectedName, Action afterLoad)
    {
        ArgumentNullException.ThrowIfNull(reader);
        string name;
        try
        {
            name = reader.ReadString();
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException)
        {
            throw new InvalidDataException($"expected {expectedName} state, found an empty, truncated or unrelated stream", e);
        }
        if (name != expectedName)
            throw new InvalidDataException($"expected {expectedName} state, found '{name}'");

        var sd = optimizer.state_dict();
        try
        {
            long groups = reader.Read7BitEncodedInt64();
            long records = reader.Read7BitEncodedInt64();
            if (groups != sd.Options.Count)
                throw new InvalidDataException($"the {expectedName} state has {groups} parameter group(s); this optimizer has {sd.Options.Count}");
            if (records != sd.State.Count)
                throw new InvalidDataException($"the {expectedName} state has {records} state records; this optimizer has {sd.State.Count} (one per parameter tensor, plus one per group for PILOT): the model differs");
            for (int i = 0; i < sd.Options.Count; i++) sd.Options[i].LoadStateDict(reader);
            for (int i = 0; i < sd.State.Count; i++)
            {
                try
                {
                    sd.State[i].LoadStateDict(reader);
                }
                catch (ArgumentException e)
                {
                    // TorchSharp's tensor reader reports a dtype or shape mismatch as ArgumentException.
                    throw new InvalidDataException($"{expectedName} state record {i} does not fit this optimizer's parameters: {e.Message}", e);
                }
            }
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"the {expectedName} state stream is truncated", e);
        }
        afterLoad();
    }
}

using TorchSharp;

namespace Pilot.MLNet.Training;

/// <summary>
/// A private, seeded stream of TorchSharp's process-wide default CPU generator, which weight initialisation and dropout draw
/// from (neither takes a generator argument). Every use swaps this session's state in and out under one process-wide lock,
/// so concurrent training runs (or model loads) in the same process cannot perturb each other, and a seeded run on the CPU
/// is reproducible. CUDA dropout draws from the CUDA generator instead, which is only seeded (see <see cref="TrainingLoop"/>).
/// </summary>
internal sealed class DefaultGeneratorSession
{
    private static readonly Lock Gate = new();
    private byte[] _state;

    /// <summary>Starts a stream as <c>torch.manual_seed(seed)</c> would.</summary>
    public DefaultGeneratorSession(long seed)
    {
        lock (Gate)
        {
            byte[] saved = Capture();
            torch.random.manual_seed(seed).Dispose();
            _state = Capture();
            RestoreGlobal(saved);
        }
    }

    /// <summary>The stream's state (for checkpoints).</summary>
    public byte[] State => (byte[])_state.Clone();

    /// <summary>Continues the stream from a saved <see cref="State"/>.</summary>
    public void Restore(byte[] state) => _state = (byte[])state.Clone();

    /// <summary>Runs <paramref name="action"/> with the default generator in this stream's state, then saves the advanced state.</summary>
    public T Use<T>(Func<T> action)
    {
        lock (Gate)
        {
            byte[] saved = Capture();
            RestoreGlobal(_state);
            try
            {
                return action();
            }
            finally
            {
                _state = Capture();
                RestoreGlobal(saved);
            }
        }
    }

    /// <summary>Runs <paramref name="action"/>, which draws from the default generator, without interleaving with any session.</summary>
    public static T Exclusive<T>(Func<T> action)
    {
        lock (Gate)
            return action();
    }

    private static byte[] Capture()
    {
        using var state = torch.random.get_rng_state();
        return state.data<byte>().ToArray();
    }

    private static void RestoreGlobal(byte[] state)
    {
        using var tensor = torch.tensor(state);
        torch.random.set_rng_state(tensor);
    }
}

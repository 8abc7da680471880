using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;

namespace Pilot.TorchSharp;

/// <summary>
/// Base of the per-parameter state of this library's optimizers: named tensors shaped like the parameter (zero at the
/// start) and, for optimizers that count steps per parameter, a step count. Handles the state record, copying from
/// another state, moving between devices and disposal.
/// </summary>
/// <remarks>Record layout: int32 record version, int64 step (only when steps are counted), then each tensor in
/// declaration order (TorchSharp tensor format).</remarks>
public abstract class ParameterState : OptimizerState, IDisposable
{
    private readonly StateLayout _layout;
    private readonly bool _countsSteps;
    private readonly string[] _names;
    private readonly Tensor[] _tensors;

    private protected ParameterState(Parameter parameter, StateLayout layout, bool countsSteps, params string[] tensorNames) : base(parameter)
    {
        _layout = layout;
        _countsSteps = countsSteps;
        _names = tensorNames;
        _tensors = new Tensor[tensorNames.Length];
    }

    /// <summary>Steps taken for this parameter (only for optimizers that count steps per parameter).</summary>
    private protected long Steps { get; set; }

    /// <summary>State tensor <paramref name="index"/> (declaration order).</summary>
    private protected Tensor Get(int index) => _tensors[index];

    /// <summary>Bytes held by this state's tensors.</summary>
    private protected long TensorBytes => _tensors.Sum(t => t.NumberOfElements * t.ElementSize);

    /// <summary>Replaces state tensor <paramref name="index"/> by <paramref name="replacement"/> (which this state then owns),
    /// copying the current values into it.</summary>
    private protected void Rebind(int index, Tensor replacement)
    {
        using (no_grad()) replacement.copy_(_tensors[index]);
        _tensors[index].Dispose();
        _tensors[index] = replacement;
    }

    /// <inheritdoc/>
    public override void Initialize(OptimizerOptions options)
    {
        DisposeTensors();
        Steps = 0;
        for (int i = 0; i < _tensors.Length; i++) _tensors[i] = zeros_like(_parameter).DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    public override void SaveStateDict(BinaryWriter writer)
    {
        writer.Write(_layout.Version);
        if (_countsSteps) writer.Write(Steps);
        foreach (var t in _tensors) t.Save(writer);
    }

    /// <inheritdoc/>
    public override void LoadStateDict(BinaryReader reader)
    {
        StateFormat.CheckVersion(reader.ReadInt32(), _layout.Version, _layout.Optimizer);
        if (_countsSteps) Steps = reader.ReadInt64();
        foreach (var t in _tensors) t.Load(reader);
    }

    /// <inheritdoc/>
    public override void LoadStateDict(OptimizerState source)
    {
        if (source is not ParameterState s || s.GetType() != GetType())
            throw new InvalidDataException($"expected {_layout.Optimizer} state, found {source?.GetType().Name ?? "null"}");
        Steps = s.Steps;
        for (int i = 0; i < _tensors.Length; i++) StateTensors.CopyInto(_tensors[i], s._tensors[i], _names[i]);
    }

    /// <inheritdoc/>
    public override void to(Device device)
    {
        for (int i = 0; i < _tensors.Length; i++) _tensors[i] = StateTensors.Move(_tensors[i], device);
    }

    /// <inheritdoc/>
    public override bool ApproximatelyEquals(OptimizerState other) =>
        other is ParameterState s && s.GetType() == GetType() && Steps == s.Steps
        && _tensors.Zip(s._tensors).All(p => p.First.allclose(p.Second));

    /// <inheritdoc/>
    public void Dispose() => DisposeTensors();

    private void DisposeTensors()
    {
        foreach (var t in _tensors) t?.Dispose();
    }
}

/// <summary>Tensor helpers of the optimizers' state records.</summary>
internal static class StateTensors
{
    /// <summary>target ← source, after checking dtype and shape (a state of another model must not be read silently).</summary>
    public static void CopyInto(Tensor target, Tensor source, string name)
    {
        if (!target.shape.SequenceEqual(source.shape) || target.dtype != source.dtype)
            throw new InvalidDataException(
                $"state tensor {name} is {source.dtype}[{string.Join(", ", source.shape)}] but the parameter needs {target.dtype}[{string.Join(", ", target.shape)}]");
        using (no_grad()) target.copy_(source);
    }

    /// <summary>The tensor on <paramref name="device"/>; the old one is disposed when it had to be copied.</summary>
    public static Tensor Move(Tensor t, Device device)
    {
        if (SameDevice(t.device, device)) return t;
        var moved = t.to(device).DetachFromDisposeScope();
        t.Dispose();
        return moved;
    }

    public static bool SameDevice(Device a, Device b) => a.type == b.type && a.index == b.index;
}

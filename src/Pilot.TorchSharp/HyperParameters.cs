using System.Collections;
using TorchSharp.Modules;

namespace Pilot.TorchSharp;

/// <summary>What identifies one optimizer's records in a state stream: its type name, the magic of its group-options
/// record and the newest record version this library writes (see <see cref="StateFormat"/>).</summary>
internal sealed record StateLayout(string Optimizer, uint Magic, int Version);

/// <summary>
/// One hyper-parameter of an optimizer, declared once: its name (the <c>torch.optim</c> argument name, used in messages),
/// its default, its range check, how it is written to and read from a state stream, and the record version that added it
/// (older streams get the default, as pytorch's <c>__setstate__</c> back-fills new flags).
/// </summary>
internal abstract class HyperParameter<TOptions>(string name, int since)
{
    public string Name { get; } = name;

    /// <summary>The first group-options record version that holds this value.</summary>
    public int Since { get; } = since;

    public abstract void Validate(TOptions options);
    public abstract void Inherit(TOptions result, TOptions own, TOptions defaults);
    public abstract void Copy(TOptions target, TOptions source);
    public abstract void Write(BinaryWriter writer, TOptions options);
    public abstract void Read(BinaryReader reader, TOptions options);
    public abstract void SetDefault(TOptions options);
}

/// <summary>A hyper-parameter held in a nullable property <typeparamref name="T"/> of the options (null: inherit).</summary>
internal sealed class HyperParameter<TOptions, T>(
    string name, T @default, Func<TOptions, T> get, Action<TOptions, T> set, Action<T, string> validate,
    Action<BinaryWriter, T> write, Func<BinaryReader, T> read, int since) : HyperParameter<TOptions>(name, since)
{
    public T Default { get; } = @default;
    public override void Validate(TOptions options) => validate(get(options), Name);
    public override void Inherit(TOptions result, TOptions own, TOptions defaults) => set(result, get(own) is { } v ? v : get(defaults));
    public override void Copy(TOptions target, TOptions source) => set(target, get(source));
    public override void Write(BinaryWriter writer, TOptions options) => write(writer, get(options));
    public override void Read(BinaryReader reader, TOptions options) => set(options, read(reader));
    public override void SetDefault(TOptions options) => set(options, Default);
}

/// <summary>
/// The hyper-parameters of one optimizer in declaration order, which is also their validation order and their order in
/// the group-options record. Written as a collection initializer, one line per hyper-parameter.
/// </summary>
/// <param name="layout">The optimizer's state-record identity.</param>
/// <param name="create">Creates empty options (a delegate rather than a <c>new()</c> constraint, which compiles to
/// <c>Activator.CreateInstance</c>, a call the loader audit keeps out of this library).</param>
internal sealed class HyperParameterList<TOptions>(StateLayout layout, Func<TOptions> create) : IEnumerable<HyperParameter<TOptions>>
{
    private readonly List<HyperParameter<TOptions>> _items = new();

    public StateLayout Layout { get; } = layout;

    public Func<TOptions> Create { get; } = create;

    /// <summary>A real-valued hyper-parameter; <paramref name="range"/> is one of <see cref="Check"/>'s (unset reads as NaN).</summary>
    public void Add(string name, double @default, Action<double, string> range, Func<TOptions, double?> get, Action<TOptions, double?> set, int since = 1) =>
        _items.Add(new HyperParameter<TOptions, double?>(name, @default, get, set, (v, n) => range(v ?? double.NaN, n),
            (w, v) => w.Write(v!.Value), r => r.ReadDouble(), since));

    /// <summary>An integer hyper-parameter, at least <paramref name="min"/> (unset reads as 0).</summary>
    public void Add(string name, int @default, int min, Func<TOptions, int?> get, Action<TOptions, int?> set, int since = 1) =>
        _items.Add(new HyperParameter<TOptions, int?>(name, @default, get, set, (v, n) => Check.AtLeast(v ?? 0, min, n),
            (w, v) => w.Write(v!.Value), r => r.ReadInt32(), since));

    /// <summary>A flag.</summary>
    public void Add(string name, bool @default, Func<TOptions, bool?> get, Action<TOptions, bool?> set, int since = 1) =>
        _items.Add(new HyperParameter<TOptions, bool?>(name, @default, get, set, (_, _) => { },
            (w, v) => w.Write(v!.Value), r => r.ReadBoolean(), since));

    /// <summary>A hyper-parameter of another type, with its own check and encoding.</summary>
    public void Add(HyperParameter<TOptions> parameter) => _items.Add(parameter);

    public IEnumerator<HyperParameter<TOptions>> GetEnumerator() => _items.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Options holding β1 and β2, which <c>IBetas</c> (momentum-cycling schedulers) reads and writes.</summary>
internal interface IBetaOptions
{
    double? beta1 { get; set; }
    double? beta2 { get; set; }
}

/// <summary>
/// Base of the hyper-parameters of one parameter group of this library's optimizers. A <see langword="null"/> value takes
/// the optimizer's value when the group is added. Validation, inheritance, copying and the state-stream record are
/// derived from the optimizer's declared hyper-parameter list, so a hyper-parameter is declared in one place.
/// </summary>
/// <typeparam name="TSelf">The optimizer's options type.</typeparam>
public abstract class HyperParameterOptions<TSelf> : OptimizerOptions where TSelf : HyperParameterOptions<TSelf>
{
    private protected HyperParameterOptions() { }

    /// <summary>The optimizer's declared hyper-parameters (a static list).</summary>
    private protected abstract HyperParameterList<TSelf> Declared { get; }

    private TSelf Self => (TSelf)this;

    /// <summary>Empty options of the same type.</summary>
    internal TSelf CreateEmpty() => Declared.Create();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option outside its valid range.</summary>
    internal void Validate()
    {
        Check.NonNegative(LearningRate ?? double.NaN, "lr");
        foreach (var p in Declared) p.Validate(Self);
    }

    /// <summary>A copy with every unset value taken from <paramref name="defaults"/>.</summary>
    internal TSelf WithDefaults(TSelf defaults)
    {
        var lr = LearningRate ?? defaults.LearningRate;
        var result = Declared.Create();
        result.LearningRate = lr;
        result.InitialLearningRate = lr ?? 0;
        foreach (var p in Declared) p.Inherit(result, Self, defaults);
        InheritUndeclared(result, defaults);
        return result;
    }

    /// <summary>Inherits options that are not hyper-parameters of the state (construction inputs such as an initial policy).</summary>
    private protected virtual void InheritUndeclared(TSelf result, TSelf defaults) { }

    /// <inheritdoc/>
    public override void SaveStateDict(BinaryWriter writer)
    {
        base.SaveStateDict(writer);
        var layout = Declared.Layout;
        StateFormat.WriteHeader(writer, layout.Magic, layout.Version);
        foreach (var p in Declared) p.Write(writer, Self);
    }

    /// <inheritdoc/>
    public override void LoadStateDict(BinaryReader reader)
    {
        base.LoadStateDict(reader);
        var layout = Declared.Layout;
        int version = StateFormat.ReadHeader(reader, layout.Magic, layout.Version, layout.Optimizer);
        foreach (var p in Declared)
        {
            if (version >= p.Since) p.Read(reader, Self);
            else p.SetDefault(Self);
        }
    }

    /// <inheritdoc/>
    public override void LoadStateDict(OptimizerOptions source)
    {
        var o = source as TSelf ?? throw new InvalidDataException(
            $"expected {Declared.Layout.Optimizer} options, found {source?.GetType().Name ?? "null"}");
        base.LoadStateDict(source);
        foreach (var p in Declared) p.Copy(Self, o);
    }
}

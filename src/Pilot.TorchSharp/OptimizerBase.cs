using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;
using TorchParamGroup = TorchSharp.Modules.ParamGroup;

namespace Pilot.TorchSharp;

/// <summary>
/// Base of this library's optimizers (<see cref="PilotOptimizer"/>, <see cref="Lion"/>, <see cref="AdaBelief"/>,
/// <see cref="SophiaG"/>): the checked state-stream reader, which TorchSharp's <c>OptimizerHelper</c> does not let a
/// subclass override, so callers holding any of them load state through this one type.
/// </summary>
/// <remarks>Only this library derives from it (the constructor is not visible outside).</remarks>
public abstract class PilotOptimizerBase : OptimizerHelper
{
    private protected PilotOptimizerBase() { }

    /// <summary>Type name, magic and record version of this optimizer's state records.</summary>
    private protected abstract StateLayout Layout { get; }

    /// <summary>
    /// Loads state written by <c>save_state_dict</c> of the same optimizer type over parameters of the same shapes and
    /// dtypes, in the same groups; the loaded options are validated.
    /// </summary>
    /// <exception cref="InvalidDataException">The stream holds another optimizer's state ("expected PilotOptimizer state,
    /// found 'Adam'"), a newer format, is truncated, or does not fit the parameters.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A loaded option is outside its valid range.</exception>
    public new void load_state_dict(BinaryReader reader) => StateFormat.Load(this, reader, Layout.Optimizer, AfterLoad);

    /// <summary>Loads state from a file written by <c>save_state_dict(string)</c>; see <see cref="load_state_dict(BinaryReader)"/>.</summary>
    public new void load_state_dict(string location)
    {
        using var stream = File.OpenRead(location);
        using var reader = new BinaryReader(stream);
        load_state_dict(reader);
    }

    /// <summary>Checks the options (and any group state) after a load.</summary>
    private protected abstract void AfterLoad();
}

/// <summary>
/// The shared plumbing of this library's optimizers, the way TorchSharp's <c>OptimizerHelper</c> and pytorch's
/// <c>torch.optim.Optimizer</c> hold it: defaults, parameter groups (checked, copied, inheriting unset options), one
/// state record per parameter, state dictionaries, <c>IBetas</c> and disposal. A derived optimizer declares its
/// hyper-parameters (<see cref="HyperParameterOptions{TSelf}"/>), its state tensors (<see cref="ParameterState"/>) and
/// its step.
/// </summary>
/// <typeparam name="TOptions">The optimizer's options.</typeparam>
/// <typeparam name="TGroup">The optimizer's parameter group.</typeparam>
/// <typeparam name="TState">The optimizer's per-parameter state.</typeparam>
public abstract class PilotOptimizerBase<TOptions, TGroup, TState> : PilotOptimizerBase, IBetas
    where TOptions : HyperParameterOptions<TOptions>
    where TGroup : PilotParamGroup<TOptions>
    where TState : ParameterState
{
    private protected PilotOptimizerBase() { }

    private protected TOptions Defaults => (TOptions)_defaults;

    private string Name => Layout.Optimizer;

    /// <summary>Validates the defaults and adds the groups; called by the derived constructor once its own fields are set.</summary>
    private protected void AddGroups(IEnumerable<TorchParamGroup> groups, TOptions defaults)
    {
        ArgumentNullException.ThrowIfNull(groups, "parameters");
        defaults.Validate();
        _defaults = defaults;
        _parameter_groups = new List<TorchParamGroup>();
        foreach (var group in groups) add_param_group(group);
        if (_parameter_groups.Count == 0)
            throw new ArgumentException($"{Name} got an empty list of parameter groups.", "parameters");
    }

    /// <summary>β1 and β2 of the defaults (used by schedulers that cycle momentum, e.g. OneCycleLR).</summary>
    public (double, double) Betas
    {
        get => ((IBetaOptions)Defaults).Get();
        set => ((IBetaOptions)Defaults).Set(value);
    }

    /// <summary>
    /// Adds a parameter group. Options left <see langword="null"/> in the group take the optimizer's values; the group is
    /// copied (the caller's object is not modified).
    /// </summary>
    /// <param name="param_group">A group of this optimizer's type, or a TorchSharp group whose options are null or this optimizer's.</param>
    /// <exception cref="ArgumentOutOfRangeException">A group option is outside its valid range.</exception>
    /// <exception cref="ArgumentException">The group is empty, holds a parameter twice or one already in another group,
    /// or a parameter this optimizer cannot update.</exception>
    public override void add_param_group(TorchParamGroup param_group)
    {
        ArgumentNullException.ThrowIfNull(param_group);
        if (param_group.Options is not null and not TOptions)
            throw new ArgumentException(
                $"param_group.Options must be {Name}.Options or null; got {param_group.Options.GetType().FullName}", nameof(param_group));
        var parameters = (param_group.Parameters ?? throw new ArgumentException("param_group.Parameters is null", nameof(param_group))).ToArray();
        if (parameters.Length == 0)
            throw new ArgumentException($"{Name} got an empty parameter list (parameter group {_parameter_groups.Count} has no parameters).", nameof(param_group));

        var options = ((TOptions?)param_group.Options ?? Defaults.CreateEmpty()).WithDefaults(Defaults);
        options.Validate();

        var known = new HashSet<IntPtr>(_parameter_groups.SelectMany(g => g.Parameters).Select(p => p.Handle));
        for (int i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i] ?? throw new ArgumentException($"parameter {i} of the group is null", nameof(param_group));
            if (RejectParameter(p, i, parameters[0]) is { } reason)
                throw new ArgumentException(reason, nameof(param_group));
            if (!known.Add(p.Handle))
                throw new ArgumentException($"parameter {i} of the group appears twice or is already in another parameter group", nameof(param_group));
        }

        _parameter_groups.Add(NewGroup(parameters, options));
        foreach (var p in parameters)
        {
            var state = NewState(p);
            state.Initialize(options);
            _state[p.Handle] = state;
        }
    }

    /// <summary>Why parameter <paramref name="index"/> cannot be in a group (null: it can). Default: it must be floating-point.</summary>
    private protected virtual string? RejectParameter(Parameter parameter, int index, Parameter first) =>
        parameter.is_floating_point() ? null : $"parameter {index} of the group has dtype {parameter.dtype}; {Name} needs floating-point parameters";

    /// <summary>The group adopted by the optimizer (checked parameters, completed options).</summary>
    private protected abstract TGroup NewGroup(Parameter[] parameters, TOptions options);

    /// <summary>A fresh state record for <paramref name="parameter"/>.</summary>
    private protected abstract TState NewState(Parameter parameter);

    /// <summary>Loads state returned by another optimizer's <c>state_dict()</c> of the same type (copies its tensors).</summary>
    /// <exception cref="InvalidDataException">The state is another optimizer's or does not fit this optimizer's parameters.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A loaded option is outside its valid range.</exception>
    public override void load_state_dict(StateDictionary state_dict)
    {
        ArgumentNullException.ThrowIfNull(state_dict);
        foreach (var o in state_dict.Options)
            if (o is not TOptions)
                throw new InvalidDataException($"expected {Name} state, found {o?.GetType().DeclaringType?.Name ?? o?.GetType().Name ?? "null"} options");
        var sd = this.state_dict();
        if (state_dict.Options.Count != sd.Options.Count || state_dict.State.Count != sd.State.Count)
            throw new InvalidDataException(
                $"the state has {state_dict.Options.Count} group(s) and {state_dict.State.Count} records; this optimizer has {sd.Options.Count} and {sd.State.Count}: the model differs");
        for (int i = 0; i < sd.State.Count; i++)
            if (state_dict.State[i]?.GetType() != sd.State[i].GetType())
                throw new InvalidDataException(
                    $"expected {Name} state, found a {state_dict.State[i]?.GetType().Name ?? "null"} record where a {sd.State[i].GetType().Name} belongs");
        base.load_state_dict(state_dict);
        AfterLoad();
    }

    private protected override void AfterLoad()
    {
        foreach (var g in _parameter_groups.Cast<TGroup>())
        {
            g.Options.Validate();
            AfterGroupLoaded(g);
        }
    }

    /// <summary>Checks or rebuilds a group's own state after a load (PILOT's policy state).</summary>
    private protected virtual void AfterGroupLoaded(TGroup group) { }

    /// <summary>
    /// The step of optimizers that update each parameter on its own: validates each group's (mutable) options, then calls
    /// <paramref name="update"/> under <c>no_grad</c>, in a dispose scope, for every parameter that has a gradient
    /// (parameters whose <c>grad</c> is <see langword="null"/> are skipped, state unchanged).
    /// </summary>
    private protected Tensor StepEachParameter(Func<Tensor>? closure, Action<TOptions, Parameter, Tensor, TState> update) =>
        _step<TGroup>(group =>
        {
            var options = group.Options;
            options.Validate(); // options are mutable (schedulers, users); a bad value must not reach the math
            foreach (var p in group.Parameters)
            {
                var g = p.grad;
                if (g is null) continue;
                using var scope = NewDisposeScope();
                update(options, p, g, (TState)_state[p.Handle]);
            }
        }, closure);

    /// <summary>Disposes what a group holds besides its parameters' state.</summary>
    private protected virtual void DisposeGroup(TGroup group) { }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        foreach (var kv in _state) (kv.Item2 as IDisposable)?.Dispose();
        foreach (var g in _parameter_groups) if (g is TGroup group) DisposeGroup(group);
    }
}

/// <summary>Base of this library's parameter groups: the options, the parameter list as adopted, and <c>IBetas</c>.</summary>
/// <typeparam name="TOptions">The optimizer's options.</typeparam>
public abstract class PilotParamGroup<TOptions> : ParamGroup<TOptions>, IBetas where TOptions : HyperParameterOptions<TOptions>
{
    private protected PilotParamGroup() { }

    private protected PilotParamGroup(IEnumerable<Parameter> parameters, TOptions options) : base(parameters, options) { }

    /// <summary>The group's parameters as the list the optimizer materialised when it adopted the group.</summary>
    internal IReadOnlyList<Parameter> ParameterList => Parameters as IReadOnlyList<Parameter> ?? Parameters.ToArray();

    /// <summary>β1 and β2 of this group (NaN while unset).</summary>
    public (double, double) Betas
    {
        get => ((IBetaOptions)Options).Get();
        set => ((IBetaOptions)Options).Set(value);
    }
}

internal static class BetaOptions
{
    public static (double, double) Get(this IBetaOptions o) => (o.beta1 ?? double.NaN, o.beta2 ?? double.NaN);

    public static void Set(this IBetaOptions o, (double, double) value)
    {
        Check.UnitInterval(value.Item1, "beta1");
        Check.UnitInterval(value.Item2, "beta2");
        o.beta1 = value.Item1;
        o.beta2 = value.Item2;
    }
}

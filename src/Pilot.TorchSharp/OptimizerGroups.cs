using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using TorchParamGroup = TorchSharp.Modules.ParamGroup;

namespace Pilot.TorchSharp;

/// <summary>Parameter-group checks shared by <see cref="Lion"/> and <see cref="AdaBelief"/> (PILOT has its own, stricter ones).</summary>
internal static class OptimizerGroups
{
    /// <summary>
    /// Materialises a group's parameters and rejects an empty group, null entries, and parameters listed twice or already
    /// in another group.
    /// </summary>
    public static Parameter[] CheckParameters(TorchParamGroup group, IEnumerable<TorchParamGroup> existing, string optimizer)
    {
        var parameters = (group.Parameters ?? throw new ArgumentException("param_group.Parameters is null", "param_group")).ToArray();
        if (parameters.Length == 0)
            throw new ArgumentException($"{optimizer} got an empty parameter list (parameter group {existing.Count()} has no parameters).", "param_group");
        var known = new HashSet<IntPtr>(existing.SelectMany(g => g.Parameters).Select(p => p.Handle));
        for (int i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i] ?? throw new ArgumentException($"parameter {i} of the group is null", "param_group");
            if (!p.is_floating_point())
                throw new ArgumentException($"parameter {i} of the group has dtype {p.dtype}; {optimizer} needs floating-point parameters", "param_group");
            if (!known.Add(p.Handle))
                throw new ArgumentException($"parameter {i} of the group appears twice or is already in another parameter group", "param_group");
        }
        return parameters;
    }

    /// <summary>Checks that an in-memory state dictionary holds this optimizer's record types, in this optimizer's counts.</summary>
    public static void CheckStateTypes<TOptions, TState>(OptimizerHelper optimizer, optim.Optimizer.StateDictionary source, string name)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Options.Any(o => o is not TOptions) || source.State.Any(s => s is not TState))
            throw new InvalidDataException($"expected {name} state, found {source.Options.FirstOrDefault()?.GetType().DeclaringType?.Name ?? "another optimizer's state"}");
        var sd = optimizer.state_dict();
        if (source.Options.Count != sd.Options.Count || source.State.Count != sd.State.Count)
            throw new InvalidDataException(
                $"the state has {source.Options.Count} group(s) and {source.State.Count} records; this optimizer has {sd.Options.Count} and {sd.State.Count}: the model differs");
    }
}

// Lets this assembly use the ML.NET internals it needs for model save/load (ModelSaveContext, ModelLoadContext,
// LoadableClassAttribute, RowToRowTransformerBase members, ...). The .NET runtime honours this attribute; the C#
// compiler does not, so the build compiles against copies of these assemblies with the internals made public
// (eng/MLNetInternals.targets). Keep this list and PilotPublicizedAssemblies in that file in step.
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]

namespace System.Runtime.CompilerServices;

/// <summary>Declares that this assembly may access non-public members of the named assembly (honoured by the runtime).</summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class IgnoresAccessChecksToAttribute(string assemblyName) : Attribute
{
    /// <summary>The simple name of the assembly whose access checks are ignored.</summary>
    public string AssemblyName { get; } = assemblyName;
}

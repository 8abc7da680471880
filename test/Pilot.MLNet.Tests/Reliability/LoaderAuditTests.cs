using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Microsoft.ML;
using Pilot.TorchSharp;

namespace Pilot.MLNet.Tests.Reliability;

/// <summary>
/// Loading a model or a state file runs no code but our own readers: neither library assembly references a serializer
/// that instantiates types named in its input (BinaryFormatter and friends) or an API that turns a string into a type or
/// an assembly (Type.GetType(string), Activator.CreateInstance, Assembly.Load*). Checked in the compiled IL's member
/// references, so a later change that adds one fails here. (ML.NET itself, when it opens a model.zip, loads the assembly
/// the header names with Assembly.Load — by name, from the application's own probing paths — and instantiates only
/// classes registered with [LoadableClass]; see docs/reliability.md.)
/// </summary>
[TestClass]
public sealed class LoaderAuditTests
{
    /// <summary>Types whose use would let a file choose what gets instantiated.</summary>
    private static readonly string[] ForbiddenTypes =
    [
        "System.Runtime.Serialization.Formatters.Binary.BinaryFormatter",
        "System.Runtime.Serialization.Formatters.Soap.SoapFormatter",
        "System.Runtime.Serialization.NetDataContractSerializer",
        "System.Runtime.Serialization.DataContractSerializer",
        "System.Web.UI.LosFormatter",
        "System.Web.UI.ObjectStateFormatter",
        "System.Xml.Serialization.XmlSerializer",
        "Newtonsoft.Json.JsonConvert",
        "Newtonsoft.Json.JsonSerializer",
    ];

    /// <summary>Methods that turn data into a type or an assembly.</summary>
    private static readonly (string Type, string Method)[] ForbiddenMethods =
    [
        ("System.Type", "GetType"), // the static Type.GetType(string); object.GetType() is a member of System.Object
        ("System.Activator", "CreateInstance"),
        ("System.Reflection.Assembly", "Load"),
        ("System.Reflection.Assembly", "LoadFrom"),
        ("System.Reflection.Assembly", "LoadFile"),
        ("System.Reflection.Assembly", "UnsafeLoadFrom"),
        ("System.Runtime.Loader.AssemblyLoadContext", "LoadFromAssemblyPath"),
        ("System.Runtime.Loader.AssemblyLoadContext", "LoadFromStream"),
    ];

    [TestMethod]
    [DataRow("Pilot.MLNet")]
    [DataRow("Pilot.TorchSharp")]
    public void LibraryReferencesNoTypeInstantiatingDeserializer(string assemblyName)
    {
        var assembly = assemblyName == "Pilot.MLNet" ? typeof(PilotImageClassificationTransformer).Assembly : typeof(PilotOptimizer).Assembly;
        using var pe = new PEReader(File.OpenRead(assembly.Location));
        var md = pe.GetMetadataReader();

        var typeNames = md.TypeReferences.Select(h => md.GetTypeReference(h)).Select(t => $"{md.GetString(t.Namespace)}.{md.GetString(t.Name)}").ToHashSet();
        Assert.IsGreaterThan(50, typeNames.Count, "the reader sees the assembly's type references");
        foreach (var forbidden in ForbiddenTypes)
            Assert.IsFalse(typeNames.Contains(forbidden), $"{assemblyName} references {forbidden}");

        var calls = new List<string>();
        foreach (var handle in md.MemberReferences)
        {
            var member = md.GetMemberReference(handle);
            if (member.Parent.Kind != HandleKind.TypeReference)
                continue;
            var parent = md.GetTypeReference((TypeReferenceHandle)member.Parent);
            calls.Add($"{md.GetString(parent.Namespace)}.{md.GetString(parent.Name)}::{md.GetString(member.Name)}");
        }
        Assert.IsTrue(calls.Contains("System.IO.BinaryReader::ReadInt32") || calls.Contains("System.IO.BinaryReader::ReadDouble"),
            "the reader sees the assembly's member references");
        foreach (var (type, method) in ForbiddenMethods)
            Assert.IsFalse(calls.Contains($"{type}::{method}"), $"{assemblyName} calls {type}.{method}");
    }

    [TestMethod]
    public void ModelLoaderReadsOnlyWhatItsFormatDescribes()
    {
        // Appending a valid-looking .NET type name anywhere in the model stream changes nothing: the loader reads fields by
        // position, never a type name, and data after its fields is never interpreted.
        using var fixture = new ReliabilityFixture();
        string path = fixture.Copy(fixture.PixelModelPath, "appended.zip");
        ReliabilityFixture.RewriteEntry(path, "Model.key", b => [.. b, .. "System.Diagnostics.Process, System.Diagnostics.Process"u8]);
        var ml = new MLContext(seed: 1);
        using var model = (PilotImageClassificationTransformer)ml.Model.Load(path, out _);
        Assert.AreEqual(6, ReliabilityFixture.ScoreAll(model, ReliabilityFixture.PixelData(ml, 6, 2), 3));
    }
}

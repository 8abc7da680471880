using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using Microsoft.ML;

namespace Pilot.MLNet.Tests.Internal;

/// <summary>
/// What Pilot.MLNet takes from ML.NET beyond its public API (eng/MLNetInternals.targets makes it compile), listed from the
/// built assembly and compared with the committed MLNetInternals.txt, and the ML.NET version range that guards it.
/// </summary>
/// <remarks>
/// Upgrading ML.NET: build, run this class. A member that ML.NET removed or changed fails to resolve and is named; a
/// member that Pilot.MLNet starts or stops using shows as an added or removed line (the full new list is written next to
/// the committed one as MLNetInternals.received.txt). Check each listed member in the new ML.NET source, then copy the
/// received file over the committed one and widen PilotMLNetVersions in Directory.Packages.props.
/// </remarks>
[TestClass]
public sealed class MLNetInternalsTests
{
    private const string ListFile = "test/Pilot.MLNet.Tests/Internal/MLNetInternals.txt";

    [TestMethod]
    public void NonPublicMLNetMembersUsed_MatchTheCommittedList()
    {
        var (used, unresolved) = NonPublicMLNetUses(typeof(PilotCatalog).Assembly);
        Assert.IsEmpty(unresolved,
            "Pilot.MLNet references ML.NET members that the loaded ML.NET does not have (changed or removed):\n" + string.Join("\n", unresolved));
        Assert.IsNotEmpty(used, "Pilot.MLNet registers its model loader through ML.NET internals; none were found, so the scan is broken.");

        string path = RepositoryFile(ListFile);
        var committed = File.ReadAllLines(path).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var added = used.Except(committed).ToList();
        var removed = committed.Except(used).ToList();
        if (added.Count + removed.Count > 0)
        {
            File.WriteAllLines(Path.ChangeExtension(path, ".received.txt"), used);
            Assert.Fail($"The non-public ML.NET members Pilot.MLNet uses differ from {ListFile} " +
                $"(ML.NET {MLNetVersion()} loaded; full list written to MLNetInternals.received.txt):\n" +
                string.Join("\n", added.Select(l => "+ " + l).Concat(removed.Select(l => "- " + l))));
        }
    }

    [TestMethod]
    public void VersionRange_HoldsTheMLNetBuiltAgainst_AndExcludesOtherReleaseLines()
    {
        string props = File.ReadAllText(RepositoryFile("Directory.Packages.props"));
        var match = Regex.Match(props, @"<PilotMLNetVersions>\[(?<lo>[0-9.]+),(?<hi>[0-9.]+)\)</PilotMLNetVersions>");
        Assert.IsTrue(match.Success, "Directory.Packages.props must give PilotMLNetVersions as [low,high): a lower and an exclusive upper bound.");
        var low = Version.Parse(match.Groups["lo"].Value);
        var high = Version.Parse(match.Groups["hi"].Value);
        var loaded = MLNetVersion();

        Assert.IsTrue(low <= loaded && loaded < high, $"ML.NET {loaded} is loaded, outside [{low},{high}).");
        Assert.AreEqual(new Version(low.Major, low.Minor + 1, 0), high,
            "the range must end before the next ML.NET minor release, whose internals Pilot.MLNet has not been built against");
        foreach (var other in new[] { new Version(7, 0, 0), new Version(loaded.Major, loaded.Minor + 1, 0), new Version(5, 0, 1) })
            Assert.IsFalse(low <= other && other < high, $"ML.NET {other} must be outside the range [{low},{high}).");
        foreach (var package in new[] { "Microsoft.ML", "Microsoft.ML.ImageAnalytics", "Microsoft.ML.OnnxTransformer" })
            Assert.Contains($"<PackageVersion Include=\"{package}\" Version=\"$(PilotMLNetVersions)\" />", props);

        // The build check shipped in the package (an app that resolved another ML.NET fails to build) has the same bounds.
        string targets = File.ReadAllText(RepositoryFile("src/Pilot.MLNet/buildTransitive/Pilot.MLNet.targets"));
        Assert.Contains($"<_PilotMLNetMinimum>{match.Groups["lo"].Value}</_PilotMLNetMinimum>", targets);
        Assert.Contains($"<_PilotMLNetBelow>{match.Groups["hi"].Value}</_PilotMLNetBelow>", targets);
    }

    /// <summary>The ML.NET package version loaded (from Microsoft.ML.Core's informational version, e.g. "6.0.0+abc").</summary>
    private static Version MLNetVersion()
    {
        string info = typeof(MLContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        return Version.Parse(Regex.Match(info, @"^\d+\.\d+\.\d+").Value);
    }

    /// <summary>
    /// Every ML.NET type and member <paramref name="assembly"/> references or overrides that ML.NET does not make public
    /// (internal, private protected, private, or inside a type that is not public), one sorted line each, and the
    /// references that do not resolve against the loaded ML.NET.
    /// </summary>
    private static (List<string> Used, List<string> Unresolved) NonPublicMLNetUses(Assembly assembly)
    {
        var used = new SortedSet<string>(StringComparer.Ordinal);
        var unresolved = new List<string>();
        var module = assembly.ManifestModule;
        using var pe = new PEReader(File.OpenRead(assembly.Location));
        var reader = pe.GetMetadataReader();

        foreach (var handle in reader.TypeReferences)
        {
            Type type;
            try { type = module.ResolveType(MetadataTokens.GetToken(handle)); }
            catch (Exception e) when (e is TypeLoadException or ArgumentException)
            {
                var tr = reader.GetTypeReference(handle);
                string name = $"{reader.GetString(tr.Namespace)}.{reader.GetString(tr.Name)}";
                if (name.StartsWith("Microsoft.ML", StringComparison.Ordinal)) unresolved.Add("type " + name);
                continue;
            }
            if (IsMLNet(type) && !Accessible(type))
                used.Add($"[{type.Assembly.GetName().Name}] type {type.FullName}");
        }

        foreach (var handle in reader.MemberReferences)
        {
            var reference = reader.GetMemberReference(handle);
            string name = reader.GetString(reference.Name);
            MemberInfo? member = null;
            try { member = module.ResolveMember(MetadataTokens.GetToken(handle)); }
            catch (Exception e) when (e is ArgumentException or MissingMemberException or TypeLoadException or BadImageFormatException)
            {
                // A member of a generic instantiation over our own generic parameters: look the name up on the definition.
                var parent = GenericDefinition(reader, module, reference.Parent);
                if (parent is null || !IsMLNet(parent)) continue;
                var candidates = parent.GetMember(name, MemberTypes.All, BindingFlags.Public | BindingFlags.NonPublic |
                    BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly);
                if (candidates.Length == 0) unresolved.Add($"{parent.FullName}::{name}");
                else if (!Accessible(parent) || candidates.All(c => !Accessible(c)))
                    used.Add($"[{parent.Assembly.GetName().Name}] member {parent.FullName}::{name}");
                continue;
            }
            if (member?.DeclaringType is { } declaring && IsMLNet(declaring) && (!Accessible(declaring) || !Accessible(member)))
                used.Add($"[{declaring.Assembly.GetName().Name}] member {Definition(declaring).FullName}::{member}");
        }

        // Overrides of ML.NET's internal and private protected virtuals (no member reference is emitted for them).
        foreach (var type in assembly.GetTypes())
            foreach (var method in type.GetMethods(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                var root = method.GetBaseDefinition();
                if (root.DeclaringType is { } declaring && root != method && IsMLNet(declaring) && !Accessible(root))
                    used.Add($"[{declaring.Assembly.GetName().Name}] override {Definition(declaring).FullName}::{root}");
            }
        return ([.. used], unresolved);
    }

    private static Type? GenericDefinition(MetadataReader reader, Module module, EntityHandle parent)
    {
        if (parent.Kind == HandleKind.TypeReference)
            return module.ResolveType(MetadataTokens.GetToken(parent));
        if (parent.Kind != HandleKind.TypeSpecification)
            return null;
        var blob = reader.GetBlobReader(reader.GetTypeSpecification((TypeSpecificationHandle)parent).Signature);
        if (blob.ReadSignatureTypeCode() != SignatureTypeCode.GenericTypeInstance)
            return null;
        blob.ReadSignatureTypeCode(); // class or value type
        return module.ResolveType(MetadataTokens.GetToken(blob.ReadTypeHandle()));
    }

    private static Type Definition(Type type) => type.IsConstructedGenericType ? type.GetGenericTypeDefinition() : type;

    private static bool IsMLNet(Type type) => type.Assembly.GetName().Name!.StartsWith("Microsoft.ML", StringComparison.Ordinal);

    /// <summary>Reachable by a derived class in another assembly: public, or protected (not private protected), all the way out.</summary>
    private static bool Accessible(Type type)
    {
        if (type.IsGenericParameter) return true;
        if (type.HasElementType) return Accessible(type.GetElementType()!);
        if (type.IsConstructedGenericType)
            return Accessible(type.GetGenericTypeDefinition()) && type.GetGenericArguments().All(Accessible);
        if (!type.IsNested) return type.IsPublic;
        return (type.IsNestedPublic || type.IsNestedFamily || type.IsNestedFamORAssem) && Accessible(type.DeclaringType!);
    }

    private static bool Accessible(MemberInfo member) => member switch
    {
        MethodBase m => m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly,
        FieldInfo f => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly,
        Type t => Accessible(t),
        _ => true,
    };

    private static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pilot.MLNet.sln")))
                return Path.Combine(dir.FullName, relative);
        Assert.Inconclusive("The repository root (Pilot.MLNet.sln) is not above the test binaries.");
        return "";
    }
}

namespace Pilot.MLNet.Tests.Reliability;

/// <summary>Runs every row of <see cref="ReliabilityCases"/> (one test result per row) and keeps docs/reliability.md in step.</summary>
[TestClass]
public sealed class ReliabilityTableTests
{
    private static ReliabilityFixture? _fixture;
    private static IReadOnlyList<ReliabilityCase>? _cases;

    private static ReliabilityFixture Fixture => _fixture ??= new ReliabilityFixture();

    private static IReadOnlyList<ReliabilityCase> Cases => _cases ??= ReliabilityCases.All(Fixture);

    /// <summary>The case names, for <see cref="DynamicDataAttribute"/> (built without running anything).</summary>
    public static IEnumerable<object[]> CaseNames
    {
        get
        {
            using var fixture = new ReliabilityFixture();
            return ReliabilityCases.All(fixture).Select(c => new object[] { c.Name }).ToList();
        }
    }

    [ClassCleanup]
    public static void Cleanup() => _fixture?.Dispose();

    [TestMethod]
    [DynamicData(nameof(CaseNames))]
    public void Case(string name) => Cases.Single(c => c.Name == name).Check();

    /// <summary>The table of docs/reliability.md, generated from the cases (between the markers in the file).</summary>
    internal static string MarkdownTable(IEnumerable<ReliabilityCase> cases)
    {
        var lines = new List<string> { "| # | Case | Input | What it gets |", "|---|---|---|---|" };
        int i = 0;
        foreach (var c in cases)
            lines.Add($"| {++i} | `{c.Name}` | {Escape(c.Input)} | {Escape(c.Outcome)} |");
        return string.Join("\n", lines);

        static string Escape(string text) => text.Replace("|", "\\|");
    }

    private const string Begin = "<!-- reliability-cases:begin -->", End = "<!-- reliability-cases:end -->";

    /// <summary>
    /// docs/reliability.md lists every case with its outcome. To refresh the table after changing the cases, run this test
    /// with the environment variable PILOT_UPDATE_DOCS=1 (it rewrites the part between the markers).
    /// </summary>
    [TestMethod]
    public void DocsListEveryCase()
    {
        string path = Path.Combine(RepositoryRoot(), "docs", "reliability.md");
        string text = File.ReadAllText(path).ReplaceLineEndings("\n");
        int begin = text.IndexOf(Begin, StringComparison.Ordinal), end = text.IndexOf(End, StringComparison.Ordinal);
        Assert.IsTrue(begin >= 0 && end > begin, $"{path} lacks the markers {Begin} … {End}");
        string expected = MarkdownTable(Cases);
        string actual = text[(begin + Begin.Length)..end].Trim('\n');
        if (actual != expected && Environment.GetEnvironmentVariable("PILOT_UPDATE_DOCS") == "1")
        {
            File.WriteAllText(path, text[..(begin + Begin.Length)] + "\n" + expected + "\n" + text[end..]);
            return;
        }
        var expectedLines = expected.Split('\n');
        var actualLines = actual.Split('\n');
        int first = Enumerable.Range(0, Math.Max(expectedLines.Length, actualLines.Length))
            .FirstOrDefault(i => i >= expectedLines.Length || i >= actualLines.Length || expectedLines[i] != actualLines[i], -1);
        if (first >= 0)
            Assert.Fail($"docs/reliability.md's table differs from the cases at line {first + 1} of the table; rerun with PILOT_UPDATE_DOCS=1 " +
                $"to rewrite it.\nexpected: {expectedLines.ElementAtOrDefault(first)}\nactual:   {actualLines.ElementAtOrDefault(first)}");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pilot.MLNet.sln")))
                return dir.FullName;
        throw new InvalidOperationException("Pilot.MLNet.sln not found above the test directory.");
    }

    [TestMethod]
    public void CaseNamesAreUnique()
    {
        var names = Cases.Select(c => c.Name).ToList();
        CollectionAssert.AllItemsAreUnique(names);
        Assert.IsGreaterThanOrEqualTo(60, names.Count, $"the table has {names.Count} cases");
    }
}

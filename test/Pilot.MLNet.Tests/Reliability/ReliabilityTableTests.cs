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

    [TestMethod]
    public void CaseNamesAreUnique()
    {
        var names = Cases.Select(c => c.Name).ToList();
        CollectionAssert.AllItemsAreUnique(names);
        Assert.IsGreaterThanOrEqualTo(60, names.Count, $"the table has {names.Count} cases");
    }
}

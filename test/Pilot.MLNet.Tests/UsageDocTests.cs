using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Options = Pilot.MLNet.PilotImageClassificationTrainer.Options;

namespace Pilot.MLNet.Tests;

/// <summary>Keeps the options table of docs/usage.md in step with <see cref="Options"/>.</summary>
[TestClass]
public sealed class UsageDocTests
{
    private static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pilot.MLNet.sln")))
                return Path.Combine(dir.FullName, relative);
        Assert.Inconclusive("The repository root (Pilot.MLNet.sln) is not above the test binaries.");
        return "";
    }

    [TestMethod]
    public void OptionsTableListsEveryOptionWithItsDefault()
    {
        var rows = File.ReadAllLines(RepositoryFile("docs/usage.md"))
            .Select(line => Regex.Match(line, @"^\| `(\w+)` \| ([^|]+) \|"))
            .Where(m => m.Success)
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Trim());
        var defaults = new Options();
        foreach (var field in typeof(Options).GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            Assert.IsTrue(rows.TryGetValue(field.Name, out var cell), $"docs/usage.md has no row for {field.Name}");
            string documented = cell.Split(' ')[0].Trim('`').Trim('"');
            object? value = field.GetValue(defaults);
            string inCode = value switch
            {
                null => "null",
                bool b => b ? "true" : "false",
                double d => d.ToString("R", CultureInfo.InvariantCulture),
                _ => value.ToString()!,
            };
            if (value is double expected)
                Assert.AreEqual(expected, double.Parse(documented, CultureInfo.InvariantCulture), $"default of {field.Name}");
            else
                Assert.AreEqual(inCode, documented, $"default of {field.Name}");
        }
    }
}

using System.Text.RegularExpressions;
using Pilot.Cli.Commands;
using Pilot.Cli.Tests.Codegen;

namespace Pilot.Cli.Tests;

/// <summary>
/// Keeps the README's <c>pilot train</c> synopsis in step with the command: the trainer flags are made from the trainer's
/// options, so a new option is a new flag, and the README lists them by hand.
/// </summary>
[TestClass]
public sealed partial class ReadmeSynopsisTests
{
    [TestMethod]
    public void TrainSynopsis_ListsEveryFlag_AndNoOther()
    {
        string readme = File.ReadAllText(Path.Combine(CodegenFixtures.RepositoryRoot(), "README.md"));
        var section = Regex.Match(readme, @"### `pilot train`\s*```bash\n(?<synopsis>.*?)```", RegexOptions.Singleline);
        Assert.IsTrue(section.Success, "README.md has no ```bash synopsis under '### `pilot train`'.");
        var listed = Flag().Matches(section.Groups["synopsis"].Value).Select(m => m.Value).ToHashSet(StringComparer.Ordinal);

        var flags = new TrainCommand().All.Select(o => o.Name).ToList();
        var missing = flags.Where(f => !listed.Contains(f)).ToList();
        Assert.IsEmpty(missing, $"README.md's pilot train synopsis lacks {string.Join(", ", missing)}.");
        var unknown = listed.Where(f => !flags.Contains(f)).ToList();
        Assert.IsEmpty(unknown, $"README.md's pilot train synopsis lists {string.Join(", ", unknown)}, which pilot train does not have.");
    }

    [GeneratedRegex(@"--[a-z0-9][a-z0-9-]*")]
    private static partial Regex Flag();
}

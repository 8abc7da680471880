using System.CommandLine;
using Pilot.Cli.Codegen;

namespace Pilot.Cli.Tests.Codegen;

/// <summary><c>pilot codegen</c> on the command line.</summary>
[TestClass]
public sealed class CodegenCommandTests
{
    [TestMethod]
    public void NoFlags_ParseToTheDocumentedDefaults()
    {
        var command = new CodegenCommand();
        var root = new RootCommand { command.Create() };
        var settings = command.Bind(root.Parse(["codegen"]));
        Assert.AreEqual(new CodegenSettings(), settings);
        Assert.AreEqual("model.zip", settings.Model);
        Assert.AreEqual("PilotModel", settings.Namespace);
        Assert.AreEqual("MLModel", settings.Class);
        Assert.AreEqual(".", settings.Out);
        Assert.AreEqual(4, command.All.Count);
    }

    [TestMethod]
    public void Codegen_WritesTheFilesAndListsThem()
    {
        string folder = CodegenFixtures.NewFolder();
        var result = CliRunner.Run("codegen", "--model", CodegenFixtures.PixelModel, "--out", folder, "--namespace", "Shop.Vision", "--class", "Products");
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        foreach (string name in new[] { "Products.consumption.cs", "Products.training.cs", "Products.zip" })
        {
            string path = Path.Combine(folder, name);
            Assert.IsTrue(File.Exists(path), path);
            StringAssert.Contains(result.Out, $"wrote {path}");
        }
        StringAssert.Contains(File.ReadAllText(Path.Combine(folder, "Products.consumption.cs")), "namespace Shop.Vision;");
        StringAssert.Contains(result.Out, "<None Include=\"Products.zip\" CopyToOutputDirectory=\"PreserveNewest\" />");
    }

    [TestMethod]
    public void MissingModel_ExitsWith2_NamingThePathAndTheFix()
    {
        string folder = CodegenFixtures.NewFolder();
        string missing = Path.Combine(folder, "none.zip");
        var result = CliRunner.Run("codegen", "--model", missing, "--out", folder);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Error, $"--model: Model '{missing}' does not exist.");
        StringAssert.Contains(result.Error, "pilot train --out");
        Assert.AreEqual(0, Directory.EnumerateFiles(folder).Count(), "nothing is written");
    }

    [TestMethod]
    public void NotAPilotModel_ExitsWith2()
    {
        string folder = CodegenFixtures.NewFolder();
        string path = Path.Combine(folder, "text.zip");
        File.WriteAllText(path, "not a model");
        var result = CliRunner.Run("codegen", "--model", path, "--out", folder);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Error, $"--model: '{path}' is not an ML.NET model");
    }

    [TestMethod]
    [DataRow("--class", "My Model", "--class must be a C# class name")]
    [DataRow("--class", "class", "--class must be a C# class name")]
    [DataRow("--namespace", "9.Lives", "--namespace must be a C# namespace")]
    public void InvalidName_ExitsWith2_BeforeReadingTheModel(string option, string value, string expected)
    {
        var result = CliRunner.Run("codegen", "--model", "does-not-matter.zip", option, value);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Error, expected);
    }

    [TestMethod]
    public void Help_ListsCodegen()
        => StringAssert.Contains(CliRunner.Run("--help").Out, "codegen");
}

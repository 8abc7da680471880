using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Pilot.Cli.Codegen;

namespace Pilot.Cli.Tests.Codegen;

/// <summary>
/// The generated code, checked against committed <c>Approved/*.approved.txt</c> files. Model-dependent text (the training
/// accuracy in the header) is normalised first. When the output differs, the test writes <c>*.received.txt</c> next to the
/// approved file (ignored by git): compare the two, and if the new text is right, copy it over the approved file.
/// </summary>
[TestClass]
public sealed partial class CodegenApprovalTests
{
    [TestMethod]
    public void FolderModel_ConsumptionAndTraining_MatchApproved()
    {
        var code = ModelBuilderCodeGenerator.Generate(CodegenModel.Load(new MLContext(), CodegenFixtures.FolderModel));
        Approve(("FolderModel.consumption", code.Consumption), ("FolderModel.training", code.Training));
        Assert.AreEqual("MLModel.consumption.cs", code.ConsumptionFileName);
        Assert.AreEqual("MLModel.training.cs", code.TrainingFileName);
        Assert.AreEqual("MLModel.zip", code.ModelFileName);
    }

    [TestMethod]
    public void PixelModel_WithNamespaceAndClass_MatchApproved()
    {
        var code = ModelBuilderCodeGenerator.Generate(CodegenModel.Load(new MLContext(), CodegenFixtures.PixelModel), "Contoso.Shop.Vision", "ProductModel");
        Approve(("PixelModel.consumption", code.Consumption), ("PixelModel.training", code.Training));
        Assert.AreEqual("ProductModel.consumption.cs", code.ConsumptionFileName);
        Assert.AreEqual("ProductModel.zip", code.ModelFileName);
    }

    /// <summary>Compares each generated text with its approved file; writes a .received.txt for each that differs, then fails naming them.</summary>
    private static void Approve(params (string Name, string Text)[] files)
    {
        string folder = ApprovedFolder();
        var differing = new List<string>();
        foreach (var (name, text) in files)
        {
            string normalised = AccuracyPattern().Replace(text.ReplaceLineEndings("\n"), "training accuracy <accuracy>");
            string approved = Path.Combine(folder, name + ".approved.txt");
            string received = Path.Combine(folder, name + ".received.txt");
            string expected = File.Exists(approved) ? File.ReadAllText(approved).ReplaceLineEndings("\n") : "";
            if (expected == normalised)
            {
                File.Delete(received);
                continue;
            }
            Directory.CreateDirectory(folder);
            File.WriteAllText(received, normalised);
            differing.Add($"{approved} (new text in {received})");
        }
        if (differing.Count > 0)
            Assert.Fail($"The generated code differs from:\n{string.Join("\n", differing)}\nIf the new text is right, copy it over the approved file.");
    }

    private static string ApprovedFolder([CallerFilePath] string thisFile = "") => Path.Combine(Path.GetDirectoryName(thisFile)!, "Approved");

    [GeneratedRegex(@"training accuracy \d+(\.\d+)? ?%")]
    private static partial Regex AccuracyPattern();
}

using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Pilot.MLNet.Tests;

/// <summary>Runs test/Pilot.MLNet.ScoringHost (copied next to the tests) in a new process.</summary>
internal static class ScoringHost
{
    public static (int ExitCode, string Output) Run(params string[] arguments)
    {
        string host = Path.Combine(AppContext.BaseDirectory, "Pilot.MLNet.ScoringHost.dll");
        Assert.IsTrue(File.Exists(host), $"{host} is missing: the test project must reference Pilot.MLNet.ScoringHost.");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(host);
        foreach (var a in arguments)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("The scoring host did not finish within 2 minutes.");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>
    /// Saves <paramref name="model"/> (trained on rows of <paramref name="inputSchema"/>) and <paramref name="test"/> into
    /// <paramref name="folder"/>, scores them in a fresh process with Pilot.MLNet.ScoringHost, and asserts that every row's
    /// predicted key and scores equal those of <paramref name="model"/> in this process, bit for bit.
    /// </summary>
    /// <returns>The saved model's path and the host's output.</returns>
    public static (string ModelPath, string Output) AssertScoresIdenticallyInAFreshProcess(
        MLContext ml, ITransformer model, DataViewSchema inputSchema, IDataView test, TestFolder folder)
    {
        string modelPath = folder.File("model.zip"), dataPath = folder.File("data.idv"), scoresPath = folder.File("scores.bin");
        ml.Model.Save(model, inputSchema, modelPath);
        using (var stream = File.Create(dataPath))
            ml.Data.SaveAsBinary(test, stream);

        var (exitCode, output) = Run(modelPath, dataPath, scoresPath);
        Assert.AreEqual(0, exitCode, output);
        var expected = ScoredRows.Read(model.Transform(test));
        var actual = ReadScores(scoresPath);
        Assert.HasCount(expected.Count, actual);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.AreEqual(expected[i].Predicted, actual[i].Predicted, $"row {i}");
            CollectionAssert.AreEqual(expected[i].Score, actual[i].Score, $"row {i}: scores differ");
        }
        return (modelPath, output);
    }

    /// <summary>Reads the host's output: per row the predicted key and the score vector.</summary>
    public static List<(uint Predicted, float[] Score)> ReadScores(string path)
    {
        var result = new List<(uint, float[])>();
        using var reader = new BinaryReader(File.OpenRead(path));
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            uint predicted = reader.ReadUInt32();
            var score = new float[reader.ReadInt32()];
            for (int i = 0; i < score.Length; i++)
                score[i] = reader.ReadSingle();
            result.Add((predicted, score));
        }
        return result;
    }
}

/// <summary>Reads the <c>PredictedLabel</c> and <c>Score</c> columns of a scored view.</summary>
internal static class ScoredRows
{
    /// <summary>Per row of a scored view, the predicted key and the score vector.</summary>
    public static List<(uint Predicted, float[] Score)> Read(IDataView scored)
    {
        var result = new List<(uint, float[])>();
        using var cursor = scored.GetRowCursor(scored.Schema);
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var getPredicted = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
        VBuffer<float> score = default;
        uint predicted = 0;
        while (cursor.MoveNext())
        {
            getScore(ref score);
            getPredicted(ref predicted);
            result.Add((predicted, score.DenseValues().ToArray()));
        }
        return result;
    }
}

/// <summary>ML.NET's <c>SchemaShape.Create(DataViewSchema)</c>, which is internal (ML.NET's own estimator chains call it).</summary>
internal static class Shapes
{
    private static readonly System.Reflection.MethodInfo CreateMethod =
        typeof(Microsoft.ML.SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static,
            [typeof(Microsoft.ML.DataViewSchema)])
        ?? throw new InvalidOperationException("SchemaShape.Create(DataViewSchema) not found in this ML.NET version.");

    public static Microsoft.ML.SchemaShape Create(Microsoft.ML.DataViewSchema schema) =>
        (Microsoft.ML.SchemaShape)CreateMethod.Invoke(null, [schema])!;
}

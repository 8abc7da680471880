using System.Diagnostics;

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

// TEMPORARY (trainer branch only): a stand-in for Pilot.TorchSharp's PilotPolicy until the optimizer branch is merged.
// Delete this file when merging main brings the real type.
namespace Pilot.TorchSharp;

/// <summary>Stand-in for the learned PILOT policy (degree and coefficients φ).</summary>
public sealed class PilotPolicy(int degree, double[] phi)
{
    /// <summary>Polynomial degree of each head.</summary>
    public int Degree { get; } = degree;

    /// <summary>Coefficients, 3·(degree+1).</summary>
    public double[] Phi { get; } = phi;

    /// <summary>JSON form.</summary>
    public string ToJson() => System.Text.Json.JsonSerializer.Serialize(new { degree = Degree, phi = Phi });

    /// <summary>Parses <see cref="ToJson"/>.</summary>
    public static PilotPolicy FromJson(string json)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        return new PilotPolicy(doc.RootElement.GetProperty("degree").GetInt32(),
            doc.RootElement.GetProperty("phi").EnumerateArray().Select(e => e.GetDouble()).ToArray());
    }
}

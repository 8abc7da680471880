using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pilot.TorchSharp;

/// <summary>
/// A PILOT policy: the 3·(d+1) polynomial coefficients φ that map the gradient-agreement score ρ to the three knobs
/// p_m, p_v, p_s. Immutable. Export the learned policy of a run with <see cref="PilotOptimizer.ExportPolicy"/>,
/// save it with <see cref="ToJson"/>, and start another run from it with the <c>initialPolicy</c> argument of
/// <see cref="PilotOptimizer"/> (with <c>eta_phi: 0</c> it stays frozen — the paper's policy-transfer experiment).
/// </summary>
/// <remarks>
/// Layout of φ: three blocks of d+1 coefficients for the heads m, v, s in that order; inside a block the highest
/// power comes first, <c>[c_d, …, c_1, c_0]</c>, so head k computes z_k = c_d·ρ^d + … + c_1·ρ + c_0 and
/// p_m = σ(z_m), p_v = 0.5·σ(z_v), p_s = σ(z_s).
/// </remarks>
public sealed class PilotPolicy : IEquatable<PilotPolicy>
{
    /// <summary>Value of the <c>format</c> field of the JSON form.</summary>
    public const string JsonFormat = "pilot-policy";

    /// <summary>Version of the JSON form written by <see cref="ToJson"/>.</summary>
    public const int JsonVersion = 1;

    private readonly double[] _phi;

    /// <summary>Creates a policy of polynomial degree <paramref name="degree"/> from its coefficients.</summary>
    /// <param name="degree">Polynomial degree d of each head. Valid: ≥ 1.</param>
    /// <param name="phi">The 3·(d+1) coefficients in the layout described on <see cref="PilotPolicy"/>; all finite. Copied.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="degree"/> is below 1.</exception>
    /// <exception cref="ArgumentException"><paramref name="phi"/> has the wrong length or a non-finite value.</exception>
    public PilotPolicy(int degree, IReadOnlyList<double> phi)
    {
        ArgumentNullException.ThrowIfNull(phi);
        Check.AtLeast(degree, 1, nameof(degree));
        int expected = CoefficientCount(degree);
        if (phi.Count != expected)
            throw new ArgumentException($"phi must have 3·(degree+1) = {expected} coefficients for degree {degree}; got {phi.Count}", nameof(phi));
        for (int i = 0; i < phi.Count; i++)
            if (!double.IsFinite(phi[i]))
                throw new ArgumentException($"phi[{i}] must be finite; got {Check.Format(phi[i])}", nameof(phi));
        Degree = degree;
        _phi = phi.ToArray();
    }

    /// <summary>Polynomial degree d of each head.</summary>
    public int Degree { get; }

    /// <summary>The 3·(d+1) coefficients (a copy; the policy itself is immutable).</summary>
    public double[] Phi => (double[])_phi.Clone();

    /// <summary>Read-only view of the coefficients without copying.</summary>
    internal ReadOnlySpan<double> PhiSpan => _phi;

    /// <summary>Number of coefficients of a policy of degree <paramref name="degree"/>: 3·(d+1).</summary>
    public static int CoefficientCount(int degree) => 3 * (degree + 1);

    /// <summary>
    /// The reference's initial policy: all coefficients zero except the constant terms
    /// <see cref="PilotDefaults.InitialMomentumLogit"/> (m head), <see cref="PilotDefaults.InitialVarianceLogit"/> (v head)
    /// and <see cref="PilotDefaults.InitialSignLogit"/> (s head), so the first steps use p_m ≈ 0.802, p_v ≈ 0.476, p_s ≈ 0.119.
    /// </summary>
    /// <param name="degree">Polynomial degree d. Default <see cref="PilotDefaults.Degree"/>. Valid: ≥ 1.</param>
    public static PilotPolicy Default(int degree = PilotDefaults.Degree)
    {
        Check.AtLeast(degree, 1, nameof(degree));
        var phi = new double[CoefficientCount(degree)];
        phi[degree] = PilotDefaults.InitialMomentumLogit;          // c_0 of the m block
        phi[2 * degree + 1] = PilotDefaults.InitialVarianceLogit;  // c_0 of the v block
        phi[3 * degree + 2] = PilotDefaults.InitialSignLogit;      // c_0 of the s block
        return new PilotPolicy(degree, phi);
    }

    /// <summary>The knobs (p_m, p_v, p_s) this policy chooses at agreement score <paramref name="rho"/>.</summary>
    public (double PM, double PV, double PS) Evaluate(double rho) => PilotPolicyMath.Knobs(_phi, Degree, rho, overrides: null);

    /// <summary>Serialises the policy as <c>{"format":"pilot-policy","version":1,"degree":d,"phi":[…]}</c>; doubles round-trip exactly.</summary>
    public string ToJson()
    {
        var node = new JsonObject
        {
            ["format"] = JsonFormat,
            ["version"] = JsonVersion,
            ["degree"] = Degree,
            ["phi"] = new JsonArray(_phi.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
        };
        return node.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Reads a policy written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">The text is not a valid policy: not JSON, another format, a newer version,
    /// a missing field, a coefficient count that does not match the degree, or a non-finite coefficient.</exception>
    public static PilotPolicy FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"PILOT policy JSON could not be parsed: {e.Message}", e);
        }
        if (root is not JsonObject obj)
            throw new InvalidDataException("PILOT policy JSON must be an object with the fields format, version, degree and phi.");
        try
        {
            string? format = obj["format"]?.GetValue<string>();
            if (format != JsonFormat)
                throw new InvalidDataException($"expected a PILOT policy (format \"{JsonFormat}\"), found format \"{format ?? "(missing)"}\"");
            int version = obj["version"]?.GetValue<int>() ?? throw new InvalidDataException("PILOT policy JSON has no \"version\" field.");
            if (version < 1 || version > JsonVersion)
                throw new InvalidDataException($"PILOT policy JSON version {version} is not supported; this library reads versions 1 to {JsonVersion}.");
            int degree = obj["degree"]?.GetValue<int>() ?? throw new InvalidDataException("PILOT policy JSON has no \"degree\" field.");
            var phiNode = obj["phi"] as JsonArray ?? throw new InvalidDataException("PILOT policy JSON has no \"phi\" array.");
            var phi = phiNode.Select(x => x?.GetValue<double>() ?? throw new InvalidDataException("PILOT policy JSON has a null entry in \"phi\".")).ToArray();
            return new PilotPolicy(degree, phi);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"PILOT policy JSON is invalid: {e.Message}", e);
        }
    }

    /// <inheritdoc/>
    public bool Equals(PilotPolicy? other) => other is not null && Degree == other.Degree && _phi.AsSpan().SequenceEqual(other._phi);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as PilotPolicy);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Degree);
        foreach (var x in _phi) h.Add(x);
        return h.ToHashCode();
    }

    /// <inheritdoc/>
    public override string ToString() => $"PilotPolicy(d={Degree}, phi=[{string.Join(", ", _phi.Select(Check.Format))}])";
}

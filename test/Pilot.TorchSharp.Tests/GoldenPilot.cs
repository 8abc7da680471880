namespace Pilot.TorchSharp.Tests;

/// <summary>
/// An independent, deliberately naive implementation of the step in docs/algorithm.md on plain double arrays (no TorchSharp, no shared code
/// with the library), written from the spec's numbered steps. The optimizer is compared against it in float64.
/// It also tracks, per tensor, whether the tensor has taken a step, and skips that tensor's meta-gradient literally on
/// its first step — the library instead relies on zero state contributing zero, so this checks that claim too.
/// </summary>
internal sealed class GoldenPilot
{
    public double Lr = 1e-3, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8, WeightDecay = 0.01, Gamma = 0.95, EtaPhi = 0.01;
    public int Degree = 2;
    public double? PinPM, PinPV, PinPS;

    public readonly double[][] Theta, M, V, GPrev;
    private readonly bool[] _stepped;
    public long T;
    public double Rho;
    public double[] Phi;
    private double _pmPrev, _pvPrev, _psPrev;
    public long Skipped;
    public double LastR;

    public GoldenPilot(double[][] theta, int degree = 2, double[]? phi = null)
    {
        Degree = degree;
        Theta = theta.Select(t => (double[])t.Clone()).ToArray();
        M = theta.Select(t => new double[t.Length]).ToArray();
        V = theta.Select(t => new double[t.Length]).ToArray();
        GPrev = theta.Select(t => new double[t.Length]).ToArray();
        _stepped = new bool[theta.Length];
        if (phi is null)
        {
            Phi = new double[3 * (degree + 1)];
            // docs/algorithm.md: blocks m, v, s of [c_d, ..., c_0]; only the constants c_0 are non-zero.
            Phi[degree] = 1.4;
            Phi[(degree + 1) + degree] = 3.0;
            Phi[2 * (degree + 1) + degree] = -2.0;
        }
        else
        {
            Phi = (double[])phi.Clone();
        }
    }

    private static double Sig(double z) => 1 / (1 + Math.Exp(-z));

    private double Poly(int head, double rho)
    {
        // block [c_d, ..., c_0]: z = Σ c_j ρ^j, evaluated directly (not Horner) to be independent of the library.
        double z = 0;
        for (int i = 0; i <= Degree; i++) z += Phi[head * (Degree + 1) + i] * Math.Pow(rho, Degree - i);
        return z;
    }

    private static double Plus(double x) => Math.Max(Math.Abs(x), 1e-12);

    /// <summary>One step; grads[i] == null means tensor i has no gradient.</summary>
    public void Step(double[]?[] grads)
    {
        foreach (var g in grads)
            if (g is not null && g.Any(x => !double.IsFinite(x))) { Skipped++; LastR = double.NaN; return; }
        if (grads.All(g => g is null)) return;

        // 1.
        T++;
        double b1 = 1 - Math.Pow(Beta1, T), b2 = 1 - Math.Pow(Beta2, T);

        // 2.
        double dot = 0, gg = 0, pp = 0;
        for (int i = 0; i < grads.Length; i++)
        {
            var g = grads[i];
            if (g is null) continue;
            for (int j = 0; j < g.Length; j++) { dot += g[j] * GPrev[i][j]; gg += g[j] * g[j]; pp += GPrev[i][j] * GPrev[i][j]; }
        }
        double den = Math.Sqrt(gg * pp);
        double r = den > 1e-12 ? dot / den : 0.0;
        LastR = r;
        double rhoPrev = Rho;
        Rho = Gamma * Rho + (1 - Gamma) * r;

        // 3.
        double pm = PinPM ?? Sig(Poly(0, Rho));
        double pv = PinPV ?? 0.5 * Sig(Poly(1, Rho));
        double ps = PinPS ?? Sig(Poly(2, Rho));

        // 4.
        var G = new double[3];
        double b1p = 1 - Math.Pow(Beta1, T - 1), b2p = 1 - Math.Pow(Beta2, T - 1);
        for (int i = 0; i < grads.Length; i++)
        {
            var g = grads[i];
            if (g is null || !_stepped[i]) continue;
            for (int j = 0; j < g.Length; j++)
            {
                double mh = M[i][j] / b1p, vh = V[i][j] / b2p, gp = GPrev[i][j];
                double n = _pmPrev * mh + (1 - _pmPrev) * gp;
                double D = Math.Pow(Plus(vh), _pvPrev) + 1e-8;
                double dpm = -Lr * (1 - _psPrev) * Math.Pow(Plus(n), -_psPrev) * (mh - gp) / D;
                double dpv = Lr * Math.Pow(Plus(n), 1 - _psPrev) * Math.Sign(n) * Math.Pow(Plus(vh), _pvPrev) * Math.Log(Plus(vh)) / (D * D);
                double dps = Lr * Math.Pow(Plus(n), 1 - _psPrev) * Math.Sign(n) * Math.Log(Plus(n)) / D;
                G[0] += g[j] * dpm; G[1] += g[j] * dpv; G[2] += g[j] * dps;
            }
        }
        var grad = new double[Phi.Length];
        bool[] pinned = [PinPM is not null, PinPV is not null, PinPS is not null];
        for (int k = 0; k < 3; k++)
        {
            if (pinned[k]) continue;
            double s = Sig(Poly(k, rhoPrev));
            double scale = k == 1 ? 0.5 : 1.0;
            for (int i = 0; i <= Degree; i++) grad[k * (Degree + 1) + i] = G[k] * s * (1 - s) * scale * Math.Pow(rhoPrev, Degree - i);
        }

        // 5.–7.
        for (int i = 0; i < grads.Length; i++)
        {
            var g = grads[i];
            if (g is null) continue;
            for (int j = 0; j < g.Length; j++)
            {
                M[i][j] = Beta1 * M[i][j] + (1 - Beta1) * g[j];
                V[i][j] = Beta2 * V[i][j] + (1 - Beta2) * g[j] * g[j];
                double mh = M[i][j] / b1, vh = V[i][j] / b2;
                double n = pm * mh + (1 - pm) * g[j];
                double u = Math.Pow(Plus(n), 1 - ps) * Math.Sign(n) / (Math.Pow(vh, pv) + Eps);
                Theta[i][j] = Theta[i][j] - Lr * u - Lr * WeightDecay * Theta[i][j];
                GPrev[i][j] = g[j];
            }
            _stepped[i] = true;
        }

        // 8.
        double norm = Math.Sqrt(grad.Sum(x => x * x));
        double clip = Math.Min(1.0, 1.0 / (norm + 1e-12));
        for (int i = 0; i < Phi.Length; i++) Phi[i] -= EtaPhi * clip * grad[i];

        (_pmPrev, _pvPrev, _psPrev) = (pm, pv, ps);
    }
}

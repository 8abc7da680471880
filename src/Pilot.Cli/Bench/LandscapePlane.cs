using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.Cli.Bench;

/// <summary>
/// The plane of the loss-landscape figure: an origin θ₀ (the optimizers' common initial weights) and two orthonormal
/// directions v₁, v₂, the two leading principal directions of the displacements θ − θ₀ of every recorded trajectory point
/// (all optimizers together). A point (α, β) of the plane is the weight vector θ₀ + α·v₁ + β·v₂.
/// </summary>
/// <remarks>
/// <para>
/// The principal directions are those of the uncentred displacement matrix D (one row θᵢ − θ₀ per recorded point), as in
/// Li et al. 2018, §7, which take the final weights of one run as origin; here every optimizer starts from θ₀, so θ₀ is the
/// origin and every trajectory starts at (0, 0). They come from the small n × n Gram matrix G = D·Dᵀ (n points, far fewer
/// than the P weights): G = U·Λ·Uᵀ, vₖ = Dᵀ·uₖ / √λₖ. G and the directions are computed in float64, by blocks of weights, so
/// that D is never held in float64 as a whole.
/// </para>
/// <para>
/// Why not filter-normalised random directions: in a space of ~10⁵–10⁷ weights two random directions are almost orthogonal
/// to any trajectory, so its projection barely moves (Li et al. 2018, §7); random directions show the shape of the surface
/// around one point, principal directions show where the optimizers went.
/// </para>
/// </remarks>
internal sealed class LandscapePlane : IDisposable
{
    /// <summary>Weights per block when G and the directions are accumulated.</summary>
    private const int BlockSize = 1 << 15;

    /// <summary>A second principal value below this share of the first means the trajectories span a line, not a plane.</summary>
    internal const double MinSecondComponentRatio = 1e-12;

    private LandscapePlane(Tensor origin, Tensor direction1, Tensor direction2, double explained1, double explained2)
    {
        Origin = origin;
        Direction1 = direction1;
        Direction2 = direction2;
        Explained1 = explained1;
        Explained2 = explained2;
    }

    /// <summary>θ₀, float64, length P, on the CPU.</summary>
    public Tensor Origin { get; }

    /// <summary>v₁, unit length, float64.</summary>
    public Tensor Direction1 { get; }

    /// <summary>v₂, unit length and orthogonal to v₁, float64.</summary>
    public Tensor Direction2 { get; }

    /// <summary>Share of Σᵢ‖θᵢ − θ₀‖² along v₁ (λ₁ / trace G), in [0, 1].</summary>
    public double Explained1 { get; }

    /// <summary>Share of Σᵢ‖θᵢ − θ₀‖² along v₂ (λ₂ / trace G), in [0, 1].</summary>
    public double Explained2 { get; }

    /// <summary>Number of weights P.</summary>
    public long Length => Origin.shape[0];

    /// <summary>The plane through <paramref name="origin"/> spanned by the two leading principal directions of <paramref name="points"/> − origin.</summary>
    /// <param name="origin">θ₀: a 1-D float tensor of the P weights (the copy kept is float64).</param>
    /// <param name="points">The recorded weights, each a 1-D float tensor of length P; at least two, not all on one line through θ₀.</param>
    /// <exception cref="ArgumentException">Fewer than two points, a point of another length, or points that do not span two directions.</exception>
    public static LandscapePlane FromTrajectories(Tensor origin, IReadOnlyList<Tensor> points)
    {
        ArgumentNullException.ThrowIfNull(origin);
        ArgumentNullException.ThrowIfNull(points);
        if (origin.dim() != 1)
            throw new ArgumentException($"{nameof(origin)} must be a 1-D tensor of weights; got shape [{string.Join(", ", origin.shape)}].", nameof(origin));
        long length = origin.shape[0];
        if (points.Count < 2)
            throw new ArgumentException($"{nameof(points)}: two principal directions need at least two recorded points; got {points.Count}.", nameof(points));
        for (int i = 0; i < points.Count; i++)
        {
            if (points[i].dim() != 1 || points[i].shape[0] != length)
                throw new ArgumentException(
                    $"{nameof(points)}[{i}] has shape [{string.Join(", ", points[i].shape)}]; every point must be a 1-D tensor of the {length} weights of {nameof(origin)}.",
                    nameof(points));
        }

        var origin64 = origin.detach().cpu().to(ScalarType.Float64).contiguous().DetachFromDisposeScope();
        int n = points.Count;
        using var gram = torch.zeros(n, n, ScalarType.Float64);
        ForEachBlock(origin64, points, (_, _, block) => gram.add_(block.matmul(block.t())));

        var (values, vectors) = torch.linalg.eigh(gram); // ascending
        using (values)
        using (vectors)
        {
            double trace = gram.trace().item<double>();
            double l1 = values.select(0, n - 1).item<double>(), l2 = values.select(0, n - 2).item<double>();
            if (!(l1 > 0) || l2 <= MinSecondComponentRatio * l1)
            {
                origin64.Dispose();
                throw new ArgumentException(
                    $"{nameof(points)}: the recorded points span fewer than two directions from the origin (principal values {l1:G3} and {l2:G3}); record more points.",
                    nameof(points));
            }
            // vₖ = Dᵀ uₖ / √λₖ, block by block.
            using var top = torch.stack([vectors.select(1, n - 1) / Math.Sqrt(l1), vectors.select(1, n - 2) / Math.Sqrt(l2)]); // 2 × n
            var directions = torch.zeros(2, length, ScalarType.Float64);
            ForEachBlock(origin64, points, (start, count, block) => directions.narrow(1, start, count).copy_(top.matmul(block)));

            // Orthonormal in exact arithmetic; Gram–Schmidt once more so that rounding leaves no trace.
            var v1 = directions.select(0, 0).clone().DetachFromDisposeScope();
            v1.div_(v1.norm());
            var v2 = directions.select(0, 1).clone().DetachFromDisposeScope();
            v2.sub_(v1 * v2.dot(v1));
            v2.div_(v2.norm());
            directions.Dispose();
            return new LandscapePlane(origin64, v1, v2, l1 / trace, l2 / trace);
        }
    }

    /// <summary>Calls <paramref name="action"/> with each block of the displacement matrix D (n × block, float64).</summary>
    private static void ForEachBlock(Tensor origin64, IReadOnlyList<Tensor> points, Action<long, long, Tensor> action)
    {
        long length = origin64.shape[0];
        for (long start = 0; start < length; start += BlockSize)
        {
            using var scope = NewDisposeScope();
            long count = Math.Min(BlockSize, length - start);
            var block = torch.stack(points.Select(p => p.narrow(0, start, count).cpu().to(ScalarType.Float64))) - origin64.narrow(0, start, count);
            action(start, count, block);
        }
    }

    /// <summary>The coordinates (α, β) of the orthogonal projection of <paramref name="point"/> onto the plane.</summary>
    public (double Alpha, double Beta) Project(Tensor point)
    {
        using var scope = NewDisposeScope();
        var d = Displacement(point);
        return (d.dot(Direction1).item<double>(), d.dot(Direction2).item<double>());
    }

    /// <summary>The weights θ₀ + α·v₁ + β·v₂, float32 (the networks' type), on the CPU; the caller disposes them (they belong to no dispose scope).</summary>
    public Tensor At(double alpha, double beta)
    {
        using var scope = NewDisposeScope();
        return (Origin + Direction1 * alpha + Direction2 * beta).to(ScalarType.Float32).DetachFromDisposeScope();
    }

    /// <summary>‖θ − θ₀‖: how far <paramref name="point"/> is from the origin.</summary>
    public double Distance(Tensor point)
    {
        using var scope = NewDisposeScope();
        return Displacement(point).norm().item<double>();
    }

    /// <summary>
    /// The share of <paramref name="point"/>'s displacement that lies off the plane: ‖d − (α·v₁ + β·v₂)‖ / ‖d‖ with
    /// d = θ − θ₀; 0 on the plane (and at θ₀), 1 when orthogonal to it.
    /// </summary>
    public double OffPlane(Tensor point)
    {
        using var scope = NewDisposeScope();
        var d = Displacement(point);
        double norm = d.norm().item<double>();
        if (norm == 0)
            return 0;
        var residual = d - Direction1 * d.dot(Direction1) - Direction2 * d.dot(Direction2);
        return residual.norm().item<double>() / norm;
    }

    private Tensor Displacement(Tensor point)
    {
        if (point.dim() != 1 || point.shape[0] != Length)
            throw new ArgumentException($"{nameof(point)} must be a 1-D tensor of {Length} weights; got shape [{string.Join(", ", point.shape)}].", nameof(point));
        return point.detach().cpu().to(ScalarType.Float64) - Origin;
    }

    public void Dispose()
    {
        Origin.Dispose();
        Direction1.Dispose();
        Direction2.Dispose();
    }
}

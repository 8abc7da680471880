using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pilot.TorchSharp;

// The multi-tensor implementation of one group's step: the same algorithm and the same tensor expressions as StepPlain
// (PilotOptimizer.cs), applied once to flat buffers that hold every parameter of the group (MultiTensorLayout) instead of
// once per parameter tensor. A step issues a fixed number of tensor operations per element type of the group, however
// many tensors it has — on a GPU, a fixed number of kernel launches — and, like the plain path, never waits for the
// device: the group's scalars stay 0-d/1-d float64 tensors and a non-finite step is undone with where(finite, new, old).
public sealed partial class PilotOptimizer
{
    private readonly Dictionary<ParamGroup, MultiTensorLayout> _multiTensor = new();

    /// <summary>The flat buffers of a group that runs the multi-tensor path, or null before its first such step.</summary>
    internal MultiTensorLayout? MultiTensorLayoutOf(ParamGroup group) => _multiTensor.GetValueOrDefault(group);

    /// <summary>
    /// One step of <paramref name="group"/> on the multi-tensor path. Returns (r, finite) as 0-d tensors, or null when no
    /// parameter of the group has a gradient.
    /// </summary>
    private (Tensor R, Tensor Finite)? StepMultiTensor(ParamGroup group, Options o, GroupState gs)
    {
        var parameters = group.ParameterList;
        var states = new State[parameters.Count];
        for (int i = 0; i < states.Length; i++) states[i] = (State)_state[parameters[i].Handle];
        if (!_multiTensor.TryGetValue(group, out var layout) || !layout.IsBoundTo(parameters, states))
        {
            // Built before the old buffers go: Build copies the values out of them.
            var old = layout;
            layout = MultiTensorLayout.Build(parameters, states);
            _multiTensor[group] = layout;
            old?.Dispose();
        }
        if (!layout.BeginStep(parameters)) return null;
        gs.Configure(o, parameters[0].device);

        var (lr, beta1, beta2, eps, lambda, gamma, etaPhi, degree, learnPolicy) = StepSettings.Of(o);

        // 1. Step count and bias corrections (as in StepPlain).
        var (b1, b2, b1Prev, b2Prev, pmPrev, pvPrev, psPrev) = StepScalars(gs, beta1, beta2);

        // Reduction over each slab: finiteness, agreement sums, G_k = Σ g ⊙ ∂d/∂p_k. Elements of parameters without a
        // gradient this step are zeroed in g and g_prev, so they add nothing.
        var sums = new GroupSums(gs);
        var slabs = layout.Slabs;
        var grads = new Tensor[slabs.Count];
        var squares = new Tensor[slabs.Count];
        for (int i = 0; i < slabs.Count; i++)
        {
            var s = slabs[i];
            var g = grads[i] = s.AllLive ? s.Grad : s.Grad.masked_fill(s.DeadMask!, 0.0);
            var gPrev = s.AllLive ? s.GPrev : s.GPrev.masked_fill(s.DeadMask!, 0.0);
            var gSquare = squares[i] = g.square(); // kept for the second pass's v
            sums.Add(g, gSquare, gPrev);
            if (learnPolicy)
            {
                using var scope = NewDisposeScope();
                sums.AddMeta(g, UpdateDerivatives(s.M / b1Prev, s.V / b2Prev, s.GPrev, pmPrev, pvPrev, psPrev, lr));
            }
        }
        var finite = sums.Finite;

        // 2.–3. and 8. Agreement, smoothed score, knobs and the policy update (as in StepPlain).
        var (r, rho, knobs, phi) = PolicyStep(gs, sums, gamma, degree, etaPhi, learnPolicy);
        var (pm, pv, ps) = (knobs[0], knobs[1], knobs[2]);

        // 5.–7. Moments, update with decoupled decay, g_prev ← g: committed where the group's gradients were finite and,
        // when some parameters have no gradient, only on the elements of those that have one.
        for (int i = 0; i < slabs.Count; i++)
        {
            using var scope = NewDisposeScope();
            var s = slabs[i];
            var g = grads[i];
            var m = beta1 * s.M + (1 - beta1) * g;
            var v = beta2 * s.V + (1 - beta2) * squares[i];
            var n = pm * (m / b1) + (1 - pm) * g;
            var theta = s.Theta * (1 - lr * lambda) - lr * Direction(n, v / b2, pv, ps, eps);
            var commit = s.AllLive ? finite : s.LiveMask!.logical_and(finite);
            Commit(commit, s.Theta, theta);
            Commit(commit, s.M, m);
            Commit(commit, s.V, v);
            Commit(commit, s.GPrev, g);
        }

        CommitGroup(gs, finite, rho, phi, knobs);
        return (r, finite);
    }
}

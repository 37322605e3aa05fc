namespace Pacs.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Activation checkpointing: runs f(inputs) without keeping its intermediate tensors; the backward pass re-runs f
    /// on copies of the inputs (the ops are deterministic, so the recomputation is bit-identical), back-propagates
    /// through it, and adds the inputs' gradients. Parameters that f closes over receive their gradients (+=) then.
    /// Trades one extra forward of f for keeping only its inputs and output alive, e.g. one decoder layer.
    /// Inside a <see cref="TensorScope"/>, the forward and the recomputation each run in a nested scope, so f's
    /// intermediates go back to the pool as soon as f (or its backward) is done, and the next block reuses them.
    /// </summary>
    public static Tensor Checkpoint(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        if (!Autograd.IsEnabled) return f(inputs);
        bool pooled = TensorScope.Current is not null;
        Tensor result;
        using (Autograd.NoGrad())
        {
            if (pooled)
            {
                using var scope = TensorScope.Begin();
                result = scope.Keep(f(inputs));
            }
            else
            {
                var output = f(inputs);
                result = new Tensor(output.Data, output.Shape);
            }
        }
        result.SetGraph(inputs, () =>
        {
            using var scope = pooled && TensorScope.Current is not null ? TensorScope.Begin() : null;
            var copies = LeavesOf(inputs, TensorScope.Current);
            var again = f(copies);
            if (again.Numel != result.Numel) throw new InvalidOperationException($"Checkpoint: recomputed output {Describe(again)} differs from {Describe(result)}");
            BackwardThroughLeaves(again, result.Grad!, copies, inputs);
        });
        return result;
    }

    /// <summary>
    /// Runs f(inputs) with autograd, its intermediate tensors in a <see cref="TensorScope"/> of their own that ends
    /// as soon as f's part of the backward pass is done, instead of with the enclosing scope: the activations of a
    /// block whose backward comes early (the last decoder layer) give their memory back for the rest of the backward
    /// pass without <see cref="Checkpoint"/>'s recomputation. Outside a scope, or without autograd, it is f(inputs).
    /// The block's scope also ends with the enclosing one if no backward pass reaches it.
    /// </summary>
    public static Tensor ScopedBlock(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        if (!Autograd.IsEnabled || TensorScope.Current is null) return f(inputs);
        var scope = TensorScope.Begin();
        Tensor[] leaves;
        Tensor output, result;
        try
        {
            leaves = LeavesOf(inputs, scope);
            output = f(leaves);
            result = scope.Keep(output);
        }
        catch
        {
            scope.Dispose();
            throw;
        }
        scope.Suspend();
        result.SetGraph(inputs, () =>
        {
            var previous = scope.Resume();
            try
            {
                BackwardThroughLeaves(output, result.Grad!, leaves, inputs);
            }
            finally
            {
                scope.DisposeResumed(previous);
            }
        });
        return result;
    }

    /// <summary>
    /// Runs f(inputs) in a nested <see cref="TensorScope"/> that keeps only its output, when autograd is off: the
    /// intermediates of a block of a no-grad pass (a decoder layer while scoring rollouts) go back to the pool as soon
    /// as the block is done, and the next block reuses them, instead of staying rented until the pass ends. With
    /// autograd on (a backward needs them) or outside a scope it is f(inputs). The output is the same either way.
    /// </summary>
    public static Tensor InferenceBlock(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        if (Autograd.IsEnabled || TensorScope.Current is null) return f(inputs);
        using var scope = TensorScope.Begin();
        return scope.Keep(f(inputs));
    }

    /// <summary>Leaves sharing the inputs' buffers, owned by <paramref name="scope"/>: a block run on them has a graph
    /// that stops there, so its backward does not run on into the enclosing graph.</summary>
    private static Tensor[] LeavesOf(Tensor[] inputs, TensorScope? scope) =>
        inputs.Select(t => new Tensor(t.Data, t.Shape, scope, t.Name) { RequiresGrad = t.RequiresGrad }).ToArray();

    /// <summary>Back-propagates grad through a block's output down to its leaves, then adds their gradients to the inputs'.</summary>
    private static void BackwardThroughLeaves(Tensor output, float[] grad, Tensor[] leaves, Tensor[] inputs)
    {
        if (!output.IsLeaf || output.RequiresGrad) output.Backward(grad);
        for (int i = 0; i < inputs.Length; i++)
            if (inputs[i].RequiresGrad && leaves[i].Grad is { } g)
                Kernels.Simd.AddInPlace(inputs[i].EnsureGrad(), g);
    }
}

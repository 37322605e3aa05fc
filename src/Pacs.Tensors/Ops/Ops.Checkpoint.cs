namespace Pacs.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Activation checkpointing: runs f(inputs) without keeping its intermediate tensors; the backward pass re-runs f
    /// on copies of the inputs (the ops are deterministic, so the recomputation is bit-identical), back-propagates
    /// through it, and adds the inputs' gradients. Parameters that f closes over receive their gradients (+=) then.
    /// Trades one extra forward of f for keeping only its inputs and output alive, e.g. one decoder layer.
    /// </summary>
    public static Tensor Checkpoint(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        if (!Autograd.IsEnabled) return f(inputs);
        Tensor output;
        using (Autograd.NoGrad()) output = f(inputs);
        var result = new Tensor(output.Data, output.Shape);
        result.SetGraph(inputs, () =>
        {
            var copies = inputs.Select(t => new Tensor(t.Data, t.Shape, t.RequiresGrad, t.Name)).ToArray();
            var again = f(copies);
            if (again.Numel != result.Numel) throw new InvalidOperationException($"Checkpoint: recomputed output {Describe(again)} differs from {Describe(result)}");
            if (!again.IsLeaf || again.RequiresGrad) again.Backward(result.Grad!);
            for (int i = 0; i < inputs.Length; i++)
                if (inputs[i].RequiresGrad && copies[i].Grad is { } g)
                    Kernels.Simd.AddInPlace(inputs[i].EnsureGrad(), g);
        });
        return result;
    }
}

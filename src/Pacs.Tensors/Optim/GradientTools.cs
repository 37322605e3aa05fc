using System.Numerics.Tensors;

namespace Pacs.Tensors.Optim;

/// <summary>Whole-model gradient utilities: global norm, clipping, accumulation scaling, finiteness.</summary>
public static class GradientTools
{
    /// <summary>sqrt(Σ over parameters of Σ g²); parameters without a gradient count as zero. NaN/∞ propagate.</summary>
    public static double GlobalNorm(IEnumerable<Tensor> parameters)
    {
        double sumSquares = 0;
        foreach (var p in parameters)
        {
            if (p.Grad is null) continue;
            double norm = TensorPrimitives.Norm(p.Grad);
            sumSquares += norm * norm;
        }
        return Math.Sqrt(sumSquares);
    }

    /// <summary>
    /// torch.nn.utils.clip_grad_norm_: when the global norm exceeds <paramref name="maxNorm"/>, scales every
    /// gradient by maxNorm / (norm + 1e-6). Returns the norm before clipping. A non-finite norm leaves the gradients
    /// untouched (the optimiser step will skip them).
    /// </summary>
    public static double ClipGlobalNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentException($"gradient clipping: max_norm must be > 0, got {maxNorm}");
        var list = parameters as IReadOnlyList<Tensor> ?? parameters.ToList();
        double norm = GlobalNorm(list);
        if (!double.IsFinite(norm)) return norm;
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) Scale(list, (float)coef);
        return norm;
    }

    /// <summary>
    /// Multiplies every gradient by <paramref name="factor"/>: gradient accumulation over k micro-batches of a
    /// summed loss uses 1/k (or each micro-batch's share of the tokens) so the step sees the mini-batch mean.
    /// </summary>
    public static void Scale(IEnumerable<Tensor> parameters, float factor)
    {
        foreach (var p in parameters)
            if (p.Grad is not null) TensorPrimitives.Multiply(p.Grad, factor, p.Grad);
    }

    /// <summary>True when every gradient element is finite.</summary>
    public static bool AllFinite(IEnumerable<Tensor> parameters)
    {
        foreach (var p in parameters)
        {
            if (p.Grad is null) continue;
            // Fast path: g·g is finite unless an element is NaN/±∞ or the sum overflows; only then scan.
            if (!float.IsFinite(TensorPrimitives.Dot(p.Grad, p.Grad)) && !AllFiniteSlow(p.Grad)) return false;
        }
        return true;
    }

    /// <summary>Names (or indices) of parameters whose gradient holds NaN or ±∞, for error messages.</summary>
    public static IReadOnlyList<string> NonFiniteGradients(IReadOnlyList<Tensor> parameters)
    {
        var bad = new List<string>();
        for (int i = 0; i < parameters.Count; i++)
            if (parameters[i].Grad is { } g && !AllFiniteSlow(g)) bad.Add(parameters[i].Name ?? $"param{i}");
        return bad;
    }

    private static bool AllFiniteSlow(float[] values)
    {
        foreach (var v in values)
            if (!float.IsFinite(v)) return false;
        return true;
    }
}

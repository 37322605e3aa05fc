using Pacs.Tensors.Kernels;

namespace Pacs.Tensors;

public static partial class Ops
{
    /// <summary>Sum of all elements -> scalar.</summary>
    public static Tensor Sum(Tensor x) => WeightedSum(x, null, 1.0);

    /// <summary>Mean of all elements -> scalar.</summary>
    public static Tensor Mean(Tensor x) => WeightedSum(x, null, x.Numel == 0 ? 0 : 1.0 / x.Numel);

    /// <summary>Sum of x * mask -> scalar; mask has x's element count.</summary>
    public static Tensor MaskedSum(Tensor x, float[] mask)
    {
        CheckMask("MaskedSum", x, mask);
        return WeightedSum(x, (float[])mask.Clone(), 1.0);
    }

    /// <summary>sum(x * mask) / sum(mask) -> scalar; 0 (with zero gradient) when the mask sums to 0.</summary>
    public static Tensor MaskedMean(Tensor x, float[] mask)
    {
        CheckMask("MaskedMean", x, mask);
        double count = Reductions.Sum(mask);
        return WeightedSum(x, (float[])mask.Clone(), count == 0 ? 0 : 1.0 / count);
    }

    private static void CheckMask(string op, Tensor x, float[] mask)
    {
        if (mask.Length != x.Numel) throw new ArgumentException($"{op}: mask has {mask.Length} elements, x {Describe(x)} has {x.Numel}");
    }

    /// <summary>factor * sum(x * mask) with mask = 1 when null.</summary>
    private static Tensor WeightedSum(Tensor x, float[]? mask, double factor)
    {
        float[] xd = x.Data;
        var result = Tensor.Scalar((float)(Reductions.Sum(xd, mask) * factor));
        if (Autograd.Needs(x))
            result.SetGraph([x], () =>
            {
                float coef = (float)(result.Grad![0] * factor);
                float[] gx = x.EnsureGrad();
                if (mask is null) ForElements(gx.Length, (b, e) => System.Numerics.Tensors.TensorPrimitives.Add(gx.AsSpan(b, e - b), coef, gx.AsSpan(b, e - b)));
                else ForElements(gx.Length, (b, e) => Simd.Axpy(coef, mask.AsSpan(b, e - b), gx.AsSpan(b, e - b)));
            });
        return result;
    }

    /// <summary>Sum over the last dimension: [..., D] -> [...].</summary>
    public static Tensor SumLastDim(Tensor x)
    {
        var (rows, cols) = RowsCols("SumLastDim", x);
        float[] xd = x.Data, y = TensorScope.Allocate(rows);
        RowParallel.For(rows, cols, r => y[r] = System.Numerics.Tensors.TensorPrimitives.Sum(xd.AsSpan(r * cols, cols)));
        var result = new Tensor(y, x.Shape[..^1]);
        if (Autograd.Needs(x))
            result.SetGraph([x], () =>
            {
                float[] g = result.Grad!, gx = x.EnsureGrad();
                RowParallel.For(rows, cols, r => System.Numerics.Tensors.TensorPrimitives.Add(gx.AsSpan(r * cols, cols), g[r], gx.AsSpan(r * cols, cols)));
            });
        return result;
    }
}

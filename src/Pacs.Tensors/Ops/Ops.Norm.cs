using Pacs.Tensors.Kernels;

namespace Pacs.Tensors;

public static partial class Ops
{
    /// <summary>x [..., D], weight [D] -> weight * x * rsqrt(mean(x^2) + eps) over the last dimension.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor weight, float eps)
    {
        var (rows, dim) = RowsCols("RmsNorm", x);
        if (weight.Rank != 1 || weight.Shape[0] != dim) throw ShapeError("RmsNorm", "weight must be [D] with D = x's last dimension", x, weight);
        float[] y = TensorScope.Allocate(x.Numel, clear: false);
        bool needs = Autograd.Needs(x, weight);
        float[]? invRms = needs ? TensorScope.Allocate(rows, clear: false) : null;
        Normalization.RmsNormForward(x.Data, weight.Data, eps, y, invRms);
        var result = new Tensor(y, (int[])x.Shape.Clone());
        if (needs)
            result.SetGraph([x, weight], () => Normalization.RmsNormBackward(x.Data, weight.Data, invRms, result.Grad!,
                x.RequiresGrad ? x.EnsureGrad() : default, weight.RequiresGrad ? weight.EnsureGrad() : default));
        return result;
    }
}

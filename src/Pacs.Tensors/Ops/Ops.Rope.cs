using Pacs.Tensors.Kernels;

namespace Pacs.Tensors;

public static partial class Ops
{
    /// <summary>Rotary embedding of x [B, T, H, hd] at positions [B*T] (Hugging Face rotate-half convention).</summary>
    public static Tensor Rope(Tensor x, int[] positions, RopeTable table)
    {
        if (x.Rank != 4 || x.Shape[3] != table.HeadDim)
            throw new ArgumentException($"Rope: x must be [B, T, H, {table.HeadDim}], got {Describe(x)}");
        int tokens = x.Shape[0] * x.Shape[1], heads = x.Shape[2];
        if (positions.Length != tokens) throw new ArgumentException($"Rope: {positions.Length} positions for {tokens} tokens of {Describe(x)}");
        float[] y = TensorScope.Allocate(x.Numel, clear: false);
        Kernels.Rope.Apply(x.Data, y, heads, positions, table);
        var result = new Tensor(y, (int[])x.Shape.Clone());
        if (Autograd.Needs(x))
        {
            int[] pos = (int[])positions.Clone();
            result.SetGraph([x], () => Kernels.Rope.Apply(result.Grad!, x.EnsureGrad(), heads, pos, table, inverse: true, accumulate: true));
        }
        return result;
    }
}

using Pacs.Tensors.Kernels;

namespace Pacs.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Multi-head attention with grouped-query heads: q [B, T, Hq, hd], k and v [B, T, Hkv, hd] -> [B, T, Hq, hd].
    /// Scores are scaled by 1/sqrt(hd); causal masks keys after the query; validLengths [B] masks keys at positions
    /// >= the length. Row-wise (flash-style): only each row's logsumexp is kept for the backward.
    /// </summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, bool causal = true, int[]? validLengths = null)
    {
        if (q.Rank != 4 || k.Rank != 4) throw ShapeError("Attention", "q and k must be [B, T, H, hd]", q, k);
        if (!k.Shape.AsSpan().SequenceEqual(v.Shape)) throw ShapeError("Attention", "k and v must have the same shape", k, v);
        int batch = q.Shape[0], t = q.Shape[1], hq = q.Shape[2], hd = q.Shape[3], hkv = k.Shape[2];
        if (k.Shape[0] != batch || k.Shape[1] != t || k.Shape[3] != hd || hkv == 0 || hq % hkv != 0)
            throw ShapeError("Attention", "k must be [B, T, Hkv, hd] with Hq a multiple of Hkv", q, k);
        if (validLengths is not null && validLengths.Length != batch)
            throw new ArgumentException($"Attention: {validLengths.Length} valid lengths for batch {batch} of q {Describe(q)}");
        if (validLengths is not null)
            for (int b = 0; b < batch; b++)
                if (validLengths[b] < 0 || validLengths[b] > t)
                    throw new ArgumentException($"Attention: validLengths[{b}] = {validLengths[b]} is outside [0, {t}] for q {Describe(q)}");
        var dims = new Attention.Dims(batch, t, t, hq, hkv, hd);
        int[]? lengths = validLengths is null ? null : (int[])validLengths.Clone();
        bool needs = Autograd.Needs(q, k, v);
        float[] o = TensorScope.Allocate(q.Numel);
        float[]? lse = needs ? TensorScope.Allocate((long)batch * hq * t) : null;
        Kernels.Attention.Forward(q.Data, k.Data, v.Data, o, dims, causal, default, lengths, lse);
        var result = new Tensor(o, (int[])q.Shape.Clone());
        if (needs)
            result.SetGraph([q, k, v], () => Kernels.Attention.Backward(q.Data, k.Data, v.Data, o, lse, result.Grad!,
                q.RequiresGrad ? q.EnsureGrad() : default, k.RequiresGrad ? k.EnsureGrad() : default,
                v.RequiresGrad ? v.EnsureGrad() : default, dims, causal, default, lengths));
        return result;
    }
}

using Pacs.Tensors.Kernels;

namespace Pacs.Tensors;

public static partial class Ops
{
    /// <summary>
    /// y + scale * t @ b^T: the low-rank update of a LoRA projection, added without a temporary [rows, out] product.
    /// y [..., out], t [..., r], b [out, r]. With b all zeros the result equals y exactly (y + 0).
    /// <paramref name="inPlace"/>: the sum is written into y's buffer, which the result then shares (no second
    /// [rows, out] activation); only for a y that nothing reads afterwards, such as the fresh output of the base
    /// projection (its backward needs neither y's nor the result's values). The numbers are the same either way.
    /// </summary>
    public static Tensor AddLowRank(Tensor y, Tensor t, Tensor b, float scale, bool inPlace = false)
    {
        if (b.Rank != 2 || t.Rank < 1 || t.Shape[^1] != b.Shape[1] || y.Shape[^1] != b.Shape[0]
            || y.Numel / Math.Max(1, y.Shape[^1]) != t.Numel / Math.Max(1, t.Shape[^1]))
            throw ShapeError("AddLowRank", "y [..., out] and t [..., r] need b [out, r]", t, b);
        int outF = b.Shape[0], rank = b.Shape[1], rows = outF == 0 ? 0 : y.Numel / outF;
        float[] td = t.Data, bd = b.Data, result = inPlace ? y.Data : TensorScope.Allocate(y.Numel, clear: false);
        if (!inPlace) y.Data.CopyTo(result, 0);
        Gemm.Sgemm(false, true, rows, outF, rank, scale, td, rank, bd, rank, 1f, result, outF);
        var output = new Tensor(result, (int[])y.Shape.Clone());
        if (Autograd.Needs(y, t, b))
            output.SetGraph([y, t, b], () =>
            {
                float[] g = output.Grad!; // [rows, out]
                if (y.RequiresGrad) Simd.AddInPlace(y.EnsureGrad(), g);
                if (t.RequiresGrad) Gemm.Sgemm(false, false, rows, rank, outF, scale, g, outF, bd, rank, 1f, t.EnsureGrad(), rank);
                if (b.RequiresGrad) Gemm.Sgemm(true, false, outF, rank, rows, scale, g, outF, td, rank, 1f, b.EnsureGrad(), rank);
            });
        return output;
    }

    /// <summary>
    /// Inverted dropout: each element is zeroed with probability p, the others scaled by 1 / (1 - p). The mask is a
    /// pure function of (<paramref name="seed"/>, element index), so it does not depend on threads, and a
    /// recomputation (activation checkpointing) draws the same mask.
    /// </summary>
    public static Tensor Dropout(Tensor x, float p, ulong seed)
    {
        if (!(p >= 0 && p < 1)) throw new ArgumentException($"Dropout: p must be in [0, 1), got {p}");
        if (p == 0) return x;
        float keep = 1f / (1f - p);
        var mask = TensorScope.Allocate(x.Numel, clear: false);
        // The top 24 bits of a mixed counter, uniform in [0, 2^24): dropped when below p * 2^24.
        uint threshold = (uint)Math.Round(p * (1 << 24));
        for (int i = 0; i < mask.Length; i++)
            mask[i] = (uint)(MixBits(seed + (ulong)i * 0x9E3779B97F4A7C15UL) >> 40) < threshold ? 0f : keep;
        return Mul(x, new Tensor(mask, (int[])x.Shape.Clone()));
    }

    /// <summary>The SplitMix64 finaliser.</summary>
    private static ulong MixBits(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

using System.Numerics.Tensors;

namespace Pacs.Tensors.Kernels;

/// <summary>RMSNorm over the last dimension, Hugging Face Llama order: y = weight * (x * rsqrt(mean(x^2) + eps)).</summary>
public static class Normalization
{
    /// <summary>
    /// x, y: [rows, dim] with dim = weight.Length; invRms: [rows] receives rsqrt(mean(x^2) + eps) when not empty.
    /// Parallel over rows.
    /// </summary>
    public static unsafe void RmsNormForward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y, Span<float> invRms = default)
    {
        int dim = weight.Length;
        if (dim == 0 || x.Length % dim != 0 || y.Length != x.Length || (!invRms.IsEmpty && invRms.Length != x.Length / dim))
            throw new ArgumentException($"RmsNormForward: x {x.Length}, weight {dim}, y {y.Length}, invRms {invRms.Length} elements do not fit [rows, dim]");
        int rows = x.Length / dim;
        fixed (float* xp0 = x, wp0 = weight, yp0 = y, rp0 = invRms)
        {
            float* xp = xp0, wp = wp0, yp = yp0, rp = rp0;
            bool keep = !invRms.IsEmpty;
            RowParallel.For(rows, 3L * dim, r =>
            {
                var xr = new ReadOnlySpan<float>(xp + (long)r * dim, dim);
                var yr = new Span<float>(yp + (long)r * dim, dim);
                float inv = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(xr) / dim + eps);
                if (keep) rp[r] = inv;
                TensorPrimitives.Multiply(xr, inv, yr);
                TensorPrimitives.Multiply(yr, new ReadOnlySpan<float>(wp, dim), yr);
            });
        }
    }

    /// <summary>
    /// dx += d/dx, dWeight += d/dweight for upstream dy [rows, dim], given x and the forward's invRms [rows].
    /// dx and dWeight may be empty to skip them. dWeight sums rows in order per column (deterministic).
    /// </summary>
    public static unsafe void RmsNormBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> invRms,
        ReadOnlySpan<float> dy, Span<float> dx, Span<float> dWeight)
    {
        int dim = weight.Length, rows = dim == 0 ? 0 : x.Length / dim;
        if (dim == 0 || x.Length != (long)rows * dim || dy.Length != x.Length || invRms.Length != rows
            || (!dx.IsEmpty && dx.Length != x.Length) || (!dWeight.IsEmpty && dWeight.Length != dim))
            throw new ArgumentException($"RmsNormBackward: x {x.Length}, weight {dim}, invRms {invRms.Length}, dy {dy.Length}, dx {dx.Length}, dWeight {dWeight.Length} elements do not fit");
        if (!dx.IsEmpty)
        {
            fixed (float* xp0 = x, wp0 = weight, rp0 = invRms, gp0 = dy, dp0 = dx)
            {
                float* xp = xp0, wp = wp0, rp = rp0, gp = gp0, dp = dp0;
                RowParallel.For(rows, 6L * dim, r =>
                {
                    var xr = new ReadOnlySpan<float>(xp + (long)r * dim, dim);
                    var gr = new ReadOnlySpan<float>(gp + (long)r * dim, dim);
                    var dr = new Span<float>(dp + (long)r * dim, dim);
                    var w = new ReadOnlySpan<float>(wp, dim);
                    float inv = rp[r];
                    // wg = weight * dy; dx = inv * wg - x * inv^3 * mean(wg * x)
                    float[]? rented = null;
                    Span<float> wg = dim <= 1024 ? stackalloc float[dim] : (rented = System.Buffers.ArrayPool<float>.Shared.Rent(dim)).AsSpan(0, dim);
                    TensorPrimitives.Multiply(w, gr, wg);
                    float coef = -inv * inv * inv * TensorPrimitives.Dot(wg, xr) / dim;
                    TensorPrimitives.MultiplyAdd(wg, inv, dr, dr);
                    TensorPrimitives.MultiplyAdd(xr, coef, dr, dr);
                    if (rented is not null) System.Buffers.ArrayPool<float>.Shared.Return(rented);
                });
            }
        }
        if (!dWeight.IsEmpty) Simd.AddColumnSums(dy, rows, dim, dWeight, other: x, rowScale: invRms);
    }
}

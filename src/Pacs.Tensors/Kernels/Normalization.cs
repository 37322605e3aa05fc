using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

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

    /// <summary>dx += inv * (w * dy) - x * inv^3 * mean(w * dy * x) for one row (two passes, no scratch).</summary>
    private static unsafe void RmsNormBackwardRow(float* x, float* w, float* dy, float inv, int dim, float* dx)
    {
        int i = 0;
        float dot;
        if (Vector512.IsHardwareAccelerated && dim >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= dim - 16; i += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(w + i) * Vector512.Load(dy + i), Vector512.Load(x + i), acc);
            dot = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && dim >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= dim - 8; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(w + i) * Vector256.Load(dy + i), Vector256.Load(x + i), acc);
            dot = Vector256.Sum(acc);
        }
        else dot = 0;
        for (; i < dim; i++) dot = MathF.FusedMultiplyAdd(w[i] * dy[i], x[i], dot);
        float coef = -inv * inv * inv * dot / dim;
        i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vi = Vector512.Create(inv);
            var vc = Vector512.Create(coef);
            for (; i <= dim - 16; i += 16)
            {
                var a = Vector512.FusedMultiplyAdd(Vector512.Load(w + i) * Vector512.Load(dy + i), vi, Vector512.Load(dx + i));
                Vector512.FusedMultiplyAdd(Vector512.Load(x + i), vc, a).Store(dx + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vi = Vector256.Create(inv);
            var vc = Vector256.Create(coef);
            for (; i <= dim - 8; i += 8)
            {
                var a = Vector256.FusedMultiplyAdd(Vector256.Load(w + i) * Vector256.Load(dy + i), vi, Vector256.Load(dx + i));
                Vector256.FusedMultiplyAdd(Vector256.Load(x + i), vc, a).Store(dx + i);
            }
        }
        for (; i < dim; i++) dx[i] = MathF.FusedMultiplyAdd(x[i], coef, MathF.FusedMultiplyAdd(w[i] * dy[i], inv, dx[i]));
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
                RowParallel.For(rows, 6L * dim, r => RmsNormBackwardRow(xp + (long)r * dim, wp, gp + (long)r * dim, rp[r], dim, dp + (long)r * dim));
            }
        }
        if (!dWeight.IsEmpty) Simd.AddColumnSums(dy, rows, dim, dWeight, other: x, rowScale: invRms);
    }
}

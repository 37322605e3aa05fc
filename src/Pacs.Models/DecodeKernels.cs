using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Pacs.Tensors.Kernels;

namespace Pacs.Models;

/// <summary>
/// Inference-only loops for the KV-cache decoder. Each output element is computed by one thread in a fixed order
/// that does not depend on how many rows are in the batch, so a sequence's tokens do not depend on its batch mates
/// or on the thread count.
/// </summary>
internal static unsafe class DecodeKernels
{
    /// <summary>y[r, j] = x[r, :] . w[j, :] + bias[j]  for x [n, k], w [m, k] (Hugging Face Linear layout), y [n, m].</summary>
    public static void Linear(float* x, int n, int k, float* w, int m, float* bias, float* y)
    {
        const int Block = 4;
        int blocks = (m + Block - 1) / Block;
        RowParallel.For(blocks, (long)n * k * Block, b =>
        {
            int j0 = b * Block;
            if (j0 + Block <= m)
            {
                float* w0 = w + (long)j0 * k;
                for (int r = 0; r < n; r++)
                {
                    float* xr = x + (long)r * k;
                    float* yr = y + (long)r * m + j0;
                    Dot1x4(xr, w0, k, yr);
                    if (bias != null)
                        for (int c = 0; c < Block; c++) yr[c] += bias[j0 + c];
                }
            }
            else
            {
                for (int j = j0; j < m; j++)
                    for (int r = 0; r < n; r++)
                        y[(long)r * m + j] = Dot(x + (long)r * k, w + (long)j * k, k) + (bias != null ? bias[j] : 0f);
            }
        });
    }

    /// <summary>out[c] = x . w[c*k .. c*k+k) for four consecutive rows of w, each reduced exactly like <see cref="Dot"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot1x4(float* x, float* w, int k, float* result)
    {
        float* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        int i = 0;
        float s0, s1, s2, s3;
        if (Vector512.IsHardwareAccelerated)
        {
            var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            for (; i <= k - 16; i += 16)
            {
                var xv = Vector512.Load(x + i);
                a0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w + i), a0);
                a1 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w1 + i), a1);
                a2 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w2 + i), a2);
                a3 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w3 + i), a3);
            }
            s0 = Vector512.Sum(a0); s1 = Vector512.Sum(a1); s2 = Vector512.Sum(a2); s3 = Vector512.Sum(a3);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            for (; i <= k - 8; i += 8)
            {
                var xv = Vector256.Load(x + i);
                a0 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w + i), a0);
                a1 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w1 + i), a1);
                a2 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w2 + i), a2);
                a3 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w3 + i), a3);
            }
            s0 = Vector256.Sum(a0); s1 = Vector256.Sum(a1); s2 = Vector256.Sum(a2); s3 = Vector256.Sum(a3);
        }
        else
        {
            s0 = s1 = s2 = s3 = 0;
        }
        for (; i < k; i++)
        {
            float xv = x[i];
            s0 = MathF.FusedMultiplyAdd(xv, w[i], s0);
            s1 = MathF.FusedMultiplyAdd(xv, w1[i], s1);
            s2 = MathF.FusedMultiplyAdd(xv, w2[i], s2);
            s3 = MathF.FusedMultiplyAdd(xv, w3[i], s3);
        }
        result[0] = s0; result[1] = s1; result[2] = s2; result[3] = s3;
    }

    /// <summary>x . w with the same reduction order as one lane of <see cref="Dot1x4"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* x, float* w, int k)
    {
        int i = 0;
        float s;
        if (Vector512.IsHardwareAccelerated)
        {
            var a = Vector512<float>.Zero;
            for (; i <= k - 16; i += 16) a = Vector512.FusedMultiplyAdd(Vector512.Load(x + i), Vector512.Load(w + i), a);
            s = Vector512.Sum(a);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var a = Vector256<float>.Zero;
            for (; i <= k - 8; i += 8) a = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Vector256.Load(w + i), a);
            s = Vector256.Sum(a);
        }
        else
        {
            s = 0;
        }
        for (; i < k; i++) s = MathF.FusedMultiplyAdd(x[i], w[i], s);
        return s;
    }

    /// <summary>y += alpha * x over n elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float alpha, float* x, float* y, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(alpha);
            for (; i <= n - 16; i += 16) Vector512.Store(Vector512.FusedMultiplyAdd(va, Vector512.Load(x + i), Vector512.Load(y + i)), y + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.FusedMultiplyAdd(va, Vector256.Load(x + i), Vector256.Load(y + i)), y + i);
        }
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(alpha, x[i], y[i]);
    }

    /// <summary>y = weight * x / sqrt(mean(x^2) + eps) over one row of n elements (y may alias x).</summary>
    public static void RmsNorm(float* x, float* weight, float eps, float* y, int n)
    {
        float ss = 0;
        for (int i = 0; i < n; i++) ss = MathF.FusedMultiplyAdd(x[i], x[i], ss);
        float inv = 1f / MathF.Sqrt(ss / n + eps);
        for (int i = 0; i < n; i++) y[i] = weight[i] * (x[i] * inv);
    }

    /// <summary>gate[i] = silu(gate[i]) * up[i].</summary>
    public static void SwiGlu(float* gate, float* up, int n)
    {
        for (int i = 0; i < n; i++)
        {
            float g = gate[i];
            gate[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>Rotates one head vector x [hd] in place (rotate-half: dimension i pairs with i + hd/2).</summary>
    public static void Rotate(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = cos.Length;
        for (int i = 0; i < half; i++)
        {
            float a = x[i], b = x[i + half];
            x[i] = a * cos[i] - b * sin[i];
            x[i + half] = b * cos[i] + a * sin[i];
        }
    }
}

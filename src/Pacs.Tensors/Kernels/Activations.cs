using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Pacs.Tensors.Kernels;

/// <summary>SiLU / SwiGLU / sigmoid loops (Vector512, Vector256, scalar tail).</summary>
public static class Activations
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary>log(sigmoid(x)) without overflow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LogSigmoid(float x) => MathF.Min(x, 0f) - MathF.Log(1f + MathF.Exp(-MathF.Abs(x)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));

    /// <summary>y = x * sigmoid(x).</summary>
    public static void SiluForward(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length != x.Length) throw new ArgumentException($"SiluForward: x has {x.Length} elements, y has {y.Length}");
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref xr, (nuint)i);
                Vector512.StoreUnsafe(v * Sigmoid(v), ref yr, (nuint)i);
            }
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                Vector256.StoreUnsafe(v * Sigmoid(v), ref yr, (nuint)i);
            }
        for (; i < n; i++) { float v = Unsafe.Add(ref xr, i); Unsafe.Add(ref yr, i) = v * Sigmoid(v); }
    }

    /// <summary>gx += g * d silu(x)/dx = g * s * (1 + x * (1 - s)), s = sigmoid(x).</summary>
    public static void SiluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> g, Span<float> gx)
    {
        _ = y;
        for (int i = 0; i < x.Length; i++)
        {
            float s = Sigmoid(x[i]);
            gx[i] += g[i] * s * (1f + x[i] * (1f - s));
        }
    }

    /// <summary>y = silu(gate) * up.</summary>
    public static void SwiGluForward(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y)
    {
        if (up.Length != gate.Length || y.Length != gate.Length)
            throw new ArgumentException($"SwiGluForward: gate {gate.Length}, up {up.Length}, y {y.Length} elements");
        ref float gr = ref MemoryMarshal.GetReference(gate);
        ref float ur = ref MemoryMarshal.GetReference(up);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int n = gate.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref gr, (nuint)i);
                Vector512.StoreUnsafe(v * Sigmoid(v) * Vector512.LoadUnsafe(ref ur, (nuint)i), ref yr, (nuint)i);
            }
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref gr, (nuint)i);
                Vector256.StoreUnsafe(v * Sigmoid(v) * Vector256.LoadUnsafe(ref ur, (nuint)i), ref yr, (nuint)i);
            }
        for (; i < n; i++) { float v = Unsafe.Add(ref gr, i); Unsafe.Add(ref yr, i) = v * Sigmoid(v) * Unsafe.Add(ref ur, i); }
    }

    /// <summary>ggate += g * up * silu'(gate); gup += g * silu(gate).</summary>
    public static void SwiGluBackward(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> g,
        Span<float> ggate, Span<float> gup)
    {
        ref float gr = ref MemoryMarshal.GetReference(gate);
        ref float ur = ref MemoryMarshal.GetReference(up);
        ref float dr = ref MemoryMarshal.GetReference(g);
        ref float dgr = ref MemoryMarshal.GetReference(ggate);
        ref float dur = ref MemoryMarshal.GetReference(gup);
        int n = gate.Length, i = 0;
        if (up.Length != n || g.Length != n || ggate.Length != n || gup.Length != n)
            throw new ArgumentException($"SwiGluBackward: gate {n}, up {up.Length}, g {g.Length}, ggate {ggate.Length}, gup {gup.Length} elements");
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
            {
                var x = Vector512.LoadUnsafe(ref gr, (nuint)i);
                var u = Vector512.LoadUnsafe(ref ur, (nuint)i);
                var d = Vector512.LoadUnsafe(ref dr, (nuint)i);
                var s = Sigmoid(x);
                var dsilu = s * (Vector512<float>.One + x * (Vector512<float>.One - s));
                Vector512.StoreUnsafe(Vector512.LoadUnsafe(ref dgr, (nuint)i) + d * u * dsilu, ref dgr, (nuint)i);
                Vector512.StoreUnsafe(Vector512.LoadUnsafe(ref dur, (nuint)i) + d * x * s, ref dur, (nuint)i);
            }
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
            {
                var x = Vector256.LoadUnsafe(ref gr, (nuint)i);
                var u = Vector256.LoadUnsafe(ref ur, (nuint)i);
                var d = Vector256.LoadUnsafe(ref dr, (nuint)i);
                var s = Sigmoid(x);
                var dsilu = s * (Vector256<float>.One + x * (Vector256<float>.One - s));
                Vector256.StoreUnsafe(Vector256.LoadUnsafe(ref dgr, (nuint)i) + d * u * dsilu, ref dgr, (nuint)i);
                Vector256.StoreUnsafe(Vector256.LoadUnsafe(ref dur, (nuint)i) + d * x * s, ref dur, (nuint)i);
            }
        for (; i < n; i++)
        {
            float x = Unsafe.Add(ref gr, i), u = Unsafe.Add(ref ur, i), d = Unsafe.Add(ref dr, i), s = Sigmoid(x);
            Unsafe.Add(ref dgr, i) += d * u * s * (1f + x * (1f - s));
            Unsafe.Add(ref dur, i) += d * x * s;
        }
    }
}

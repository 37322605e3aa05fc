using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Pacs.Tensors.Kernels;

/// <summary>Llama 3 frequency scaling, as in Hugging Face's _compute_llama3_parameters (rope_type "llama3").</summary>
public sealed record RopeScaling(float Factor, float LowFreqFactor, float HighFreqFactor, int OriginalMaxPositionEmbeddings);

/// <summary>
/// cos/sin of position * inv_freq for positions [0, maxPositions) and the headDim/2 frequencies, computed in
/// float32 in the same order as Hugging Face's LlamaRotaryEmbedding so rotated values match it to rounding.
/// </summary>
public sealed class RopeTable
{
    public RopeTable(int headDim, int maxPositions, double theta, RopeScaling? scaling = null)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentException($"RopeTable: head_dim must be positive and even, got {headDim}");
        if (maxPositions <= 0) throw new ArgumentException($"RopeTable: max_position_embeddings must be positive, got {maxPositions}");
        if (!(theta > 0)) throw new ArgumentException($"RopeTable: rope_theta must be positive, got {theta}");
        HeadDim = headDim;
        MaxPositions = maxPositions;
        Theta = theta;
        Scaling = scaling;
        InvFreq = InverseFrequencies(headDim, (float)theta, scaling);
        int half = headDim / 2;
        Cos = new float[(long)maxPositions * half];
        Sin = new float[(long)maxPositions * half];
        for (int p = 0; p < maxPositions; p++)
            for (int i = 0; i < half; i++)
            {
                float angle = p * InvFreq[i];
                Cos[p * half + i] = (float)Math.Cos(angle);
                Sin[p * half + i] = (float)Math.Sin(angle);
            }
    }

    public int HeadDim { get; }

    public int MaxPositions { get; }

    public double Theta { get; }

    public RopeScaling? Scaling { get; }

    /// <summary>[headDim / 2] rotation frequencies after scaling.</summary>
    public float[] InvFreq { get; }

    /// <summary>[maxPositions, headDim / 2] cos(position * InvFreq[i]).</summary>
    public float[] Cos { get; }

    /// <summary>[maxPositions, headDim / 2] sin(position * InvFreq[i]).</summary>
    public float[] Sin { get; }

    /// <summary>1 / theta^(2i / headDim) in float32 with the optional llama3 rescaling.</summary>
    public static float[] InverseFrequencies(int headDim, float theta, RopeScaling? scaling)
    {
        int half = headDim / 2;
        var inv = new float[half];
        for (int i = 0; i < half; i++)
        {
            float exponent = (float)(2 * i) / headDim;
            inv[i] = 1f / (float)Math.Pow(theta, exponent);
        }
        if (scaling is null) return inv;
        var s = scaling;
        if (!(s.Factor > 0) || !(s.HighFreqFactor > s.LowFreqFactor) || s.OriginalMaxPositionEmbeddings <= 0)
            throw new ArgumentException($"RopeTable: bad llama3 rope_scaling (factor {s.Factor}, low_freq_factor {s.LowFreqFactor}, high_freq_factor {s.HighFreqFactor}, original_max_position_embeddings {s.OriginalMaxPositionEmbeddings})");
        float oldLen = s.OriginalMaxPositionEmbeddings;
        float lowFreqWavelen = oldLen / s.LowFreqFactor, highFreqWavelen = oldLen / s.HighFreqFactor;
        for (int i = 0; i < half; i++)
        {
            float wavelen = 1f / inv[i] * (float)(2 * Math.PI);
            float scaled = wavelen > lowFreqWavelen ? inv[i] / s.Factor : inv[i];
            bool medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            if (medium)
            {
                float smooth = (1f / wavelen * oldLen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                scaled = (1f - smooth) * scaled / s.Factor + smooth * scaled;
            }
            inv[i] = scaled;
        }
        return inv;
    }
}

/// <summary>Rotary position embedding, rotate-half convention: y = x * cos + rotate_half(x) * sin.</summary>
public static class Rope
{
    /// <summary>
    /// x, y: [tokens, heads, headDim] (y may be x for in place); positions: [tokens]. When inverse, rotates by
    /// -angle (the transpose, used for the backward pass). When accumulate, adds into y instead of writing it.
    /// </summary>
    public static unsafe void Apply(ReadOnlySpan<float> x, Span<float> y, int heads, ReadOnlySpan<int> positions, RopeTable table,
        bool inverse = false, bool accumulate = false)
    {
        int hd = table.HeadDim, half = hd / 2, tokens = positions.Length;
        if (x.Length != (long)tokens * heads * hd || y.Length != x.Length)
            throw new ArgumentException($"Rope: x has {x.Length} elements, y {y.Length}, expected [{tokens} tokens, {heads} heads, {hd}]");
        for (int t = 0; t < tokens; t++)
            if ((uint)positions[t] >= (uint)table.MaxPositions)
                throw new ArgumentException($"Rope: position {positions[t]} at token {t} is outside the table [0, {table.MaxPositions})");
        fixed (float* xp0 = x, yp0 = y)
        fixed (int* pp0 = positions)
        {
            float* xp = xp0, yp = yp0;
            int* pp = pp0;
            float[] cos = table.Cos, sin = table.Sin;
            RowParallel.For(tokens, 3L * heads * hd, t =>
            {
                var c = cos.AsSpan(pp[t] * half, half);
                var s = sin.AsSpan(pp[t] * half, half);
                for (int h = 0; h < heads; h++)
                {
                    long off = ((long)t * heads + h) * hd;
                    RotateHead(new ReadOnlySpan<float>(xp + off, hd), new Span<float>(yp + off, hd), c, s, inverse, accumulate);
                }
            });
        }
    }

    /// <summary>
    /// Rotates one head vector x [hd] in place by the angles whose cos/sin [hd / 2] are given (a row of a
    /// <see cref="RopeTable"/>): the same arithmetic as <see cref="Apply"/>, for callers that rotate one head at a time
    /// (the KV-cache decode step).
    /// </summary>
    public static void RotateInPlace(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        if (x.Length != 2 * cos.Length || sin.Length != cos.Length)
            throw new ArgumentException($"Rope: a head of {x.Length} values needs cos and sin of {x.Length / 2}, got {cos.Length} and {sin.Length}");
        RotateHead(x, x, cos, sin, inverse: false, accumulate: false);
    }

    private static void RotateHead(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, bool inverse, bool accumulate)
    {
        int half = cos.Length, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float cr = ref MemoryMarshal.GetReference(cos);
        ref float sr = ref MemoryMarshal.GetReference(sin);
        if (Vector512.IsHardwareAccelerated)
            for (; i <= half - 16; i += 16)
            {
                var x1 = Vector512.LoadUnsafe(ref xr, (nuint)i);
                var x2 = Vector512.LoadUnsafe(ref xr, (nuint)(i + half));
                var c = Vector512.LoadUnsafe(ref cr, (nuint)i);
                var s = Vector512.LoadUnsafe(ref sr, (nuint)i);
                if (inverse) s = -s;
                var y1 = x1 * c - x2 * s;
                var y2 = x2 * c + x1 * s;
                if (accumulate)
                {
                    y1 += Vector512.LoadUnsafe(ref yr, (nuint)i);
                    y2 += Vector512.LoadUnsafe(ref yr, (nuint)(i + half));
                }
                Vector512.StoreUnsafe(y1, ref yr, (nuint)i);
                Vector512.StoreUnsafe(y2, ref yr, (nuint)(i + half));
            }
        if (Vector256.IsHardwareAccelerated)
            for (; i <= half - 8; i += 8)
            {
                var x1 = Vector256.LoadUnsafe(ref xr, (nuint)i);
                var x2 = Vector256.LoadUnsafe(ref xr, (nuint)(i + half));
                var c = Vector256.LoadUnsafe(ref cr, (nuint)i);
                var s = Vector256.LoadUnsafe(ref sr, (nuint)i);
                if (inverse) s = -s;
                var y1 = x1 * c - x2 * s;
                var y2 = x2 * c + x1 * s;
                if (accumulate)
                {
                    y1 += Vector256.LoadUnsafe(ref yr, (nuint)i);
                    y2 += Vector256.LoadUnsafe(ref yr, (nuint)(i + half));
                }
                Vector256.StoreUnsafe(y1, ref yr, (nuint)i);
                Vector256.StoreUnsafe(y2, ref yr, (nuint)(i + half));
            }
        for (; i < half; i++)
        {
            float x1 = Unsafe.Add(ref xr, i), x2 = Unsafe.Add(ref xr, i + half), c = Unsafe.Add(ref cr, i), s = Unsafe.Add(ref sr, i);
            if (inverse) s = -s;
            float y1 = x1 * c - x2 * s, y2 = x2 * c + x1 * s;
            if (accumulate) { y1 += Unsafe.Add(ref yr, i); y2 += Unsafe.Add(ref yr, i + half); }
            Unsafe.Add(ref yr, i) = y1;
            Unsafe.Add(ref yr, i + half) = y2;
        }
    }
}

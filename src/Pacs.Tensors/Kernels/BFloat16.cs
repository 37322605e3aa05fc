using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pacs.Tensors.Kernels;

/// <summary>
/// bfloat16 bits (the upper half of a float32: sign, 8 exponent bits, 7 mantissa bits) and their conversions.
/// Widening is exact (a 16-bit shift), so a kernel that widens bf16 weights and computes in float32 gives the
/// result of the float32 kernel on the bf16-rounded weights, to the bit.
/// </summary>
public static unsafe class BFloat16
{
    /// <summary>The float32 with these bf16 bits (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Round-to-nearest-even to bf16 bits (NaN stays a quiet NaN), as PyTorch's `tensor.to(torch.bfloat16)`.</summary>
    public static ushort FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>16 bf16 values at <paramref name="p"/> widened to float32: zero-extend to 32 bits, shift left 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ushort* p) => Avx512F.IsSupported
        ? Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)), 16).AsSingle()
        : Vector512.ShiftLeft(Vector512.WidenLower(Vector256.Load(p).ToVector512()), 16).AsSingle();

    /// <summary>
    /// 32 bf16 values at <paramref name="p"/> widened to float32: values 0-15 in <paramref name="low"/>, 16-31 in
    /// <paramref name="high"/>, the lanes of <see cref="Load512"/> at p and p + 16. With AVX-512BW it is one 64-byte
    /// load and one two-table word permute per 16 values (each value's bits into the upper half of its lane, a zero
    /// word below), where Load512 takes a zero-extension and a shift.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load512x2(ushort* p, out Vector512<float> low, out Vector512<float> high)
    {
        if (Avx512BW.IsSupported)
        {
            // Word 2j + 1 of a result takes word j (low) or 16 + j (high) of bits, word 2j takes word 0 of the zero
            // table (index 32). Constants rather than static fields, which a loop would read from memory.
            var lowWords = Vector512.Create(0x0000_0020u, 0x0001_0020, 0x0002_0020, 0x0003_0020, 0x0004_0020, 0x0005_0020, 0x0006_0020, 0x0007_0020,
                0x0008_0020, 0x0009_0020, 0x000A_0020, 0x000B_0020, 0x000C_0020, 0x000D_0020, 0x000E_0020, 0x000F_0020).AsUInt16();
            var highWords = Vector512.Create(0x0010_0020u, 0x0011_0020, 0x0012_0020, 0x0013_0020, 0x0014_0020, 0x0015_0020, 0x0016_0020, 0x0017_0020,
                0x0018_0020, 0x0019_0020, 0x001A_0020, 0x001B_0020, 0x001C_0020, 0x001D_0020, 0x001E_0020, 0x001F_0020).AsUInt16();
            var bits = Vector512.Load(p);
            low = Avx512BW.PermuteVar32x16x2(bits, lowWords, Vector512<ushort>.Zero).AsSingle();
            high = Avx512BW.PermuteVar32x16x2(bits, highWords, Vector512<ushort>.Zero).AsSingle();
        }
        else
        {
            low = Load512(p);
            high = Load512(p + 16);
        }
    }

    /// <summary>8 bf16 values at <paramref name="p"/> widened to float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256(ushort* p) => Avx2.IsSupported
        ? Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Vector128.Load(p)), 16).AsSingle()
        : Vector256.ShiftLeft(Vector256.WidenLower(Vector128.Load(p).ToVector256()), 16).AsSingle();

    /// <summary>dst[i] = float32 of src[i].</summary>
    public static void Widen(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException($"BFloat16.Widen: {src.Length} values into {dst.Length}");
        fixed (ushort* s = src)
        fixed (float* d = dst)
            Widen(s, d, src.Length);
    }

    /// <summary>d[i] = float32 of s[i] for i &lt; count.</summary>
    public static void Widen(ushort* s, float* d, long count)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= count; i += 16) Load512(s + i).Store(d + i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= count; i += 8) Load256(s + i).Store(d + i);
        for (; i < count; i++) d[i] = ToSingle(s[i]);
    }

    /// <summary>dst[i] = bf16 of src[i] (round to nearest even).</summary>
    public static void Round(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException($"BFloat16.Round: {src.Length} values into {dst.Length}");
        for (int i = 0; i < src.Length; i++) dst[i] = FromSingle(src[i]);
    }

    /// <summary>A new float32 array holding the values of <paramref name="src"/>.</summary>
    public static float[] ToSingleArray(ReadOnlySpan<ushort> src)
    {
        var dst = GC.AllocateUninitializedArray<float>(src.Length);
        Widen(src, dst);
        return dst;
    }

    /// <summary>A new bf16 array holding <paramref name="src"/> rounded to nearest even.</summary>
    public static ushort[] RoundArray(ReadOnlySpan<float> src)
    {
        var dst = GC.AllocateUninitializedArray<ushort>(src.Length);
        Round(src, dst);
        return dst;
    }
}

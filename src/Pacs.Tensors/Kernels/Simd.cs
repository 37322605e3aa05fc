using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Pacs.Tensors.Kernels;

/// <summary>Small vector loops shared by the kernels: Vector512 where the CPU has it, else Vector256, else scalar.</summary>
public static class Simd
{
    /// <summary>y += alpha * x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length != y.Length) throw new ArgumentException($"Axpy: x has {x.Length} elements, y has {y.Length}");
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(alpha);
            for (; i <= n - 16; i += 16)
                Vector512.StoreUnsafe(Vector512.FusedMultiplyAdd(va, Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512.LoadUnsafe(ref yr, (nuint)i)), ref yr, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8)
                Vector256.StoreUnsafe(Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256.LoadUnsafe(ref yr, (nuint)i)), ref yr, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref yr, i) = MathF.FusedMultiplyAdd(alpha, Unsafe.Add(ref xr, i), Unsafe.Add(ref yr, i));
    }

    /// <summary>Sum of a[i] * b[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => TensorPrimitives.Dot(a, b);

    /// <summary>y += x.</summary>
    public static void AddInPlace(Span<float> y, ReadOnlySpan<float> x) => TensorPrimitives.Add(y, x, y);

    /// <summary>
    /// dst[c] += sum over rows r of src[r, c] * other[r, c] * rowScale[r] (other and rowScale optional, empty = 1).
    /// Each column is summed over the rows in order by one thread, so the result does not depend on the thread count.
    /// </summary>
    public static void AddColumnSums(ReadOnlySpan<float> src, int rows, int cols, Span<float> dst,
        ReadOnlySpan<float> other = default, ReadOnlySpan<float> rowScale = default)
    {
        if (src.Length != (long)rows * cols || dst.Length != cols)
            throw new ArgumentException($"AddColumnSums: src has {src.Length} elements for [{rows}, {cols}], dst has {dst.Length}");
        if (!other.IsEmpty && other.Length != src.Length) throw new ArgumentException($"AddColumnSums: other has {other.Length} elements, src {src.Length}");
        if (!rowScale.IsEmpty && rowScale.Length != rows) throw new ArgumentException($"AddColumnSums: rowScale has {rowScale.Length} elements for {rows} rows");
        unsafe
        {
            fixed (float* s = src, d = dst, o = other, rs = rowScale)
            {
                float* sp = s, dp = d, op = o, rsp = rs;
                bool hasOther = !other.IsEmpty, hasScale = !rowScale.IsEmpty;
                int chunks = (cols + ColumnChunk - 1) / ColumnChunk;
                RowParallel.For(chunks, (long)rows * ColumnChunk, chunk =>
                {
                    int c0 = chunk * ColumnChunk, width = Math.Min(ColumnChunk, cols - c0);
                    Span<float> acc = stackalloc float[ColumnChunk];
                    acc = acc[..width];
                    acc.Clear();
                    Span<float> prod = stackalloc float[ColumnChunk];
                    prod = prod[..width];
                    for (int r = 0; r < rows; r++)
                    {
                        var row = new ReadOnlySpan<float>(sp + (long)r * cols + c0, width);
                        if (!hasOther && !hasScale) { AddInPlace(acc, row); continue; }
                        if (hasOther) TensorPrimitives.Multiply(row, new ReadOnlySpan<float>(op + (long)r * cols + c0, width), prod);
                        else row.CopyTo(prod);
                        if (hasScale) Axpy(rsp[r], prod, acc);
                        else AddInPlace(acc, prod);
                    }
                    AddInPlace(new Span<float>(dp + c0, width), acc);
                });
            }
        }
    }

    internal const int ColumnChunk = 64;
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pacs.Tensors.Kernels;

/// <summary>
/// SGEMM micro-kernels. A packed A micro-panel holds MR rows interleaved along k ([kc][MR]); a B micro-panel holds
/// NR columns per k ([kc][bStride], the first NR used). Every kernel reduces each C element over k with one
/// accumulator, fused multiply-adds in ascending k, then writes C = alpha * acc (beta == 0) or
/// fma(alpha, acc, beta * C); <see cref="WriteBack"/> is the scalar twin, so edge tiles round exactly like full ones.
/// Generated from a template (one line per row): edit the template's shape, not single lines.
/// </summary>
internal static unsafe class GemmKernels
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float WriteBack(float alpha, float acc, float beta, float c) =>
        beta == 0 ? alpha * acc : MathF.FusedMultiplyAdd(alpha, acc, beta * c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreFma512(Vector512<float> alpha, Vector512<float> acc, Vector512<float> beta, float* c) =>
        Vector512.Store(Avx512F.FusedMultiplyAdd(alpha, acc, beta * Vector512.Load(c)), c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreFma256(Vector256<float> alpha, Vector256<float> acc, Vector256<float> beta, float* c) =>
        Vector256.Store(Fma.MultiplyAdd(alpha, acc, beta * Vector256.Load(c)), c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float TailDot(float sum, float* a, float* b, int p, int k)
    {
        for (; p < k; p++) sum = MathF.FusedMultiplyAdd(a[p], b[p], sum);
        return sum;
    }

    /// <summary>Portable 4 x 4 tile (no SIMD), same contract as the vector kernels.</summary>
    internal static void ScalarKernel4x4(int kc, float* ap, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = bp[0], b1 = bp[1], b2 = bp[2], b3 = bp[3];
            float a0 = ap[0], a1 = ap[1], a2 = ap[2], a3 = ap[3];
            c00 = MathF.FusedMultiplyAdd(a0, b0, c00); c01 = MathF.FusedMultiplyAdd(a0, b1, c01);
            c02 = MathF.FusedMultiplyAdd(a0, b2, c02); c03 = MathF.FusedMultiplyAdd(a0, b3, c03);
            c10 = MathF.FusedMultiplyAdd(a1, b0, c10); c11 = MathF.FusedMultiplyAdd(a1, b1, c11);
            c12 = MathF.FusedMultiplyAdd(a1, b2, c12); c13 = MathF.FusedMultiplyAdd(a1, b3, c13);
            c20 = MathF.FusedMultiplyAdd(a2, b0, c20); c21 = MathF.FusedMultiplyAdd(a2, b1, c21);
            c22 = MathF.FusedMultiplyAdd(a2, b2, c22); c23 = MathF.FusedMultiplyAdd(a2, b3, c23);
            c30 = MathF.FusedMultiplyAdd(a3, b0, c30); c31 = MathF.FusedMultiplyAdd(a3, b1, c31);
            c32 = MathF.FusedMultiplyAdd(a3, b2, c32); c33 = MathF.FusedMultiplyAdd(a3, b3, c33);
            ap += 4;
            bp += bStride;
        }
        float* r0 = c, r1 = c + ldc, r2 = c + 2 * ldc, r3 = c + 3 * ldc;
        r0[0] = WriteBack(alpha, c00, beta, r0[0]); r0[1] = WriteBack(alpha, c01, beta, r0[1]);
        r0[2] = WriteBack(alpha, c02, beta, r0[2]); r0[3] = WriteBack(alpha, c03, beta, r0[3]);
        r1[0] = WriteBack(alpha, c10, beta, r1[0]); r1[1] = WriteBack(alpha, c11, beta, r1[1]);
        r1[2] = WriteBack(alpha, c12, beta, r1[2]); r1[3] = WriteBack(alpha, c13, beta, r1[3]);
        r2[0] = WriteBack(alpha, c20, beta, r2[0]); r2[1] = WriteBack(alpha, c21, beta, r2[1]);
        r2[2] = WriteBack(alpha, c22, beta, r2[2]); r2[3] = WriteBack(alpha, c23, beta, r2[3]);
        r3[0] = WriteBack(alpha, c30, beta, r3[0]); r3[1] = WriteBack(alpha, c31, beta, r3[1]);
        r3[2] = WriteBack(alpha, c32, beta, r3[2]); r3[3] = WriteBack(alpha, c33, beta, r3[3]);
    }

    /// <summary>8 x 32 tile of C from a packed 8-row A micro-panel and a 32-column B micro-panel (row stride bStride).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Kernel8x32(int kc, float* ap, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c00 = default, c01 = default;
        Vector512<float> c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default;
        Vector512<float> c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default;
        Vector512<float> c70 = default, c71 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(bp);
            var b1 = Vector512.Load(bp + 16);
            var a0 = Vector512.Create(ap[0]);
            c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(ap[1]);
            c10 = Avx512F.FusedMultiplyAdd(a1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(ap[2]);
            c20 = Avx512F.FusedMultiplyAdd(a2, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(ap[3]);
            c30 = Avx512F.FusedMultiplyAdd(a3, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(ap[4]);
            c40 = Avx512F.FusedMultiplyAdd(a4, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(ap[5]);
            c50 = Avx512F.FusedMultiplyAdd(a5, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(ap[6]);
            c60 = Avx512F.FusedMultiplyAdd(a6, b0, c60);
            c61 = Avx512F.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(ap[7]);
            c70 = Avx512F.FusedMultiplyAdd(a7, b0, c70);
            c71 = Avx512F.FusedMultiplyAdd(a7, b1, c71);
            ap += 8;
            bp += bStride;
        }
        var va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(va * c00, c + 0 * ldc); Vector512.Store(va * c01, c + 0 * ldc + 16);
            Vector512.Store(va * c10, c + 1 * ldc); Vector512.Store(va * c11, c + 1 * ldc + 16);
            Vector512.Store(va * c20, c + 2 * ldc); Vector512.Store(va * c21, c + 2 * ldc + 16);
            Vector512.Store(va * c30, c + 3 * ldc); Vector512.Store(va * c31, c + 3 * ldc + 16);
            Vector512.Store(va * c40, c + 4 * ldc); Vector512.Store(va * c41, c + 4 * ldc + 16);
            Vector512.Store(va * c50, c + 5 * ldc); Vector512.Store(va * c51, c + 5 * ldc + 16);
            Vector512.Store(va * c60, c + 6 * ldc); Vector512.Store(va * c61, c + 6 * ldc + 16);
            Vector512.Store(va * c70, c + 7 * ldc); Vector512.Store(va * c71, c + 7 * ldc + 16);
        }
        else
        {
            var vb = Vector512.Create(beta);
            StoreFma512(va, c00, vb, c + 0 * ldc); StoreFma512(va, c01, vb, c + 0 * ldc + 16);
            StoreFma512(va, c10, vb, c + 1 * ldc); StoreFma512(va, c11, vb, c + 1 * ldc + 16);
            StoreFma512(va, c20, vb, c + 2 * ldc); StoreFma512(va, c21, vb, c + 2 * ldc + 16);
            StoreFma512(va, c30, vb, c + 3 * ldc); StoreFma512(va, c31, vb, c + 3 * ldc + 16);
            StoreFma512(va, c40, vb, c + 4 * ldc); StoreFma512(va, c41, vb, c + 4 * ldc + 16);
            StoreFma512(va, c50, vb, c + 5 * ldc); StoreFma512(va, c51, vb, c + 5 * ldc + 16);
            StoreFma512(va, c60, vb, c + 6 * ldc); StoreFma512(va, c61, vb, c + 6 * ldc + 16);
            StoreFma512(va, c70, vb, c + 7 * ldc); StoreFma512(va, c71, vb, c + 7 * ldc + 16);
        }
    }

    /// <summary>12 x 32 tile of C from a packed 12-row A micro-panel and a 32-column B micro-panel (row stride bStride).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Kernel12x32(int kc, float* ap, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c00 = default, c01 = default;
        Vector512<float> c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default;
        Vector512<float> c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default;
        Vector512<float> c70 = default, c71 = default;
        Vector512<float> c80 = default, c81 = default;
        Vector512<float> c90 = default, c91 = default;
        Vector512<float> c100 = default, c101 = default;
        Vector512<float> c110 = default, c111 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(bp);
            var b1 = Vector512.Load(bp + 16);
            var a0 = Vector512.Create(ap[0]);
            c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(ap[1]);
            c10 = Avx512F.FusedMultiplyAdd(a1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(ap[2]);
            c20 = Avx512F.FusedMultiplyAdd(a2, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(ap[3]);
            c30 = Avx512F.FusedMultiplyAdd(a3, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(ap[4]);
            c40 = Avx512F.FusedMultiplyAdd(a4, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(ap[5]);
            c50 = Avx512F.FusedMultiplyAdd(a5, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(ap[6]);
            c60 = Avx512F.FusedMultiplyAdd(a6, b0, c60);
            c61 = Avx512F.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(ap[7]);
            c70 = Avx512F.FusedMultiplyAdd(a7, b0, c70);
            c71 = Avx512F.FusedMultiplyAdd(a7, b1, c71);
            var a8 = Vector512.Create(ap[8]);
            c80 = Avx512F.FusedMultiplyAdd(a8, b0, c80);
            c81 = Avx512F.FusedMultiplyAdd(a8, b1, c81);
            var a9 = Vector512.Create(ap[9]);
            c90 = Avx512F.FusedMultiplyAdd(a9, b0, c90);
            c91 = Avx512F.FusedMultiplyAdd(a9, b1, c91);
            var a10 = Vector512.Create(ap[10]);
            c100 = Avx512F.FusedMultiplyAdd(a10, b0, c100);
            c101 = Avx512F.FusedMultiplyAdd(a10, b1, c101);
            var a11 = Vector512.Create(ap[11]);
            c110 = Avx512F.FusedMultiplyAdd(a11, b0, c110);
            c111 = Avx512F.FusedMultiplyAdd(a11, b1, c111);
            ap += 12;
            bp += bStride;
        }
        var va = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(va * c00, c + 0 * ldc); Vector512.Store(va * c01, c + 0 * ldc + 16);
            Vector512.Store(va * c10, c + 1 * ldc); Vector512.Store(va * c11, c + 1 * ldc + 16);
            Vector512.Store(va * c20, c + 2 * ldc); Vector512.Store(va * c21, c + 2 * ldc + 16);
            Vector512.Store(va * c30, c + 3 * ldc); Vector512.Store(va * c31, c + 3 * ldc + 16);
            Vector512.Store(va * c40, c + 4 * ldc); Vector512.Store(va * c41, c + 4 * ldc + 16);
            Vector512.Store(va * c50, c + 5 * ldc); Vector512.Store(va * c51, c + 5 * ldc + 16);
            Vector512.Store(va * c60, c + 6 * ldc); Vector512.Store(va * c61, c + 6 * ldc + 16);
            Vector512.Store(va * c70, c + 7 * ldc); Vector512.Store(va * c71, c + 7 * ldc + 16);
            Vector512.Store(va * c80, c + 8 * ldc); Vector512.Store(va * c81, c + 8 * ldc + 16);
            Vector512.Store(va * c90, c + 9 * ldc); Vector512.Store(va * c91, c + 9 * ldc + 16);
            Vector512.Store(va * c100, c + 10 * ldc); Vector512.Store(va * c101, c + 10 * ldc + 16);
            Vector512.Store(va * c110, c + 11 * ldc); Vector512.Store(va * c111, c + 11 * ldc + 16);
        }
        else
        {
            var vb = Vector512.Create(beta);
            StoreFma512(va, c00, vb, c + 0 * ldc); StoreFma512(va, c01, vb, c + 0 * ldc + 16);
            StoreFma512(va, c10, vb, c + 1 * ldc); StoreFma512(va, c11, vb, c + 1 * ldc + 16);
            StoreFma512(va, c20, vb, c + 2 * ldc); StoreFma512(va, c21, vb, c + 2 * ldc + 16);
            StoreFma512(va, c30, vb, c + 3 * ldc); StoreFma512(va, c31, vb, c + 3 * ldc + 16);
            StoreFma512(va, c40, vb, c + 4 * ldc); StoreFma512(va, c41, vb, c + 4 * ldc + 16);
            StoreFma512(va, c50, vb, c + 5 * ldc); StoreFma512(va, c51, vb, c + 5 * ldc + 16);
            StoreFma512(va, c60, vb, c + 6 * ldc); StoreFma512(va, c61, vb, c + 6 * ldc + 16);
            StoreFma512(va, c70, vb, c + 7 * ldc); StoreFma512(va, c71, vb, c + 7 * ldc + 16);
            StoreFma512(va, c80, vb, c + 8 * ldc); StoreFma512(va, c81, vb, c + 8 * ldc + 16);
            StoreFma512(va, c90, vb, c + 9 * ldc); StoreFma512(va, c91, vb, c + 9 * ldc + 16);
            StoreFma512(va, c100, vb, c + 10 * ldc); StoreFma512(va, c101, vb, c + 10 * ldc + 16);
            StoreFma512(va, c110, vb, c + 11 * ldc); StoreFma512(va, c111, vb, c + 11 * ldc + 16);
        }
    }

    /// <summary>6 x 16 tile of C from a packed 6-row A micro-panel and a 16-column B micro-panel (row stride bStride).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Kernel6x16(int kc, float* ap, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        Vector256<float> c00 = default, c01 = default;
        Vector256<float> c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default;
        Vector256<float> c40 = default, c41 = default;
        Vector256<float> c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(bp);
            var b1 = Vector256.Load(bp + 8);
            var a0 = Vector256.Create(ap[0]);
            c00 = Fma.MultiplyAdd(a0, b0, c00);
            c01 = Fma.MultiplyAdd(a0, b1, c01);
            var a1 = Vector256.Create(ap[1]);
            c10 = Fma.MultiplyAdd(a1, b0, c10);
            c11 = Fma.MultiplyAdd(a1, b1, c11);
            var a2 = Vector256.Create(ap[2]);
            c20 = Fma.MultiplyAdd(a2, b0, c20);
            c21 = Fma.MultiplyAdd(a2, b1, c21);
            var a3 = Vector256.Create(ap[3]);
            c30 = Fma.MultiplyAdd(a3, b0, c30);
            c31 = Fma.MultiplyAdd(a3, b1, c31);
            var a4 = Vector256.Create(ap[4]);
            c40 = Fma.MultiplyAdd(a4, b0, c40);
            c41 = Fma.MultiplyAdd(a4, b1, c41);
            var a5 = Vector256.Create(ap[5]);
            c50 = Fma.MultiplyAdd(a5, b0, c50);
            c51 = Fma.MultiplyAdd(a5, b1, c51);
            ap += 6;
            bp += bStride;
        }
        var va = Vector256.Create(alpha);
        if (beta == 0)
        {
            Vector256.Store(va * c00, c + 0 * ldc); Vector256.Store(va * c01, c + 0 * ldc + 8);
            Vector256.Store(va * c10, c + 1 * ldc); Vector256.Store(va * c11, c + 1 * ldc + 8);
            Vector256.Store(va * c20, c + 2 * ldc); Vector256.Store(va * c21, c + 2 * ldc + 8);
            Vector256.Store(va * c30, c + 3 * ldc); Vector256.Store(va * c31, c + 3 * ldc + 8);
            Vector256.Store(va * c40, c + 4 * ldc); Vector256.Store(va * c41, c + 4 * ldc + 8);
            Vector256.Store(va * c50, c + 5 * ldc); Vector256.Store(va * c51, c + 5 * ldc + 8);
        }
        else
        {
            var vb = Vector256.Create(beta);
            StoreFma256(va, c00, vb, c + 0 * ldc); StoreFma256(va, c01, vb, c + 0 * ldc + 8);
            StoreFma256(va, c10, vb, c + 1 * ldc); StoreFma256(va, c11, vb, c + 1 * ldc + 8);
            StoreFma256(va, c20, vb, c + 2 * ldc); StoreFma256(va, c21, vb, c + 2 * ldc + 8);
            StoreFma256(va, c30, vb, c + 3 * ldc); StoreFma256(va, c31, vb, c + 3 * ldc + 8);
            StoreFma256(va, c40, vb, c + 4 * ldc); StoreFma256(va, c41, vb, c + 4 * ldc + 8);
            StoreFma256(va, c50, vb, c + 5 * ldc); StoreFma256(va, c51, vb, c + 5 * ldc + 8);
        }
    }

    /// <summary>
    /// Up to 4 x 4 elements of C as dot products of A rows and B rows (both contiguous along k): lane-wise
    /// partial sums over k, a fixed horizontal sum, then the k tail. Rows past aRows/bRows alias row 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Dot512_4x4(int k, float* a, nint lda, int aRows, float* b, nint ldb, int bRows, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = 0 < aRows ? a + 0 * lda : a;
        float* a1 = 1 < aRows ? a + 1 * lda : a;
        float* a2 = 2 < aRows ? a + 2 * lda : a;
        float* a3 = 3 < aRows ? a + 3 * lda : a;
        float* b0 = 0 < bRows ? b + 0 * ldb : b;
        float* b1 = 1 < bRows ? b + 1 * ldb : b;
        float* b2 = 2 < bRows ? b + 2 * ldb : b;
        float* b3 = 3 < bRows ? b + 3 * ldb : b;
        var s00 = Vector512<float>.Zero; var s01 = Vector512<float>.Zero; var s02 = Vector512<float>.Zero; var s03 = Vector512<float>.Zero;
        var s10 = Vector512<float>.Zero; var s11 = Vector512<float>.Zero; var s12 = Vector512<float>.Zero; var s13 = Vector512<float>.Zero;
        var s20 = Vector512<float>.Zero; var s21 = Vector512<float>.Zero; var s22 = Vector512<float>.Zero; var s23 = Vector512<float>.Zero;
        var s30 = Vector512<float>.Zero; var s31 = Vector512<float>.Zero; var s32 = Vector512<float>.Zero; var s33 = Vector512<float>.Zero;
        int p = 0;
        for (; p <= k - 16; p += 16)
        {
            var vb0 = Vector512.Load(b0 + p);
            var vb1 = Vector512.Load(b1 + p);
            var vb2 = Vector512.Load(b2 + p);
            var vb3 = Vector512.Load(b3 + p);
            var va0 = Vector512.Load(a0 + p);
            s00 = Avx512F.FusedMultiplyAdd(va0, vb0, s00);
            s01 = Avx512F.FusedMultiplyAdd(va0, vb1, s01);
            s02 = Avx512F.FusedMultiplyAdd(va0, vb2, s02);
            s03 = Avx512F.FusedMultiplyAdd(va0, vb3, s03);
            var va1 = Vector512.Load(a1 + p);
            s10 = Avx512F.FusedMultiplyAdd(va1, vb0, s10);
            s11 = Avx512F.FusedMultiplyAdd(va1, vb1, s11);
            s12 = Avx512F.FusedMultiplyAdd(va1, vb2, s12);
            s13 = Avx512F.FusedMultiplyAdd(va1, vb3, s13);
            var va2 = Vector512.Load(a2 + p);
            s20 = Avx512F.FusedMultiplyAdd(va2, vb0, s20);
            s21 = Avx512F.FusedMultiplyAdd(va2, vb1, s21);
            s22 = Avx512F.FusedMultiplyAdd(va2, vb2, s22);
            s23 = Avx512F.FusedMultiplyAdd(va2, vb3, s23);
            var va3 = Vector512.Load(a3 + p);
            s30 = Avx512F.FusedMultiplyAdd(va3, vb0, s30);
            s31 = Avx512F.FusedMultiplyAdd(va3, vb1, s31);
            s32 = Avx512F.FusedMultiplyAdd(va3, vb2, s32);
            s33 = Avx512F.FusedMultiplyAdd(va3, vb3, s33);
        }
        float* sums = stackalloc float[16];
        sums[0] = TailDot(Vector512.Sum(s00), a0, b0, p, k);
        sums[1] = TailDot(Vector512.Sum(s01), a0, b1, p, k);
        sums[2] = TailDot(Vector512.Sum(s02), a0, b2, p, k);
        sums[3] = TailDot(Vector512.Sum(s03), a0, b3, p, k);
        sums[4] = TailDot(Vector512.Sum(s10), a1, b0, p, k);
        sums[5] = TailDot(Vector512.Sum(s11), a1, b1, p, k);
        sums[6] = TailDot(Vector512.Sum(s12), a1, b2, p, k);
        sums[7] = TailDot(Vector512.Sum(s13), a1, b3, p, k);
        sums[8] = TailDot(Vector512.Sum(s20), a2, b0, p, k);
        sums[9] = TailDot(Vector512.Sum(s21), a2, b1, p, k);
        sums[10] = TailDot(Vector512.Sum(s22), a2, b2, p, k);
        sums[11] = TailDot(Vector512.Sum(s23), a2, b3, p, k);
        sums[12] = TailDot(Vector512.Sum(s30), a3, b0, p, k);
        sums[13] = TailDot(Vector512.Sum(s31), a3, b1, p, k);
        sums[14] = TailDot(Vector512.Sum(s32), a3, b2, p, k);
        sums[15] = TailDot(Vector512.Sum(s33), a3, b3, p, k);
        for (int i = 0; i < aRows; i++)
            for (int j = 0; j < bRows; j++)
                c[i * ldc + j] = WriteBack(alpha, sums[i * 4 + j], beta, c[i * ldc + j]);
    }

    /// <summary>
    /// Up to 2 x 4 elements of C as dot products of A rows and B rows (both contiguous along k): lane-wise
    /// partial sums over k, a fixed horizontal sum, then the k tail. Rows past aRows/bRows alias row 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Dot256_2x4(int k, float* a, nint lda, int aRows, float* b, nint ldb, int bRows, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = 0 < aRows ? a + 0 * lda : a;
        float* a1 = 1 < aRows ? a + 1 * lda : a;
        float* b0 = 0 < bRows ? b + 0 * ldb : b;
        float* b1 = 1 < bRows ? b + 1 * ldb : b;
        float* b2 = 2 < bRows ? b + 2 * ldb : b;
        float* b3 = 3 < bRows ? b + 3 * ldb : b;
        var s00 = Vector256<float>.Zero; var s01 = Vector256<float>.Zero; var s02 = Vector256<float>.Zero; var s03 = Vector256<float>.Zero;
        var s10 = Vector256<float>.Zero; var s11 = Vector256<float>.Zero; var s12 = Vector256<float>.Zero; var s13 = Vector256<float>.Zero;
        int p = 0;
        for (; p <= k - 8; p += 8)
        {
            var vb0 = Vector256.Load(b0 + p);
            var vb1 = Vector256.Load(b1 + p);
            var vb2 = Vector256.Load(b2 + p);
            var vb3 = Vector256.Load(b3 + p);
            var va0 = Vector256.Load(a0 + p);
            s00 = Fma.MultiplyAdd(va0, vb0, s00);
            s01 = Fma.MultiplyAdd(va0, vb1, s01);
            s02 = Fma.MultiplyAdd(va0, vb2, s02);
            s03 = Fma.MultiplyAdd(va0, vb3, s03);
            var va1 = Vector256.Load(a1 + p);
            s10 = Fma.MultiplyAdd(va1, vb0, s10);
            s11 = Fma.MultiplyAdd(va1, vb1, s11);
            s12 = Fma.MultiplyAdd(va1, vb2, s12);
            s13 = Fma.MultiplyAdd(va1, vb3, s13);
        }
        float* sums = stackalloc float[8];
        sums[0] = TailDot(Vector256.Sum(s00), a0, b0, p, k);
        sums[1] = TailDot(Vector256.Sum(s01), a0, b1, p, k);
        sums[2] = TailDot(Vector256.Sum(s02), a0, b2, p, k);
        sums[3] = TailDot(Vector256.Sum(s03), a0, b3, p, k);
        sums[4] = TailDot(Vector256.Sum(s10), a1, b0, p, k);
        sums[5] = TailDot(Vector256.Sum(s11), a1, b1, p, k);
        sums[6] = TailDot(Vector256.Sum(s12), a1, b2, p, k);
        sums[7] = TailDot(Vector256.Sum(s13), a1, b3, p, k);
        for (int i = 0; i < aRows; i++)
            for (int j = 0; j < bRows; j++)
                c[i * ldc + j] = WriteBack(alpha, sums[i * 4 + j], beta, c[i * ldc + j]);
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pacs.Tensors.Kernels;

/// <summary>
/// SGEMM micro-kernels: each call produces an R x NR tile of C for one block of k, reading A in place and B from a
/// micro-panel whose k-th row of NR floats starts at bp + k * bStride. Two families differ in how A is read:
/// Rows: A row r is contiguous along k (a + r * aStride + p), i.e. op(A) = A row-major;
/// Steps: the R values of one k are contiguous (a + p * aStride + r), i.e. op(A) = A^T or a packed panel.
/// Every kernel reduces each C element over k with one accumulator, fused multiply-adds in ascending k, then writes
/// C = alpha * acc (beta == 0) or fma(alpha, acc, beta * C); <see cref="WriteBack"/> is the scalar twin, so edge
/// tiles round exactly like full ones. All kernels below follow one template (one line per row of the tile).
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Rows8x32(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = a + 0 * aStride;
        float* a1 = a + 1 * aStride;
        float* a2 = a + 2 * aStride;
        float* a3 = a + 3 * aStride;
        float* a4 = a + 4 * aStride;
        float* a5 = a + 5 * aStride;
        float* a6 = a + 6 * aStride;
        float* a7 = a + 7 * aStride;
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero; var c21 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero; var c31 = Vector512<float>.Zero;
        var c40 = Vector512<float>.Zero; var c41 = Vector512<float>.Zero;
        var c50 = Vector512<float>.Zero; var c51 = Vector512<float>.Zero;
        var c60 = Vector512<float>.Zero; var c61 = Vector512<float>.Zero;
        var c70 = Vector512<float>.Zero; var c71 = Vector512<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(bp + 0);
            var b1 = Vector512.Load(bp + 16);
            var va0 = Vector512.Create(a0[p]);
            c00 = Avx512F.FusedMultiplyAdd(va0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(va0, b1, c01);
            var va1 = Vector512.Create(a1[p]);
            c10 = Avx512F.FusedMultiplyAdd(va1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(va1, b1, c11);
            var va2 = Vector512.Create(a2[p]);
            c20 = Avx512F.FusedMultiplyAdd(va2, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(va2, b1, c21);
            var va3 = Vector512.Create(a3[p]);
            c30 = Avx512F.FusedMultiplyAdd(va3, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(va3, b1, c31);
            var va4 = Vector512.Create(a4[p]);
            c40 = Avx512F.FusedMultiplyAdd(va4, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(va4, b1, c41);
            var va5 = Vector512.Create(a5[p]);
            c50 = Avx512F.FusedMultiplyAdd(va5, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(va5, b1, c51);
            var va6 = Vector512.Create(a6[p]);
            c60 = Avx512F.FusedMultiplyAdd(va6, b0, c60);
            c61 = Avx512F.FusedMultiplyAdd(va6, b1, c61);
            var va7 = Vector512.Create(a7[p]);
            c70 = Avx512F.FusedMultiplyAdd(va7, b0, c70);
            c71 = Avx512F.FusedMultiplyAdd(va7, b1, c71);
            bp += bStride;
        }
        var vAlpha = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(vAlpha * c00, c + 0 * ldc + 0); Vector512.Store(vAlpha * c01, c + 0 * ldc + 16);
            Vector512.Store(vAlpha * c10, c + 1 * ldc + 0); Vector512.Store(vAlpha * c11, c + 1 * ldc + 16);
            Vector512.Store(vAlpha * c20, c + 2 * ldc + 0); Vector512.Store(vAlpha * c21, c + 2 * ldc + 16);
            Vector512.Store(vAlpha * c30, c + 3 * ldc + 0); Vector512.Store(vAlpha * c31, c + 3 * ldc + 16);
            Vector512.Store(vAlpha * c40, c + 4 * ldc + 0); Vector512.Store(vAlpha * c41, c + 4 * ldc + 16);
            Vector512.Store(vAlpha * c50, c + 5 * ldc + 0); Vector512.Store(vAlpha * c51, c + 5 * ldc + 16);
            Vector512.Store(vAlpha * c60, c + 6 * ldc + 0); Vector512.Store(vAlpha * c61, c + 6 * ldc + 16);
            Vector512.Store(vAlpha * c70, c + 7 * ldc + 0); Vector512.Store(vAlpha * c71, c + 7 * ldc + 16);
        }
        else
        {
            var vBeta = Vector512.Create(beta);
            StoreFma512(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma512(vAlpha, c01, vBeta, c + 0 * ldc + 16);
            StoreFma512(vAlpha, c10, vBeta, c + 1 * ldc + 0); StoreFma512(vAlpha, c11, vBeta, c + 1 * ldc + 16);
            StoreFma512(vAlpha, c20, vBeta, c + 2 * ldc + 0); StoreFma512(vAlpha, c21, vBeta, c + 2 * ldc + 16);
            StoreFma512(vAlpha, c30, vBeta, c + 3 * ldc + 0); StoreFma512(vAlpha, c31, vBeta, c + 3 * ldc + 16);
            StoreFma512(vAlpha, c40, vBeta, c + 4 * ldc + 0); StoreFma512(vAlpha, c41, vBeta, c + 4 * ldc + 16);
            StoreFma512(vAlpha, c50, vBeta, c + 5 * ldc + 0); StoreFma512(vAlpha, c51, vBeta, c + 5 * ldc + 16);
            StoreFma512(vAlpha, c60, vBeta, c + 6 * ldc + 0); StoreFma512(vAlpha, c61, vBeta, c + 6 * ldc + 16);
            StoreFma512(vAlpha, c70, vBeta, c + 7 * ldc + 0); StoreFma512(vAlpha, c71, vBeta, c + 7 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Rows4x32(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = a + 0 * aStride;
        float* a1 = a + 1 * aStride;
        float* a2 = a + 2 * aStride;
        float* a3 = a + 3 * aStride;
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero; var c21 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero; var c31 = Vector512<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(bp + 0);
            var b1 = Vector512.Load(bp + 16);
            var va0 = Vector512.Create(a0[p]);
            c00 = Avx512F.FusedMultiplyAdd(va0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(va0, b1, c01);
            var va1 = Vector512.Create(a1[p]);
            c10 = Avx512F.FusedMultiplyAdd(va1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(va1, b1, c11);
            var va2 = Vector512.Create(a2[p]);
            c20 = Avx512F.FusedMultiplyAdd(va2, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(va2, b1, c21);
            var va3 = Vector512.Create(a3[p]);
            c30 = Avx512F.FusedMultiplyAdd(va3, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(va3, b1, c31);
            bp += bStride;
        }
        var vAlpha = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(vAlpha * c00, c + 0 * ldc + 0); Vector512.Store(vAlpha * c01, c + 0 * ldc + 16);
            Vector512.Store(vAlpha * c10, c + 1 * ldc + 0); Vector512.Store(vAlpha * c11, c + 1 * ldc + 16);
            Vector512.Store(vAlpha * c20, c + 2 * ldc + 0); Vector512.Store(vAlpha * c21, c + 2 * ldc + 16);
            Vector512.Store(vAlpha * c30, c + 3 * ldc + 0); Vector512.Store(vAlpha * c31, c + 3 * ldc + 16);
        }
        else
        {
            var vBeta = Vector512.Create(beta);
            StoreFma512(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma512(vAlpha, c01, vBeta, c + 0 * ldc + 16);
            StoreFma512(vAlpha, c10, vBeta, c + 1 * ldc + 0); StoreFma512(vAlpha, c11, vBeta, c + 1 * ldc + 16);
            StoreFma512(vAlpha, c20, vBeta, c + 2 * ldc + 0); StoreFma512(vAlpha, c21, vBeta, c + 2 * ldc + 16);
            StoreFma512(vAlpha, c30, vBeta, c + 3 * ldc + 0); StoreFma512(vAlpha, c31, vBeta, c + 3 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Rows2x32(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = a + 0 * aStride;
        float* a1 = a + 1 * aStride;
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(bp + 0);
            var b1 = Vector512.Load(bp + 16);
            var va0 = Vector512.Create(a0[p]);
            c00 = Avx512F.FusedMultiplyAdd(va0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(va0, b1, c01);
            var va1 = Vector512.Create(a1[p]);
            c10 = Avx512F.FusedMultiplyAdd(va1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(va1, b1, c11);
            bp += bStride;
        }
        var vAlpha = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(vAlpha * c00, c + 0 * ldc + 0); Vector512.Store(vAlpha * c01, c + 0 * ldc + 16);
            Vector512.Store(vAlpha * c10, c + 1 * ldc + 0); Vector512.Store(vAlpha * c11, c + 1 * ldc + 16);
        }
        else
        {
            var vBeta = Vector512.Create(beta);
            StoreFma512(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma512(vAlpha, c01, vBeta, c + 0 * ldc + 16);
            StoreFma512(vAlpha, c10, vBeta, c + 1 * ldc + 0); StoreFma512(vAlpha, c11, vBeta, c + 1 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Rows1x32(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = a + 0 * aStride;
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(bp + 0);
            var b1 = Vector512.Load(bp + 16);
            var va0 = Vector512.Create(a0[p]);
            c00 = Avx512F.FusedMultiplyAdd(va0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(va0, b1, c01);
            bp += bStride;
        }
        var vAlpha = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(vAlpha * c00, c + 0 * ldc + 0); Vector512.Store(vAlpha * c01, c + 0 * ldc + 16);
        }
        else
        {
            var vBeta = Vector512.Create(beta);
            StoreFma512(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma512(vAlpha, c01, vBeta, c + 0 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Steps8x32(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero; var c21 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero; var c31 = Vector512<float>.Zero;
        var c40 = Vector512<float>.Zero; var c41 = Vector512<float>.Zero;
        var c50 = Vector512<float>.Zero; var c51 = Vector512<float>.Zero;
        var c60 = Vector512<float>.Zero; var c61 = Vector512<float>.Zero;
        var c70 = Vector512<float>.Zero; var c71 = Vector512<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(bp + 0);
            var b1 = Vector512.Load(bp + 16);
            var va0 = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(va0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(va0, b1, c01);
            var va1 = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(va1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(va1, b1, c11);
            var va2 = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(va2, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(va2, b1, c21);
            var va3 = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(va3, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(va3, b1, c31);
            var va4 = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(va4, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(va4, b1, c41);
            var va5 = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(va5, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(va5, b1, c51);
            var va6 = Vector512.Create(a[6]);
            c60 = Avx512F.FusedMultiplyAdd(va6, b0, c60);
            c61 = Avx512F.FusedMultiplyAdd(va6, b1, c61);
            var va7 = Vector512.Create(a[7]);
            c70 = Avx512F.FusedMultiplyAdd(va7, b0, c70);
            c71 = Avx512F.FusedMultiplyAdd(va7, b1, c71);
            a += aStride;
            bp += bStride;
        }
        var vAlpha = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(vAlpha * c00, c + 0 * ldc + 0); Vector512.Store(vAlpha * c01, c + 0 * ldc + 16);
            Vector512.Store(vAlpha * c10, c + 1 * ldc + 0); Vector512.Store(vAlpha * c11, c + 1 * ldc + 16);
            Vector512.Store(vAlpha * c20, c + 2 * ldc + 0); Vector512.Store(vAlpha * c21, c + 2 * ldc + 16);
            Vector512.Store(vAlpha * c30, c + 3 * ldc + 0); Vector512.Store(vAlpha * c31, c + 3 * ldc + 16);
            Vector512.Store(vAlpha * c40, c + 4 * ldc + 0); Vector512.Store(vAlpha * c41, c + 4 * ldc + 16);
            Vector512.Store(vAlpha * c50, c + 5 * ldc + 0); Vector512.Store(vAlpha * c51, c + 5 * ldc + 16);
            Vector512.Store(vAlpha * c60, c + 6 * ldc + 0); Vector512.Store(vAlpha * c61, c + 6 * ldc + 16);
            Vector512.Store(vAlpha * c70, c + 7 * ldc + 0); Vector512.Store(vAlpha * c71, c + 7 * ldc + 16);
        }
        else
        {
            var vBeta = Vector512.Create(beta);
            StoreFma512(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma512(vAlpha, c01, vBeta, c + 0 * ldc + 16);
            StoreFma512(vAlpha, c10, vBeta, c + 1 * ldc + 0); StoreFma512(vAlpha, c11, vBeta, c + 1 * ldc + 16);
            StoreFma512(vAlpha, c20, vBeta, c + 2 * ldc + 0); StoreFma512(vAlpha, c21, vBeta, c + 2 * ldc + 16);
            StoreFma512(vAlpha, c30, vBeta, c + 3 * ldc + 0); StoreFma512(vAlpha, c31, vBeta, c + 3 * ldc + 16);
            StoreFma512(vAlpha, c40, vBeta, c + 4 * ldc + 0); StoreFma512(vAlpha, c41, vBeta, c + 4 * ldc + 16);
            StoreFma512(vAlpha, c50, vBeta, c + 5 * ldc + 0); StoreFma512(vAlpha, c51, vBeta, c + 5 * ldc + 16);
            StoreFma512(vAlpha, c60, vBeta, c + 6 * ldc + 0); StoreFma512(vAlpha, c61, vBeta, c + 6 * ldc + 16);
            StoreFma512(vAlpha, c70, vBeta, c + 7 * ldc + 0); StoreFma512(vAlpha, c71, vBeta, c + 7 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Steps4x32(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero; var c21 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero; var c31 = Vector512<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(bp + 0);
            var b1 = Vector512.Load(bp + 16);
            var va0 = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(va0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(va0, b1, c01);
            var va1 = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(va1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(va1, b1, c11);
            var va2 = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(va2, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(va2, b1, c21);
            var va3 = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(va3, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(va3, b1, c31);
            a += aStride;
            bp += bStride;
        }
        var vAlpha = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(vAlpha * c00, c + 0 * ldc + 0); Vector512.Store(vAlpha * c01, c + 0 * ldc + 16);
            Vector512.Store(vAlpha * c10, c + 1 * ldc + 0); Vector512.Store(vAlpha * c11, c + 1 * ldc + 16);
            Vector512.Store(vAlpha * c20, c + 2 * ldc + 0); Vector512.Store(vAlpha * c21, c + 2 * ldc + 16);
            Vector512.Store(vAlpha * c30, c + 3 * ldc + 0); Vector512.Store(vAlpha * c31, c + 3 * ldc + 16);
        }
        else
        {
            var vBeta = Vector512.Create(beta);
            StoreFma512(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma512(vAlpha, c01, vBeta, c + 0 * ldc + 16);
            StoreFma512(vAlpha, c10, vBeta, c + 1 * ldc + 0); StoreFma512(vAlpha, c11, vBeta, c + 1 * ldc + 16);
            StoreFma512(vAlpha, c20, vBeta, c + 2 * ldc + 0); StoreFma512(vAlpha, c21, vBeta, c + 2 * ldc + 16);
            StoreFma512(vAlpha, c30, vBeta, c + 3 * ldc + 0); StoreFma512(vAlpha, c31, vBeta, c + 3 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Steps2x32(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(bp + 0);
            var b1 = Vector512.Load(bp + 16);
            var va0 = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(va0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(va0, b1, c01);
            var va1 = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(va1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(va1, b1, c11);
            a += aStride;
            bp += bStride;
        }
        var vAlpha = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(vAlpha * c00, c + 0 * ldc + 0); Vector512.Store(vAlpha * c01, c + 0 * ldc + 16);
            Vector512.Store(vAlpha * c10, c + 1 * ldc + 0); Vector512.Store(vAlpha * c11, c + 1 * ldc + 16);
        }
        else
        {
            var vBeta = Vector512.Create(beta);
            StoreFma512(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma512(vAlpha, c01, vBeta, c + 0 * ldc + 16);
            StoreFma512(vAlpha, c10, vBeta, c + 1 * ldc + 0); StoreFma512(vAlpha, c11, vBeta, c + 1 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Steps1x32(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(bp + 0);
            var b1 = Vector512.Load(bp + 16);
            var va0 = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(va0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(va0, b1, c01);
            a += aStride;
            bp += bStride;
        }
        var vAlpha = Vector512.Create(alpha);
        if (beta == 0)
        {
            Vector512.Store(vAlpha * c00, c + 0 * ldc + 0); Vector512.Store(vAlpha * c01, c + 0 * ldc + 16);
        }
        else
        {
            var vBeta = Vector512.Create(beta);
            StoreFma512(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma512(vAlpha, c01, vBeta, c + 0 * ldc + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Rows6x16(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = a + 0 * aStride;
        float* a1 = a + 1 * aStride;
        float* a2 = a + 2 * aStride;
        float* a3 = a + 3 * aStride;
        float* a4 = a + 4 * aStride;
        float* a5 = a + 5 * aStride;
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero;
        var c20 = Vector256<float>.Zero; var c21 = Vector256<float>.Zero;
        var c30 = Vector256<float>.Zero; var c31 = Vector256<float>.Zero;
        var c40 = Vector256<float>.Zero; var c41 = Vector256<float>.Zero;
        var c50 = Vector256<float>.Zero; var c51 = Vector256<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(bp + 0);
            var b1 = Vector256.Load(bp + 8);
            var va0 = Vector256.Create(a0[p]);
            c00 = Fma.MultiplyAdd(va0, b0, c00);
            c01 = Fma.MultiplyAdd(va0, b1, c01);
            var va1 = Vector256.Create(a1[p]);
            c10 = Fma.MultiplyAdd(va1, b0, c10);
            c11 = Fma.MultiplyAdd(va1, b1, c11);
            var va2 = Vector256.Create(a2[p]);
            c20 = Fma.MultiplyAdd(va2, b0, c20);
            c21 = Fma.MultiplyAdd(va2, b1, c21);
            var va3 = Vector256.Create(a3[p]);
            c30 = Fma.MultiplyAdd(va3, b0, c30);
            c31 = Fma.MultiplyAdd(va3, b1, c31);
            var va4 = Vector256.Create(a4[p]);
            c40 = Fma.MultiplyAdd(va4, b0, c40);
            c41 = Fma.MultiplyAdd(va4, b1, c41);
            var va5 = Vector256.Create(a5[p]);
            c50 = Fma.MultiplyAdd(va5, b0, c50);
            c51 = Fma.MultiplyAdd(va5, b1, c51);
            bp += bStride;
        }
        var vAlpha = Vector256.Create(alpha);
        if (beta == 0)
        {
            Vector256.Store(vAlpha * c00, c + 0 * ldc + 0); Vector256.Store(vAlpha * c01, c + 0 * ldc + 8);
            Vector256.Store(vAlpha * c10, c + 1 * ldc + 0); Vector256.Store(vAlpha * c11, c + 1 * ldc + 8);
            Vector256.Store(vAlpha * c20, c + 2 * ldc + 0); Vector256.Store(vAlpha * c21, c + 2 * ldc + 8);
            Vector256.Store(vAlpha * c30, c + 3 * ldc + 0); Vector256.Store(vAlpha * c31, c + 3 * ldc + 8);
            Vector256.Store(vAlpha * c40, c + 4 * ldc + 0); Vector256.Store(vAlpha * c41, c + 4 * ldc + 8);
            Vector256.Store(vAlpha * c50, c + 5 * ldc + 0); Vector256.Store(vAlpha * c51, c + 5 * ldc + 8);
        }
        else
        {
            var vBeta = Vector256.Create(beta);
            StoreFma256(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma256(vAlpha, c01, vBeta, c + 0 * ldc + 8);
            StoreFma256(vAlpha, c10, vBeta, c + 1 * ldc + 0); StoreFma256(vAlpha, c11, vBeta, c + 1 * ldc + 8);
            StoreFma256(vAlpha, c20, vBeta, c + 2 * ldc + 0); StoreFma256(vAlpha, c21, vBeta, c + 2 * ldc + 8);
            StoreFma256(vAlpha, c30, vBeta, c + 3 * ldc + 0); StoreFma256(vAlpha, c31, vBeta, c + 3 * ldc + 8);
            StoreFma256(vAlpha, c40, vBeta, c + 4 * ldc + 0); StoreFma256(vAlpha, c41, vBeta, c + 4 * ldc + 8);
            StoreFma256(vAlpha, c50, vBeta, c + 5 * ldc + 0); StoreFma256(vAlpha, c51, vBeta, c + 5 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Rows4x16(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = a + 0 * aStride;
        float* a1 = a + 1 * aStride;
        float* a2 = a + 2 * aStride;
        float* a3 = a + 3 * aStride;
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero;
        var c20 = Vector256<float>.Zero; var c21 = Vector256<float>.Zero;
        var c30 = Vector256<float>.Zero; var c31 = Vector256<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(bp + 0);
            var b1 = Vector256.Load(bp + 8);
            var va0 = Vector256.Create(a0[p]);
            c00 = Fma.MultiplyAdd(va0, b0, c00);
            c01 = Fma.MultiplyAdd(va0, b1, c01);
            var va1 = Vector256.Create(a1[p]);
            c10 = Fma.MultiplyAdd(va1, b0, c10);
            c11 = Fma.MultiplyAdd(va1, b1, c11);
            var va2 = Vector256.Create(a2[p]);
            c20 = Fma.MultiplyAdd(va2, b0, c20);
            c21 = Fma.MultiplyAdd(va2, b1, c21);
            var va3 = Vector256.Create(a3[p]);
            c30 = Fma.MultiplyAdd(va3, b0, c30);
            c31 = Fma.MultiplyAdd(va3, b1, c31);
            bp += bStride;
        }
        var vAlpha = Vector256.Create(alpha);
        if (beta == 0)
        {
            Vector256.Store(vAlpha * c00, c + 0 * ldc + 0); Vector256.Store(vAlpha * c01, c + 0 * ldc + 8);
            Vector256.Store(vAlpha * c10, c + 1 * ldc + 0); Vector256.Store(vAlpha * c11, c + 1 * ldc + 8);
            Vector256.Store(vAlpha * c20, c + 2 * ldc + 0); Vector256.Store(vAlpha * c21, c + 2 * ldc + 8);
            Vector256.Store(vAlpha * c30, c + 3 * ldc + 0); Vector256.Store(vAlpha * c31, c + 3 * ldc + 8);
        }
        else
        {
            var vBeta = Vector256.Create(beta);
            StoreFma256(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma256(vAlpha, c01, vBeta, c + 0 * ldc + 8);
            StoreFma256(vAlpha, c10, vBeta, c + 1 * ldc + 0); StoreFma256(vAlpha, c11, vBeta, c + 1 * ldc + 8);
            StoreFma256(vAlpha, c20, vBeta, c + 2 * ldc + 0); StoreFma256(vAlpha, c21, vBeta, c + 2 * ldc + 8);
            StoreFma256(vAlpha, c30, vBeta, c + 3 * ldc + 0); StoreFma256(vAlpha, c31, vBeta, c + 3 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Rows2x16(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = a + 0 * aStride;
        float* a1 = a + 1 * aStride;
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(bp + 0);
            var b1 = Vector256.Load(bp + 8);
            var va0 = Vector256.Create(a0[p]);
            c00 = Fma.MultiplyAdd(va0, b0, c00);
            c01 = Fma.MultiplyAdd(va0, b1, c01);
            var va1 = Vector256.Create(a1[p]);
            c10 = Fma.MultiplyAdd(va1, b0, c10);
            c11 = Fma.MultiplyAdd(va1, b1, c11);
            bp += bStride;
        }
        var vAlpha = Vector256.Create(alpha);
        if (beta == 0)
        {
            Vector256.Store(vAlpha * c00, c + 0 * ldc + 0); Vector256.Store(vAlpha * c01, c + 0 * ldc + 8);
            Vector256.Store(vAlpha * c10, c + 1 * ldc + 0); Vector256.Store(vAlpha * c11, c + 1 * ldc + 8);
        }
        else
        {
            var vBeta = Vector256.Create(beta);
            StoreFma256(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma256(vAlpha, c01, vBeta, c + 0 * ldc + 8);
            StoreFma256(vAlpha, c10, vBeta, c + 1 * ldc + 0); StoreFma256(vAlpha, c11, vBeta, c + 1 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Rows1x16(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = a + 0 * aStride;
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(bp + 0);
            var b1 = Vector256.Load(bp + 8);
            var va0 = Vector256.Create(a0[p]);
            c00 = Fma.MultiplyAdd(va0, b0, c00);
            c01 = Fma.MultiplyAdd(va0, b1, c01);
            bp += bStride;
        }
        var vAlpha = Vector256.Create(alpha);
        if (beta == 0)
        {
            Vector256.Store(vAlpha * c00, c + 0 * ldc + 0); Vector256.Store(vAlpha * c01, c + 0 * ldc + 8);
        }
        else
        {
            var vBeta = Vector256.Create(beta);
            StoreFma256(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma256(vAlpha, c01, vBeta, c + 0 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Steps6x16(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero;
        var c20 = Vector256<float>.Zero; var c21 = Vector256<float>.Zero;
        var c30 = Vector256<float>.Zero; var c31 = Vector256<float>.Zero;
        var c40 = Vector256<float>.Zero; var c41 = Vector256<float>.Zero;
        var c50 = Vector256<float>.Zero; var c51 = Vector256<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(bp + 0);
            var b1 = Vector256.Load(bp + 8);
            var va0 = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(va0, b0, c00);
            c01 = Fma.MultiplyAdd(va0, b1, c01);
            var va1 = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(va1, b0, c10);
            c11 = Fma.MultiplyAdd(va1, b1, c11);
            var va2 = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(va2, b0, c20);
            c21 = Fma.MultiplyAdd(va2, b1, c21);
            var va3 = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(va3, b0, c30);
            c31 = Fma.MultiplyAdd(va3, b1, c31);
            var va4 = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(va4, b0, c40);
            c41 = Fma.MultiplyAdd(va4, b1, c41);
            var va5 = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(va5, b0, c50);
            c51 = Fma.MultiplyAdd(va5, b1, c51);
            a += aStride;
            bp += bStride;
        }
        var vAlpha = Vector256.Create(alpha);
        if (beta == 0)
        {
            Vector256.Store(vAlpha * c00, c + 0 * ldc + 0); Vector256.Store(vAlpha * c01, c + 0 * ldc + 8);
            Vector256.Store(vAlpha * c10, c + 1 * ldc + 0); Vector256.Store(vAlpha * c11, c + 1 * ldc + 8);
            Vector256.Store(vAlpha * c20, c + 2 * ldc + 0); Vector256.Store(vAlpha * c21, c + 2 * ldc + 8);
            Vector256.Store(vAlpha * c30, c + 3 * ldc + 0); Vector256.Store(vAlpha * c31, c + 3 * ldc + 8);
            Vector256.Store(vAlpha * c40, c + 4 * ldc + 0); Vector256.Store(vAlpha * c41, c + 4 * ldc + 8);
            Vector256.Store(vAlpha * c50, c + 5 * ldc + 0); Vector256.Store(vAlpha * c51, c + 5 * ldc + 8);
        }
        else
        {
            var vBeta = Vector256.Create(beta);
            StoreFma256(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma256(vAlpha, c01, vBeta, c + 0 * ldc + 8);
            StoreFma256(vAlpha, c10, vBeta, c + 1 * ldc + 0); StoreFma256(vAlpha, c11, vBeta, c + 1 * ldc + 8);
            StoreFma256(vAlpha, c20, vBeta, c + 2 * ldc + 0); StoreFma256(vAlpha, c21, vBeta, c + 2 * ldc + 8);
            StoreFma256(vAlpha, c30, vBeta, c + 3 * ldc + 0); StoreFma256(vAlpha, c31, vBeta, c + 3 * ldc + 8);
            StoreFma256(vAlpha, c40, vBeta, c + 4 * ldc + 0); StoreFma256(vAlpha, c41, vBeta, c + 4 * ldc + 8);
            StoreFma256(vAlpha, c50, vBeta, c + 5 * ldc + 0); StoreFma256(vAlpha, c51, vBeta, c + 5 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Steps4x16(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero;
        var c20 = Vector256<float>.Zero; var c21 = Vector256<float>.Zero;
        var c30 = Vector256<float>.Zero; var c31 = Vector256<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(bp + 0);
            var b1 = Vector256.Load(bp + 8);
            var va0 = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(va0, b0, c00);
            c01 = Fma.MultiplyAdd(va0, b1, c01);
            var va1 = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(va1, b0, c10);
            c11 = Fma.MultiplyAdd(va1, b1, c11);
            var va2 = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(va2, b0, c20);
            c21 = Fma.MultiplyAdd(va2, b1, c21);
            var va3 = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(va3, b0, c30);
            c31 = Fma.MultiplyAdd(va3, b1, c31);
            a += aStride;
            bp += bStride;
        }
        var vAlpha = Vector256.Create(alpha);
        if (beta == 0)
        {
            Vector256.Store(vAlpha * c00, c + 0 * ldc + 0); Vector256.Store(vAlpha * c01, c + 0 * ldc + 8);
            Vector256.Store(vAlpha * c10, c + 1 * ldc + 0); Vector256.Store(vAlpha * c11, c + 1 * ldc + 8);
            Vector256.Store(vAlpha * c20, c + 2 * ldc + 0); Vector256.Store(vAlpha * c21, c + 2 * ldc + 8);
            Vector256.Store(vAlpha * c30, c + 3 * ldc + 0); Vector256.Store(vAlpha * c31, c + 3 * ldc + 8);
        }
        else
        {
            var vBeta = Vector256.Create(beta);
            StoreFma256(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma256(vAlpha, c01, vBeta, c + 0 * ldc + 8);
            StoreFma256(vAlpha, c10, vBeta, c + 1 * ldc + 0); StoreFma256(vAlpha, c11, vBeta, c + 1 * ldc + 8);
            StoreFma256(vAlpha, c20, vBeta, c + 2 * ldc + 0); StoreFma256(vAlpha, c21, vBeta, c + 2 * ldc + 8);
            StoreFma256(vAlpha, c30, vBeta, c + 3 * ldc + 0); StoreFma256(vAlpha, c31, vBeta, c + 3 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Steps2x16(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(bp + 0);
            var b1 = Vector256.Load(bp + 8);
            var va0 = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(va0, b0, c00);
            c01 = Fma.MultiplyAdd(va0, b1, c01);
            var va1 = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(va1, b0, c10);
            c11 = Fma.MultiplyAdd(va1, b1, c11);
            a += aStride;
            bp += bStride;
        }
        var vAlpha = Vector256.Create(alpha);
        if (beta == 0)
        {
            Vector256.Store(vAlpha * c00, c + 0 * ldc + 0); Vector256.Store(vAlpha * c01, c + 0 * ldc + 8);
            Vector256.Store(vAlpha * c10, c + 1 * ldc + 0); Vector256.Store(vAlpha * c11, c + 1 * ldc + 8);
        }
        else
        {
            var vBeta = Vector256.Create(beta);
            StoreFma256(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma256(vAlpha, c01, vBeta, c + 0 * ldc + 8);
            StoreFma256(vAlpha, c10, vBeta, c + 1 * ldc + 0); StoreFma256(vAlpha, c11, vBeta, c + 1 * ldc + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Steps1x16(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(bp + 0);
            var b1 = Vector256.Load(bp + 8);
            var va0 = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(va0, b0, c00);
            c01 = Fma.MultiplyAdd(va0, b1, c01);
            a += aStride;
            bp += bStride;
        }
        var vAlpha = Vector256.Create(alpha);
        if (beta == 0)
        {
            Vector256.Store(vAlpha * c00, c + 0 * ldc + 0); Vector256.Store(vAlpha * c01, c + 0 * ldc + 8);
        }
        else
        {
            var vBeta = Vector256.Create(beta);
            StoreFma256(vAlpha, c00, vBeta, c + 0 * ldc + 0); StoreFma256(vAlpha, c01, vBeta, c + 0 * ldc + 8);
        }
    }

    internal static void ScalarRows4x4(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = a + 0 * aStride;
        float* a1 = a + 1 * aStride;
        float* a2 = a + 2 * aStride;
        float* a3 = a + 3 * aStride;
        float c00 = 0; float c01 = 0; float c02 = 0; float c03 = 0;
        float c10 = 0; float c11 = 0; float c12 = 0; float c13 = 0;
        float c20 = 0; float c21 = 0; float c22 = 0; float c23 = 0;
        float c30 = 0; float c31 = 0; float c32 = 0; float c33 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = bp[0]; float b1 = bp[1]; float b2 = bp[2]; float b3 = bp[3];
            float va0 = a0[p];
            c00 = MathF.FusedMultiplyAdd(va0, b0, c00); c01 = MathF.FusedMultiplyAdd(va0, b1, c01); c02 = MathF.FusedMultiplyAdd(va0, b2, c02); c03 = MathF.FusedMultiplyAdd(va0, b3, c03);
            float va1 = a1[p];
            c10 = MathF.FusedMultiplyAdd(va1, b0, c10); c11 = MathF.FusedMultiplyAdd(va1, b1, c11); c12 = MathF.FusedMultiplyAdd(va1, b2, c12); c13 = MathF.FusedMultiplyAdd(va1, b3, c13);
            float va2 = a2[p];
            c20 = MathF.FusedMultiplyAdd(va2, b0, c20); c21 = MathF.FusedMultiplyAdd(va2, b1, c21); c22 = MathF.FusedMultiplyAdd(va2, b2, c22); c23 = MathF.FusedMultiplyAdd(va2, b3, c23);
            float va3 = a3[p];
            c30 = MathF.FusedMultiplyAdd(va3, b0, c30); c31 = MathF.FusedMultiplyAdd(va3, b1, c31); c32 = MathF.FusedMultiplyAdd(va3, b2, c32); c33 = MathF.FusedMultiplyAdd(va3, b3, c33);
            bp += bStride;
        }
        c[0 * ldc + 0] = WriteBack(alpha, c00, beta, c[0 * ldc + 0]); c[0 * ldc + 1] = WriteBack(alpha, c01, beta, c[0 * ldc + 1]); c[0 * ldc + 2] = WriteBack(alpha, c02, beta, c[0 * ldc + 2]); c[0 * ldc + 3] = WriteBack(alpha, c03, beta, c[0 * ldc + 3]);
        c[1 * ldc + 0] = WriteBack(alpha, c10, beta, c[1 * ldc + 0]); c[1 * ldc + 1] = WriteBack(alpha, c11, beta, c[1 * ldc + 1]); c[1 * ldc + 2] = WriteBack(alpha, c12, beta, c[1 * ldc + 2]); c[1 * ldc + 3] = WriteBack(alpha, c13, beta, c[1 * ldc + 3]);
        c[2 * ldc + 0] = WriteBack(alpha, c20, beta, c[2 * ldc + 0]); c[2 * ldc + 1] = WriteBack(alpha, c21, beta, c[2 * ldc + 1]); c[2 * ldc + 2] = WriteBack(alpha, c22, beta, c[2 * ldc + 2]); c[2 * ldc + 3] = WriteBack(alpha, c23, beta, c[2 * ldc + 3]);
        c[3 * ldc + 0] = WriteBack(alpha, c30, beta, c[3 * ldc + 0]); c[3 * ldc + 1] = WriteBack(alpha, c31, beta, c[3 * ldc + 1]); c[3 * ldc + 2] = WriteBack(alpha, c32, beta, c[3 * ldc + 2]); c[3 * ldc + 3] = WriteBack(alpha, c33, beta, c[3 * ldc + 3]);
    }

    internal static void ScalarRows2x4(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = a + 0 * aStride;
        float* a1 = a + 1 * aStride;
        float c00 = 0; float c01 = 0; float c02 = 0; float c03 = 0;
        float c10 = 0; float c11 = 0; float c12 = 0; float c13 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = bp[0]; float b1 = bp[1]; float b2 = bp[2]; float b3 = bp[3];
            float va0 = a0[p];
            c00 = MathF.FusedMultiplyAdd(va0, b0, c00); c01 = MathF.FusedMultiplyAdd(va0, b1, c01); c02 = MathF.FusedMultiplyAdd(va0, b2, c02); c03 = MathF.FusedMultiplyAdd(va0, b3, c03);
            float va1 = a1[p];
            c10 = MathF.FusedMultiplyAdd(va1, b0, c10); c11 = MathF.FusedMultiplyAdd(va1, b1, c11); c12 = MathF.FusedMultiplyAdd(va1, b2, c12); c13 = MathF.FusedMultiplyAdd(va1, b3, c13);
            bp += bStride;
        }
        c[0 * ldc + 0] = WriteBack(alpha, c00, beta, c[0 * ldc + 0]); c[0 * ldc + 1] = WriteBack(alpha, c01, beta, c[0 * ldc + 1]); c[0 * ldc + 2] = WriteBack(alpha, c02, beta, c[0 * ldc + 2]); c[0 * ldc + 3] = WriteBack(alpha, c03, beta, c[0 * ldc + 3]);
        c[1 * ldc + 0] = WriteBack(alpha, c10, beta, c[1 * ldc + 0]); c[1 * ldc + 1] = WriteBack(alpha, c11, beta, c[1 * ldc + 1]); c[1 * ldc + 2] = WriteBack(alpha, c12, beta, c[1 * ldc + 2]); c[1 * ldc + 3] = WriteBack(alpha, c13, beta, c[1 * ldc + 3]);
    }

    internal static void ScalarRows1x4(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float* a0 = a + 0 * aStride;
        float c00 = 0; float c01 = 0; float c02 = 0; float c03 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = bp[0]; float b1 = bp[1]; float b2 = bp[2]; float b3 = bp[3];
            float va0 = a0[p];
            c00 = MathF.FusedMultiplyAdd(va0, b0, c00); c01 = MathF.FusedMultiplyAdd(va0, b1, c01); c02 = MathF.FusedMultiplyAdd(va0, b2, c02); c03 = MathF.FusedMultiplyAdd(va0, b3, c03);
            bp += bStride;
        }
        c[0 * ldc + 0] = WriteBack(alpha, c00, beta, c[0 * ldc + 0]); c[0 * ldc + 1] = WriteBack(alpha, c01, beta, c[0 * ldc + 1]); c[0 * ldc + 2] = WriteBack(alpha, c02, beta, c[0 * ldc + 2]); c[0 * ldc + 3] = WriteBack(alpha, c03, beta, c[0 * ldc + 3]);
    }

    internal static void ScalarSteps4x4(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float c00 = 0; float c01 = 0; float c02 = 0; float c03 = 0;
        float c10 = 0; float c11 = 0; float c12 = 0; float c13 = 0;
        float c20 = 0; float c21 = 0; float c22 = 0; float c23 = 0;
        float c30 = 0; float c31 = 0; float c32 = 0; float c33 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = bp[0]; float b1 = bp[1]; float b2 = bp[2]; float b3 = bp[3];
            float va0 = a[0];
            c00 = MathF.FusedMultiplyAdd(va0, b0, c00); c01 = MathF.FusedMultiplyAdd(va0, b1, c01); c02 = MathF.FusedMultiplyAdd(va0, b2, c02); c03 = MathF.FusedMultiplyAdd(va0, b3, c03);
            float va1 = a[1];
            c10 = MathF.FusedMultiplyAdd(va1, b0, c10); c11 = MathF.FusedMultiplyAdd(va1, b1, c11); c12 = MathF.FusedMultiplyAdd(va1, b2, c12); c13 = MathF.FusedMultiplyAdd(va1, b3, c13);
            float va2 = a[2];
            c20 = MathF.FusedMultiplyAdd(va2, b0, c20); c21 = MathF.FusedMultiplyAdd(va2, b1, c21); c22 = MathF.FusedMultiplyAdd(va2, b2, c22); c23 = MathF.FusedMultiplyAdd(va2, b3, c23);
            float va3 = a[3];
            c30 = MathF.FusedMultiplyAdd(va3, b0, c30); c31 = MathF.FusedMultiplyAdd(va3, b1, c31); c32 = MathF.FusedMultiplyAdd(va3, b2, c32); c33 = MathF.FusedMultiplyAdd(va3, b3, c33);
            a += aStride;
            bp += bStride;
        }
        c[0 * ldc + 0] = WriteBack(alpha, c00, beta, c[0 * ldc + 0]); c[0 * ldc + 1] = WriteBack(alpha, c01, beta, c[0 * ldc + 1]); c[0 * ldc + 2] = WriteBack(alpha, c02, beta, c[0 * ldc + 2]); c[0 * ldc + 3] = WriteBack(alpha, c03, beta, c[0 * ldc + 3]);
        c[1 * ldc + 0] = WriteBack(alpha, c10, beta, c[1 * ldc + 0]); c[1 * ldc + 1] = WriteBack(alpha, c11, beta, c[1 * ldc + 1]); c[1 * ldc + 2] = WriteBack(alpha, c12, beta, c[1 * ldc + 2]); c[1 * ldc + 3] = WriteBack(alpha, c13, beta, c[1 * ldc + 3]);
        c[2 * ldc + 0] = WriteBack(alpha, c20, beta, c[2 * ldc + 0]); c[2 * ldc + 1] = WriteBack(alpha, c21, beta, c[2 * ldc + 1]); c[2 * ldc + 2] = WriteBack(alpha, c22, beta, c[2 * ldc + 2]); c[2 * ldc + 3] = WriteBack(alpha, c23, beta, c[2 * ldc + 3]);
        c[3 * ldc + 0] = WriteBack(alpha, c30, beta, c[3 * ldc + 0]); c[3 * ldc + 1] = WriteBack(alpha, c31, beta, c[3 * ldc + 1]); c[3 * ldc + 2] = WriteBack(alpha, c32, beta, c[3 * ldc + 2]); c[3 * ldc + 3] = WriteBack(alpha, c33, beta, c[3 * ldc + 3]);
    }

    internal static void ScalarSteps2x4(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float c00 = 0; float c01 = 0; float c02 = 0; float c03 = 0;
        float c10 = 0; float c11 = 0; float c12 = 0; float c13 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = bp[0]; float b1 = bp[1]; float b2 = bp[2]; float b3 = bp[3];
            float va0 = a[0];
            c00 = MathF.FusedMultiplyAdd(va0, b0, c00); c01 = MathF.FusedMultiplyAdd(va0, b1, c01); c02 = MathF.FusedMultiplyAdd(va0, b2, c02); c03 = MathF.FusedMultiplyAdd(va0, b3, c03);
            float va1 = a[1];
            c10 = MathF.FusedMultiplyAdd(va1, b0, c10); c11 = MathF.FusedMultiplyAdd(va1, b1, c11); c12 = MathF.FusedMultiplyAdd(va1, b2, c12); c13 = MathF.FusedMultiplyAdd(va1, b3, c13);
            a += aStride;
            bp += bStride;
        }
        c[0 * ldc + 0] = WriteBack(alpha, c00, beta, c[0 * ldc + 0]); c[0 * ldc + 1] = WriteBack(alpha, c01, beta, c[0 * ldc + 1]); c[0 * ldc + 2] = WriteBack(alpha, c02, beta, c[0 * ldc + 2]); c[0 * ldc + 3] = WriteBack(alpha, c03, beta, c[0 * ldc + 3]);
        c[1 * ldc + 0] = WriteBack(alpha, c10, beta, c[1 * ldc + 0]); c[1 * ldc + 1] = WriteBack(alpha, c11, beta, c[1 * ldc + 1]); c[1 * ldc + 2] = WriteBack(alpha, c12, beta, c[1 * ldc + 2]); c[1 * ldc + 3] = WriteBack(alpha, c13, beta, c[1 * ldc + 3]);
    }

    internal static void ScalarSteps1x4(int kc, float* a, nint aStride, float* bp, nint bStride, float* c, nint ldc, float alpha, float beta)
    {
        float c00 = 0; float c01 = 0; float c02 = 0; float c03 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = bp[0]; float b1 = bp[1]; float b2 = bp[2]; float b3 = bp[3];
            float va0 = a[0];
            c00 = MathF.FusedMultiplyAdd(va0, b0, c00); c01 = MathF.FusedMultiplyAdd(va0, b1, c01); c02 = MathF.FusedMultiplyAdd(va0, b2, c02); c03 = MathF.FusedMultiplyAdd(va0, b3, c03);
            a += aStride;
            bp += bStride;
        }
        c[0 * ldc + 0] = WriteBack(alpha, c00, beta, c[0 * ldc + 0]); c[0 * ldc + 1] = WriteBack(alpha, c01, beta, c[0 * ldc + 1]); c[0 * ldc + 2] = WriteBack(alpha, c02, beta, c[0 * ldc + 2]); c[0 * ldc + 3] = WriteBack(alpha, c03, beta, c[0 * ldc + 3]);
    }
}

[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Pacs.Tensors.Tests")]

namespace Pacs.Tensors.Kernels;

/// <summary>
/// C = alpha * op(A) * op(B) + beta * C for row-major float32 matrices, op(X) = X or X^T.
/// op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are row strides of the stored matrices.
/// Every element of C is reduced over k in a fixed order by one thread, so results do not depend on the
/// thread count. The backend is the managed kernels unless PACS_BLAS=native asks for OpenBLAS (faster on some shapes,
/// but its results can depend on the thread count); PACS_BLAS=managed states the default explicitly.
/// The managed kernels are also batch-invariant: row i of C depends only on row i of op(A) (and op(B), C[i, :],
/// alpha, beta, k), not on m or on the other rows, so a sequence's result does not depend on its batch mates; and
/// the AVX-512, AVX2 and scalar kernels round identically, so results do not depend on the CPU's vector width.
/// With beta = 0, C is not read (NaNs already in C do not propagate).
/// </summary>
public static class Gemm
{
    private static readonly Lazy<bool> s_useNative = new(ChooseNative);

    /// <summary>"managed (avx512)"-style name of the backend <see cref="Sgemm"/> uses, for logs and benchmarks.</summary>
    public static string Backend => s_useNative.Value ? $"native ({BlasNative.LibraryPath})" : $"managed ({GemmManaged.Isa})";

    /// <summary>Instruction set of the managed kernels on this CPU: avx512, avx2 or scalar.</summary>
    public static string ManagedIsa => GemmManaged.Isa;

    /// <summary>True when <see cref="Sgemm"/> calls OpenBLAS.</summary>
    public static bool UsesNative => s_useNative.Value;

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        long start = Profiling ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
        if (s_useNative.Value) Native(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else Managed(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        if (start != 0)
        {
            Interlocked.Increment(ref s_calls);
            Interlocked.Add(ref s_multiplyAdds, (long)m * n * k);
            Interlocked.Add(ref s_ticks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }
    }

    private static long s_calls, s_multiplyAdds, s_ticks;

    /// <summary>When true, <see cref="Sgemm"/> counts its calls, multiply-adds and wall time (see <see cref="Counters"/>).</summary>
    public static bool Profiling { get; set; }

    /// <summary>Calls, multiply-adds and seconds spent in <see cref="Sgemm"/> while <see cref="Profiling"/> was on.</summary>
    public static (long Calls, long MultiplyAdds, double Seconds) Counters =>
        (Interlocked.Read(ref s_calls), Interlocked.Read(ref s_multiplyAdds),
            Interlocked.Read(ref s_ticks) / (double)System.Diagnostics.Stopwatch.Frequency);

    public static void ResetCounters()
    {
        Interlocked.Exchange(ref s_calls, 0);
        Interlocked.Exchange(ref s_multiplyAdds, 0);
        Interlocked.Exchange(ref s_ticks, 0);
    }

    /// <summary>
    /// <see cref="Sgemm"/> with B stored as bfloat16 bits (a frozen weight): the managed kernels widen B exactly while
    /// packing it and compute in float32, so C is the float32 product with B's float32 values, to the bit (OpenBLAS
    /// has no bfloat16 input, so PACS_BLAS does not apply).
    /// </summary>
    public static unsafe void SgemmBf16(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<ushort> b, int ldb, float beta, Span<float> c, int ldc)
    {
        long start = Profiling ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
        if (DoneWithoutKernel(transA, transB, m, n, k, alpha, a.Length, lda, b.Length, ldb, beta, c, ldc)) return;
        fixed (float* pa = a)
        fixed (ushort* pb = b)
        fixed (float* pc = c)
            GemmManaged.SgemmBf16(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        if (start != 0)
        {
            Interlocked.Increment(ref s_calls);
            Interlocked.Add(ref s_multiplyAdds, (long)m * n * k);
            Interlocked.Add(ref s_ticks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }
    }

    /// <summary>The blocked, packed SIMD implementation, whatever the backend setting.</summary>
    public static unsafe void Managed(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc) =>
        Run(&GemmManaged.Sgemm, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>OpenBLAS's cblas_sgemm; throws NotSupportedException when it is not installed.</summary>
    public static unsafe void Native(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc) =>
        Run(&BlasNative.Sgemm, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>Calls a pointer kernel unless <see cref="DoneWithoutKernel"/> has nothing left for it.</summary>
    private static unsafe void Run(delegate*<bool, bool, int, int, int, float, float*, int, float*, int, float, float*, int, void> kernel,
        bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        if (DoneWithoutKernel(transA, transB, m, n, k, alpha, a.Length, lda, b.Length, ldb, beta, c, ldc)) return;
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
            kernel(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    }

    /// <summary>Checks the arguments and handles an empty C and the k = 0 / alpha = 0 cases (C = beta C); true when nothing is left to multiply.</summary>
    private static bool DoneWithoutKernel(bool transA, bool transB, int m, int n, int k, float alpha, int aLength, int lda, int bLength, int ldb,
        float beta, Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, aLength, lda, bLength, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return true;
        if (k != 0 && alpha != 0) return false;
        ScaleC(m, n, beta, c, ldc);
        return true;
    }

    /// <summary>The naive triple loop (one float accumulator, k ascending): the oracle for tests.</summary>
    public static void Reference(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[p * lda + i] : a[i * lda + p];
                    float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += av * bv;
                }
                c[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * ldc + j]);
            }
        }
    }

    private static void ScaleC(int m, int n, float beta, Span<float> c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = c.Slice(i * ldc, n);
            if (beta == 0) row.Clear();
            else if (beta != 1) for (int j = 0; j < n; j++) row[j] *= beta;
        }
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"sgemm: negative size m={m} n={n} k={k}");
        CheckOperand("A", transA ? k : m, transA ? m : k, aLength, lda);
        CheckOperand("B", transB ? n : k, transB ? k : n, bLength, ldb);
        CheckOperand("C", m, n, cLength, ldc);
    }

    private static void CheckOperand(string name, int rows, int cols, int length, int ld)
    {
        if (ld < Math.Max(1, cols))
            throw new ArgumentException($"sgemm: ld{name.ToLowerInvariant()}={ld} is smaller than the {cols} columns of stored {name}");
        if (rows == 0 || cols == 0) return;
        long needed = (long)(rows - 1) * ld + cols;
        if (length < needed)
            throw new ArgumentException($"sgemm: {name} ({rows} x {cols}, stride {ld}) needs {needed} elements but the span has {length}");
    }

    private static bool ChooseNative()
    {
        string? choice = Environment.GetEnvironmentVariable("PACS_BLAS")?.Trim().ToLowerInvariant();
        switch (choice)
        {
            case null or "":
                // Managed by default: OpenBLAS 0.3.21 splits some shapes differently per thread count and its results
                // then change with the thread count (e.g. 333x777x1000, 1 vs 2 threads), which breaks the contract above.
                return false;
            case "managed":
                return false;
            case "native":
                if (!BlasNative.IsAvailable) throw new NotSupportedException($"PACS_BLAS=native but {BlasNative.LoadFailure}");
                return true;
            default:
                throw new ArgumentException($"environment variable PACS_BLAS must be 'managed' or 'native', got '{choice}'");
        }
    }
}

using Pacs.Tensors.Kernels;

namespace Pacs.Tensors.Tests;

public delegate void SgemmFunction(bool transA, bool transB, int m, int n, int k, float alpha,
    ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc);

public class GemmTests
{
    private static float[] RandomMatrix(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>One problem with stored operands padded by extra columns (ld > cols) and a C that already holds data.</summary>
    private sealed record Problem(bool TransA, bool TransB, int M, int N, int K, float Alpha, float Beta,
        float[] A, int Lda, float[] B, int Ldb, float[] C, int Ldc)
    {
        public static Problem Random(Random rng, bool transA, bool transB, int m, int n, int k, float alpha, float beta, int pad)
        {
            int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
            var a = RandomMatrix(rng, (transA ? k : m) * lda);
            var b = RandomMatrix(rng, (transB ? n : k) * ldb);
            var c = RandomMatrix(rng, m * ldc);
            return new Problem(transA, transB, m, n, k, alpha, beta, a, lda, b, ldb, c, ldc);
        }

        public float[] Run(SgemmFunction sgemm)
        {
            var c = (float[])C.Clone();
            sgemm(TransA, TransB, M, N, K, Alpha, A, Lda, B, Ldb, Beta, c, Ldc);
            return c;
        }

        public float[] Reference() => Run(Gemm.Reference);

        /// <summary>sum_k |a||b| bounds the rounding error of any summation order.</summary>
        public double Magnitude(int i, int j)
        {
            double sum = 0;
            for (int p = 0; p < K; p++)
            {
                float av = TransA ? A[p * Lda + i] : A[i * Lda + p];
                float bv = TransB ? B[j * Ldb + p] : B[p * Ldb + j];
                sum += Math.Abs(av * bv);
            }
            return Math.Abs(Alpha) * sum + Math.Abs(Beta * C[i * Ldc + j]);
        }

        public void AssertClose(float[] expected, float[] actual, string label)
        {
            for (int i = 0; i < M; i++)
            {
                for (int j = 0; j < N; j++)
                {
                    int at = i * Ldc + j;
                    double tolerance = 5e-7 * (K + 2) * Magnitude(i, j) + 1e-30;
                    if (!(Math.Abs(expected[at] - actual[at]) <= tolerance))
                        Assert.Fail($"{label}: C[{i},{j}] = {actual[at]} but reference {expected[at]} (tolerance {tolerance:E2})");
                }
                // The padding columns of C are never written.
                for (int j = N; j < Ldc; j++)
                    Assert.Equal(C[i * Ldc + j], actual[i * Ldc + j]);
            }
        }
    }

    public static TheoryData<int, int, int> Shapes() => new()
    {
        { 1, 1, 1 }, { 1, 7, 33 }, { 7, 1, 33 }, { 7, 33, 1 }, { 33, 7, 257 }, { 257, 33, 7 }, { 8, 32, 16 },
        { 9, 33, 17 }, { 16, 40, 64 }, { 17, 31, 385 }, { 64, 100, 50 }, { 97, 65, 129 }, { 100, 257, 33 },
        { 3, 200, 100 }, { 5, 300, 20 }, { 12, 50, 800 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryIsaMatchesReferenceForAllTransposeCombinations(int m, int n, int k)
    {
        var rng = new Random(m * 1000003 + n * 1009 + k);
        foreach (var (transA, transB) in new[] { (false, false), (false, true), (true, false), (true, true) })
        {
            var problem = Problem.Random(rng, transA, transB, m, n, k, alpha: 1.5f, beta: 0.5f, pad: 3);
            var expected = problem.Reference();
            foreach (var isa in GemmIsa.Supported)
            {
                var actual = problem.Run((ta, tb, mm, nn, kk, al, a, lda, b, ldb, be, c, ldc) => RunManaged(isa, ta, tb, mm, nn, kk, al, a, lda, b, ldb, be, c, ldc));
                problem.AssertClose(expected, actual, $"{isa.Name} transA={transA} transB={transB} {m}x{n}x{k}");
            }
        }
    }

    [Fact]
    public void EveryIsaGivesBitIdenticalResults()
    {
        // Same k blocks and one fused multiply-add chain per element in every flavour: AVX-512, AVX2 and scalar agree.
        var rng = new Random(17);
        foreach (var (transA, transB) in new[] { (false, false), (false, true), (true, false), (true, true) })
        {
            var problem = Problem.Random(rng, transA, transB, 37, 53, 900, alpha: 0.75f, beta: 1.5f, pad: 1);
            float[]? first = null;
            foreach (var isa in GemmIsa.Supported)
            {
                var c = problem.Run((ta, tb, mm, nn, kk, al, a, lda, b, ldb, be, cc, ldc) => RunManaged(isa, ta, tb, mm, nn, kk, al, a, lda, b, ldb, be, cc, ldc));
                first ??= c;
                for (int i = 0; i < c.Length; i++)
                    if (BitConverter.SingleToInt32Bits(first[i]) != BitConverter.SingleToInt32Bits(c[i]))
                        Assert.Fail($"{isa.Name} transA={transA} transB={transB}: element {i} is {c[i]} but {first[i]} with {GemmIsa.Supported[0].Name}");
            }
        }
    }

    private static unsafe void RunManaged(GemmIsa isa, bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
            GemmManaged.Sgemm(isa, transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    }

    [Fact]
    public void PublicEntryPointsMatchReference()
    {
        var rng = new Random(7);
        var problem = Problem.Random(rng, false, true, 45, 70, 90, alpha: 1f, beta: 0f, pad: 0);
        var expected = problem.Reference();
        problem.AssertClose(expected, problem.Run(Gemm.Sgemm), "Gemm.Sgemm");
        problem.AssertClose(expected, problem.Run(Gemm.Managed), "Gemm.Managed");
        if (BlasNative.IsAvailable) problem.AssertClose(expected, problem.Run(Gemm.Native), "Gemm.Native");
    }

    [Theory]
    [InlineData(0f, 0f)]
    [InlineData(1f, 1f)]
    [InlineData(-2f, 0f)]
    [InlineData(0.25f, -3f)]
    [InlineData(0f, 2f)]
    public void AlphaAndBetaScaleLikeReference(float alpha, float beta)
    {
        var rng = new Random(11);
        foreach (var (m, n, k) in new[] { (5, 9, 400), (40, 70, 800), (130, 20, 30) })
        {
            foreach (bool transB in new[] { false, true })
            {
                var problem = Problem.Random(rng, false, transB, m, n, k, alpha, beta, pad: 2);
                problem.AssertClose(problem.Reference(), problem.Run(Gemm.Managed), $"alpha={alpha} beta={beta} {m}x{n}x{k}");
            }
        }
    }

    [Fact]
    public void BetaZeroIgnoresNaNInC()
    {
        var rng = new Random(3);
        foreach (var (m, n, k) in new[] { (4, 40, 10), (50, 50, 50), (50, 50, 900) })
        {
            foreach (bool transB in new[] { false, true })
            {
                var problem = Problem.Random(rng, false, transB, m, n, k, alpha: 1f, beta: 0f, pad: 0);
                Array.Fill(problem.C, float.NaN);
                var actual = problem.Run(Gemm.Managed);
                Assert.All(actual, v => Assert.False(float.IsNaN(v)));
            }
        }
    }

    [Fact]
    public void KZeroScalesCByBeta()
    {
        var c = new[] { 1f, 2f, 3f, 4f };
        Gemm.Managed(false, false, 2, 2, 0, 1f, [], 1, [], 2, 3f, c, 2);
        Assert.Equal(new[] { 3f, 6f, 9f, 12f }, c);
        Gemm.Managed(false, false, 2, 2, 0, 1f, [], 1, [], 2, 0f, c, 2);
        Assert.Equal(new[] { 0f, 0f, 0f, 0f }, c);
    }

    public static TheoryData<int, int, int, bool, bool> DeterminismShapes() => new()
    {
        { 512, 256, 704, false, true }, { 300, 500, 700, true, false }, { 16, 3000, 256, false, false },
        { 8, 2000, 300, false, true }, { 777, 333, 129, true, true }, { 64, 704, 256, false, true },
    };

    [Theory]
    [MemberData(nameof(DeterminismShapes))]
    public void ResultsAreBitIdenticalForAnyThreadCount(int m, int n, int k, bool transA, bool transB)
    {
        var problem = Problem.Random(new Random(m + n + k), transA, transB, m, n, k, alpha: 0.7f, beta: 0.3f, pad: 1);
        int saved = Parallelism.MaxDegree;
        try
        {
            Parallelism.MaxDegree = 1;
            var single = problem.Run(Gemm.Managed);
            foreach (int degree in new[] { 2, 3, 8 })
            {
                Parallelism.MaxDegree = degree;
                var many = problem.Run(Gemm.Managed);
                for (int i = 0; i < single.Length; i++)
                    if (BitConverter.SingleToInt32Bits(single[i]) != BitConverter.SingleToInt32Bits(many[i]))
                        Assert.Fail($"{degree} threads: element {i} is {many[i]} but {single[i]} with one thread");
            }
        }
        finally
        {
            Parallelism.MaxDegree = saved;
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void RowsDoNotDependOnTheOtherRowsOfTheBatch(bool transA, bool transB)
    {
        const int m = 150, n = 97, k = 700;
        var problem = Problem.Random(new Random(21), transA, transB, m, n, k, alpha: 1.25f, beta: 0.5f, pad: 0);
        var full = problem.Run(Gemm.Managed);
        foreach (var (start, rows) in new[] { (0, 1), (5, 3), (17, 8), (40, 16), (60, 33), (149, 1) })
        {
            // The same rows as a smaller batch: op(A) rows [start, start + rows) and the matching rows of C.
            var a = new float[rows * k];
            for (int i = 0; i < rows; i++)
                for (int p = 0; p < k; p++)
                    a[transA ? p * rows + i : i * k + p] = transA ? problem.A[p * m + start + i] : problem.A[(start + i) * k + p];
            var c = problem.C.AsSpan(start * n, rows * n).ToArray();
            Gemm.Managed(transA, transB, rows, n, k, problem.Alpha, a, transA ? rows : k, problem.B, problem.Ldb, problem.Beta, c, n);
            for (int x = 0; x < c.Length; x++)
                if (BitConverter.SingleToInt32Bits(full[start * n + x]) != BitConverter.SingleToInt32Bits(c[x]))
                    Assert.Fail($"rows {start}..{start + rows}: element {x} is {c[x]} alone but {full[start * n + x]} in the full batch");
        }
    }

    [Fact]
    public void RejectsOperandsThatAreTooShortOrStridesTooSmall()
    {
        var a = new float[6];
        var b = new float[6];
        var c = new float[4];
        var shortA = Assert.Throws<ArgumentException>(() => Gemm.Managed(false, false, 2, 2, 3, 1f, a.AsSpan(0, 5), 3, b, 2, 0f, c, 2));
        Assert.Contains("A", shortA.Message);
        var smallLdb = Assert.Throws<ArgumentException>(() => Gemm.Managed(false, false, 2, 2, 3, 1f, a, 3, b, 1, 0f, c, 2));
        Assert.Contains("ldb", smallLdb.Message);
        Assert.Throws<ArgumentException>(() => Gemm.Managed(false, false, -1, 2, 3, 1f, a, 3, b, 2, 0f, c, 2));
    }

    [Fact]
    public void BackendNamesTheImplementationAndDefaultsToManaged()
    {
        Assert.True(Gemm.Backend.StartsWith("managed (") || Gemm.Backend.StartsWith("native ("), Gemm.Backend);
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PACS_BLAS")))
            Assert.Equal($"managed ({Gemm.ManagedIsa})", Gemm.Backend);
    }

    [Fact]
    public void MaxDegreeRejectsZero()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.MaxDegree = 0);
    }
}

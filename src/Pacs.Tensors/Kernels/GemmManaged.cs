using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pacs.Tensors.Kernels;

/// <summary>One instruction-set flavour of the managed SGEMM: micro-kernel shape, kernels and cache blocking.</summary>
internal sealed unsafe class GemmIsa
{
    public required string Name { get; init; }

    /// <summary>Rows (MR) and columns (NR) of C one micro-kernel call produces.</summary>
    public required int MR { get; init; }

    public required int NR { get; init; }

    /// <summary>Most k per packed block; k is cut into equal blocks no longer than this (fixed by k alone).</summary>
    public required int MaxKC { get; init; }

    /// <summary>Rows of A packed per task (a multiple of MR), columns of B packed per shared panel.</summary>
    public required int MC { get; init; }

    public required int NC { get; init; }

    public required delegate*<int, float*, float*, nint, float*, nint, float, float, void> Kernel { get; init; }

    /// <summary>Dot-product tile kernel for small m with B transposed (null: that shape goes through packing).</summary>
    public delegate*<int, float*, nint, int, float*, nint, int, float*, nint, float, float, void> Dot { get; init; }

    public int DotRowsA { get; init; }

    public int DotRowsB { get; init; }

    public static GemmIsa? Avx512 { get; } = Vector512.IsHardwareAccelerated && Avx512F.IsSupported
        ? new GemmIsa
        {
            Name = "avx512", MR = 8, NR = 32, MaxKC = 384, MC = 96, NC = 3072,
            Kernel = &GemmKernels.Avx512Kernel8x32, Dot = &GemmKernels.Dot512_4x4, DotRowsA = 4, DotRowsB = 4,
        }
        : null;

    public static GemmIsa? Avx2 { get; } = Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx2.IsSupported && Fma.IsSupported
        ? new GemmIsa
        {
            Name = "avx2", MR = 6, NR = 16, MaxKC = 384, MC = 96, NC = 3072,
            Kernel = &GemmKernels.Avx2Kernel6x16, Dot = &GemmKernels.Dot256_2x4, DotRowsA = 2, DotRowsB = 4,
        }
        : null;

    public static GemmIsa Scalar { get; } = new()
    {
        Name = "scalar", MR = 4, NR = 4, MaxKC = 256, MC = 64, NC = 1024, Kernel = &GemmKernels.ScalarKernel4x4,
    };

    /// <summary>The fastest flavour this CPU runs.</summary>
    public static GemmIsa Best { get; } = Avx512 ?? Avx2 ?? Scalar;

    /// <summary>Every flavour this CPU runs, fastest first (tests compare them all).</summary>
    public static IReadOnlyList<GemmIsa> Supported { get; } = new[] { Avx512, Avx2, Scalar }.OfType<GemmIsa>().ToArray();
}

/// <summary>
/// Blocked, packed SGEMM (the GotoBLAS/BLIS loop nest). k is cut into blocks fixed by k alone; for each block every C
/// element is reduced by one micro-kernel call, and blocks are added to C in ascending order. Threads split only
/// rows and columns of C, so the result is bit-identical for any thread count. Small m takes shortcuts that skip
/// packing B: with B not transposed the kernel reads B rows in place; with B transposed, dot products along k.
/// </summary>
internal static unsafe class GemmManaged
{
    /// <summary>Below this many multiply-adds, threads cost more than they save.</summary>
    private const long ParallelMinFma = 1 << 18;

    /// <summary>m at or below which B (not transposed) is read in place instead of packed.</summary>
    private const int DirectMaxM = 16;

    /// <summary>m at or below which B transposed is consumed by dot products instead of packed.</summary>
    private const int DotMaxM = 8;

    public static string Isa => GemmIsa.Best.Name;

    [ThreadStatic] private static float[]? t_taskBuffer;
    [ThreadStatic] private static float[]? t_sharedBuffer;

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc) =>
        Sgemm(GemmIsa.Best, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>m, n, k &gt; 0 and alpha != 0; operands already validated.</summary>
    public static void Sgemm(GemmIsa isa, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        var job = new Job(isa, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        if (transB && isa.Dot != null && m <= DotMaxM) job.RunDot();
        else if (!transB && m <= DirectMaxM) job.RunDirect();
        else job.RunPacked();
    }

    /// <summary>The k blocks: nk equal parts no longer than isa.MaxKC, a function of k alone.</summary>
    internal static int KBlockCount(GemmIsa isa, int k) => (k + isa.MaxKC - 1) / isa.MaxKC;

    private static float* Rent(ref float[]? slot, long length)
    {
        // Pinned (never moves) with 16 floats of slack so the pointer can be aligned to 64 bytes.
        if (slot is null || slot.Length < length + 16)
        {
            if (length + 16 > Array.MaxLength) throw new ArgumentException($"sgemm: a packing buffer of {length} floats is too large");
            slot = GC.AllocateUninitializedArray<float>((int)(length + 16), pinned: true);
        }
        nint address = (nint)Unsafe.AsPointer(ref slot[0]);
        return (float*)((address + 63) & ~(nint)63);
    }

    private sealed class Job(GemmIsa isa, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        private readonly int _mr = isa.MR;
        private readonly int _nr = isa.NR;
        private readonly int _kBlocks = KBlockCount(isa, k);
        private readonly bool _parallel = (long)m * n * k >= ParallelMinFma && Parallelism.MaxDegree > 1;

        // Packed path state for the current (jc, k block).
        private int _jc, _nc, _pc, _kc, _mBlocks, _nSplit;
        private float _blockBeta;
        private float* _packedB;

        private int MaxKBlock => (k + _kBlocks - 1) / _kBlocks;

        private (int Start, int Size) KBlock(int index)
        {
            var (start, end) = Parallelism.ChunkBounds(k, _kBlocks, index);
            return (start, end - start);
        }

        private void Run(int count, Action<int> body)
        {
            if (_parallel) Parallelism.For(count, body);
            else for (int i = 0; i < count; i++) body(i);
        }

        public void RunPacked()
        {
            int maxKc = MaxKBlock;
            for (int jc = 0; jc < n; jc += isa.NC)
            {
                _jc = jc;
                _nc = Math.Min(isa.NC, n - jc);
                int panels = (_nc + _nr - 1) / _nr;
                _packedB = Rent(ref t_sharedBuffer, (long)panels * _nr * maxKc);
                _mBlocks = (m + isa.MC - 1) / isa.MC;
                int wantTasks = _parallel ? 4 * Parallelism.MaxDegree : 1;
                _nSplit = _mBlocks >= wantTasks ? 1 : Math.Min(panels, (wantTasks + _mBlocks - 1) / _mBlocks);
                for (int kb = 0; kb < _kBlocks; kb++)
                {
                    (_pc, _kc) = KBlock(kb);
                    _blockBeta = kb == 0 ? beta : 1f;
                    int packChunks = _parallel ? Math.Min(panels, 4 * Parallelism.MaxDegree) : 1;
                    Run(packChunks, chunk =>
                    {
                        var (p0, p1) = Parallelism.ChunkBounds(panels, packChunks, chunk);
                        for (int panel = p0; panel < p1; panel++)
                            PackB(_pc, _kc, _jc + panel * _nr, Math.Min(_nr, _nc - panel * _nr), _packedB + (long)panel * _nr * _kc);
                    });
                    Run(_mBlocks * _nSplit, ComputeTask);
                }
            }
        }

        private void ComputeTask(int task)
        {
            int mb = task / _nSplit, split = task % _nSplit;
            int i0 = mb * isa.MC, mc = Math.Min(isa.MC, m - i0);
            int panels = (_nc + _nr - 1) / _nr;
            var (p0, p1) = Parallelism.ChunkBounds(panels, _nSplit, split);
            int microPanels = (mc + _mr - 1) / _mr;
            float* packedA = Rent(ref t_taskBuffer, (long)microPanels * _mr * _kc);
            PackA(i0, mc, _pc, _kc, packedA);
            for (int ir = 0; ir < mc; ir += _mr)
            {
                float* ap = packedA + (long)(ir / _mr) * _mr * _kc;
                for (int panel = p0; panel < p1; panel++)
                {
                    int j = _jc + panel * _nr;
                    Tile(ap, _packedB + (long)panel * _nr * _kc, _nr, i0 + ir, j, Math.Min(_mr, mc - ir), Math.Min(_nr, n - j), _kc, _blockBeta);
                }
            }
        }

        /// <summary>One MR x NR tile at C[i, j]; edge tiles go through a scratch tile and <see cref="GemmKernels.WriteBack"/>.</summary>
        private void Tile(float* ap, float* bp, nint bStride, int i, int j, int rows, int cols, int kc, float blockBeta)
        {
            float* ct = c + (long)i * ldc + j;
            if (rows == _mr && cols == _nr)
            {
                isa.Kernel(kc, ap, bp, bStride, ct, ldc, alpha, blockBeta);
                return;
            }
            float* scratch = stackalloc float[_mr * _nr];
            isa.Kernel(kc, ap, bp, bStride, scratch, _nr, 1f, 0f);
            for (int r = 0; r < rows; r++)
                for (int q = 0; q < cols; q++)
                    ct[(long)r * ldc + q] = GemmKernels.WriteBack(alpha, scratch[r * _nr + q], blockBeta, ct[(long)r * ldc + q]);
        }

        /// <summary>Rows [i0, i0 + mc) of op(A), k in [pc, pc + kc), as MR-row micro-panels [kc][MR], zero-padded.</summary>
        private void PackA(int i0, int mc, int pc, int kc, float* dst)
        {
            for (int ir = 0; ir < mc; ir += _mr)
            {
                int rows = Math.Min(_mr, mc - ir);
                float* panel = dst + (long)(ir / _mr) * _mr * kc;
                if (transA)
                {
                    // op(A)[i, p] = A[p, i]: each k contributes `rows` contiguous floats.
                    for (int p = 0; p < kc; p++)
                    {
                        float* src = a + (long)(pc + p) * lda + i0 + ir;
                        float* d = panel + p * _mr;
                        int r = 0;
                        if (rows == 8 && _mr == 8) { Vector256.Store(Vector256.Load(src), d); r = 8; }
                        for (; r < rows; r++) d[r] = src[r];
                        for (; r < _mr; r++) d[r] = 0;
                    }
                }
                else
                {
                    for (int r = 0; r < _mr; r++)
                    {
                        float* d = panel + r;
                        if (r >= rows)
                        {
                            for (int p = 0; p < kc; p++) d[p * _mr] = 0;
                            continue;
                        }
                        float* src = a + (long)(i0 + ir + r) * lda + pc;
                        for (int p = 0; p < kc; p++) d[p * _mr] = src[p];
                    }
                }
            }
        }

        /// <summary>op(B) rows [pc, pc + kc), columns [j0, j0 + cols) as one [kc][NR] micro-panel, zero-padded.</summary>
        private void PackB(int pc, int kc, int j0, int cols, float* dst)
        {
            if (!transB)
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + (long)(pc + p) * ldb + j0;
                    float* d = dst + p * _nr;
                    int q = 0;
                    if (cols == _nr)
                    {
                        for (; q + 8 <= cols; q += 8) Vector256.Store(Vector256.Load(src + q), d + q);
                    }
                    for (; q < cols; q++) d[q] = src[q];
                    for (; q < _nr; q++) d[q] = 0;
                }
                return;
            }
            // op(B)[p, j] = B[j, p]: read each stored row along k, write a column of the panel.
            for (int q = 0; q < _nr; q++)
            {
                float* d = dst + q;
                if (q >= cols)
                {
                    for (int p = 0; p < kc; p++) d[p * _nr] = 0;
                    continue;
                }
                float* src = b + (long)(j0 + q) * ldb + pc;
                for (int p = 0; p < kc; p++) d[p * _nr] = src[p];
            }
        }

        /// <summary>Small m, B not transposed: A packed once, B rows read in place (only a ragged last panel is packed).</summary>
        public void RunDirect()
        {
            int microPanels = (m + _mr - 1) / _mr;
            long perBlock = (long)microPanels * _mr * MaxKBlock;
            float* packedA = Rent(ref t_sharedBuffer, perBlock * _kBlocks);
            for (int kb = 0; kb < _kBlocks; kb++)
            {
                var (pc, kc) = KBlock(kb);
                PackA(0, m, pc, kc, packedA + perBlock * kb);
            }
            int panels = (n + _nr - 1) / _nr;
            int chunks = _parallel ? Math.Min(panels, 4 * Parallelism.MaxDegree) : 1;
            Run(chunks, chunk =>
            {
                var (p0, p1) = Parallelism.ChunkBounds(panels, chunks, chunk);
                for (int panel = p0; panel < p1; panel++)
                {
                    int j = panel * _nr, cols = Math.Min(_nr, n - j);
                    for (int kb = 0; kb < _kBlocks; kb++)
                    {
                        var (pc, kc) = KBlock(kb);
                        float* bp = b + (long)pc * ldb + j;
                        nint bStride = ldb;
                        if (cols < _nr)
                        {
                            bp = Rent(ref t_taskBuffer, (long)kc * _nr);
                            PackB(pc, kc, j, cols, bp);
                            bStride = _nr;
                        }
                        float blockBeta = kb == 0 ? beta : 1f;
                        for (int ir = 0; ir < m; ir += _mr)
                            Tile(packedA + perBlock * kb + (long)(ir / _mr) * _mr * kc, bp, bStride, ir, j, Math.Min(_mr, m - ir), cols, kc, blockBeta);
                    }
                }
            });
        }

        /// <summary>Small m, B transposed (B stored n x k): each C element is a dot product of two rows along k.</summary>
        public void RunDot()
        {
            float* rowsA = a;
            nint strideA = lda;
            if (transA)
            {
                // Stored A is k x m; gather op(A) (m x k) so its rows are contiguous.
                rowsA = Rent(ref t_sharedBuffer, (long)m * k);
                for (int p = 0; p < k; p++)
                    for (int i = 0; i < m; i++) rowsA[(long)i * k + p] = a[(long)p * lda + i];
                strideA = k;
            }
            int ra = isa.DotRowsA, rb = isa.DotRowsB;
            int groups = (n + rb - 1) / rb;
            int chunks = _parallel ? Math.Min(groups, 8 * Parallelism.MaxDegree) : 1;
            Run(chunks, chunk =>
            {
                var (g0, g1) = Parallelism.ChunkBounds(groups, chunks, chunk);
                for (int g = g0; g < g1; g++)
                {
                    int j = g * rb, bRows = Math.Min(rb, n - j);
                    for (int i = 0; i < m; i += ra)
                        isa.Dot(k, rowsA + i * strideA, strideA, Math.Min(ra, m - i), b + (long)j * ldb, ldb, bRows,
                            c + (long)i * ldc + j, ldc, alpha, beta);
                }
            });
        }
    }
}

using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pacs.Tensors.Kernels;

/// <summary>One instruction-set flavour of the managed SGEMM: micro-kernels and cache blocking.</summary>
internal sealed unsafe class GemmIsa
{
    public required string Name { get; init; }

    /// <summary>Rows (MR) of the largest tile and columns (NR) of every tile of C one micro-kernel call produces.</summary>
    public required int MR { get; init; }

    public required int NR { get; init; }

    /// <summary>Most k per block; k is cut into equal blocks no longer than this (a function of k alone).</summary>
    public required int MaxKC { get; init; }

    /// <summary>Most columns of B a task packs at once (for each k block).</summary>
    public required int NC { get; init; }

    /// <summary>B micro-panels swept per row tile: a block of packed B that stays in L2 while the rows go by.</summary>
    public required int PanelBlock { get; init; }

    /// <summary>Kernels by tile height (index = rows; null where no kernel has that height).</summary>
    public required delegate*<int, float*, nint, float*, nint, float*, nint, float, float, void>[] Rows { get; init; }

    public required delegate*<int, float*, nint, float*, nint, float*, nint, float, float, void>[] Steps { get; init; }

    /// <summary>Height of the next row tile: the tallest kernel not taller than the rows left.</summary>
    public int TileRows(int rowsLeft)
    {
        for (int r = Math.Min(MR, rowsLeft); r > 1; r--)
            if (Rows[r] != null) return r;
        return 1;
    }

    public static GemmIsa? Avx512 { get; } = Vector512.IsHardwareAccelerated && Avx512F.IsSupported
        ? new GemmIsa
        {
            Name = "avx512",
            MR = 8,
            NR = 32,
            MaxKC = 384,
            NC = 3072,
            PanelBlock = 8,
            Rows = [null, &GemmKernels.Avx512Rows1x32, &GemmKernels.Avx512Rows2x32, null, &GemmKernels.Avx512Rows4x32, null, null, null, &GemmKernels.Avx512Rows8x32],
            Steps = [null, &GemmKernels.Avx512Steps1x32, &GemmKernels.Avx512Steps2x32, null, &GemmKernels.Avx512Steps4x32, null, null, null, &GemmKernels.Avx512Steps8x32],
        }
        : null;

    public static GemmIsa? Avx2 { get; } = Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx2.IsSupported && Fma.IsSupported
        ? new GemmIsa
        {
            Name = "avx2",
            MR = 6,
            NR = 16,
            MaxKC = 384,
            NC = 3072,
            PanelBlock = 16,
            Rows = [null, &GemmKernels.Avx2Rows1x16, &GemmKernels.Avx2Rows2x16, null, &GemmKernels.Avx2Rows4x16, null, &GemmKernels.Avx2Rows6x16],
            Steps = [null, &GemmKernels.Avx2Steps1x16, &GemmKernels.Avx2Steps2x16, null, &GemmKernels.Avx2Steps4x16, null, &GemmKernels.Avx2Steps6x16],
        }
        : null;

    public static GemmIsa Scalar { get; } = new()
    {
        Name = "scalar",
        MR = 4,
        NR = 4,
        MaxKC = 384,
        NC = 1024,
        PanelBlock = 64,
        Rows = [null, &GemmKernels.ScalarRows1x4, &GemmKernels.ScalarRows2x4, null, &GemmKernels.ScalarRows4x4],
        Steps = [null, &GemmKernels.ScalarSteps1x4, &GemmKernels.ScalarSteps2x4, null, &GemmKernels.ScalarSteps4x4],
    };

    /// <summary>The fastest flavour this CPU runs.</summary>
    public static GemmIsa Best { get; } = Avx512 ?? Avx2 ?? Scalar;

    /// <summary>Every flavour this CPU runs, fastest first (tests compare them all).</summary>
    public static IReadOnlyList<GemmIsa> Supported { get; } = new[] { Avx512, Avx2, Scalar }.OfType<GemmIsa>().ToArray();
}

/// <summary>
/// Blocked SGEMM (the GotoBLAS/BLIS loop nest, A read in place, B packed by each task for the columns it computes; for
/// small m with B not transposed, B rows are read in place). k is cut into blocks fixed by k alone; within a block
/// every C element is one accumulator of fused multiply-adds in ascending k (whatever the tile height or kernel),
/// and blocks are added to C in ascending order. Threads split only rows and columns of C. So C[i, j] depends only
/// on row i of op(A), column j of op(B), C[i, j], alpha, beta and k: not on the thread count, nor on m or n (the
/// other rows of a batch), which makes results batch-invariant.
/// </summary>
internal static unsafe class GemmManaged
{
    /// <summary>Below this many multiply-adds, threads cost more than they save.</summary>
    private const long ParallelMinFma = 1 << 18;

    /// <summary>m at or below which B (not transposed) is read in place instead of packed.</summary>
    private const int DirectMaxM = 16;

    public static string Isa => GemmIsa.Best.Name;

    [ThreadStatic] private static AlignedBuffer? t_taskBuffer;

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc) =>
        Sgemm(GemmIsa.Best, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>m, n, k &gt; 0 and alpha != 0; operands already validated.</summary>
    public static void Sgemm(GemmIsa isa, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        var job = new Job(isa, transA, transB, m, n, k, alpha, a, lda, b, null, ldb, beta, c, ldc);
        if (!transB && m <= DirectMaxM) job.RunDirect();
        else job.RunPacked();
    }

    public static void SgemmBf16(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, ushort* b, int ldb, float beta, float* c, int ldc) =>
        SgemmBf16(GemmIsa.Best, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>
    /// <see cref="Sgemm(GemmIsa, bool, bool, int, int, int, float, float*, int, float*, int, float, float*, int)"/>
    /// with B stored as bfloat16: B is widened to float32 while its micro-panels are packed (always packed, even for
    /// small m), and the kernels are the float32 ones, so C equals the float32 product with the widened B to the bit.
    /// </summary>
    public static void SgemmBf16(GemmIsa isa, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, ushort* b, int ldb, float beta, float* c, int ldc) =>
        new Job(isa, transA, transB, m, n, k, alpha, a, lda, null, b, ldb, beta, c, ldc).RunPacked();

    /// <summary>The number of k blocks: equal parts no longer than isa.MaxKC, a function of k alone.</summary>
    internal static int KBlockCount(GemmIsa isa, int k) => (k + isa.MaxKC - 1) / isa.MaxKC;

    private static float* Rent(ref AlignedBuffer? slot, long length)
    {
        if (slot is null || slot.Length < length) slot = new AlignedBuffer(length);
        return slot.Ptr;
    }

    /// <summary>One product; B is float32 (b) or bfloat16 (b16, widened while packing), the other pointer null.</summary>
    private sealed class Job(GemmIsa isa, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, ushort* b16, int ldb, float beta, float* c, int ldc)
    {
        private readonly int _nr = isa.NR;
        private readonly int _kBlocks = KBlockCount(isa, k);
        private readonly bool _parallel = (long)m * n * k >= ParallelMinFma && Parallelism.MaxDegree > 1;

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

        /// <summary>Slabs per thread: more than one, so a thread slowed by the rest of the machine is made up for.</summary>
        private const int SlabsPerThread = 2;

        /// <summary>Fewest B panels in a column slab (each column slab reads all of A's rows in its row range).</summary>
        private const int MinSlabPanels = 2;

        /// <summary>Fewest MR-row units in a row slab (each row slab packs its columns of B again).</summary>
        private const int MinSlabRowUnits = 8;

        /// <summary>
        /// C is cut into slabs (a range of MR-aligned rows by a range of NR-wide panels), one task each; a task packs
        /// the B panels it needs into its own thread's buffer, so tasks never wait on one another. Columns are split
        /// first (each column slab packs a distinct part of B), rows only when there are too few panels, at the cost of
        /// packing B once per row slab (1 / rows of the work). Which slab a C element falls in does not change the
        /// order of its multiply-adds, so the split may follow the thread count.
        /// </summary>
        public void RunPacked()
        {
            int panels = (n + _nr - 1) / _nr;
            int rowUnits = (m + isa.MR - 1) / isa.MR;
            int wantTasks = _parallel ? SlabsPerThread * Parallelism.MaxDegree : 1;
            int nSplit = Math.Clamp(panels / MinSlabPanels, 1, wantTasks);
            int mSplit = Math.Clamp(wantTasks / nSplit, 1, Math.Max(1, rowUnits / MinSlabRowUnits));
            Run(mSplit * nSplit, task =>
            {
                var (u0, u1) = Parallelism.ChunkBounds(rowUnits, mSplit, task / nSplit);
                var (p0, p1) = Parallelism.ChunkBounds(panels, nSplit, task % nSplit);
                ComputeSlab(u0 * isa.MR, Math.Min(m, u1 * isa.MR), p0, p1);
            });
        }

        /// <summary>C rows [i0, i1) by B panels [p0, p1): NC-wide column blocks, k blocks in order, PanelBlock panels per sweep of the rows.</summary>
        private void ComputeSlab(int i0, int i1, int p0, int p1)
        {
            int ncPanels = Math.Max(1, isa.NC / _nr);
            for (int jb = p0; jb < p1; jb += ncPanels)
            {
                int jbEnd = Math.Min(p1, jb + ncPanels);
                float* packed = Rent(ref t_taskBuffer, (long)(jbEnd - jb) * _nr * MaxKBlock);
                for (int kb = 0; kb < _kBlocks; kb++)
                {
                    var (pc, kc) = KBlock(kb);
                    float blockBeta = kb == 0 ? beta : 1f;
                    for (int panel = jb; panel < jbEnd; panel++)
                    {
                        int j = panel * _nr;
                        PackB(pc, kc, j, Math.Min(_nr, n - j), packed + (long)(panel - jb) * _nr * kc);
                    }
                    for (int pb = jb; pb < jbEnd; pb += isa.PanelBlock)
                    {
                        int pbEnd = Math.Min(jbEnd, pb + isa.PanelBlock);
                        for (int i = i0; i < i1;)
                        {
                            int rows = isa.TileRows(i1 - i);
                            for (int panel = pb; panel < pbEnd; panel++)
                            {
                                int j = panel * _nr;
                                Tile(rows, i, pc, kc, packed + (long)(panel - jb) * _nr * kc, _nr, j, Math.Min(_nr, n - j), blockBeta);
                            }
                            i += rows;
                        }
                    }
                }
            }
        }

        /// <summary>
        /// C[i .. i + rows, j .. j + cols) for the k block [pc, pc + kc), A read in place; a tile narrower than NR
        /// (B zero-padded) goes through a scratch tile and <see cref="GemmKernels.WriteBack"/>.
        /// </summary>
        private void Tile(int rows, int i, int pc, int kc, float* bp, nint bStride, int j, int cols, float blockBeta)
        {
            float* at;
            delegate*<int, float*, nint, float*, nint, float*, nint, float, float, void> kernel;
            if (transA)
            {
                at = a + (long)pc * lda + i;
                kernel = isa.Steps[rows];
            }
            else
            {
                at = a + (long)i * lda + pc;
                kernel = isa.Rows[rows];
            }
            float* ct = c + (long)i * ldc + j;
            if (cols == _nr)
            {
                kernel(kc, at, lda, bp, bStride, ct, ldc, alpha, blockBeta);
                return;
            }
            float* scratch = stackalloc float[rows * _nr];
            kernel(kc, at, lda, bp, bStride, scratch, _nr, 1f, 0f);
            for (int r = 0; r < rows; r++)
                for (int q = 0; q < cols; q++)
                    ct[(long)r * ldc + q] = GemmKernels.WriteBack(alpha, scratch[r * _nr + q], blockBeta, ct[(long)r * ldc + q]);
        }

        /// <summary>op(B) rows [pc, pc + kc), columns [j0, j0 + cols) as one [kc][NR] micro-panel, zero-padded.</summary>
        private void PackB(int pc, int kc, int j0, int cols, float* dst)
        {
            if (b16 != null)
            {
                PackBf16(pc, kc, j0, cols, dst);
                return;
            }
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
            // op(B)[p, j] = B[j, p]: transpose 8 x 8 blocks (8 stored rows, 8 k), then the ragged rest element-wise.
            int q0 = 0;
            if (Avx.IsSupported && _nr % 8 == 0)
            {
                for (; q0 + 8 <= cols; q0 += 8)
                {
                    float* src = b + (long)(j0 + q0) * ldb + pc;
                    int p = 0;
                    for (; p + 8 <= kc; p += 8) Transpose8x8(src + p, ldb, dst + (long)p * _nr + q0, _nr);
                    for (; p < kc; p++)
                        for (int q = 0; q < 8; q++) dst[(long)p * _nr + q0 + q] = src[(long)q * ldb + p];
                }
            }
            for (int q = q0; q < _nr; q++)
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

        /// <summary><see cref="PackB"/> from bfloat16 B: the same panel layout, every value widened exactly.</summary>
        private void PackBf16(int pc, int kc, int j0, int cols, float* dst)
        {
            if (!transB)
            {
                for (int p = 0; p < kc; p++)
                {
                    ushort* src = b16 + (long)(pc + p) * ldb + j0;
                    float* d = dst + p * _nr;
                    int q = 0;
                    if (cols == _nr && Vector256.IsHardwareAccelerated)
                        for (; q + 8 <= cols; q += 8) BFloat16.Load256(src + q).Store(d + q);
                    for (; q < cols; q++) d[q] = BFloat16.ToSingle(src[q]);
                    for (; q < _nr; q++) d[q] = 0;
                }
                return;
            }
            // op(B)[p, j] = B[j, p]: 8 stored rows x 8 k widened into a scratch block, then transposed into the panel.
            int q0 = 0;
            if (Avx.IsSupported && _nr % 8 == 0)
            {
                float* block = stackalloc float[64];
                for (; q0 + 8 <= cols; q0 += 8)
                {
                    ushort* src = b16 + (long)(j0 + q0) * ldb + pc;
                    int p = 0;
                    for (; p + 8 <= kc; p += 8)
                    {
                        for (int r = 0; r < 8; r++) BFloat16.Load256(src + (long)r * ldb + p).Store(block + r * 8);
                        Transpose8x8(block, 8, dst + (long)p * _nr + q0, _nr);
                    }
                    for (; p < kc; p++)
                        for (int q = 0; q < 8; q++) dst[(long)p * _nr + q0 + q] = BFloat16.ToSingle(src[(long)q * ldb + p]);
                }
            }
            for (int q = q0; q < _nr; q++)
            {
                float* d = dst + q;
                if (q >= cols)
                {
                    for (int p = 0; p < kc; p++) d[p * _nr] = 0;
                    continue;
                }
                ushort* src = b16 + (long)(j0 + q) * ldb + pc;
                for (int p = 0; p < kc; p++) d[p * _nr] = BFloat16.ToSingle(src[p]);
            }
        }

        /// <summary>dst[r * dstStride + q] = src[q * srcStride + r] for an 8 x 8 block (AVX unpack/shuffle/permute).</summary>
        private static void Transpose8x8(float* src, nint srcStride, float* dst, nint dstStride)
        {
            var r0 = Avx.LoadVector256(src);
            var r1 = Avx.LoadVector256(src + srcStride);
            var r2 = Avx.LoadVector256(src + 2 * srcStride);
            var r3 = Avx.LoadVector256(src + 3 * srcStride);
            var r4 = Avx.LoadVector256(src + 4 * srcStride);
            var r5 = Avx.LoadVector256(src + 5 * srcStride);
            var r6 = Avx.LoadVector256(src + 6 * srcStride);
            var r7 = Avx.LoadVector256(src + 7 * srcStride);
            var t0 = Avx.UnpackLow(r0, r1);
            var t1 = Avx.UnpackHigh(r0, r1);
            var t2 = Avx.UnpackLow(r2, r3);
            var t3 = Avx.UnpackHigh(r2, r3);
            var t4 = Avx.UnpackLow(r4, r5);
            var t5 = Avx.UnpackHigh(r4, r5);
            var t6 = Avx.UnpackLow(r6, r7);
            var t7 = Avx.UnpackHigh(r6, r7);
            var u0 = Avx.Shuffle(t0, t2, 0x44);
            var u1 = Avx.Shuffle(t0, t2, 0xEE);
            var u2 = Avx.Shuffle(t1, t3, 0x44);
            var u3 = Avx.Shuffle(t1, t3, 0xEE);
            var u4 = Avx.Shuffle(t4, t6, 0x44);
            var u5 = Avx.Shuffle(t4, t6, 0xEE);
            var u6 = Avx.Shuffle(t5, t7, 0x44);
            var u7 = Avx.Shuffle(t5, t7, 0xEE);
            Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
            Avx.Store(dst + dstStride, Avx.Permute2x128(u1, u5, 0x20));
            Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(u2, u6, 0x20));
            Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(u3, u7, 0x20));
            Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(u0, u4, 0x31));
            Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(u1, u5, 0x31));
            Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(u2, u6, 0x31));
            Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(u3, u7, 0x31));
        }

        /// <summary>Small m, B not transposed: both operands read in place (only a ragged last panel is packed).</summary>
        public void RunDirect()
        {
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
                        for (int i = 0; i < m;)
                        {
                            int rows = isa.TileRows(m - i);
                            Tile(rows, i, pc, kc, bp, bStride, j, cols, blockBeta);
                            i += rows;
                        }
                    }
                }
            });
        }
    }
}

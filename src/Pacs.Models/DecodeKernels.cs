using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pacs.Tensors.Kernels;

namespace Pacs.Models;

/// <summary>
/// Inference-only loops for the KV-cache decoder. Each output element is computed by one thread in a fixed order
/// that does not depend on how many rows are in the batch, so a sequence's tokens do not depend on its batch mates
/// or on the thread count.
/// </summary>
internal static unsafe class DecodeKernels
{
    /// <summary>Output columns per work item of <see cref="Project"/> and <see cref="GateUpSwiGlu"/>.</summary>
    private const int ItemCols = 16;

    /// <summary>Rows per tile inside a work item: a tile of x stays in cache across the item's columns.</summary>
    private const int RowTile = 32;

    /// <summary>
    /// One output of <see cref="Project"/>: y [n, m] = x . w^T + bias, or y += that when accumulating. With panels
    /// (w repacked, see <see cref="PanelMatrix"/>) the panel kernels compute it; else the dot products read w, or its
    /// bfloat16 bits w16 when w is null (widened as they are loaded: the float32 results on the widened values).
    /// </summary>
    public readonly struct Projection(float* w, int m, float* bias, float* y, bool accumulate = false, PanelMatrix? panels = null, ushort* w16 = null)
    {
        public float* W { get; } = w;
        public ushort* W16 { get; } = w16;
        public PanelMatrix? Panels { get; } = panels;
        public int M { get; } = m;
        public float* Bias { get; } = bias;
        public float* Y { get; } = y;
        public bool Accumulate { get; } = accumulate;
    }

    /// <summary>y[r, j] (+)= x[r, :] . w[j, :] + bias[j]  for x [n, k], w [m, k] (Hugging Face Linear layout), y [n, m].</summary>
    public static void Linear(float* x, int n, int k, float* w, int m, float* bias, float* y, bool accumulate = false, bool parallel = true) =>
        Project(x, n, k, [new Projection(w, m, bias, y, accumulate)], parallel);

    /// <summary>body(i) for i in [0, count): spread over threads by <see cref="RowParallel"/>, or in order on this thread.</summary>
    public static void For(int count, long workPerItem, bool parallel, Action<int> body)
    {
        if (parallel) RowParallel.For(count, workPerItem, body);
        else
            for (int i = 0; i < count; i++) body(i);
    }

    /// <summary>body(begin, end) over consecutive ranges covering [0, count): <see cref="RowParallel.ForRange"/>, or all on this thread.</summary>
    public static void ForRange(int count, long workPerItem, bool parallel, Action<int, int> body)
    {
        if (parallel) RowParallel.ForRange(count, workPerItem, body);
        else if (count > 0) body(0, count);
    }

    /// <summary>
    /// Several projections of the same input in one parallel loop (fewer fork-joins: q, k and v share one).
    /// Work items are 16 output columns of one projection (32, a panel, with panels). An element is dot, then + bias,
    /// then added to y when accumulating: the roundings of separate matmul, bias and residual passes, so fusing them
    /// changes no result.
    /// </summary>
    public static void Project(float* x, int n, int k, Projection[] outputs, bool parallel = true)
    {
        var starts = new int[outputs.Length + 1];
        for (int p = 0; p < outputs.Length; p++)
            starts[p + 1] = starts[p] + (outputs[p].Panels?.Panels ?? (outputs[p].M + ItemCols - 1) / ItemCols);
        int itemCols = outputs.Any(o => o.Panels is not null) ? PanelMatrix.Width : ItemCols;
        For(starts[^1], (long)n * k * itemCols, parallel, item =>
        {
            int p = 0;
            while (item >= starts[p + 1]) p++;
            var o = outputs[p];
            if (o.Panels is { } panels)
            {
                PanelKernels.Panel(x, n, panels, item - starts[p], o.Bias, o.Y, o.Accumulate);
                return;
            }
            int j0 = (item - starts[p]) * ItemCols, cols = Math.Min(ItemCols, o.M - j0);
            float* tile = stackalloc float[RowTile * ItemCols];
            for (int r0 = 0; r0 < n; r0 += RowTile)
            {
                int rows = Math.Min(RowTile, n - r0);
                if (o.W16 != null) Tile(x + (long)r0 * k, rows, k, o.W16 + (long)j0 * k, cols, tile, ItemCols);
                else Tile(x + (long)r0 * k, rows, k, o.W + (long)j0 * k, cols, tile, ItemCols);
                StoreTile(tile, ItemCols, rows, cols, o.Bias == null ? null : o.Bias + j0, o.Y + (long)r0 * o.M + j0, o.M, o.Accumulate);
            }
        });
    }

    /// <summary>
    /// Writes a tile of dot products t [rows, cols] (row stride ldt) to y (row stride ldy): each element + bias[j],
    /// then added to y when accumulating, else stored.
    /// </summary>
    internal static void StoreTile(float* t, int ldt, int rows, int cols, float* bias, float* y, int ldy, bool accumulate)
    {
        for (int r = 0; r < rows; r++)
        {
            float* tr = t + r * ldt, yr = y + (long)r * ldy;
            if (bias != null)
                for (int j = 0; j < cols; j++) tr[j] += bias[j];
            if (accumulate)
                for (int j = 0; j < cols; j++) yr[j] += tr[j];
            else
                new ReadOnlySpan<float>(tr, cols).CopyTo(new Span<float>(yr, cols));
        }
    }

    /// <summary>y rows [rows, cols] (row stride ldy) = SwiGLU of the gate and up tiles g, u (row stride ldt).</summary>
    internal static void SwiGluTile(float* g, float* u, int ldt, int rows, int cols, float* y, int ldy)
    {
        for (int r = 0; r < rows; r++)
            Activations.SwiGluForward(new ReadOnlySpan<float>(g + r * ldt, cols), new ReadOnlySpan<float>(u + r * ldt, cols),
                new Span<float>(y + (long)r * ldy, cols));
    }

    /// <summary>
    /// y [n, m] = silu(x . wGate^T) * (x . wUp^T): the MLP's gate and up projections and SwiGLU in one parallel loop.
    /// SwiGLU runs on 16-column blocks starting at multiples of 16, so every element takes the same SIMD or scalar
    /// path as in a whole-row <see cref="Activations.SwiGluForward"/>.
    /// </summary>
    public static void GateUpSwiGlu(float* x, int n, int k, float* wGate, float* wUp, int m, float* y, bool parallel = true) =>
        GateUpSwiGlu<float>(x, n, k, wGate, wUp, m, y, parallel);

    /// <summary><see cref="GateUpSwiGlu(float*, int, int, float*, float*, int, float*, bool)"/> with bfloat16 weights, widened as they are read.</summary>
    public static void GateUpSwiGlu(float* x, int n, int k, ushort* wGate, ushort* wUp, int m, float* y, bool parallel = true) =>
        GateUpSwiGlu<ushort>(x, n, k, wGate, wUp, m, y, parallel);

    private static void GateUpSwiGlu<T>(float* x, int n, int k, T* wGate, T* wUp, int m, float* y, bool parallel) where T : unmanaged
    {
        int items = (m + ItemCols - 1) / ItemCols;
        For(items, 2L * n * k * ItemCols, parallel, item =>
        {
            int j0 = item * ItemCols, cols = Math.Min(ItemCols, m - j0);
            float* g = stackalloc float[RowTile * ItemCols];
            float* u = stackalloc float[RowTile * ItemCols];
            for (int r0 = 0; r0 < n; r0 += RowTile)
            {
                int rows = Math.Min(RowTile, n - r0);
                Tile(x + (long)r0 * k, rows, k, wGate + (long)j0 * k, cols, g, ItemCols);
                Tile(x + (long)r0 * k, rows, k, wUp + (long)j0 * k, cols, u, ItemCols);
                SwiGluTile(g, u, ItemCols, rows, cols, y + (long)r0 * m + j0, m);
            }
        });
    }

    /// <summary>
    /// <see cref="GateUpSwiGlu(float*, int, int, float*, float*, int, float*, bool)"/> with repacked weights (one
    /// work item per panel of 32 columns).
    /// </summary>
    public static void GateUpSwiGlu(float* x, int n, PanelMatrix gate, PanelMatrix up, float* y, bool parallel = true) =>
        For(gate.Panels, 2L * n * gate.K * PanelMatrix.Width, parallel, p => PanelKernels.GateUpPanel(x, n, gate, up, p, y));

    // Weight loads for float32 (T = float) or bfloat16 bits (T = ushort, widened exactly); the JIT compiles each
    // kernel once per T with the other branch removed.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Load512<T>(T* w) where T : unmanaged =>
        typeof(T) == typeof(ushort) ? BFloat16.Load512((ushort*)w) : Vector512.Load((float*)w);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load256<T>(T* w) where T : unmanaged =>
        typeof(T) == typeof(ushort) ? BFloat16.Load256((ushort*)w) : Vector256.Load((float*)w);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Load<T>(T* w) where T : unmanaged =>
        typeof(T) == typeof(ushort) ? BFloat16.ToSingle(*(ushort*)w) : *(float*)w;

    /// <summary>t[r * ldt + j] = x_r . w_j for rows x [rows, k] and cols weight rows w [cols, k].</summary>
    private static void Tile<T>(float* x, int rows, int k, T* w, int cols, float* t, int ldt) where T : unmanaged
    {
        int j = 0;
        // bfloat16 rows one x row at a time read eight weight rows a block: half the x loads per weight of four, and
        // more weight streams in flight (docs/benchmarks.md, issue 13).
        if (typeof(T) == typeof(ushort) && rows < 4 && Avx512BW.IsSupported)
            for (; j + 8 <= cols; j += 8)
                for (int r = 0; r < rows; r++) Dot1x8((ushort*)w + (long)j * k, x + (long)r * k, k, t + r * ldt + j);
        for (; j + 4 <= cols; j += 4)
        {
            T* wj = w + (long)j * k;
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                float* xr = x + (long)r * k;
                Dot4x4(xr, xr + k, xr + 2L * k, xr + 3L * k, wj, k, t + r * ldt + j, ldt);
            }
            for (; r < rows; r++) Dot1x4(x + (long)r * k, wj, k, t + r * ldt + j);
        }
        for (; j < cols; j++)
            for (int r = 0; r < rows; r++)
                t[r * ldt + j] = Dot(x + (long)r * k, w + (long)j * k, k);
    }

    /// <summary>
    /// y[r * ldy + c] = x_r . w[c*k ..) for four x rows and four consecutive w rows; every element is reduced
    /// exactly like <see cref="Dot"/> (lane-wise FMA, <see cref="Tree"/> lane sum, scalar tail), so blocking never
    /// changes results. The 16 lane sums are done together (<see cref="Reduce16"/>), a quarter of the shuffles and
    /// adds of 16 separate sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot4x4<T>(float* x0, float* x1, float* x2, float* x3, T* w, int k, float* y, int ldy) where T : unmanaged
    {
        if (!Vector512.IsHardwareAccelerated || !Avx512F.IsSupported)
        {
            Dot1x4(x0, w, k, y);
            Dot1x4(x1, w, k, y + ldy);
            Dot1x4(x2, w, k, y + 2L * ldy);
            Dot1x4(x3, w, k, y + 3L * ldy);
            return;
        }
        T* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        // aCR: column (w row) C, x row R.
        var a00 = Vector512<float>.Zero; var a01 = a00; var a02 = a00; var a03 = a00;
        var a10 = a00; var a11 = a00; var a12 = a00; var a13 = a00;
        var a20 = a00; var a21 = a00; var a22 = a00; var a23 = a00;
        var a30 = a00; var a31 = a00; var a32 = a00; var a33 = a00;
        int i = 0;
        for (; i <= k - 16; i += 16)
        {
            var u0 = Vector512.Load(x0 + i);
            var u1 = Vector512.Load(x1 + i);
            var u2 = Vector512.Load(x2 + i);
            var u3 = Vector512.Load(x3 + i);
            var v = Load512(w + i);
            a00 = Vector512.FusedMultiplyAdd(u0, v, a00); a01 = Vector512.FusedMultiplyAdd(u1, v, a01);
            a02 = Vector512.FusedMultiplyAdd(u2, v, a02); a03 = Vector512.FusedMultiplyAdd(u3, v, a03);
            v = Load512(w1 + i);
            a10 = Vector512.FusedMultiplyAdd(u0, v, a10); a11 = Vector512.FusedMultiplyAdd(u1, v, a11);
            a12 = Vector512.FusedMultiplyAdd(u2, v, a12); a13 = Vector512.FusedMultiplyAdd(u3, v, a13);
            v = Load512(w2 + i);
            a20 = Vector512.FusedMultiplyAdd(u0, v, a20); a21 = Vector512.FusedMultiplyAdd(u1, v, a21);
            a22 = Vector512.FusedMultiplyAdd(u2, v, a22); a23 = Vector512.FusedMultiplyAdd(u3, v, a23);
            v = Load512(w3 + i);
            a30 = Vector512.FusedMultiplyAdd(u0, v, a30); a31 = Vector512.FusedMultiplyAdd(u1, v, a31);
            a32 = Vector512.FusedMultiplyAdd(u2, v, a32); a33 = Vector512.FusedMultiplyAdd(u3, v, a33);
        }
        // Quarter r of sums holds x row r's four results, columns in order.
        var sums = Reduce16(a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33);
        if (i == k)
        {
            sums.GetLower().GetLower().Store(y);
            sums.GetLower().GetUpper().Store(y + ldy);
            sums.GetUpper().GetLower().Store(y + 2L * ldy);
            sums.GetUpper().GetUpper().Store(y + 3L * ldy);
            return;
        }
        Finish(x0, w, k, i, y, sums[0], sums[1], sums[2], sums[3]);
        Finish(x1, w, k, i, y + ldy, sums[4], sums[5], sums[6], sums[7]);
        Finish(x2, w, k, i, y + 2L * ldy, sums[8], sums[9], sums[10], sums[11]);
        Finish(x3, w, k, i, y + 3L * ldy, sums[12], sums[13], sums[14], sums[15]);
    }

    /// <summary>
    /// The lane sums of 16 vectors at once: lane 4q + j of the result is <see cref="Tree"/>(a[4j + q]) (a = the
    /// arguments in order), added in exactly Tree's order: lanes i + 8, then i + 4, then i + 2, then i + 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Reduce16(
        Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3,
        Vector512<float> a4, Vector512<float> a5, Vector512<float> a6, Vector512<float> a7,
        Vector512<float> a8, Vector512<float> a9, Vector512<float> a10, Vector512<float> a11,
        Vector512<float> a12, Vector512<float> a13, Vector512<float> a14, Vector512<float> a15)
    {
        // Each result holds, per 128-bit quarter, the partial sums of one or more inputs.
        var b0 = Fold8(a0, a1); var b1 = Fold8(a2, a3); var b2 = Fold8(a4, a5); var b3 = Fold8(a6, a7);
        var b4 = Fold8(a8, a9); var b5 = Fold8(a10, a11); var b6 = Fold8(a12, a13); var b7 = Fold8(a14, a15);
        var c0 = Fold4(b0, b1); var c1 = Fold4(b2, b3); var c2 = Fold4(b4, b5); var c3 = Fold4(b6, b7);
        var d0 = Avx512F.Shuffle(c0, c1, 0x44) + Avx512F.Shuffle(c0, c1, 0xEE);
        var d1 = Avx512F.Shuffle(c2, c3, 0x44) + Avx512F.Shuffle(c2, c3, 0xEE);
        return Avx512F.Shuffle(d0, d1, 0x88) + Avx512F.Shuffle(d0, d1, 0xDD);

        // [a lanes i + i+8 (i < 8) | b lanes i + i+8]
        static Vector512<float> Fold8(Vector512<float> a, Vector512<float> b) =>
            Avx512F.Shuffle4x128(a, b, 0x44) + Avx512F.Shuffle4x128(a, b, 0xEE);

        // Quarters of a: [p, q] -> a.q0 + a.q1, a.q2 + a.q3, then b's likewise.
        static Vector512<float> Fold4(Vector512<float> a, Vector512<float> b) =>
            Avx512F.Shuffle4x128(a, b, 0x88) + Avx512F.Shuffle4x128(a, b, 0xDD);
    }

    /// <summary>Sum of the 16 lanes: lanes i + i+8, then i + i+4, then i + i+2, then the last two.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tree(Vector512<float> v)
    {
        var h = v.GetLower() + v.GetUpper();
        var q = h.GetLower() + h.GetUpper();
        return (q.GetElement(0) + q.GetElement(2)) + (q.GetElement(1) + q.GetElement(3));
    }

    /// <summary>Scalar tail from element i on, then stores the four sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish<T>(float* x, T* w, int k, int i, float* y, float s0, float s1, float s2, float s3) where T : unmanaged
    {
        T* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        for (; i < k; i++)
        {
            float xv = x[i];
            s0 = MathF.FusedMultiplyAdd(xv, Load(w + i), s0);
            s1 = MathF.FusedMultiplyAdd(xv, Load(w1 + i), s1);
            s2 = MathF.FusedMultiplyAdd(xv, Load(w2 + i), s2);
            s3 = MathF.FusedMultiplyAdd(xv, Load(w3 + i), s3);
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }

    /// <summary>out[c] = x . w[c*k .. c*k+k) for four consecutive rows of w, each reduced exactly like <see cref="Dot"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot1x4<T>(float* x, T* w, int k, float* result) where T : unmanaged
    {
        T* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        int i = 0;
        float s0, s1, s2, s3;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            // bfloat16: 32 weights a step (one 64-byte load widened by BFloat16.Load512x2), each accumulator taking
            // elements i then i + 16: the order of two 16-element steps, so the results stay those of float32. Each
            // step also asks for a line ahead in each row (PrefetchAhead: while four rows fit in L1, the same line of
            // the next four, the next call's, rows being consecutive): with the hardware prefetchers alone these
            // kernels read weights at about half float32's bytes per second (docs/benchmarks.md, issue 13). Dot4x4
            // keeps Load512: with four x rows it is not memory-bound, and the 32-step loop ran slower there.
            for (; typeof(T) == typeof(ushort) && i <= k - 32; i += 32)
            {
                long ahead = PrefetchAhead(k, 4, i);
                Sse.Prefetch0(w + ahead); Sse.Prefetch0(w1 + ahead); Sse.Prefetch0(w2 + ahead); Sse.Prefetch0(w3 + ahead);
                var xv = Vector512.Load(x + i);
                var xh = Vector512.Load(x + i + 16);
                BFloat16.Load512x2((ushort*)(w + i), out var v, out var vh);
                a0 = Vector512.FusedMultiplyAdd(xh, vh, Vector512.FusedMultiplyAdd(xv, v, a0));
                BFloat16.Load512x2((ushort*)(w1 + i), out v, out vh);
                a1 = Vector512.FusedMultiplyAdd(xh, vh, Vector512.FusedMultiplyAdd(xv, v, a1));
                BFloat16.Load512x2((ushort*)(w2 + i), out v, out vh);
                a2 = Vector512.FusedMultiplyAdd(xh, vh, Vector512.FusedMultiplyAdd(xv, v, a2));
                BFloat16.Load512x2((ushort*)(w3 + i), out v, out vh);
                a3 = Vector512.FusedMultiplyAdd(xh, vh, Vector512.FusedMultiplyAdd(xv, v, a3));
            }
            for (; i <= k - 16; i += 16)
            {
                var xv = Vector512.Load(x + i);
                a0 = Vector512.FusedMultiplyAdd(xv, Load512(w + i), a0);
                a1 = Vector512.FusedMultiplyAdd(xv, Load512(w1 + i), a1);
                a2 = Vector512.FusedMultiplyAdd(xv, Load512(w2 + i), a2);
                a3 = Vector512.FusedMultiplyAdd(xv, Load512(w3 + i), a3);
            }
            s0 = Tree(a0); s1 = Tree(a1); s2 = Tree(a2); s3 = Tree(a3);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            for (; i <= k - 8; i += 8)
            {
                var xv = Vector256.Load(x + i);
                a0 = Vector256.FusedMultiplyAdd(xv, Load256(w + i), a0);
                a1 = Vector256.FusedMultiplyAdd(xv, Load256(w1 + i), a1);
                a2 = Vector256.FusedMultiplyAdd(xv, Load256(w2 + i), a2);
                a3 = Vector256.FusedMultiplyAdd(xv, Load256(w3 + i), a3);
            }
            s0 = Vector256.Sum(a0); s1 = Vector256.Sum(a1); s2 = Vector256.Sum(a2); s3 = Vector256.Sum(a3);
        }
        else
        {
            s0 = s1 = s2 = s3 = 0;
        }
        Finish(x, w, k, i, result, s0, s1, s2, s3);
    }

    /// <summary>
    /// Where the bfloat16 dot products of a block of rows (weights from element i on) ask for their next line: the
    /// same line of the next block of rows while a block fits in the L1 cache (each row's line is then used soon),
    /// else a fixed distance ahead in the same rows, as lines of the next block would be evicted before their turn.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long PrefetchAhead(int k, int rows, int i) => (long)rows * k * sizeof(ushort) <= L1Bytes ? (long)rows * k + i : i + PrefetchDistance;

    /// <summary>
    /// An L1 data cache's size: Zen 4's (Zen 5, where the threshold was measured, has 48 KiB; the blocks of the shapes
    /// measured, 14-24 KiB and 39-143 KiB, fall on the same side of either).
    /// </summary>
    private const int L1Bytes = 32 << 10;

    /// <summary>Elements ahead in the same rows (1 KiB of bfloat16) when a block of rows outgrows L1.</summary>
    private const int PrefetchDistance = 512;

    /// <summary>
    /// out[c] = x . w[c*k .. c*k+k) for eight consecutive bfloat16 rows of w, each reduced exactly like
    /// <see cref="Dot1x4"/> (so like <see cref="Dot"/>): 32 weights a step, then 16, then the scalar tail. Each step
    /// asks for one line ahead in each row (<see cref="PrefetchAhead"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot1x8(ushort* w, float* x, int k, float* result)
    {
        ushort* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k, w4 = w + 4 * k, w5 = w + 5 * k, w6 = w + 6 * k, w7 = w + 7 * k;
        var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0; var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
        int i = 0;
        for (; i <= k - 32; i += 32)
        {
            long ahead = PrefetchAhead(k, 8, i);
            Sse.Prefetch0(w + ahead); Sse.Prefetch0(w1 + ahead); Sse.Prefetch0(w2 + ahead); Sse.Prefetch0(w3 + ahead);
            Sse.Prefetch0(w4 + ahead); Sse.Prefetch0(w5 + ahead); Sse.Prefetch0(w6 + ahead); Sse.Prefetch0(w7 + ahead);
            var xv = Vector512.Load(x + i);
            var xh = Vector512.Load(x + i + 16);
            a0 = Step(w + i, xv, xh, a0); a1 = Step(w1 + i, xv, xh, a1); a2 = Step(w2 + i, xv, xh, a2); a3 = Step(w3 + i, xv, xh, a3);
            a4 = Step(w4 + i, xv, xh, a4); a5 = Step(w5 + i, xv, xh, a5); a6 = Step(w6 + i, xv, xh, a6); a7 = Step(w7 + i, xv, xh, a7);
        }
        for (; i <= k - 16; i += 16)
        {
            var xv = Vector512.Load(x + i);
            a0 = Vector512.FusedMultiplyAdd(xv, BFloat16.Load512(w + i), a0); a1 = Vector512.FusedMultiplyAdd(xv, BFloat16.Load512(w1 + i), a1);
            a2 = Vector512.FusedMultiplyAdd(xv, BFloat16.Load512(w2 + i), a2); a3 = Vector512.FusedMultiplyAdd(xv, BFloat16.Load512(w3 + i), a3);
            a4 = Vector512.FusedMultiplyAdd(xv, BFloat16.Load512(w4 + i), a4); a5 = Vector512.FusedMultiplyAdd(xv, BFloat16.Load512(w5 + i), a5);
            a6 = Vector512.FusedMultiplyAdd(xv, BFloat16.Load512(w6 + i), a6); a7 = Vector512.FusedMultiplyAdd(xv, BFloat16.Load512(w7 + i), a7);
        }
        Finish(x, w, k, i, result, Tree(a0), Tree(a1), Tree(a2), Tree(a3));
        Finish(x, w4, k, i, result + 4, Tree(a4), Tree(a5), Tree(a6), Tree(a7));

        // Elements i .. i + 15 then i + 16 .. i + 31 into one accumulator: two 16-element steps' order.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<float> Step(ushort* p, Vector512<float> xv, Vector512<float> xh, Vector512<float> acc)
        {
            BFloat16.Load512x2(p, out var v, out var vh);
            return Vector512.FusedMultiplyAdd(xh, vh, Vector512.FusedMultiplyAdd(xv, v, acc));
        }
    }

    /// <summary>x . w with the same reduction order as one lane of <see cref="Dot1x4"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot<T>(float* x, T* w, int k) where T : unmanaged
    {
        int i = 0;
        float s;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            var a = Vector512<float>.Zero;
            for (; typeof(T) == typeof(ushort) && i <= k - 32; i += 32)
            {
                BFloat16.Load512x2((ushort*)(w + i), out var v, out var vh);
                a = Vector512.FusedMultiplyAdd(Vector512.Load(x + i + 16), vh, Vector512.FusedMultiplyAdd(Vector512.Load(x + i), v, a));
            }
            for (; i <= k - 16; i += 16) a = Vector512.FusedMultiplyAdd(Vector512.Load(x + i), Load512(w + i), a);
            s = Tree(a);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var a = Vector256<float>.Zero;
            for (; i <= k - 8; i += 8) a = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Load256(w + i), a);
            s = Vector256.Sum(a);
        }
        else
        {
            s = 0;
        }
        for (; i < k; i++) s = MathF.FusedMultiplyAdd(x[i], Load(w + i), s);
        return s;
    }

    /// <summary>Asks for floats [p, p + count) to be brought into the L2 cache (a hint: nothing when SSE is missing).</summary>
    public static void PrefetchL2(float* p, long count)
    {
        if (!Sse.IsSupported) return;
        for (byte* b = (byte*)p, end = (byte*)(p + count); b < end; b += 64) Sse.Prefetch1(b);
    }

    /// <summary>Rounds a key count up to whole 16-float vectors: the row stride of the transposed key cache.</summary>
    public static int PadKeys(int keys) => (keys + 15) & ~15;

    /// <summary>
    /// Causal attention of the query heads that share one KV head, for one row, over its ctx cached positions.
    /// q and o hold the group's heads back to back ([groups, hd]). kt holds the keys in blocks of 16 positions, each
    /// block transposed: dimension e of position t at kt[(t / 16) * hd * 16 + e * 16 + t % 16], every block up to
    /// PadKeys(ctx) readable; v holds the values [ctx, hd] contiguous; scores is scratch for groups * PadKeys(ctx) floats.
    /// Per head: s_t = (q . k_t, fused multiply-adds over e ascending) * scale, e_t = exp(s_t - max s) (see
    /// <see cref="Exponentiate"/>), o = (sum over t of e_t v_t, even and odd t in two fused multiply-add chains) / sum e.
    /// The SIMD path computes exactly these operations, only several keys and heads at a time, so it is
    /// bit-identical to the scalar one (allowSimd: false, for tests).
    /// </summary>
    public static void Attend(float* q, int groups, int hd, float* kt, float* v, int ctx, float scale, float* scores, float* o,
        bool allowSimd = true)
    {
        int tPad = PadKeys(ctx);
        bool simd = allowSimd && Vector512.IsHardwareAccelerated && hd % 16 == 0;
        if (simd) ScoresSimd(q, groups, hd, kt, tPad, scale, scores);
        else
            for (int g = 0; g < groups; g++)
            {
                float* qh = q + (long)g * hd, sh = scores + (long)g * tPad;
                for (int t = 0; t < ctx; t++)
                {
                    float s = 0;
                    float* kb = kt + (long)(t >> 4) * hd * 16 + (t & 15);
                    for (int e = 0; e < hd; e++) s = MathF.FusedMultiplyAdd(qh[e], kb[e * 16], s);
                    sh[t] = s * scale;
                }
            }
        float* inv = stackalloc float[groups];
        for (int g = 0; g < groups; g++) inv[g] = Exponentiate(scores + (long)g * tPad, ctx, tPad, simd);
        if (simd) WeightedValuesSimd(groups, hd, v, ctx, scores, tPad, inv, o);
        else
            for (int g = 0; g < groups; g++)
            {
                float* oh = o + (long)g * hd, sh = scores + (long)g * tPad;
                for (int e = 0; e < hd; e++)
                {
                    // Even and odd keys in separate sums, as the SIMD loop does.
                    float even = 0, odd = 0;
                    int t = 0;
                    for (; t + 2 <= ctx; t += 2)
                    {
                        even = MathF.FusedMultiplyAdd(sh[t], v[(long)t * hd + e], even);
                        odd = MathF.FusedMultiplyAdd(sh[t + 1], v[(long)(t + 1) * hd + e], odd);
                    }
                    if (t < ctx) even = MathF.FusedMultiplyAdd(sh[t], v[(long)t * hd + e], even);
                    oh[e] = (even + odd) * inv[g];
                }
            }
    }

    /// <summary>
    /// s[t] = exp(s[t] - max) for t &lt; ctx and 0 up to tPad; returns 1 / sum. The sum is kept in 16 lanes (key t
    /// in lane t % 16, blocks in order) and reduced by <see cref="Tree"/>; exp is the SIMD one, lane by lane in
    /// the scalar path, so both paths agree to the bit.
    /// </summary>
    private static float Exponentiate(float* s, int ctx, int tPad, bool simd)
    {
        for (int t = ctx; t < tPad; t++) s[t] = float.NegativeInfinity;
        if (simd)
        {
            var m = Vector512.Load(s);
            for (int t = 16; t < tPad; t += 16) m = Vector512.MaxNative(m, Vector512.Load(s + t));
            var m8 = Vector256.MaxNative(m.GetLower(), m.GetUpper());
            var m4 = Vector128.MaxNative(m8.GetLower(), m8.GetUpper());
            // The largest score (which of +0 / -0 does not matter: exp gives 1 for both).
            var vmax = Vector512.Create(MathF.Max(MathF.Max(m4[0], m4[1]), MathF.Max(m4[2], m4[3])));
            var acc = Vector512<float>.Zero;
            for (int t = 0; t < tPad; t += 16)
            {
                var e = Vector512.Exp(Vector512.Load(s + t) - vmax);
                e.Store(s + t);
                acc += e;
            }
            return 1f / Tree(acc);
        }
        float max = float.NegativeInfinity;
        for (int t = 0; t < ctx; t++) max = MathF.Max(max, s[t]);
        var lanes = stackalloc float[16];
        new Span<float>(lanes, 16).Clear();
        for (int t = 0; t < tPad; t++)
        {
            float e = t < ctx ? Vector128.Exp(Vector128.Create(s[t] - max)).ToScalar() : 0f;
            s[t] = e;
            lanes[t & 15] += e;
        }
        return 1f / Tree(Vector512.Load(lanes));
    }

    /// <summary>scores[g, t] for t &lt; tPad (a multiple of 16), two heads and 64 keys at a time.</summary>
    private static void ScoresSimd(float* q, int groups, int hd, float* kt, int tPad, float scale, float* scores)
    {
        var vs = Vector512.Create(scale);
        for (int g = 0; g < groups; g += 2)
        {
            float* qa = q + (long)g * hd, sa = scores + (long)g * tPad;
            bool two = g + 1 < groups;
            float* qb = two ? qa + hd : qa, sb = two ? sa + tPad : sa;
            int t = 0;
            for (; t + 64 <= tPad; t += 64)
            {
                var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
                var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
                // Four blocks of 16 keys; dimension e of each is 16 contiguous floats.
                long block = (long)hd * 16;
                float* k = kt + (t >> 4) * block;
                for (int e = 0; e < hd; e++, k += 16)
                {
                    var k0 = Vector512.Load(k);
                    var k1 = Vector512.Load(k + block);
                    var k2 = Vector512.Load(k + 2 * block);
                    var k3 = Vector512.Load(k + 3 * block);
                    var xa = Vector512.Create(qa[e]);
                    var xb = Vector512.Create(qb[e]);
                    a0 = Vector512.FusedMultiplyAdd(xa, k0, a0); a1 = Vector512.FusedMultiplyAdd(xa, k1, a1);
                    a2 = Vector512.FusedMultiplyAdd(xa, k2, a2); a3 = Vector512.FusedMultiplyAdd(xa, k3, a3);
                    b0 = Vector512.FusedMultiplyAdd(xb, k0, b0); b1 = Vector512.FusedMultiplyAdd(xb, k1, b1);
                    b2 = Vector512.FusedMultiplyAdd(xb, k2, b2); b3 = Vector512.FusedMultiplyAdd(xb, k3, b3);
                }
                Vector512.Store(a0 * vs, sa + t); Vector512.Store(a1 * vs, sa + t + 16);
                Vector512.Store(a2 * vs, sa + t + 32); Vector512.Store(a3 * vs, sa + t + 48);
                Vector512.Store(b0 * vs, sb + t); Vector512.Store(b1 * vs, sb + t + 16);
                Vector512.Store(b2 * vs, sb + t + 32); Vector512.Store(b3 * vs, sb + t + 48);
            }
            for (; t < tPad; t += 16)
            {
                var a0 = Vector512<float>.Zero; var b0 = a0;
                float* k = kt + (long)(t >> 4) * hd * 16;
                for (int e = 0; e < hd; e++, k += 16)
                {
                    var k0 = Vector512.Load(k);
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Create(qa[e]), k0, a0);
                    b0 = Vector512.FusedMultiplyAdd(Vector512.Create(qb[e]), k0, b0);
                }
                Vector512.Store(a0 * vs, sa + t);
                Vector512.Store(b0 * vs, sb + t);
            }
        }
    }

    /// <summary>
    /// o[g] = (sum over even t of e[g, t] v_t + sum over odd t) * inv[g], two heads and 32 dimensions at a time
    /// (hd a multiple of 16); even and odd keys go to separate accumulators, twice the independent FMA chains.
    /// </summary>
    private static void WeightedValuesSimd(int groups, int hd, float* v, int ctx, float* p, int tPad, float* inv, float* o)
    {
        for (int g = 0; g < groups; g += 2)
        {
            bool two = g + 1 < groups;
            float* pa = p + (long)g * tPad, pb = two ? pa + tPad : pa;
            float* oa = o + (long)g * hd, ob = two ? oa + hd : oa;
            var ia = Vector512.Create(inv[g]);
            var ib = Vector512.Create(two ? inv[g + 1] : inv[g]);
            for (int c = 0; c < hd; c += 32)
            {
                // With hd % 32 == 16 the last chunk is one vector: the second is computed on the first's data and dropped.
                bool pair = c + 32 <= hd;
                int c1 = pair ? 16 : 0;
                var a0 = Vector512<float>.Zero; var a1 = a0; var b0 = a0; var b1 = a0;
                var a0o = a0; var a1o = a0; var b0o = a0; var b1o = a0;
                float* vt = v + c;
                int t = 0;
                for (; t + 2 <= ctx; t += 2, vt += 2 * hd)
                {
                    var v0 = Vector512.Load(vt);
                    var v1 = Vector512.Load(vt + c1);
                    var w0 = Vector512.Load(vt + hd);
                    var w1 = Vector512.Load(vt + hd + c1);
                    var xa = Vector512.Create(pa[t]);
                    var xb = Vector512.Create(pb[t]);
                    var ya = Vector512.Create(pa[t + 1]);
                    var yb = Vector512.Create(pb[t + 1]);
                    a0 = Vector512.FusedMultiplyAdd(xa, v0, a0); a1 = Vector512.FusedMultiplyAdd(xa, v1, a1);
                    b0 = Vector512.FusedMultiplyAdd(xb, v0, b0); b1 = Vector512.FusedMultiplyAdd(xb, v1, b1);
                    a0o = Vector512.FusedMultiplyAdd(ya, w0, a0o); a1o = Vector512.FusedMultiplyAdd(ya, w1, a1o);
                    b0o = Vector512.FusedMultiplyAdd(yb, w0, b0o); b1o = Vector512.FusedMultiplyAdd(yb, w1, b1o);
                }
                if (t < ctx)
                {
                    var v0 = Vector512.Load(vt);
                    var v1 = Vector512.Load(vt + c1);
                    var xa = Vector512.Create(pa[t]);
                    var xb = Vector512.Create(pb[t]);
                    a0 = Vector512.FusedMultiplyAdd(xa, v0, a0); a1 = Vector512.FusedMultiplyAdd(xa, v1, a1);
                    b0 = Vector512.FusedMultiplyAdd(xb, v0, b0); b1 = Vector512.FusedMultiplyAdd(xb, v1, b1);
                }
                // With an odd head count the last pair is one head twice: b equals a, and storing both is harmless.
                Vector512.Store((a0 + a0o) * ia, oa + c);
                Vector512.Store((b0 + b0o) * ib, ob + c);
                if (pair)
                {
                    Vector512.Store((a1 + a1o) * ia, oa + c + 16);
                    Vector512.Store((b1 + b1o) * ib, ob + c + 16);
                }
            }
        }
    }
}

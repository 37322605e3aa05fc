using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pacs.Tensors.Kernels;

namespace Pacs.Models;

/// <summary>
/// A weight w [m, k] (Hugging Face Linear layout) repacked for decode steps: panels of <see cref="Width"/> output
/// columns, each stored [k, Width] (w[32p + c, e] at p*k*32 + e*32 + c; columns past m are zeros). A decode row's
/// outputs for one panel are then an outer-product sum over e that reads the panel as one contiguous stream, with no
/// lane reductions: see <see cref="PanelKernels"/>. The direct dot-product kernels read 4 weight rows at once, and on
/// weights that do not fit in cache they ran at 74-90 GFLOP/s where this ran at 98-108 (one thread, this machine).
/// </summary>
internal sealed unsafe class PanelMatrix
{
    public const int Width = 32;

    private readonly AlignedBuffer _data;

    public PanelMatrix(int m, int k)
    {
        M = m;
        K = k;
        _data = new AlignedBuffer((long)Panels * k * Width);
    }

    /// <summary>Output columns (rows of w).</summary>
    public int M { get; }

    /// <summary>Input size (columns of w).</summary>
    public int K { get; }

    public int Panels => (M + Width - 1) / Width;

    /// <summary>Panel p: [K, Width] floats.</summary>
    public float* Panel(int p) => _data.Ptr + (long)p * K * Width;

    /// <summary>Copies w [M, K] in (panels spread over threads when parallel).</summary>
    public void Pack(float* w, bool parallel = true)
    {
        int m = M, k = K;
        DecodeKernels.For(Panels, (long)k * Width, parallel, p =>
        {
            float* dst = Panel(p);
            int j0 = p * Width, cols = Math.Min(Width, m - j0);
            for (int c = 0; c < cols; c++)
            {
                float* src = w + (long)(j0 + c) * k;
                for (int e = 0; e < k; e++) dst[(long)e * Width + c] = src[e];
            }
            for (int c = cols; c < Width; c++)
                for (int e = 0; e < k; e++) dst[(long)e * Width + c] = 0;
        });
    }
}

/// <summary>
/// Decode projections over <see cref="PanelMatrix"/> weights. Every output element is one chain of fused
/// multiply-adds over the input index in order (then + bias, then added to y when accumulating), whichever tile of
/// rows it falls in, so a row's results do not depend on its batch mates or on the thread count.
/// </summary>
internal static unsafe class PanelKernels
{
    /// <summary>Rows per tile: 8 rows x 32 columns = 16 vector accumulators.</summary>
    private const int RowTile = 8;

    /// <summary>The kernels need AVX-512; without it <see cref="Generator"/> keeps the direct dot-product kernels.</summary>
    public static bool Supported => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>
    /// y [n, m] (+)= x [n, k] . w^T + bias for one panel p of w: columns [32p, 32p + 32) of y (those below m).
    /// </summary>
    public static void Panel(float* x, int n, PanelMatrix w, int p, float* bias, float* y, bool accumulate)
    {
        int k = w.K, m = w.M, j0 = p * PanelMatrix.Width, cols = Math.Min(PanelMatrix.Width, m - j0);
        float* panel = w.Panel(p);
        float* t = stackalloc float[RowTile * PanelMatrix.Width];
        for (int r0 = 0; r0 < n; r0 += RowTile)
        {
            int rows = Math.Min(RowTile, n - r0);
            Tile(x + (long)r0 * k, rows, k, panel, t);
            DecodeKernels.StoreTile(t, PanelMatrix.Width, rows, cols, bias == null ? null : bias + j0, y + (long)r0 * m + j0, m, accumulate);
        }
    }

    /// <summary>
    /// y [n, m] = silu(x . gate^T) * (x . up^T) for panel p of gate and up (columns [32p, 32p + 32) below m). SwiGLU
    /// runs on blocks starting at multiples of 16, so each element takes the path it takes in a whole-row
    /// <see cref="Activations.SwiGluForward"/>.
    /// </summary>
    public static void GateUpPanel(float* x, int n, PanelMatrix gate, PanelMatrix up, int p, float* y)
    {
        int k = gate.K, m = gate.M, j0 = p * PanelMatrix.Width, cols = Math.Min(PanelMatrix.Width, m - j0);
        float* g = stackalloc float[RowTile * PanelMatrix.Width];
        float* u = stackalloc float[RowTile * PanelMatrix.Width];
        for (int r0 = 0; r0 < n; r0 += RowTile)
        {
            int rows = Math.Min(RowTile, n - r0);
            Tile(x + (long)r0 * k, rows, k, gate.Panel(p), g);
            Tile(x + (long)r0 * k, rows, k, up.Panel(p), u);
            DecodeKernels.SwiGluTile(g, u, PanelMatrix.Width, rows, cols, y + (long)r0 * m + j0, m);
        }
    }

    /// <summary>t [rows, 32] = x [rows, k] . panel [k, 32], for 1 to 8 rows (in tiles of 8, 4, 2 and 1 rows).</summary>
    private static void Tile(float* x, int rows, int k, float* panel, float* t)
    {
        int r = 0;
        if (rows - r >= 8) { Rows<Eight>(x, k, panel, t); r += 8; }
        if (rows - r >= 4) { Rows<Four>(x + (long)r * k, k, panel, t + r * PanelMatrix.Width); r += 4; }
        if (rows - r >= 2) { Rows<Two>(x + (long)r * k, k, panel, t + r * PanelMatrix.Width); r += 2; }
        if (rows - r >= 1) Rows<One>(x + (long)r * k, k, panel, t + r * PanelMatrix.Width);
    }

    private interface IRowCount { static abstract int Count { get; } }
    private struct One : IRowCount { public static int Count => 1; }
    private struct Two : IRowCount { public static int Count => 2; }
    private struct Four : IRowCount { public static int Count => 4; }
    private struct Eight : IRowCount { public static int Count => 8; }

    /// <summary>
    /// t [R, 32] = x [R, k] . panel [k, 32] for R = TRows.Count rows (the JIT compiles one loop per R, with the
    /// unused rows' code removed): per input index e, two vectors of the panel times each row's x[e] broadcast.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows<TRows>(float* x, int k, float* panel, float* t) where TRows : struct, IRowCount
    {
        int rows = TRows.Count;
        float* x0 = x, x1 = x + k, x2 = x + 2L * k, x3 = x + 3L * k, x4 = x + 4L * k, x5 = x + 5L * k, x6 = x + 6L * k, x7 = x + 7L * k;
        var c00 = Vector512<float>.Zero; var c01 = c00; var c10 = c00; var c11 = c00;
        var c20 = c00; var c21 = c00; var c30 = c00; var c31 = c00;
        var c40 = c00; var c41 = c00; var c50 = c00; var c51 = c00;
        var c60 = c00; var c61 = c00; var c70 = c00; var c71 = c00;
        for (int e = 0; e < k; e++, panel += PanelMatrix.Width)
        {
            var b0 = Vector512.Load(panel);
            var b1 = Vector512.Load(panel + 16);
            var a = Vector512.Create(x0[e]);
            c00 = Avx512F.FusedMultiplyAdd(a, b0, c00); c01 = Avx512F.FusedMultiplyAdd(a, b1, c01);
            if (rows > 1)
            {
                a = Vector512.Create(x1[e]);
                c10 = Avx512F.FusedMultiplyAdd(a, b0, c10); c11 = Avx512F.FusedMultiplyAdd(a, b1, c11);
            }
            if (rows > 2)
            {
                a = Vector512.Create(x2[e]);
                c20 = Avx512F.FusedMultiplyAdd(a, b0, c20); c21 = Avx512F.FusedMultiplyAdd(a, b1, c21);
                a = Vector512.Create(x3[e]);
                c30 = Avx512F.FusedMultiplyAdd(a, b0, c30); c31 = Avx512F.FusedMultiplyAdd(a, b1, c31);
            }
            if (rows > 4)
            {
                a = Vector512.Create(x4[e]);
                c40 = Avx512F.FusedMultiplyAdd(a, b0, c40); c41 = Avx512F.FusedMultiplyAdd(a, b1, c41);
                a = Vector512.Create(x5[e]);
                c50 = Avx512F.FusedMultiplyAdd(a, b0, c50); c51 = Avx512F.FusedMultiplyAdd(a, b1, c51);
                a = Vector512.Create(x6[e]);
                c60 = Avx512F.FusedMultiplyAdd(a, b0, c60); c61 = Avx512F.FusedMultiplyAdd(a, b1, c61);
                a = Vector512.Create(x7[e]);
                c70 = Avx512F.FusedMultiplyAdd(a, b0, c70); c71 = Avx512F.FusedMultiplyAdd(a, b1, c71);
            }
        }
        c00.Store(t); c01.Store(t + 16);
        if (rows > 1) { c10.Store(t + 32); c11.Store(t + 48); }
        if (rows > 2) { c20.Store(t + 64); c21.Store(t + 80); c30.Store(t + 96); c31.Store(t + 112); }
        if (rows > 4)
        {
            c40.Store(t + 128); c41.Store(t + 144); c50.Store(t + 160); c51.Store(t + 176);
            c60.Store(t + 192); c61.Store(t + 208); c70.Store(t + 224); c71.Store(t + 240);
        }
    }
}

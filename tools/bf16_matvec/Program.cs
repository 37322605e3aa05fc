// Usage: bf16_matvec [m=4864] [k=896] [layers=24] [passes=5] [threads=1] [variants=all, comma-separated]
// One decode matrix-vector product y = W x per layer (W [m, k], a fresh matrix per layer, so the weights stream
// from memory as in a decode step), timed for the repository kernels (pacs-f32, pacs-b16: DecodeKernels.Project)
// and for copies of widening variants of the four-row dot-product loop: f32 (float32), b16zx (vpmovzxwd + shift per
// 16, the kernels before issue 13's rework), b16p2w (one vpermt2w per 16), b16unpk (vpermq + unpack), b16eo
// (even/odd halves of 32-bit lanes, x split once; a summation order of its own, as f32eo), *pf (software prefetch
// of the next four rows into L1; pf1: into L2), and two ceilings that are not bfloat16 kernels: rawb16 and pacs-raw
// run the float32 kernels (f32, pacs-f32) over the bfloat16 buffer read as half as many floats, so they read
// exactly the bytes a bfloat16 kernel reads, at float32's cost per byte (their results are meaningless and not
// checked); gu-f32, gu-b16 and gu-raw time DecodeKernels.GateUpSwiGlu likewise, on layers 2l and 2l + 1 as one
// MLP's gate and up; stream-f32 and stream-b16 only add up the same bytes (one contiguous stream per task, split as
// DecodeKernels splits a projection): how fast the memory system hands them to a loop that does nothing else.
// OFFSET=16 starts the weights 16 bytes past a cache line, as a managed array's elements do (it made no difference
// to the ratios: docs/benchmarks.md). Eight warm-up passes per variant let the JIT's tiering
// finish most of the time (with two, some kernels stayed unoptimised and their timings were bimodal, 5-20x apart);
// DOTNET_TieredCompilation=0 removes the doubt, and the figures in docs/benchmarks.md since 2026-12-07 11:00 UTC
// were taken with it. Passes alternate the variants; medians of wall and process CPU time.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pacs.Models;

unsafe
{
    int m = args.Length > 0 ? int.Parse(args[0]) : 4864;
    int k = args.Length > 1 ? int.Parse(args[1]) : 896;
    int layers = args.Length > 2 ? int.Parse(args[2]) : 24;
    int passes = args.Length > 3 ? int.Parse(args[3]) : 5;
    int threads = args.Length > 4 ? int.Parse(args[4]) : 1;
    string only = args.Length > 5 ? args[5] : "";
    long per = (long)m * k;
    var w16 = (ushort*)NativeMemory.AlignedAlloc((nuint)(per * layers * 2 + 256), 64);
    var w32 = (float*)NativeMemory.AlignedAlloc((nuint)(per * layers * 4 + 256), 64);
    // OFFSET (bytes): start the weights that far past a cache line, as a managed array's elements do.
    int offset = int.Parse(Environment.GetEnvironmentVariable("OFFSET") ?? "0");
    w16 = (ushort*)((byte*)w16 + offset); w32 = (float*)((byte*)w32 + offset);
    ulong s = 88172645463325252UL;
    for (long i = 0; i < per * layers; i++)
    {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        float u = ((s >> 40) * (1f / (1 << 24)) * 2 - 1) * 0.05f;
        ushort b = (ushort)(BitConverter.SingleToUInt32Bits(u) >> 16);
        w16[i] = b;
        w32[i] = BitConverter.UInt32BitsToSingle((uint)b << 16);
    }
    var x = (float*)NativeMemory.AlignedAlloc((nuint)(k * 4 + 256), 64);
    for (int i = 0; i < k; i++) x[i] = MathF.Sin(i * 0.37f);
    var xs = (float*)NativeMemory.AlignedAlloc((nuint)(k * 4 + 256), 64);
    Variants.SplitEvenOdd(x, k, xs);
    var ys = new float*[32];
    for (int v = 0; v < ys.Length; v++) ys[v] = (float*)NativeMemory.AlignedAlloc((nuint)(m * 4 + 256), 64);

    var names = new[] { "f32", "b16zx", "b16p2w", "b16unpk", "b16eo", "f32eo", "f32pf", "b16eopf", "b16p2wpf", "f32pf1", "b16p2wpf1", "pacs-f32", "pacs-b16", "b16near", "b16auto", "rawb16", "pacs-raw", "gu-f32", "gu-b16", "gu-raw", "stream-f32", "stream-b16" };
    void Run(int v, int layer, int r0, int r1)
    {
        float* y = ys[v];
        ushort* a = w16 + layer * per; float* f = w32 + layer * per;
        switch (v)
        {
            case 0: Variants.MatF32<Variants.No>(x, f, k, r0, r1, y); break;
            case 1: Variants.MatZx(x, a, k, r0, r1, y); break;
            case 2: Variants.MatP2w<Variants.No>(x, a, k, r0, r1, y); break;
            case 3: Variants.MatUnpk(x, a, k, r0, r1, y); break;
            case 4: Variants.MatEo<Variants.No>(xs, a, k, r0, r1, y); break;
            case 5: Variants.MatF32Eo(xs, f, k, r0, r1, y); break;
            case 6: Variants.MatF32<Variants.Yes>(x, f, k, r0, r1, y); break;
            case 7: Variants.MatEo<Variants.Yes>(xs, a, k, r0, r1, y); break;
            case 8: Variants.MatP2w<Variants.Yes>(x, a, k, r0, r1, y); break;
            case 9: Variants.MatF32<Variants.Yes1>(x, f, k, r0, r1, y); break;
            case 10: Variants.MatP2w<Variants.Yes1>(x, a, k, r0, r1, y); break;
            case 11: DecodeKernels.Project(x, 1, k, [new(f, m, null, y)], parallel: threads > 1); break;
            case 12: DecodeKernels.Project(x, 1, k, [new(null, m, null, y, w16: a)], parallel: threads > 1); break;
            case 13: Variants.MatP2w<Variants.Near>(x, a, k, r0, r1, y); break;
            case 14: Variants.MatP2w<Variants.Auto>(x, a, k, r0, r1, y); break;
            case 15: Variants.MatF32<Variants.No>(x, (float*)a, k / 2, r0, r1, y); break;
            case 16: DecodeKernels.Project(x, 1, k / 2, [new((float*)a, m, null, y)], parallel: threads > 1); break;
            // Gate and up of one MLP: layers 2l and 2l + 1 (a pass runs half as many calls, each reading two matrices).
            case 17: if (layer % 2 == 0) DecodeKernels.GateUpSwiGlu(x, 1, k, f, f + per, m, y, parallel: threads > 1); break;
            case 18: if (layer % 2 == 0) DecodeKernels.GateUpSwiGlu(x, 1, k, a, a + per, m, y, parallel: threads > 1); break;
            case 19: if (layer % 2 == 0) DecodeKernels.GateUpSwiGlu(x, 1, k / 2, (float*)a, (float*)(a + per), m, y, parallel: threads > 1); break;
            case 20: Variants.Stream(f, m, k, y); break;
            case 21: Variants.Stream((float*)a, m, k / 2, y); break;
        }
    }
    void Pass(int v)
    {
        for (int l = 0; l < layers; l++)
        {
            if (threads == 1 || v is 11 or 12 or >= 16) Run(v, l, 0, m);
            else
            {
                int chunk = ((m + threads - 1) / threads + 3) & ~3;
                Parallel.For(0, threads, t => Run(v, l, Math.Min(m, t * chunk), Math.Min(m, (t + 1) * chunk)));
            }
        }
    }
    var chosen = Enumerable.Range(0, names.Length).Where(v => only == "" || only.Split(',').Contains(names[v])).ToArray();
    foreach (int v in chosen) for (int wu = 0; wu < 8; wu++) Pass(v);
    // correctness
    for (int j = 0; j < m; j++)
    {
        float r = Variants.RefDot(x, w32 + (layers - 1) * per + (long)j * k, k);
        foreach (int v in chosen.Where(v => v is < 15))
        {
            bool same = v is 4 or 5 or 7 ? ys[v][j] == ys[chosen.Contains(5) ? 5 : v][j] : ys[v][j] == ys[chosen.Contains(0) ? 0 : v][j];
            if (!same) { Console.WriteLine($"MISMATCH {names[v]} j={j} {ys[v][j]} vs ref {r}"); }
            if (Math.Abs(ys[v][j] - r) > 1e-4f * (1 + Math.Abs(r))) Console.WriteLine($"FAR {names[v]} j={j} {ys[v][j]} vs {r}");
        }
    }
    if (chosen.Contains(17) && chosen.Contains(18))
        for (int j = 0; j < m; j++)
            if (ys[17][j] != ys[18][j]) Console.WriteLine($"MISMATCH gu-b16 j={j} {ys[18][j]} vs gu-f32 {ys[17][j]}");
    var wall = chosen.ToDictionary(v => v, _ => new List<double>());
    var cpu = chosen.ToDictionary(v => v, _ => new List<double>());
    using var proc = Process.GetCurrentProcess();
    for (int p = 0; p < passes; p++)
        foreach (int v in (p % 2 == 0 ? chosen : chosen.Reverse()))
        {
            proc.Refresh();
            var c0 = proc.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            Pass(v);
            double ws = sw.Elapsed.TotalSeconds;
            proc.Refresh();
            wall[v].Add(ws);
            cpu[v].Add((proc.TotalProcessorTime - c0).TotalSeconds);
        }
    Console.WriteLine($"m={m} k={k} layers={layers} threads={threads} passes={passes}; f32 bytes/pass {per * layers * 4 / 1e6:F0} MB");
    double Med(List<double> l) { var a = l.OrderBy(t => t).ToArray(); return a[a.Length / 2]; }
    double baseWall = chosen.Contains(0) ? Med(wall[0]) : 0, baseCpu = chosen.Contains(0) ? Med(cpu[0]) : 0;
    foreach (int v in chosen)
    {
        double bytes = per * layers * (names[v].Contains("f32") ? 4 : 2);
        double mw = Med(wall[v]), mc = Med(cpu[v]);
        Console.WriteLine($"{names[v],-8} wall {mw * 1e3,7:F1} ms ({wall[v].Min() * 1e3:F1}-{wall[v].Max() * 1e3:F1})  cpu {mc * 1e3,7:F1} ms  "
            + $"{bytes / mw / 1e9,5:F1} GB/s wall {bytes / mc / 1e9,5:F1} GB/s cpu  speedup vs f32: wall {baseWall / mw:F2}x cpu {baseCpu / mc:F2}x");
    }
}

static unsafe class Variants
{
    public interface IFlag { static abstract bool On { get; } static abstract bool L2 { get; } static virtual int Ahead(int k) => 4 * k; }
    public struct Yes : IFlag { public static bool On => true; public static bool L2 => false; }
    public struct Yes1 : IFlag { public static bool On => true; public static bool L2 => true; }
    public struct Near : IFlag { public static bool On => true; public static bool L2 => false; public static int Ahead(int k) => 512; }
    public struct Auto : IFlag { public static bool On => true; public static bool L2 => false; public static int Ahead(int k) => k <= 2048 ? 4 * k : 512; }
    public struct No : IFlag { public static bool On => false; public static bool L2 => false; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Pf<TPf>(void* p) where TPf : struct, IFlag { if (TPf.L2) Sse.Prefetch1(p); else Sse.Prefetch0(p); }

    // Reads rows [m, k] of floats as fast as it can (adds only), split as DecodeKernels splits a projection.
    public static void Stream(float* w, int m, int k, float* y) =>
        Pacs.Tensors.Kernels.RowParallel.ForRange((m + 15) / 16, (long)16 * k, (b, e) =>
        {
            var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            float* p = w + (long)b * 16 * k, end = w + Math.Min((long)m, (long)e * 16) * k;
            for (; p + 64 <= end; p += 64)
            {
                a0 += Vector512.Load(p); a1 += Vector512.Load(p + 16); a2 += Vector512.Load(p + 32); a3 += Vector512.Load(p + 48);
            }
            y[b * 16] = Vector512.Sum(a0 + a1 + a2 + a3);
        });

    public static float RefDot(float* x, float* w, int k)
    {
        double s = 0;
        for (int i = 0; i < k; i++) s += (double)x[i] * w[i];
        return (float)s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Tree(Vector512<float> v)
    {
        var h = v.GetLower() + v.GetUpper();
        var q = h.GetLower() + h.GetUpper();
        return (q.GetElement(0) + q.GetElement(2)) + (q.GetElement(1) + q.GetElement(3));
    }

    /// xs: per 32-block, 16 even then 16 odd elements; the tail (k % 32) copied as is.
    public static void SplitEvenOdd(float* x, int k, float* xs)
    {
        int i = 0;
        for (; i + 32 <= k; i += 32)
            for (int j = 0; j < 16; j++) { xs[i + j] = x[i + 2 * j]; xs[i + 16 + j] = x[i + 2 * j + 1]; }
        for (; i < k; i++) xs[i] = x[i];
    }

    public static void MatF32<TPf>(float* x, float* w, int k, int r0, int r1, float* y) where TPf : struct, IFlag
    {
        for (int j = r0; j + 4 <= r1; j += 4) Dot1x4F32<TPf>(x, w + (long)j * k, k, y + j);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot1x4F32<TPf>(float* x, float* w, int k, float* y) where TPf : struct, IFlag
    {
        float* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        int i = 0;
        for (; i <= k - 16; i += 16)
        {
            if (TPf.On && (i & 15) == 0)
            {
                Pf<TPf>(w + 4 * k + i); Pf<TPf>(w1 + 4 * k + i); Pf<TPf>(w2 + 4 * k + i); Pf<TPf>(w3 + 4 * k + i);
            }
            var xv = Vector512.Load(x + i);
            a0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w + i), a0);
            a1 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w1 + i), a1);
            a2 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w2 + i), a2);
            a3 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w3 + i), a3);
        }
        float s0 = Tree(a0), s1 = Tree(a1), s2 = Tree(a2), s3 = Tree(a3);
        for (; i < k; i++)
        {
            s0 = MathF.FusedMultiplyAdd(x[i], w[i], s0); s1 = MathF.FusedMultiplyAdd(x[i], w1[i], s1);
            s2 = MathF.FusedMultiplyAdd(x[i], w2[i], s2); s3 = MathF.FusedMultiplyAdd(x[i], w3[i], s3);
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }

    static float B(ushort b) => BitConverter.Int32BitsToSingle(b << 16);

    public static void MatZx(float* x, ushort* w, int k, int r0, int r1, float* y)
    {
        for (int j = r0; j + 4 <= r1; j += 4) Dot1x4Zx(x, w + (long)j * k, k, y + j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Zx(ushort* p) => Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot1x4Zx(float* x, ushort* w, int k, float* y)
    {
        ushort* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        int i = 0;
        for (; i <= k - 16; i += 16)
        {
            var xv = Vector512.Load(x + i);
            a0 = Vector512.FusedMultiplyAdd(xv, Zx(w + i), a0);
            a1 = Vector512.FusedMultiplyAdd(xv, Zx(w1 + i), a1);
            a2 = Vector512.FusedMultiplyAdd(xv, Zx(w2 + i), a2);
            a3 = Vector512.FusedMultiplyAdd(xv, Zx(w3 + i), a3);
        }
        Tail(x, w, k, i, y, Tree(a0), Tree(a1), Tree(a2), Tree(a3));
    }

    static void Tail(float* x, ushort* w, int k, int i, float* y, float s0, float s1, float s2, float s3)
    {
        ushort* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        for (; i < k; i++)
        {
            s0 = MathF.FusedMultiplyAdd(x[i], B(w[i]), s0); s1 = MathF.FusedMultiplyAdd(x[i], B(w1[i]), s1);
            s2 = MathF.FusedMultiplyAdd(x[i], B(w2[i]), s2); s3 = MathF.FusedMultiplyAdd(x[i], B(w3[i]), s3);
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }

    static readonly Vector512<ushort> s_lo = MakeIdx(0), s_hi = MakeIdx(16);
    static Vector512<ushort> MakeIdx(int start)
    {
        var a = new ushort[32];
        for (int p = 0; p < 32; p++) a[p] = (ushort)(p % 2 == 1 ? start + p / 2 : 32);
        return Vector512.Create(a);
    }

    public static void MatP2w<TPf>(float* x, ushort* w, int k, int r0, int r1, float* y) where TPf : struct, IFlag
    {
        for (int j = r0; j + 4 <= r1; j += 4) Dot1x4P2w<TPf>(x, w + (long)j * k, k, y + j);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot1x4P2w<TPf>(float* x, ushort* w, int k, float* y) where TPf : struct, IFlag
    {
        ushort* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        var lo = Vector512.Create(0x0000_0020u, 0x0001_0020, 0x0002_0020, 0x0003_0020, 0x0004_0020, 0x0005_0020, 0x0006_0020, 0x0007_0020,
                0x0008_0020, 0x0009_0020, 0x000A_0020, 0x000B_0020, 0x000C_0020, 0x000D_0020, 0x000E_0020, 0x000F_0020).AsUInt16();
        var hi = Vector512.Create(0x0010_0020u, 0x0011_0020, 0x0012_0020, 0x0013_0020, 0x0014_0020, 0x0015_0020, 0x0016_0020, 0x0017_0020,
                0x0018_0020, 0x0019_0020, 0x001A_0020, 0x001B_0020, 0x001C_0020, 0x001D_0020, 0x001E_0020, 0x001F_0020).AsUInt16();
        var z = Vector512<ushort>.Zero;
        int i = 0;
        for (; i <= k - 32; i += 32)
        {
            if (TPf.On)
            {
                int d = TPf.Ahead(k) + i; Pf<TPf>(w + d); Pf<TPf>(w1 + d); Pf<TPf>(w2 + d); Pf<TPf>(w3 + d);
            }
            var xa = Vector512.Load(x + i);
            var xb = Vector512.Load(x + i + 16);
            var v = Vector512.Load(w + i);
            a0 = Vector512.FusedMultiplyAdd(xa, Avx512BW.PermuteVar32x16x2(v, lo, z).AsSingle(), a0);
            a0 = Vector512.FusedMultiplyAdd(xb, Avx512BW.PermuteVar32x16x2(v, hi, z).AsSingle(), a0);
            v = Vector512.Load(w1 + i);
            a1 = Vector512.FusedMultiplyAdd(xa, Avx512BW.PermuteVar32x16x2(v, lo, z).AsSingle(), a1);
            a1 = Vector512.FusedMultiplyAdd(xb, Avx512BW.PermuteVar32x16x2(v, hi, z).AsSingle(), a1);
            v = Vector512.Load(w2 + i);
            a2 = Vector512.FusedMultiplyAdd(xa, Avx512BW.PermuteVar32x16x2(v, lo, z).AsSingle(), a2);
            a2 = Vector512.FusedMultiplyAdd(xb, Avx512BW.PermuteVar32x16x2(v, hi, z).AsSingle(), a2);
            v = Vector512.Load(w3 + i);
            a3 = Vector512.FusedMultiplyAdd(xa, Avx512BW.PermuteVar32x16x2(v, lo, z).AsSingle(), a3);
            a3 = Vector512.FusedMultiplyAdd(xb, Avx512BW.PermuteVar32x16x2(v, hi, z).AsSingle(), a3);
        }
        for (; i <= k - 16; i += 16)
        {
            var xv = Vector512.Load(x + i);
            a0 = Vector512.FusedMultiplyAdd(xv, Zx(w + i), a0);
            a1 = Vector512.FusedMultiplyAdd(xv, Zx(w1 + i), a1);
            a2 = Vector512.FusedMultiplyAdd(xv, Zx(w2 + i), a2);
            a3 = Vector512.FusedMultiplyAdd(xv, Zx(w3 + i), a3);
        }
        Tail(x, w, k, i, y, Tree(a0), Tree(a1), Tree(a2), Tree(a3));
    }

    static readonly Vector512<ulong> s_q = Vector512.Create(0UL, 4, 1, 5, 2, 6, 3, 7);

    public static void MatUnpk(float* x, ushort* w, int k, int r0, int r1, float* y)
    {
        for (int j = r0; j + 4 <= r1; j += 4) Dot1x4Unpk(x, w + (long)j * k, k, y + j);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot1x4Unpk(float* x, ushort* w, int k, float* y)
    {
        ushort* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        var q = s_q; var z = Vector512<ushort>.Zero;
        int i = 0;
        for (; i <= k - 32; i += 32)
        {
            var xa = Vector512.Load(x + i);
            var xb = Vector512.Load(x + i + 16);
            var v = Avx512F.PermuteVar8x64(Vector512.Load((ulong*)(w + i)), q).AsUInt16();
            a0 = Vector512.FusedMultiplyAdd(xa, Avx512BW.UnpackLow(z, v).AsSingle(), a0);
            a0 = Vector512.FusedMultiplyAdd(xb, Avx512BW.UnpackHigh(z, v).AsSingle(), a0);
            v = Avx512F.PermuteVar8x64(Vector512.Load((ulong*)(w1 + i)), q).AsUInt16();
            a1 = Vector512.FusedMultiplyAdd(xa, Avx512BW.UnpackLow(z, v).AsSingle(), a1);
            a1 = Vector512.FusedMultiplyAdd(xb, Avx512BW.UnpackHigh(z, v).AsSingle(), a1);
            v = Avx512F.PermuteVar8x64(Vector512.Load((ulong*)(w2 + i)), q).AsUInt16();
            a2 = Vector512.FusedMultiplyAdd(xa, Avx512BW.UnpackLow(z, v).AsSingle(), a2);
            a2 = Vector512.FusedMultiplyAdd(xb, Avx512BW.UnpackHigh(z, v).AsSingle(), a2);
            v = Avx512F.PermuteVar8x64(Vector512.Load((ulong*)(w3 + i)), q).AsUInt16();
            a3 = Vector512.FusedMultiplyAdd(xa, Avx512BW.UnpackLow(z, v).AsSingle(), a3);
            a3 = Vector512.FusedMultiplyAdd(xb, Avx512BW.UnpackHigh(z, v).AsSingle(), a3);
        }
        for (; i <= k - 16; i += 16)
        {
            var xv = Vector512.Load(x + i);
            a0 = Vector512.FusedMultiplyAdd(xv, Zx(w + i), a0);
            a1 = Vector512.FusedMultiplyAdd(xv, Zx(w1 + i), a1);
            a2 = Vector512.FusedMultiplyAdd(xv, Zx(w2 + i), a2);
            a3 = Vector512.FusedMultiplyAdd(xv, Zx(w3 + i), a3);
        }
        Tail(x, w, k, i, y, Tree(a0), Tree(a1), Tree(a2), Tree(a3));
    }

    public static void MatEo<TPf>(float* xs, ushort* w, int k, int r0, int r1, float* y) where TPf : struct, IFlag
    {
        for (int j = r0; j + 4 <= r1; j += 4) Dot1x4Eo<TPf>(xs, w + (long)j * k, k, y + j);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot1x4Eo<TPf>(float* xs, ushort* w, int k, float* y) where TPf : struct, IFlag
    {
        ushort* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        var e0 = Vector512<float>.Zero; var e1 = e0; var e2 = e0; var e3 = e0;
        var o0 = e0; var o1 = e0; var o2 = e0; var o3 = e0;
        var mask = Vector512.Create(0xFFFF0000u);
        int i = 0;
        for (; i <= k - 32; i += 32)
        {
            if (TPf.On)
            {
                Pf<TPf>(w + 4 * k + i); Pf<TPf>(w1 + 4 * k + i); Pf<TPf>(w2 + 4 * k + i); Pf<TPf>(w3 + 4 * k + i);
            }
            var xe = Vector512.Load(xs + i);
            var xo = Vector512.Load(xs + i + 16);
            var v = Vector512.Load((uint*)(w + i));
            e0 = Vector512.FusedMultiplyAdd(xe, (v << 16).AsSingle(), e0);
            o0 = Vector512.FusedMultiplyAdd(xo, (v & mask).AsSingle(), o0);
            v = Vector512.Load((uint*)(w1 + i));
            e1 = Vector512.FusedMultiplyAdd(xe, (v << 16).AsSingle(), e1);
            o1 = Vector512.FusedMultiplyAdd(xo, (v & mask).AsSingle(), o1);
            v = Vector512.Load((uint*)(w2 + i));
            e2 = Vector512.FusedMultiplyAdd(xe, (v << 16).AsSingle(), e2);
            o2 = Vector512.FusedMultiplyAdd(xo, (v & mask).AsSingle(), o2);
            v = Vector512.Load((uint*)(w3 + i));
            e3 = Vector512.FusedMultiplyAdd(xe, (v << 16).AsSingle(), e3);
            o3 = Vector512.FusedMultiplyAdd(xo, (v & mask).AsSingle(), o3);
        }
        Tail(xs, w, k, i, y, Tree(e0 + o0), Tree(e1 + o1), Tree(e2 + o2), Tree(e3 + o3));
    }

    static readonly Vector512<int> s_ev = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    static readonly Vector512<int> s_od = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);

    public static void MatF32Eo(float* xs, float* w, int k, int r0, int r1, float* y)
    {
        for (int j = r0; j + 4 <= r1; j += 4) Dot1x4F32Eo(xs, w + (long)j * k, k, y + j);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot1x4F32Eo(float* xs, float* w, int k, float* y)
    {
        float* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        var e0 = Vector512<float>.Zero; var e1 = e0; var e2 = e0; var e3 = e0;
        var o0 = e0; var o1 = e0; var o2 = e0; var o3 = e0;
        var ev = s_ev; var od = s_od;
        int i = 0;
        for (; i <= k - 32; i += 32)
        {
            var xe = Vector512.Load(xs + i);
            var xo = Vector512.Load(xs + i + 16);
            var a = Vector512.Load(w + i); var b = Vector512.Load(w + i + 16);
            e0 = Vector512.FusedMultiplyAdd(xe, Avx512F.PermuteVar16x32x2(a, ev, b), e0);
            o0 = Vector512.FusedMultiplyAdd(xo, Avx512F.PermuteVar16x32x2(a, od, b), o0);
            a = Vector512.Load(w1 + i); b = Vector512.Load(w1 + i + 16);
            e1 = Vector512.FusedMultiplyAdd(xe, Avx512F.PermuteVar16x32x2(a, ev, b), e1);
            o1 = Vector512.FusedMultiplyAdd(xo, Avx512F.PermuteVar16x32x2(a, od, b), o1);
            a = Vector512.Load(w2 + i); b = Vector512.Load(w2 + i + 16);
            e2 = Vector512.FusedMultiplyAdd(xe, Avx512F.PermuteVar16x32x2(a, ev, b), e2);
            o2 = Vector512.FusedMultiplyAdd(xo, Avx512F.PermuteVar16x32x2(a, od, b), o2);
            a = Vector512.Load(w3 + i); b = Vector512.Load(w3 + i + 16);
            e3 = Vector512.FusedMultiplyAdd(xe, Avx512F.PermuteVar16x32x2(a, ev, b), e3);
            o3 = Vector512.FusedMultiplyAdd(xo, Avx512F.PermuteVar16x32x2(a, od, b), o3);
        }
        float s0 = Tree(e0 + o0), s1 = Tree(e1 + o1), s2 = Tree(e2 + o2), s3 = Tree(e3 + o3);
        for (; i < k; i++)
        {
            s0 = MathF.FusedMultiplyAdd(xs[i], w[i], s0); s1 = MathF.FusedMultiplyAdd(xs[i], w1[i], s1);
            s2 = MathF.FusedMultiplyAdd(xs[i], w2[i], s2); s3 = MathF.FusedMultiplyAdd(xs[i], w3[i], s3);
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }
}

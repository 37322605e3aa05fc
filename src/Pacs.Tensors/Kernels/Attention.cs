using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Pacs.Tensors.Kernels;

/// <summary>
/// Scaled dot-product attention with grouped-query heads, computed in blocks of query rows so no [Tq, Tk] matrix is
/// stored: the forward keeps each row's logsumexp, the backward recomputes the probabilities.
/// Layouts: q, o [batch, tq, hq, hd]; k, v [batch, tk, hkv, hd] where tk is the key buffer's time capacity
/// (a KV cache may be longer than its filled part); logSumExp [batch, hq, tq].
/// Query row i of sequence b sits at absolute position queryOffsets[b] + i (0 when empty); it sees key j when
/// j &lt; keyLengths[b] (tk when empty) and, if causal, j &lt;= its position. Query head h uses kv head h / (hq / hkv).
/// A row that sees no key outputs zeros. Every output is reduced in a fixed order by one task (deterministic).
/// </summary>
public static class Attention
{
    public readonly record struct Dims(int Batch, int QueryLen, int KeyLen, int QueryHeads, int KvHeads, int HeadDim)
    {
        public void Check(string op)
        {
            if (Batch < 0 || QueryLen < 0 || KeyLen < 0 || HeadDim <= 0 || KvHeads <= 0 || QueryHeads <= 0 || QueryHeads % KvHeads != 0)
                throw new ArgumentException($"{op}: bad dimensions {this} (query heads must be a multiple of kv heads)");
        }

        public long QueryElements => (long)Batch * QueryLen * QueryHeads * HeadDim;

        public long KeyElements => (long)Batch * KeyLen * KvHeads * HeadDim;
    }

    /// <summary>Query rows handled together by the micro-kernels.</summary>
    private const int Rows = 4;

    /// <summary>Query rows per forward task.</summary>
    private const int QueryBlock = 64;

    /// <summary>Keys are padded to a multiple of this so score loops run on whole vectors.</summary>
    private const int KeyPad = 16;

    private static int PadKeys(int n) => (n + KeyPad - 1) / KeyPad * KeyPad;

    /// <summary>Number of keys query row i of sequence b sees.</summary>
    private static int VisibleKeys(in Dims d, int b, int i, bool causal, ReadOnlySpan<int> queryOffsets, ReadOnlySpan<int> keyLengths)
    {
        int n = keyLengths.IsEmpty ? d.KeyLen : Math.Min(keyLengths[b], d.KeyLen);
        if (causal) n = Math.Min(n, (queryOffsets.IsEmpty ? 0 : queryOffsets[b]) + i + 1);
        return Math.Max(n, 0);
    }

    private static void CheckArgs(string op, in Dims d, int qLen, int kLen, int vLen, int oLen, ReadOnlySpan<int> queryOffsets, ReadOnlySpan<int> keyLengths)
    {
        d.Check(op);
        if (qLen != d.QueryElements || oLen != d.QueryElements || kLen != d.KeyElements || vLen != d.KeyElements)
            throw new ArgumentException($"{op}: q {qLen}, k {kLen}, v {vLen}, out {oLen} elements do not fit {d}");
        if (!queryOffsets.IsEmpty && queryOffsets.Length != d.Batch) throw new ArgumentException($"{op}: {queryOffsets.Length} query offsets for batch {d.Batch}");
        if (!keyLengths.IsEmpty && keyLengths.Length != d.Batch) throw new ArgumentException($"{op}: {keyLengths.Length} key lengths for batch {d.Batch}");
    }

    /// <summary>dst[d * stride + j] = src[j * srcRow + d] for j &lt; n, zero for n &lt;= j &lt; nPad.</summary>
    private static unsafe void PackTransposed(float* src, long srcRow, int n, int nPad, int hd, float* dst, int stride)
    {
        for (int d = 0; d < hd; d++)
        {
            float* row = dst + (long)d * stride;
            for (int j = 0; j < n; j++) row[j] = src[j * srcRow + d];
            for (int j = n; j < nPad; j++) row[j] = 0f;
        }
    }

    /// <summary>dst[j * hd + d] = src[j * srcRow + d] for j &lt; n, zero rows for n &lt;= j &lt; nPad.</summary>
    private static unsafe void PackRows(float* src, long srcRow, int n, int nPad, int hd, float* dst)
    {
        for (int j = 0; j < n; j++) new ReadOnlySpan<float>(src + j * srcRow, hd).CopyTo(new Span<float>(dst + (long)j * hd, hd));
        new Span<float>(dst + (long)n * hd, (nPad - n) * hd).Clear();
    }

    /// <summary>s_r[j] = scale * sum_d x_r[d] * kT[d * stride + j] for 4 rows and j &lt; nPad (a multiple of 16).</summary>
    private static unsafe void Scores(float* x0, float* x1, float* x2, float* x3, float* kT, int stride, int nPad, int hd, float scale,
        float* s0, float* s1, float* s2, float* s3)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vs = Vector512.Create(scale);
            for (; j < nPad; j += 16)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* kp = kT + j;
                for (int d = 0; d < hd; d++, kp += stride)
                {
                    var kv = Vector512.Load(kp);
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Create(x0[d]), kv, a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Create(x1[d]), kv, a1);
                    a2 = Vector512.FusedMultiplyAdd(Vector512.Create(x2[d]), kv, a2);
                    a3 = Vector512.FusedMultiplyAdd(Vector512.Create(x3[d]), kv, a3);
                }
                (a0 * vs).Store(s0 + j);
                (a1 * vs).Store(s1 + j);
                (a2 * vs).Store(s2 + j);
                (a3 * vs).Store(s3 + j);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(scale);
            for (; j < nPad; j += 8)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* kp = kT + j;
                for (int d = 0; d < hd; d++, kp += stride)
                {
                    var kv = Vector256.Load(kp);
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(x0[d]), kv, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Create(x1[d]), kv, a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.Create(x2[d]), kv, a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.Create(x3[d]), kv, a3);
                }
                (a0 * vs).Store(s0 + j);
                (a1 * vs).Store(s1 + j);
                (a2 * vs).Store(s2 + j);
                (a3 * vs).Store(s3 + j);
            }
        }
        for (; j < nPad; j++)
        {
            float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            for (int d = 0; d < hd; d++)
            {
                float kv = kT[(long)d * stride + j];
                a0 = MathF.FusedMultiplyAdd(x0[d], kv, a0);
                a1 = MathF.FusedMultiplyAdd(x1[d], kv, a1);
                a2 = MathF.FusedMultiplyAdd(x2[d], kv, a2);
                a3 = MathF.FusedMultiplyAdd(x3[d], kv, a3);
            }
            s0[j] = a0 * scale; s1[j] = a1 * scale; s2[j] = a2 * scale; s3[j] = a3 * scale;
        }
    }

    /// <summary>o_r[d] (+)= sum_{j &lt; n} p_r[j] * rows[j * hd + d] for 4 rows; accumulate adds into o_r.</summary>
    private static unsafe void WeightedRows(float* p0, float* p1, float* p2, float* p3, float* rows, int n, int hd,
        float* o0, float* o1, float* o2, float* o3, bool accumulate)
    {
        int d = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; d <= hd - 16; d += 16)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* vp = rows + d;
                for (int j = 0; j < n; j++, vp += hd)
                {
                    var v = Vector512.Load(vp);
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Create(p0[j]), v, a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Create(p1[j]), v, a1);
                    a2 = Vector512.FusedMultiplyAdd(Vector512.Create(p2[j]), v, a2);
                    a3 = Vector512.FusedMultiplyAdd(Vector512.Create(p3[j]), v, a3);
                }
                if (accumulate) { a0 += Vector512.Load(o0 + d); a1 += Vector512.Load(o1 + d); a2 += Vector512.Load(o2 + d); a3 += Vector512.Load(o3 + d); }
                a0.Store(o0 + d); a1.Store(o1 + d); a2.Store(o2 + d); a3.Store(o3 + d);
            }
        if (Vector256.IsHardwareAccelerated)
            for (; d <= hd - 8; d += 8)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* vp = rows + d;
                for (int j = 0; j < n; j++, vp += hd)
                {
                    var v = Vector256.Load(vp);
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(p0[j]), v, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Create(p1[j]), v, a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.Create(p2[j]), v, a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.Create(p3[j]), v, a3);
                }
                if (accumulate) { a0 += Vector256.Load(o0 + d); a1 += Vector256.Load(o1 + d); a2 += Vector256.Load(o2 + d); a3 += Vector256.Load(o3 + d); }
                a0.Store(o0 + d); a1.Store(o1 + d); a2.Store(o2 + d); a3.Store(o3 + d);
            }
        for (; d < hd; d++)
        {
            float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            for (int j = 0; j < n; j++)
            {
                float v = rows[(long)j * hd + d];
                a0 = MathF.FusedMultiplyAdd(p0[j], v, a0);
                a1 = MathF.FusedMultiplyAdd(p1[j], v, a1);
                a2 = MathF.FusedMultiplyAdd(p2[j], v, a2);
                a3 = MathF.FusedMultiplyAdd(p3[j], v, a3);
            }
            if (accumulate) { o0[d] += a0; o1[d] += a1; o2[d] += a2; o3[d] += a3; }
            else { o0[d] = a0; o1[d] = a1; o2[d] = a2; o3[d] = a3; }
        }
    }

    /// <summary>acc[j * hd + d] += sum_r w_r[j] * x_r[d] for j &lt; n (rank-4 update of key-row gradients).</summary>
    private static unsafe void OuterAccumulate(float* w0, float* w1, float* w2, float* w3, float* x0, float* x1, float* x2, float* x3,
        int n, int hd, float* acc)
    {
        for (int j = 0; j < n; j++)
        {
            float c0 = w0[j], c1 = w1[j], c2 = w2[j], c3 = w3[j];
            float* row = acc + (long)j * hd;
            int d = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; d <= hd - 16; d += 16)
                {
                    var a = Vector512.Load(row + d);
                    a = Vector512.FusedMultiplyAdd(Vector512.Create(c0), Vector512.Load(x0 + d), a);
                    a = Vector512.FusedMultiplyAdd(Vector512.Create(c1), Vector512.Load(x1 + d), a);
                    a = Vector512.FusedMultiplyAdd(Vector512.Create(c2), Vector512.Load(x2 + d), a);
                    a = Vector512.FusedMultiplyAdd(Vector512.Create(c3), Vector512.Load(x3 + d), a);
                    a.Store(row + d);
                }
            if (Vector256.IsHardwareAccelerated)
                for (; d <= hd - 8; d += 8)
                {
                    var a = Vector256.Load(row + d);
                    a = Vector256.FusedMultiplyAdd(Vector256.Create(c0), Vector256.Load(x0 + d), a);
                    a = Vector256.FusedMultiplyAdd(Vector256.Create(c1), Vector256.Load(x1 + d), a);
                    a = Vector256.FusedMultiplyAdd(Vector256.Create(c2), Vector256.Load(x2 + d), a);
                    a = Vector256.FusedMultiplyAdd(Vector256.Create(c3), Vector256.Load(x3 + d), a);
                    a.Store(row + d);
                }
            for (; d < hd; d++)
            {
                float a = row[d];
                a = MathF.FusedMultiplyAdd(c0, x0[d], a);
                a = MathF.FusedMultiplyAdd(c1, x1[d], a);
                a = MathF.FusedMultiplyAdd(c2, x2[d], a);
                a = MathF.FusedMultiplyAdd(c3, x3[d], a);
                row[d] = a;
            }
        }
    }

    /// <summary>o = softmax(q k^T / sqrt(hd) + mask) v; logSumExp (optional, [batch, hq, tq]) keeps each row's normaliser.</summary>
    public static unsafe void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> o, Dims d,
        bool causal = true, ReadOnlySpan<int> queryOffsets = default, ReadOnlySpan<int> keyLengths = default, Span<float> logSumExp = default)
    {
        CheckArgs("Attention", d, q.Length, k.Length, v.Length, o.Length, queryOffsets, keyLengths);
        if (!logSumExp.IsEmpty && logSumExp.Length != (long)d.Batch * d.QueryHeads * d.QueryLen)
            throw new ArgumentException($"Attention: logSumExp has {logSumExp.Length} elements, expected [{d.Batch}, {d.QueryHeads}, {d.QueryLen}]");
        if (d.QueryElements == 0) return;
        int[]? offsetsCopy = queryOffsets.IsEmpty ? null : queryOffsets.ToArray();
        int[]? lengthsCopy = keyLengths.IsEmpty ? null : keyLengths.ToArray();
        fixed (float* qp0 = q, kp0 = k, vp0 = v, op0 = o, lp0 = logSumExp)
        {
            float* qp = qp0, kp = kp0, vp = vp0, opp = op0, lp = lp0;
            bool keepLse = !logSumExp.IsEmpty;
            int hd = d.HeadDim, group = d.QueryHeads / d.KvHeads;
            long qRow = (long)d.QueryHeads * hd, kRow = (long)d.KvHeads * hd;
            float scale = 1f / MathF.Sqrt(hd);
            var dims = d;
            int blocks = (d.QueryLen + QueryBlock - 1) / QueryBlock;
            long work = 2L * group * Math.Min(QueryBlock, d.QueryLen) * Math.Max(1, causal && d.QueryLen > 1 ? d.KeyLen / 2 : d.KeyLen) * hd;
            RowParallel.For(d.Batch * d.KvHeads * blocks, work, task =>
            {
                int blk = task % blocks, bk = task / blocks, b = bk / dims.KvHeads, kvh = bk % dims.KvHeads;
                var offs = offsetsCopy is null ? default : new ReadOnlySpan<int>(offsetsCopy);
                var lens = lengthsCopy is null ? default : new ReadOnlySpan<int>(lengthsCopy);
                int i0 = blk * QueryBlock, i1 = Math.Min(dims.QueryLen, i0 + QueryBlock);
                int nMax = 0;
                for (int i = i0; i < i1; i++) nMax = Math.Max(nMax, VisibleKeys(dims, b, i, causal, offs, lens));
                int stride = Math.Max(KeyPad, PadKeys(nMax));
                float[] buffer = ArrayPool<float>.Shared.Rent(2 * stride * hd + (Rows + 1) * stride + Rows * hd);
                fixed (float* buf = buffer)
                {
                    float* kT = buf, vRows = buf + (long)stride * hd, s = vRows + (long)stride * hd, oTmp = s + (long)(Rows + 1) * stride;
                    long kvBase = (long)b * dims.KeyLen * kRow + (long)kvh * hd;
                    PackTransposed(kp + kvBase, kRow, nMax, stride, hd, kT, stride);
                    PackRows(vp + kvBase, kRow, nMax, stride, hd, vRows);
                    Span<int> n = stackalloc int[Rows];
                    var xs = stackalloc float*[Rows];
                    var ss = stackalloc float*[Rows];
                    var os = stackalloc float*[Rows];
                    Span<float> sums = stackalloc float[Rows];
                    for (int h = kvh * group; h < (kvh + 1) * group; h++)
                        for (int r0 = i0; r0 < i1; r0 += Rows)
                        {
                            int rows = Math.Min(Rows, i1 - r0), nb = 0;
                            for (int r = 0; r < Rows; r++)
                            {
                                bool real = r < rows;
                                long qOff = ((long)b * dims.QueryLen + (real ? r0 + r : r0)) * qRow + (long)h * hd;
                                xs[r] = qp + qOff;
                                ss[r] = real ? s + (long)r * stride : s + (long)Rows * stride;
                                os[r] = real ? opp + qOff : oTmp + (long)r * hd;
                                n[r] = real ? VisibleKeys(dims, b, r0 + r, causal, offs, lens) : 0;
                                nb = Math.Max(nb, n[r]);
                            }
                            int nbPad = PadKeys(nb);
                            if (nb > 0) Scores(xs[0], xs[1], xs[2], xs[3], kT, stride, nbPad, hd, scale, ss[0], ss[1], ss[2], ss[3]);
                            for (int r = 0; r < Rows; r++)
                            {
                                var row = new Span<float>(ss[r], nbPad);
                                float lse = float.NegativeInfinity;
                                sums[r] = 0;
                                if (n[r] > 0)
                                {
                                    var live = row[..n[r]];
                                    float max = TensorPrimitives.Max(live);
                                    TensorPrimitives.Subtract(live, max, live);
                                    TensorPrimitives.Exp(live, live);
                                    sums[r] = TensorPrimitives.Sum(live);
                                    lse = max + MathF.Log(sums[r]);
                                }
                                row[n[r]..].Clear();
                                if (keepLse && r < rows) lp[((long)b * dims.QueryHeads + h) * dims.QueryLen + r0 + r] = lse;
                            }
                            WeightedRows(ss[0], ss[1], ss[2], ss[3], vRows, nb, hd, os[0], os[1], os[2], os[3], accumulate: false);
                            for (int r = 0; r < rows; r++)
                            {
                                var orow = new Span<float>(os[r], hd);
                                if (sums[r] > 0) TensorPrimitives.Multiply(orow, 1f / sums[r], orow);
                            }
                        }
                }
                ArrayPool<float>.Shared.Return(buffer);
            });
        }
    }

    /// <summary>
    /// One decoding step against a KV cache: q, o [batch, hq, hd] hold each sequence's newest token, kCache and
    /// vCache [batch, capacity, hkv, hd] hold its first cacheLengths[b] tokens (the newest included, at position
    /// cacheLengths[b] - 1). Each query attends to its own sequence's filled cache rows.
    /// </summary>
    public static void DecodeStep(ReadOnlySpan<float> q, ReadOnlySpan<float> kCache, ReadOnlySpan<float> vCache, ReadOnlySpan<int> cacheLengths,
        int capacity, int queryHeads, int kvHeads, int headDim, Span<float> o)
    {
        Span<int> offsets = cacheLengths.Length <= 256 ? stackalloc int[cacheLengths.Length] : new int[cacheLengths.Length];
        for (int b = 0; b < cacheLengths.Length; b++)
        {
            if (cacheLengths[b] < 1 || cacheLengths[b] > capacity)
                throw new ArgumentException($"Attention.DecodeStep: cache length {cacheLengths[b]} of sequence {b} is outside [1, {capacity}]");
            offsets[b] = cacheLengths[b] - 1;
        }
        Forward(q, kCache, vCache, o, new Dims(cacheLengths.Length, 1, capacity, queryHeads, kvHeads, headDim),
            causal: true, queryOffsets: offsets, keyLengths: cacheLengths);
    }

    /// <summary>
    /// Adds the gradients of the forward above into dq, dk, dv (any may be empty to skip it), given the forward's
    /// output o and logSumExp and the upstream gradient dO. Parallel over (sequence, kv head): each task owns its
    /// dk/dv rows and the dq rows of its query heads, and sums in a fixed order.
    /// </summary>
    public static unsafe void Backward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> o,
        ReadOnlySpan<float> logSumExp, ReadOnlySpan<float> dO, Span<float> dq, Span<float> dk, Span<float> dv, Dims d,
        bool causal = true, ReadOnlySpan<int> queryOffsets = default, ReadOnlySpan<int> keyLengths = default)
    {
        CheckArgs("AttentionBackward", d, q.Length, k.Length, v.Length, o.Length, queryOffsets, keyLengths);
        if (dO.Length != o.Length || logSumExp.Length != (long)d.Batch * d.QueryHeads * d.QueryLen
            || (!dq.IsEmpty && dq.Length != q.Length) || (!dk.IsEmpty && dk.Length != k.Length) || (!dv.IsEmpty && dv.Length != v.Length))
            throw new ArgumentException($"AttentionBackward: dO {dO.Length}, logSumExp {logSumExp.Length}, dq {dq.Length}, dk {dk.Length}, dv {dv.Length} elements do not fit {d}");
        if (d.QueryElements == 0) return;
        int[]? offsetsCopy = queryOffsets.IsEmpty ? null : queryOffsets.ToArray();
        int[]? lengthsCopy = keyLengths.IsEmpty ? null : keyLengths.ToArray();
        fixed (float* qp0 = q, kp0 = k, vp0 = v, op0 = o, lp0 = logSumExp, gp0 = dO, dqp0 = dq, dkp0 = dk, dvp0 = dv)
        {
            float* qp = qp0, kp = kp0, vp = vp0, opp = op0, lp = lp0, gp = gp0, dqp = dqp0, dkp = dkp0, dvp = dvp0;
            bool wantQ = !dq.IsEmpty, wantK = !dk.IsEmpty, wantV = !dv.IsEmpty;
            int hd = d.HeadDim, group = d.QueryHeads / d.KvHeads;
            long qRow = (long)d.QueryHeads * hd, kRow = (long)d.KvHeads * hd;
            float scale = 1f / MathF.Sqrt(hd);
            var dims = d;
            long work = 5L * group * d.QueryLen * Math.Max(1, causal && d.QueryLen > 1 ? d.KeyLen / 2 : d.KeyLen) * hd;
            RowParallel.For(d.Batch * d.KvHeads, work, task =>
            {
                int b = task / dims.KvHeads, kvh = task % dims.KvHeads;
                var offs = offsetsCopy is null ? default : new ReadOnlySpan<int>(offsetsCopy);
                var lens = lengthsCopy is null ? default : new ReadOnlySpan<int>(lengthsCopy);
                int nMax = 0;
                for (int i = 0; i < dims.QueryLen; i++) nMax = Math.Max(nMax, VisibleKeys(dims, b, i, causal, offs, lens));
                if (nMax == 0) return;
                int stride = PadKeys(nMax);
                long sz = (long)stride * hd;
                float[] buffer = ArrayPool<float>.Shared.Rent((int)(5 * sz + 2 * (Rows + 1) * stride + Rows * hd));
                fixed (float* buf = buffer)
                {
                    float* kT = buf, vT = buf + sz, kRows = buf + 2 * sz, dkAcc = buf + 3 * sz, dvAcc = buf + 4 * sz;
                    float* pBuf = buf + 5 * sz, dsBuf = pBuf + (long)(Rows + 1) * stride, dqTmp = dsBuf + (long)(Rows + 1) * stride;
                    long kvBase = (long)b * dims.KeyLen * kRow + (long)kvh * hd;
                    PackTransposed(kp + kvBase, kRow, nMax, stride, hd, kT, stride);
                    PackTransposed(vp + kvBase, kRow, nMax, stride, hd, vT, stride);
                    PackRows(kp + kvBase, kRow, nMax, stride, hd, kRows);
                    new Span<float>(dkAcc, (int)(2 * sz)).Clear();
                    var xs = stackalloc float*[Rows];
                    var gs = stackalloc float*[Rows];
                    var ps = stackalloc float*[Rows];
                    var ds = stackalloc float*[Rows];
                    var dqs = stackalloc float*[Rows];
                    Span<int> n = stackalloc int[Rows];
                    for (int h = kvh * group; h < (kvh + 1) * group; h++)
                        for (int r0 = 0; r0 < dims.QueryLen; r0 += Rows)
                        {
                            int rows = Math.Min(Rows, dims.QueryLen - r0), nb = 0;
                            for (int r = 0; r < Rows; r++)
                            {
                                bool real = r < rows;
                                long qOff = ((long)b * dims.QueryLen + (real ? r0 + r : r0)) * qRow + (long)h * hd;
                                n[r] = real ? VisibleKeys(dims, b, r0 + r, causal, offs, lens) : 0;
                                xs[r] = qp + qOff;
                                gs[r] = gp + qOff;
                                ps[r] = n[r] > 0 ? pBuf + (long)r * stride : pBuf + (long)Rows * stride;
                                ds[r] = n[r] > 0 ? dsBuf + (long)r * stride : dsBuf + (long)Rows * stride;
                                dqs[r] = real && wantQ ? dqp + qOff : dqTmp + (long)r * hd;
                                nb = Math.Max(nb, n[r]);
                            }
                            if (nb == 0) continue;
                            int nbPad = PadKeys(nb);
                            Scores(xs[0], xs[1], xs[2], xs[3], kT, stride, nbPad, hd, scale, ps[0], ps[1], ps[2], ps[3]);
                            Scores(gs[0], gs[1], gs[2], gs[3], vT, stride, nbPad, hd, 1f, ds[0], ds[1], ds[2], ds[3]);
                            for (int r = 0; r < Rows; r++)
                            {
                                var p = new Span<float>(ps[r], nbPad);
                                var dsr = new Span<float>(ds[r], nbPad);
                                if (n[r] == 0) { p.Clear(); dsr.Clear(); continue; }
                                float lse = lp[((long)b * dims.QueryHeads + h) * dims.QueryLen + r0 + r];
                                var live = p[..n[r]];
                                TensorPrimitives.Subtract(live, lse, live);
                                TensorPrimitives.Exp(live, live);
                                p[n[r]..].Clear();
                                // dS = p * (dP - rowDot) * scale, rowDot = dO . O
                                float rowDot = TensorPrimitives.Dot(new ReadOnlySpan<float>(gs[r], hd), new ReadOnlySpan<float>(opp + (xs[r] - qp), hd));
                                TensorPrimitives.Subtract(dsr, rowDot, dsr);
                                TensorPrimitives.Multiply(dsr, p, dsr);
                                TensorPrimitives.Multiply(dsr, scale, dsr);
                            }
                            if (wantQ) WeightedRows(ds[0], ds[1], ds[2], ds[3], kRows, nb, hd, dqs[0], dqs[1], dqs[2], dqs[3], accumulate: true);
                            if (wantK) OuterAccumulate(ds[0], ds[1], ds[2], ds[3], xs[0], xs[1], xs[2], xs[3], nb, hd, dkAcc);
                            if (wantV) OuterAccumulate(ps[0], ps[1], ps[2], ps[3], gs[0], gs[1], gs[2], gs[3], nb, hd, dvAcc);
                        }
                    for (int j = 0; j < nMax; j++)
                    {
                        if (wantK) Simd.AddInPlace(new Span<float>(dkp + kvBase + j * kRow, hd), new ReadOnlySpan<float>(dkAcc + (long)j * hd, hd));
                        if (wantV) Simd.AddInPlace(new Span<float>(dvp + kvBase + j * kRow, hd), new ReadOnlySpan<float>(dvAcc + (long)j * hd, hd));
                    }
                }
                ArrayPool<float>.Shared.Return(buffer);
            });
        }
    }
}

using System.Buffers;
using System.Numerics.Tensors;

namespace Pacs.Tensors.Kernels;

/// <summary>
/// Scaled dot-product attention with grouped-query heads, computed row by row so no [Tq, Tk] matrix is stored:
/// the forward keeps one row of scores at a time plus each row's logsumexp, the backward recomputes probabilities.
/// Layouts: q, o [batch, tq, hq, hd]; k, v [batch, tk, hkv, hd] where tk is the key buffer's time capacity
/// (a KV cache may be longer than the filled part); logSumExp [batch, hq, tq].
/// Query row i of sequence b sits at absolute position queryOffsets[b] + i (0 when null); it sees key j when
/// j &lt; keyLengths[b] (tk when null) and, if causal, j &lt;= its position. Query head h uses kv head h / (hq / hkv).
/// A row that sees no key outputs zeros.
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

    /// <summary>o = softmax(q k^T / sqrt(hd) + mask) v; logSumExp (optional, [batch, hq, tq]) keeps each row's normaliser.</summary>
    public static unsafe void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> o, Dims d,
        bool causal = true, ReadOnlySpan<int> queryOffsets = default, ReadOnlySpan<int> keyLengths = default, Span<float> logSumExp = default)
    {
        CheckArgs("Attention", d, q.Length, k.Length, v.Length, o.Length, queryOffsets, keyLengths);
        if (!logSumExp.IsEmpty && logSumExp.Length != (long)d.Batch * d.QueryHeads * d.QueryLen)
            throw new ArgumentException($"Attention: logSumExp has {logSumExp.Length} elements, expected [{d.Batch}, {d.QueryHeads}, {d.QueryLen}]");
        fixed (float* qp0 = q, kp0 = k, vp0 = v, op0 = o, lp0 = logSumExp)
        fixed (int* offp0 = queryOffsets, lenp0 = keyLengths)
        {
            float* qp = qp0, kp = kp0, vp = vp0, opp = op0, lp = lp0;
            int* offp = offp0, lenp = lenp0;
            bool hasOff = !queryOffsets.IsEmpty, hasLen = !keyLengths.IsEmpty, keepLse = !logSumExp.IsEmpty;
            int hd = d.HeadDim, group = d.QueryHeads / d.KvHeads;
            long qRow = (long)d.QueryHeads * hd, kRow = (long)d.KvHeads * hd;
            float scale = 1f / MathF.Sqrt(hd);
            var dims = d;
            RowParallel.For(d.Batch * d.QueryHeads, 2L * d.QueryLen * Math.Max(1, causal ? d.KeyLen / 2 : d.KeyLen) * hd, task =>
            {
                int b = task / dims.QueryHeads, h = task % dims.QueryHeads, kvh = h / group;
                var offs = hasOff ? new ReadOnlySpan<int>(offp, dims.Batch) : default;
                var lens = hasLen ? new ReadOnlySpan<int>(lenp, dims.Batch) : default;
                float[] scores = ArrayPool<float>.Shared.Rent(Math.Max(1, dims.KeyLen));
                float* kBase = kp + (long)b * dims.KeyLen * kRow + (long)kvh * hd;
                float* vBase = vp + (long)b * dims.KeyLen * kRow + (long)kvh * hd;
                for (int i = 0; i < dims.QueryLen; i++)
                {
                    long qOff = ((long)b * dims.QueryLen + i) * qRow + (long)h * hd;
                    var qi = new ReadOnlySpan<float>(qp + qOff, hd);
                    var oi = new Span<float>(opp + qOff, hd);
                    oi.Clear();
                    int n = VisibleKeys(dims, b, i, causal, offs, lens);
                    float lse = float.NegativeInfinity;
                    if (n > 0)
                    {
                        var s = scores.AsSpan(0, n);
                        for (int j = 0; j < n; j++) s[j] = TensorPrimitives.Dot(qi, new ReadOnlySpan<float>(kBase + j * kRow, hd)) * scale;
                        float max = TensorPrimitives.Max(s);
                        TensorPrimitives.Subtract(s, max, s);
                        TensorPrimitives.Exp(s, s);
                        float sum = TensorPrimitives.Sum(s);
                        for (int j = 0; j < n; j++) Simd.Axpy(s[j], new ReadOnlySpan<float>(vBase + j * kRow, hd), oi);
                        TensorPrimitives.Multiply(oi, 1f / sum, oi);
                        lse = max + MathF.Log(sum);
                    }
                    if (keepLse) lp[((long)b * dims.QueryHeads + h) * dims.QueryLen + i] = lse;
                }
                ArrayPool<float>.Shared.Return(scores);
            });
        }
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
        fixed (float* qp0 = q, kp0 = k, vp0 = v, op0 = o, lp0 = logSumExp, gp0 = dO, dqp0 = dq, dkp0 = dk, dvp0 = dv)
        fixed (int* offp0 = queryOffsets, lenp0 = keyLengths)
        {
            float* qp = qp0, kp = kp0, vp = vp0, opp = op0, lp = lp0, gp = gp0, dqp = dqp0, dkp = dkp0, dvp = dvp0;
            int* offp = offp0, lenp = lenp0;
            bool hasOff = !queryOffsets.IsEmpty, hasLen = !keyLengths.IsEmpty;
            bool wantQ = !dq.IsEmpty, wantK = !dk.IsEmpty, wantV = !dv.IsEmpty;
            int hd = d.HeadDim, group = d.QueryHeads / d.KvHeads;
            long qRow = (long)d.QueryHeads * hd, kRow = (long)d.KvHeads * hd;
            float scale = 1f / MathF.Sqrt(hd);
            var dims = d;
            RowParallel.For(d.Batch * d.KvHeads, 5L * group * d.QueryLen * Math.Max(1, causal ? d.KeyLen / 2 : d.KeyLen) * hd, task =>
            {
                int b = task / dims.KvHeads, kvh = task % dims.KvHeads;
                var offs = hasOff ? new ReadOnlySpan<int>(offp, dims.Batch) : default;
                var lens = hasLen ? new ReadOnlySpan<int>(lenp, dims.Batch) : default;
                float[] probs = ArrayPool<float>.Shared.Rent(Math.Max(1, dims.KeyLen));
                float[] dScores = ArrayPool<float>.Shared.Rent(Math.Max(1, dims.KeyLen));
                long kOff = (long)b * dims.KeyLen * kRow + (long)kvh * hd;
                for (int h = kvh * group; h < (kvh + 1) * group; h++)
                    for (int i = 0; i < dims.QueryLen; i++)
                    {
                        int n = VisibleKeys(dims, b, i, causal, offs, lens);
                        if (n == 0) continue;
                        long qOff = ((long)b * dims.QueryLen + i) * qRow + (long)h * hd;
                        var qi = new ReadOnlySpan<float>(qp + qOff, hd);
                        var gi = new ReadOnlySpan<float>(gp + qOff, hd);
                        float lse = lp[((long)b * dims.QueryHeads + h) * dims.QueryLen + i];
                        float rowDot = TensorPrimitives.Dot(gi, new ReadOnlySpan<float>(opp + qOff, hd));
                        var p = probs.AsSpan(0, n);
                        var ds = dScores.AsSpan(0, n);
                        for (int j = 0; j < n; j++)
                        {
                            p[j] = TensorPrimitives.Dot(qi, new ReadOnlySpan<float>(kp + kOff + j * kRow, hd)) * scale - lse;
                            ds[j] = TensorPrimitives.Dot(gi, new ReadOnlySpan<float>(vp + kOff + j * kRow, hd));
                        }
                        TensorPrimitives.Exp(p, p);
                        // dS = p * (dP - rowDot), times the score scale.
                        TensorPrimitives.Subtract(ds, rowDot, ds);
                        TensorPrimitives.Multiply(ds, p, ds);
                        TensorPrimitives.Multiply(ds, scale, ds);
                        if (wantQ)
                        {
                            var dqi = new Span<float>(dqp + qOff, hd);
                            for (int j = 0; j < n; j++) Simd.Axpy(ds[j], new ReadOnlySpan<float>(kp + kOff + j * kRow, hd), dqi);
                        }
                        if (wantK)
                            for (int j = 0; j < n; j++) Simd.Axpy(ds[j], qi, new Span<float>(dkp + kOff + j * kRow, hd));
                        if (wantV)
                            for (int j = 0; j < n; j++) Simd.Axpy(p[j], gi, new Span<float>(dvp + kOff + j * kRow, hd));
                    }
                ArrayPool<float>.Shared.Return(probs);
                ArrayPool<float>.Shared.Return(dScores);
            });
        }
    }
}

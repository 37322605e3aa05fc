using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Pacs.Tensors;
using Tensor = Pacs.Tensors.Tensor;
using Pacs.Tensors.Kernels;
using RopeTable = Pacs.Tensors.Kernels.RopeTable;

namespace Pacs.Models;

public sealed unsafe partial class Generator
{
    // KV cache, one pair of arrays per layer, each of (tokens of all sequences) * Hkv*hd floats. Sequence s owns the
    // block starting at CacheOffset * Hkv*hd, head-major: each KV head's Stride * hd floats are contiguous, so
    // attention streams them in order. V is stored [Hkv, Stride, hd]; K as [Hkv, Stride / 16, hd, 16] (blocks of 16
    // positions, transposed), so the scores of one query against 16 keys are one vector of fused multiply-adds.
    // Stride is the capacity rounded up to whole blocks, and the arrays start zeroed, so reading the whole block that
    // holds the last key stays inside the sequence's block and reads finite values.
    private AlignedBuffer[] _kCache = [];
    private AlignedBuffer[] _vCache = [];
    private long _cacheTokens;

    // Step activations, grown to the largest step seen. Aligned to cache lines: with the kernels' work items of 16 or
    // 32 columns and row lengths that are multiples of 16 floats (bench-tiny's, Qwen's), two threads never write the
    // same line of an output row (that false sharing cost about 5%).
    private int _rowCapacity;
    private AlignedBuffer _x = AlignedBuffer.Empty, _h = AlignedBuffer.Empty, _q = AlignedBuffer.Empty, _k = AlignedBuffer.Empty;
    private AlignedBuffer _v = AlignedBuffer.Empty, _att = AlignedBuffer.Empty, _gate = AlignedBuffer.Empty, _up = AlignedBuffer.Empty;
    private int _sampleCapacity;
    private AlignedBuffer _hs = AlignedBuffer.Empty, _logits = AlignedBuffer.Empty;

    /// <summary>Attention scores of one (row, KV head).</summary>
    [ThreadStatic] private static AlignedBuffer? t_scores;

    private void EnsureCache(long tokens)
    {
        if (tokens <= _cacheTokens && _kCache.Length == _c.NumHiddenLayers) return;
        long kvDim = (long)_c.NumKeyValueHeads * _c.HeadDim;
        if (tokens * kvDim > Array.MaxLength)
            throw new ArgumentException($"generation: {tokens} cached tokens x {kvDim} KV values per layer exceed one array; generate in smaller batches");
        _kCache = [];
        _vCache = [];
        _kCache = new AlignedBuffer[_c.NumHiddenLayers];
        _vCache = new AlignedBuffer[_c.NumHiddenLayers];
        for (int l = 0; l < _c.NumHiddenLayers; l++)
        {
            _kCache[l] = new AlignedBuffer(tokens * kvDim, zeroed: true);
            _vCache[l] = new AlignedBuffer(tokens * kvDim, zeroed: true);
        }
        _cacheTokens = tokens;
    }

    /// <summary>
    /// Drops the KV cache and the step buffers, which otherwise stay allocated for the next call (the next Generate
    /// allocates them again, at its own size): a trainer's rollout engine calls it after sampling, so the cache of a
    /// whole batch of sequences does not stay resident through the update. Not while a live batch holds sequences.
    /// </summary>
    /// <returns>The bytes dropped (garbage for the next full collection).</returns>
    public long ReleaseBuffers()
    {
        if (LiveCount > 0) throw new InvalidOperationException($"ReleaseBuffers: {LiveCount} live sequences still use the cache");
        long floats = _kCache.Concat(_vCache).Concat([_x, _h, _q, _k, _v, _att, _gate, _up, _hs, _logits, _loraT]).Sum(b => b.Length);
        _freeCache.Clear();
        _kCache = [];
        _vCache = [];
        _cacheTokens = 0;
        _x = _h = _q = _k = _v = _att = _gate = _up = _hs = _logits = _loraT = AlignedBuffer.Empty;
        _rowCapacity = _sampleCapacity = _loraTCapacity = 0;
        return 4 * floats;
    }

    private void EnsureRows(int rows, int samples)
    {
        int d = _c.HiddenSize, qDim = _c.NumAttentionHeads * _c.HeadDim, kvDim = _c.NumKeyValueHeads * _c.HeadDim;
        if (rows > _rowCapacity)
        {
            _x = new AlignedBuffer(rows * d); _h = new AlignedBuffer(rows * d);
            _q = new AlignedBuffer(rows * qDim); _att = new AlignedBuffer(rows * qDim);
            _k = new AlignedBuffer(rows * kvDim); _v = new AlignedBuffer(rows * kvDim);
            _gate = new AlignedBuffer(rows * _c.IntermediateSize); _up = new AlignedBuffer(rows * _c.IntermediateSize);
            _rowCapacity = rows;
        }
        if (samples > _sampleCapacity)
        {
            _hs = new AlignedBuffer(samples * d);
            _logits = new AlignedBuffer(samples * _c.VocabSize);
            _sampleCapacity = samples;
        }
    }

    /// <summary>Runs rows [n] (each a token of some sequence at some position) through all layers, writes their
    /// K/V into the cache, and samples the next token of every row marked Sample.</summary>
    private void Step(List<Row> rows, Sequence[] seqs, RopeTable rope, SamplingOptions options, HashSet<int> stop)
    {
        int n = rows.Count, samples = 0;
        foreach (var r in rows) if (r.Sample) samples++;
        EnsureRows(n, Math.Max(samples, 1));
        BeginAdapter(n);
        int d = _c.HiddenSize;
        float* x = _x.Ptr;
        var rowArr = rows.ToArray();

        var embedTable = _model.Embed;
        if (embedTable.Dtype == TensorDtype.BFloat16)
            for (int i = 0; i < n; i++)
                BFloat16.Widen(embedTable.BFloat16Data.AsSpan(rowArr[i].Token * d, d), new Span<float>(x + (long)i * d, d));
        else
            fixed (float* embed = embedTable.Data)
                for (int i = 0; i < n; i++)
                    new ReadOnlySpan<float>(embed + (long)rowArr[i].Token * d, d).CopyTo(new Span<float>(x + (long)i * d, d));

        // A decode step has one row per sequence, and a row needs no other row's results in any layer. With several
        // threads and weights that fit in a core's cache, each thread takes a block of rows through the whole stack: one
        // fork-join per step instead of six per layer, and no serial passes between them. Each row's arithmetic is
        // the same either way (the kernels compute a row from that row alone), so the split changes no result.
        int chunks = _prefill || _weightBytes > ChunkedWeightBytes ? 1 : Math.Clamp(n / MinRowsPerChunk, 1, Parallelism.MaxDegree);
        if (chunks == 1)
        {
            Layers(rowArr, 0, n, seqs, rope, parallel: true);
            SampleRows(rowArr, 0, n, 0, seqs, options, stop, parallel: true);
        }
        else
        {
            Parallelism.For(chunks, c =>
            {
                var (begin, end) = Parallelism.ChunkBounds(n, chunks, c);
                Layers(rowArr, begin, end, seqs, rope, parallel: false);
                int sampleBase = 0;
                for (int i = 0; i < begin; i++) if (rowArr[i].Sample) sampleBase++;
                SampleRows(rowArr, begin, end, sampleBase, seqs, options, stop, parallel: false);
            });
        }
    }

    /// <summary>
    /// Final norm, LM head and sampling for the rows in [r0, r1) marked Sample (their hs / logits rows start at
    /// sampleBase); appends each sampled token to its sequence.
    /// </summary>
    private void SampleRows(Row[] rowArr, int r0, int r1, int sampleBase, Sequence[] seqs, SamplingOptions options, HashSet<int> stop, bool parallel)
    {
        int d = _c.HiddenSize, vocab = _c.VocabSize;
        float eps = (float)_c.RmsNormEps;
        float* x = _x.Ptr, hs = _hs.Ptr + (long)sampleBase * d, logits = _logits.Ptr + (long)sampleBase * vocab;
        int samples = 0;
        for (int i = r0; i < r1; i++) if (rowArr[i].Sample) samples++;
        if (samples == 0) return;
        // hs [samples, D] -> logits [samples, V], only for rows that sample.
        var sampleRows = new int[samples];
        int m = 0;
        for (int i = r0; i < r1; i++)
        {
            if (!rowArr[i].Sample) continue;
            Normalization.RmsNormForward(new ReadOnlySpan<float>(x + (long)i * d, d), _model.FinalNorm.Data, eps, new Span<float>(hs + (long)m * d, d));
            sampleRows[m++] = i;
        }
        if (_prefill) Linear(hs, samples, d, _model.LmHead, vocab, null, logits);
        else
            fixed (float* w = F32(_model.LmHead))
            fixed (ushort* w16 = Bf16(_model.LmHead))
                DecodeKernels.Project(hs, samples, d, [new(w, vocab, null, logits, panels: UsePanels ? _lmHeadPanels : null, w16: w16)], parallel);
        var picked = new (int Token, float LogProb)[samples];
        DecodeKernels.For(samples, vocab * 8L, parallel, j =>
        {
            var seq = seqs[rowArr[sampleRows[j]].Seq];
            var row = new ReadOnlySpan<float>(logits + (long)j * vocab, vocab);
            picked[j] = Sampler.Sample(row, seq.Options ?? options, seq.Rng);
            if (seq.TopLogProbs is { } top) top.Add(TopLogProbs(row, seq.Options ?? options, seq.TopCount));
        });
        for (int j = 0; j < samples; j++)
        {
            var seq = seqs[rowArr[sampleRows[j]].Seq];
            var (token, logProb) = picked[j];
            seq.Tokens.Add(token);
            seq.LogProbs.Add(logProb);
            if ((seq.Stop ?? stop).Contains(token)) { seq.Done = true; seq.Stopped = true; }
            else if (seq.Tokens.Count >= seq.MaxNew || seq.Length - 1 >= seq.Capacity) seq.Done = true;
        }
    }

    /// <summary>Rows with a block of their own per thread in a decode step: fewer and the column split wins.</summary>
    private const int MinRowsPerChunk = 16;

    /// <summary>
    /// Most bytes of weights for which a decode step is split by rows: about one core's L2 cache. With a row split
    /// every thread reads every weight once per step; with the column split each weight is read once in all, which
    /// took less CPU time on bench-tiny's 12 MB of weights (2 threads, measured on a shared machine), so larger
    /// models share each weight between threads instead.
    /// </summary>
    private const long ChunkedWeightBytes = 2L << 20;

    /// <summary>
    /// Runs rows [r0, r1) of the step through all layers: x [rows, D] in place, their K/V into the cache. parallel:
    /// the kernels split their work over threads (else this thread does it all, for a block of a chunked step).
    /// </summary>
    private void Layers(Row[] stepRows, int r0, int r1, Sequence[] seqs, RopeTable rope, bool parallel)
    {
        int n = r1 - r0;
        int d = _c.HiddenSize, hd = _c.HeadDim, hq = _c.NumAttentionHeads, hkv = _c.NumKeyValueHeads;
        int qDim = hq * hd, kvDim = hkv * hd, inter = _c.IntermediateSize, half = hd / 2, groups = hq / hkv;
        float eps = (float)_c.RmsNormEps;
        float scale = 1f / MathF.Sqrt(hd);
        float* x = _x.Ptr + (long)r0 * d, h = _h.Ptr + (long)r0 * d, q = _q.Ptr + (long)r0 * qDim, k = _k.Ptr + (long)r0 * kvDim;
        float* v = _v.Ptr + (long)r0 * kvDim, att = _att.Ptr + (long)r0 * qDim, gate = _gate.Ptr + (long)r0 * inter, up = _up.Ptr + (long)r0 * inter;
        var rowArr = stepRows[r0..r1];
        fixed (float* cosTable = rope.Cos, sinTable = rope.Sin)
        {
            float* cosT = cosTable, sinT = sinTable;
            for (int l = 0; l < _c.NumHiddenLayers; l++)
            {
                var layer = _model.Layers[l];
                var panels = UsePanels && !_prefill ? _layerPanels[l] : null;
                float* kc = _kCache[l].Ptr, vc = _vCache[l].Ptr;
                // x [n, D] -> h = RMSNorm(x) [n, D] -> q [n, Hq*hd], k/v [n, Hkv*hd]
                RmsNorm(x, n, layer.InputNorm.Data, eps, h, parallel);
                if (_prefill)
                {
                    Linear(h, n, d, layer.QProj, qDim, layer.QBias?.Data, q);
                    Linear(h, n, d, layer.KProj, kvDim, layer.KBias?.Data, k);
                    Linear(h, n, d, layer.VProj, kvDim, layer.VBias?.Data, v);
                }
                else
                {
                    fixed (float* wq = F32(layer.QProj), wk = F32(layer.KProj), wv = F32(layer.VProj))
                    fixed (ushort* q16 = Bf16(layer.QProj), k16 = Bf16(layer.KProj), v16 = Bf16(layer.VProj))
                    fixed (float* bq = layer.QBias?.Data, bk = layer.KBias?.Data, bv = layer.VBias?.Data)
                        DecodeKernels.Project(h, n, d, [new(wq, qDim, bq, q, panels: panels?.Q, w16: q16), new(wk, kvDim, bk, k, panels: panels?.K, w16: k16),
                            new(wv, kvDim, bv, v, panels: panels?.V, w16: v16)], parallel);
                }
                AddAdapter(l, LoraTarget.QProj, r0, h, n, d, q, qDim, parallel);
                AddAdapter(l, LoraTarget.KProj, r0, h, n, d, k, kvDim, parallel);
                AddAdapter(l, LoraTarget.VProj, r0, h, n, d, v, kvDim, parallel);
                // Rotary embedding (after the optional q/k norms) of row i's query heads that share KV head kvHead and
                // of that KV head's key, then the key and value into the sequence's cache.
                void Prepare(int i, int kvHead)
                {
                    var row = rowArr[i];
                    var cos = new ReadOnlySpan<float>(cosT + (long)row.Position * half, half);
                    var sin = new ReadOnlySpan<float>(sinT + (long)row.Position * half, half);
                    for (int head = kvHead * groups; head < (kvHead + 1) * groups; head++)
                    {
                        float* qh = q + (long)i * qDim + head * hd;
                        if (layer.QNorm is { } qn) Normalization.RmsNormForward(new ReadOnlySpan<float>(qh, hd), qn.Data, eps, new Span<float>(qh, hd));
                        Rope.RotateInPlace(new Span<float>(qh, hd), cos, sin);
                    }
                    int p = row.Position;
                    float* kh = k + (long)i * kvDim + kvHead * hd;
                    if (layer.KNorm is { } kn) Normalization.RmsNormForward(new ReadOnlySpan<float>(kh, hd), kn.Data, eps, new Span<float>(kh, hd));
                    Rope.RotateInPlace(new Span<float>(kh, hd), cos, sin);
                    long headBlock = HeadBlock(row, kvHead);
                    float* kt = kc + headBlock + (long)(p >> 4) * hd * 16 + (p & 15);
                    for (int e = 0; e < hd; e++) kt[e * 16] = kh[e];
                    new ReadOnlySpan<float>(v + (long)i * kvDim + kvHead * hd, hd).CopyTo(new Span<float>(vc + headBlock + (long)p * hd, hd));
                }

                // Where a KV head's keys (and values, in the other array) start in the sequence's cache block.
                long HeadBlock(Row row, int kvHead)
                {
                    var seq = seqs[row.Seq];
                    return seq.CacheOffset * kvDim + (long)kvHead * seq.Stride * hd;
                }

                // Prompt rows of one sequence attend to each other's keys: all keys go into the cache first. A decode
                // row is the only row of its sequence, so each attention item prepares its own heads.
                if (_prefill)
                    DecodeKernels.For(n, 4L * (hq + 2 * hkv) * hd, parallel, i =>
                    {
                        for (int kvHead = 0; kvHead < hkv; kvHead++) Prepare(i, kvHead);
                    });

                // Causal attention of each (row, KV head) over its own sequence's cache: att [n, Hq*hd].
                long avgContext = 0;
                foreach (var r in rowArr) avgContext += r.Position + 1;
                avgContext = avgContext / n + 1;
                bool prefill = _prefill;
                // Each task's items in order; before an item computes, the next one's keys and values are asked into
                // L2 (the first item of a task asks for its own): the cache is read once per step, from memory, and
                // waiting on it was most of attention's time on bench-tiny.
                DecodeKernels.ForRange(n * hkv, avgContext * hd * 2 * groups, parallel, (begin, end) =>
                {
                    PrefetchItem(begin);
                    for (int item = begin; item < end; item++)
                    {
                        if (item + 1 < end) PrefetchItem(item + 1);
                        int i = item / hkv, kvHead = item % hkv;
                        if (!prefill) Prepare(i, kvHead);
                        var row = rowArr[i];
                        int ctx = row.Position + 1;
                        int need = groups * DecodeKernels.PadKeys(ctx);
                        var scores = t_scores is { } buf && buf.Length >= need ? buf : (t_scores = new AlignedBuffer(Math.Max(need, 1024)));
                        long headBlock = HeadBlock(row, kvHead);
                        long qOff = (long)i * qDim + kvHead * groups * hd;
                        DecodeKernels.Attend(q + qOff, groups, hd, kc + headBlock, vc + headBlock, ctx, scale, scores.Ptr, att + qOff);
                    }
                });

                void PrefetchItem(int item)
                {
                    var row = rowArr[item / hkv];
                    long block = HeadBlock(row, item % hkv);
                    DecodeKernels.PrefetchL2(kc + block, (long)DecodeKernels.PadKeys(row.Position + 1) * hd);
                    DecodeKernels.PrefetchL2(vc + block, (long)(row.Position + 1) * hd);
                }

                // x += o_proj(att); x += down(silu(gate(h)) * up(h)) with h = RMSNorm(x)
                if (_prefill)
                {
                    Linear(att, n, qDim, layer.OProj, d, layer.OBias?.Data, h);
                    AddAdapter(l, LoraTarget.OProj, r0, att, n, qDim, h, d, parallel);
                    AddInPlace(x, h, n * d);
                }
                else
                {
                    fixed (float* wo = F32(layer.OProj), bo = layer.OBias?.Data)
                    fixed (ushort* o16 = Bf16(layer.OProj))
                        DecodeKernels.Project(att, n, qDim, [new(wo, d, bo, x, accumulate: true, panels?.O, o16)], parallel);
                    AddAdapter(l, LoraTarget.OProj, r0, att, n, qDim, x, d, parallel);
                }
                RmsNorm(x, n, layer.PostAttentionNorm.Data, eps, h, parallel);
                if (_prefill)
                {
                    Linear(h, n, d, layer.GateProj, inter, null, gate);
                    Linear(h, n, d, layer.UpProj, inter, null, up);
                    AddAdapter(l, LoraTarget.GateProj, r0, h, n, d, gate, inter, parallel);
                    AddAdapter(l, LoraTarget.UpProj, r0, h, n, d, up, inter, parallel);
                    // Row by row, so an element's SIMD lane never depends on the number of rows.
                    for (int i = 0; i < n; i++)
                    {
                        var g = new Span<float>(gate + (long)i * inter, inter);
                        Activations.SwiGluForward(g, new ReadOnlySpan<float>(up + (long)i * inter, inter), g);
                    }
                    Linear(gate, n, inter, layer.DownProj, d, null, h);
                    AddAdapter(l, LoraTarget.DownProj, r0, gate, n, inter, h, d, parallel);
                    AddInPlace(x, h, n * d);
                }
                else
                {
                    fixed (float* wg = F32(layer.GateProj), wu = F32(layer.UpProj), wd = F32(layer.DownProj))
                    fixed (ushort* gate16 = Bf16(layer.GateProj), up16 = Bf16(layer.UpProj), down16 = Bf16(layer.DownProj))
                    {
                        if (Adapted(l, LoraTarget.GateProj) || Adapted(l, LoraTarget.UpProj))
                            AdaptedGateUp(l, r0, h, n, wg, wu, gate16, up16, panels, gate, up, parallel);
                        else if (panels is not null) DecodeKernels.GateUpSwiGlu(h, n, panels.Gate, panels.Up, gate, parallel);
                        else if (gate16 != null) DecodeKernels.GateUpSwiGlu(h, n, d, gate16, up16, inter, gate, parallel);
                        else DecodeKernels.GateUpSwiGlu(h, n, d, wg, wu, inter, gate, parallel);
                        DecodeKernels.Project(gate, n, inter, [new(wd, d, null, x, accumulate: true, panels?.Down, down16)], parallel);
                        AddAdapter(l, LoraTarget.DownProj, r0, gate, n, inter, x, d, parallel);
                    }
                }
            }
        }
    }

    /// <summary>y = RMSNorm(x) row by row; all rows at once (threads may share them) when parallel.</summary>
    private static void RmsNorm(float* x, int n, float[] weight, float eps, float* y, bool parallel)
    {
        int d = weight.Length;
        if (parallel) Normalization.RmsNormForward(new ReadOnlySpan<float>(x, n * d), weight, eps, new Span<float>(y, n * d));
        else
            for (int i = 0; i < n; i++)
                Normalization.RmsNormForward(new ReadOnlySpan<float>(x + (long)i * d, d), weight, eps, new Span<float>(y + (long)i * d, d));
    }


    /// <summary>
    /// output [n, outDim] = input [n, inDim] . weight[outDim, inDim]^T + bias for prompt rows (prefill), through the
    /// blocked SGEMM, which reuses each packed weight panel across all rows; decode rows go through the dot-product
    /// kernels of <see cref="DecodeKernels"/>, which read each weight once per step and need no packing. Both compute
    /// a row from that row alone, and whether a row is a prompt row does not depend on its batch mates, so a
    /// request's tokens still depend only on its prompt and seed.
    /// </summary>
    private static void Linear(float* input, int n, int inDim, Tensor weight, int outDim, float[]? bias, float* output)
    {
        var a = new ReadOnlySpan<float>(input, n * inDim);
        var c = new Span<float>(output, n * outDim);
        if (weight.Dtype == TensorDtype.BFloat16) Gemm.SgemmBf16(false, true, n, outDim, inDim, 1f, a, inDim, weight.BFloat16Data, inDim, 0f, c, outDim);
        else Gemm.Sgemm(false, true, n, outDim, inDim, 1f, a, inDim, weight.Data, inDim, 0f, c, outDim);
        if (bias is not null)
            for (int r = 0; r < n; r++)
                TensorPrimitives.Add(new ReadOnlySpan<float>(output + (long)r * outDim, outDim), bias, new Span<float>(output + (long)r * outDim, outDim));
    }

    /// <summary>A weight's float32 array, or null when it is bfloat16 (`fixed` then gives a null pointer).</summary>
    private static float[]? F32(Tensor weight) => weight.Dtype == TensorDtype.Float32 ? weight.Data : null;

    /// <summary>A weight's bfloat16 bits, or null when it is float32.</summary>
    private static ushort[]? Bf16(Tensor weight) => weight.Dtype == TensorDtype.BFloat16 ? weight.BFloat16Data : null;

    private static void AddInPlace(float* y, float* x, int count)
    {
        System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(y, count), new ReadOnlySpan<float>(x, count), new Span<float>(y, count));
    }
}

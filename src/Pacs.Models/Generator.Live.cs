using Pacs.Tensors.Kernels;

namespace Pacs.Models;

/// <summary>
/// A sequence in the generator's live batch (continuous batching): its tokens and log-probs so far, and whether it
/// has finished. Read it only between <see cref="Generator.StepLive"/> calls, on the thread that steps.
/// </summary>
public sealed class LiveSequence
{
    internal LiveSequence(object state, int[] promptIds, int maxNewTokens)
    {
        State = state;
        PromptIds = promptIds;
        MaxNewTokens = maxNewTokens;
    }

    internal object State { get; }

    public int[] PromptIds { get; }

    public int MaxNewTokens { get; }

    public IReadOnlyList<int> Tokens => Generator.TokensOf(this);

    public IReadOnlyList<float> LogProbs => Generator.LogProbsOf(this);

    /// <summary>For each token, the most likely tokens and their log-probs (empty unless asked for at admission).</summary>
    public IReadOnlyList<(int Token, float LogProb)[]> TopLogProbs => Generator.TopOf(this);

    public bool Done => Generator.IsDone(this);

    /// <summary>A stop id ended it (it is the last token).</summary>
    public bool Stopped => Generator.IsStopped(this);
}

/// <summary>What one <see cref="Generator.StepLive"/> ran: prompt rows (of newly admitted sequences) and decode rows.</summary>
public readonly record struct LiveStepRows(int PromptRows, int DecodeRows);

public sealed unsafe partial class Generator
{
    // Continuous batching: sequences join the live batch (Admit) and leave it (Retire) between steps, each with its
    // own sampling settings and seed. A step prefills the newly admitted prompts, then runs one decode row per
    // unfinished sequence. Prompt rows and decode rows go through the same kernels as in Generate, and a row's
    // result never depends on its batch mates, so a live sequence gets the very tokens Generate gives it.
    private readonly List<Sequence> _live = [];
    private readonly List<Sequence> _admitted = [];
    private readonly List<(long Offset, long Length)> _freeCache = [];
    private bool _liveStarted;

    /// <summary>Sequences in the live batch (admitted and not retired).</summary>
    public int LiveCount => _live.Count + _admitted.Count;

    /// <summary>
    /// Adds a sequence to the live batch; its prompt is run at the next <see cref="StepLive"/>. StopTokenIds null in
    /// <paramref name="options"/> means the model's end ids. <paramref name="topLogProbs"/> &gt; 0 also records that
    /// many most likely tokens per step.
    /// </summary>
    public LiveSequence Admit(GenerationRequest request, SamplingOptions options, int topLogProbs = 0)
    {
        options.Validate();
        ValidatePrompt(request.PromptIds, "generation request");
        if (topLogProbs < 0 || topLogProbs > _c.VocabSize) throw new ArgumentException($"generation request: top log-probs must be in [0, {_c.VocabSize}], got {topLogProbs}");
        if (!_liveStarted) RefreshWeights();
        var prompt = request.PromptIds;
        int capacity = Math.Min(_c.MaxPositionEmbeddings, prompt.Length + Math.Max(0, options.MaxNewTokens - 1));
        long offset = AllocateCache(DecodeKernels.PadKeys(capacity));
        var seq = new Sequence(prompt, new SplitMix64(request.Seed), offset, capacity, options.MaxNewTokens)
        {
            Options = options,
            Stop = [.. options.StopTokenIds ?? DefaultStopIds()],
            TopLogProbs = topLogProbs > 0 ? [] : null,
            TopCount = topLogProbs,
        };
        if (options.MaxNewTokens == 0) seq.Done = true;
        _admitted.Add(seq);
        return new LiveSequence(seq, prompt, options.MaxNewTokens);
    }

    /// <summary>Removes a sequence from the live batch (finished or abandoned) and frees its cache rows.</summary>
    public void Retire(LiveSequence live)
    {
        var seq = (Sequence)live.State;
        if (!_live.Remove(seq) && !_admitted.Remove(seq)) return;
        FreeCache(seq.CacheOffset, seq.Stride);
    }

    /// <summary>
    /// Reads the model's weights again (call after changing them in place): decode steps may read a repacked copy.
    /// </summary>
    public void RefreshWeights()
    {
        if (UsePanels) PackPanels();
        _liveStarted = true;
    }

    /// <summary>
    /// One step of the live batch: the prompts admitted since the last step (in steps of at most the prompt-row
    /// limit; each samples its first token), then one decode row for every unfinished sequence (in steps of at most
    /// the decode-row limit). Finished sequences stay in the batch until retired. The live batch has the generator's
    /// cache to itself: do not call Generate on a generator with live sequences.
    /// </summary>
    public LiveStepRows StepLive()
    {
        var rope = _model.Rope;
        var options = new SamplingOptions();
        var rows = new List<Row>();
        int promptRows = 0, decodeRows = 0;
        if (_admitted.Count > 0)
        {
            var seqs = _admitted.ToArray();
            _admitted.Clear();
            _live.AddRange(seqs);
            _prefill = true;
            for (int s = 0; s < seqs.Length; s++)
            {
                if (seqs[s].Done) continue;
                var prompt = seqs[s].Prompt;
                for (int p = 0; p < prompt.Length; p++)
                {
                    rows.Add(new Row(s, p, prompt[p], p == prompt.Length - 1));
                    if (rows.Count == _maxPromptRowsPerStep) { Step(rows, seqs, rope, options, []); promptRows += rows.Count; rows.Clear(); }
                }
            }
            if (rows.Count > 0) { Step(rows, seqs, rope, options, []); promptRows += rows.Count; rows.Clear(); }
            _prefill = false;
        }
        var live = _live.ToArray();
        for (int s = 0; s < live.Length; s++)
        {
            if (live[s].Done) continue;
            rows.Add(new Row(s, live[s].Length - 1, live[s].Tokens[^1], true));
            if (rows.Count == _maxRowsPerStep) { Step(rows, live, rope, options, []); decodeRows += rows.Count; rows.Clear(); }
        }
        if (rows.Count > 0) { Step(rows, live, rope, options, []); decodeRows += rows.Count; }
        return new LiveStepRows(promptRows, decodeRows);
    }

    private IReadOnlyList<int> DefaultStopIds() => _model.GenerationConfig?.EosTokenIds is { Count: > 0 } g ? g : _c.EosTokenIds;

    private void ValidatePrompt(int[] ids, string what)
    {
        int vocab = _c.VocabSize, maxPos = _c.MaxPositionEmbeddings;
        if (ids.Length == 0) throw new ArgumentException($"{what}: the prompt is empty (give at least a BOS token)");
        if (ids.Length > maxPos) throw new ArgumentException($"{what}: prompt of {ids.Length} tokens exceeds max_position_embeddings {maxPos}");
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)vocab) throw new ArgumentException($"{what}: prompt token {i} = {ids[i]} is outside the vocabulary [0, {vocab})");
    }

    /// <summary>
    /// Cache rows for a sequence: the first free block that fits, else the cache grows (its contents copied, so the
    /// live sequences keep their keys and values).
    /// </summary>
    private long AllocateCache(long stride)
    {
        for (int i = 0; i < _freeCache.Count; i++)
        {
            var (offset, length) = _freeCache[i];
            if (length < stride) continue;
            if (length == stride) _freeCache.RemoveAt(i);
            else _freeCache[i] = (offset + stride, length - stride);
            return offset;
        }
        long old = _kCache.Length == _c.NumHiddenLayers ? _cacheTokens : 0;
        long grown = Math.Max(old * 2, old + stride);
        GrowCache(old, grown);
        FreeCache(old, grown - old);
        return AllocateCache(stride);
    }

    private void FreeCache(long offset, long length)
    {
        if (length == 0) return;
        _freeCache.Add((offset, length));
        _freeCache.Sort();
        for (int i = _freeCache.Count - 1; i > 0; i--)
        {
            var (prevOffset, prevLength) = _freeCache[i - 1];
            if (prevOffset + prevLength != _freeCache[i].Offset) continue;
            _freeCache[i - 1] = (prevOffset, prevLength + _freeCache[i].Length);
            _freeCache.RemoveAt(i);
        }
    }

    private void GrowCache(long oldTokens, long tokens)
    {
        var (oldK, oldV) = (_kCache, _vCache);
        bool keep = oldK.Length == _c.NumHiddenLayers;
        _cacheTokens = 0;
        EnsureCache(tokens);
        if (!keep) return;
        long floats = oldTokens * _c.NumKeyValueHeads * _c.HeadDim;
        for (int l = 0; l < oldK.Length; l++)
        {
            Buffer.MemoryCopy(oldK[l].Ptr, _kCache[l].Ptr, floats * 4, floats * 4);
            Buffer.MemoryCopy(oldV[l].Ptr, _vCache[l].Ptr, floats * 4, floats * 4);
        }
    }

    /// <summary>The <paramref name="count"/> most likely tokens of a logits row, most likely first (ties: lower id), with
    /// their log-probs at the options' temperature (as the sampled token's log-prob is computed).</summary>
    private static (int Token, float LogProb)[] TopLogProbs(ReadOnlySpan<float> logits, SamplingOptions options, int count)
    {
        float temperature = options.IsGreedy ? 1f : options.Temperature;
        float logNormaliser = Softmax.LogSumExp(logits, temperature, new float[logits.Length]);
        var best = new List<(int Token, float Logit)>(count + 1);
        for (int i = 0; i < logits.Length; i++)
        {
            if (best.Count == count && logits[i] <= best[^1].Logit) continue;
            int at = best.Count;
            while (at > 0 && best[at - 1].Logit < logits[i]) at--;
            best.Insert(at, (i, logits[i]));
            if (best.Count > count) best.RemoveAt(count);
        }
        return best.Select(b => (b.Token, (temperature == 1f ? b.Logit : b.Logit / temperature) - logNormaliser)).ToArray();
    }

    internal static IReadOnlyList<int> TokensOf(LiveSequence live) => ((Sequence)live.State).Tokens;

    internal static IReadOnlyList<float> LogProbsOf(LiveSequence live) => ((Sequence)live.State).LogProbs;

    internal static IReadOnlyList<(int Token, float LogProb)[]> TopOf(LiveSequence live) => ((Sequence)live.State).TopLogProbs ?? [];

    internal static bool IsDone(LiveSequence live) => ((Sequence)live.State).Done;

    internal static bool IsStopped(LiveSequence live) => ((Sequence)live.State).Stopped;
}

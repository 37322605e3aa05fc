namespace Pacs.Models;

/// <summary>
/// How to pick each new token. Log-probs are always of softmax(logits / Temperature) over the full vocabulary
/// (temperature 1 when greedy), before top-k / top-p truncation. Temperature 0 means greedy.
/// StopTokenIds null = the model's end ids (generation_config.json, else config.json); empty = never stop early.
/// </summary>
public sealed record SamplingOptions(
    float Temperature = 1,
    int TopK = 0,
    float TopP = 1,
    int MaxNewTokens = 256,
    IReadOnlyList<int>? StopTokenIds = null,
    bool Greedy = false)
{
    public bool IsGreedy => Greedy || Temperature == 0;

    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentException($"sampling: MaxNewTokens must be >= 0, got {MaxNewTokens}");
        if (!IsGreedy && !(Temperature > 0 && float.IsFinite(Temperature))) throw new ArgumentException($"sampling: Temperature must be > 0, got {Temperature}");
        if (TopK < 0) throw new ArgumentException($"sampling: TopK must be >= 0, got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"sampling: TopP must be in (0, 1], got {TopP}");
    }
}

/// <summary>One prompt to continue; the seed alone decides its random draws.</summary>
public sealed record GenerationRequest(int[] PromptIds, ulong Seed);

/// <summary>The new tokens (a stop token, if hit, is the last one), their log-probs, and whether a stop token ended it.</summary>
public sealed record GenerationResult(int[] Tokens, float[] LogProbs, bool Stopped);

/// <summary>
/// Batched autoregressive sampling with a KV cache and no autograd. Prompts of any lengths share a batch:
/// every step packs one row per active sequence (prompts in chunks of rows), runs the layers with the
/// batch-independent kernels of <see cref="DecodeKernels"/>, and samples from each sequence's own seeded stream,
/// so a request's output depends only on its prompt, its seed and the options.
/// Not thread-safe: use one Generator per thread (they may share the model).
/// </summary>
public sealed unsafe partial class Generator
{
    private readonly Transformer _model;
    private readonly ModelConfig _c;
    private readonly int _maxRowsPerStep;
    private readonly int _maxPromptRowsPerStep;

    /// <summary>Bytes of parameters as stored (bfloat16 weights: 2 per element): what a decode step reads.</summary>
    private readonly long _weightBytes;

    /// <summary>True while prompt rows are processed: their projections go through the SGEMM (see Linear).</summary>
    private bool _prefill;

    /// <summary>
    /// Most bytes of weights that decode steps read as <see cref="PanelMatrix"/> copies, made at the start of every
    /// Generate call (training changes the weights between calls): bench-tiny's 12 MB take about as long to pack as
    /// one decode step. Larger models keep the direct dot-product kernels and no second copy of their weights.
    /// </summary>
    public const long PanelWeightBytes = 256L << 20;

    /// <summary>
    /// Decode steps read repacked weights (see <see cref="PanelWeightBytes"/>); internal so tests can try both paths.
    /// Stays false where the panel kernels cannot run (no AVX-512) and for bfloat16 weights (panels are float32 copies).
    /// </summary>
    internal bool UsePanels
    {
        get => _usePanels;
        set => _usePanels = value && PanelKernels.Supported && _model.WeightDtype == Pacs.Tensors.TensorDtype.Float32;
    }

    private bool _usePanels;

    private LayerPanels[] _layerPanels = [];
    private PanelMatrix? _lmHeadPanels;

    /// <param name="model">
    /// The model to sample from. Its weights are read as they are at each Generate call: in place, or copied into panels
    /// at the start of the call (models up to <see cref="PanelWeightBytes"/>).
    /// </param>
    /// <param name="maxRowsPerStep">Most decode rows (one per unfinished sequence) run through the layers at once.</param>
    /// <param name="maxPromptRowsPerStep">
    /// Most prompt rows per prefill step. Prompt rows go through the SGEMM, which packs every weight matrix once per
    /// call: more rows per step share that packing (Qwen2.5-0.5B's 1.4 GB of layer weights) and give the GEMM taller
    /// blocks. The step's activations grow with it (2048 rows of Qwen2.5-0.5B: about 110 MB).
    /// </param>
    public Generator(Transformer model, int maxRowsPerStep = 256, int maxPromptRowsPerStep = 2048)
    {
        if (maxRowsPerStep < 1) throw new ArgumentException($"maxRowsPerStep must be >= 1, got {maxRowsPerStep}");
        if (maxPromptRowsPerStep < 1) throw new ArgumentException($"maxPromptRowsPerStep must be >= 1, got {maxPromptRowsPerStep}");
        _model = model;
        _c = model.Config;
        _maxRowsPerStep = maxRowsPerStep;
        _maxPromptRowsPerStep = maxPromptRowsPerStep;
        _weightBytes = model.ParameterBytes;
        // Panels are float32 copies: bfloat16 weights are read in place (widened by the dot-product kernels) instead.
        UsePanels = PanelKernels.Supported && _weightBytes <= PanelWeightBytes;
    }

    public Transformer Model => _model;

    public GenerationResult Generate(GenerationRequest request, SamplingOptions options) => Generate([request], options)[0];

    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<GenerationRequest> requests, SamplingOptions options)
    {
        options.Validate();
        int vocab = _c.VocabSize, maxPos = _c.MaxPositionEmbeddings;
        for (int r = 0; r < requests.Count; r++)
        {
            var ids = requests[r].PromptIds;
            if (ids.Length == 0) throw new ArgumentException($"generation request {r}: the prompt is empty (give at least a BOS token)");
            if (ids.Length > maxPos) throw new ArgumentException($"generation request {r}: prompt of {ids.Length} tokens exceeds max_position_embeddings {maxPos}");
            for (int i = 0; i < ids.Length; i++)
                if ((uint)ids[i] >= (uint)vocab) throw new ArgumentException($"generation request {r}: prompt token {i} = {ids[i]} is outside the vocabulary [0, {vocab})");
        }
        var stopIds = options.StopTokenIds ?? (_model.GenerationConfig?.EosTokenIds is { Count: > 0 } g ? g : _c.EosTokenIds);
        var stop = new HashSet<int>(stopIds);
        var seqs = new Sequence[requests.Count];
        long offset = 0;
        for (int s = 0; s < seqs.Length; s++)
        {
            var prompt = requests[s].PromptIds;
            // Positions that get a K/V entry: the prompt and every fed-back new token (the last one never is).
            int capacity = Math.Min(maxPos, prompt.Length + Math.Max(0, options.MaxNewTokens - 1));
            seqs[s] = new Sequence(prompt, new SplitMix64(requests[s].Seed), offset, capacity, options.MaxNewTokens);
            offset += seqs[s].Stride;
        }
        var results = new GenerationResult[seqs.Length];
        if (options.MaxNewTokens == 0)
        {
            for (int s = 0; s < seqs.Length; s++) results[s] = new GenerationResult([], [], false);
            return results;
        }
        var rope = _model.Rope;
        EnsureCache(offset);
        if (UsePanels) PackPanels();

        // Prefill: all prompt tokens, in steps of at most _maxPromptRowsPerStep rows; sample after each prompt's last row.
        // A prompt repeated in the batch (a group's samples of one prompt) runs through the model once: its copies
        // take the first one's K/V of every position but the last, then run only their last position (sampled with
        // their own seeds), so each copy's cache and logits are those of its own full prefill.
        var rows = new List<Row>(Math.Max(_maxRowsPerStep, _maxPromptRowsPerStep));
        var firstOf = FirstWithSamePrompt(seqs);
        _prefill = true;
        for (int s = 0; s < seqs.Length; s++)
        {
            var prompt = seqs[s].Prompt;
            for (int p = firstOf[s] == s ? 0 : prompt.Length; p < prompt.Length; p++) AddPrefillRow(new Row(s, p, prompt[p], p == prompt.Length - 1));
        }
        Flush();
        for (int s = 0; s < seqs.Length; s++)
        {
            if (firstOf[s] == s) continue;
            CopyCache(seqs[firstOf[s]], seqs[s]);
            var prompt = seqs[s].Prompt;
            AddPrefillRow(new Row(s, prompt.Length - 1, prompt[^1], true));
        }
        Flush();
        _prefill = false;

        void AddPrefillRow(Row row)
        {
            rows.Add(row);
            if (rows.Count == _maxPromptRowsPerStep) Flush();
        }
        void Flush()
        {
            if (rows.Count > 0) Step(rows, seqs, rope, options, stop);
            rows.Clear();
        }

        // Decode: one row per unfinished sequence per step.
        while (true)
        {
            rows.Clear();
            for (int s = 0; s < seqs.Length; s++)
            {
                var seq = seqs[s];
                if (seq.Done) continue;
                rows.Add(new Row(s, seq.Length - 1, seq.Tokens[^1], true));
                if (rows.Count == _maxRowsPerStep) { Step(rows, seqs, rope, options, stop); rows.Clear(); }
            }
            if (rows.Count > 0) Step(rows, seqs, rope, options, stop);
            else if (seqs.All(q => q.Done)) break;
        }
        for (int s = 0; s < seqs.Length; s++)
            results[s] = new GenerationResult(seqs[s].Tokens.ToArray(), seqs[s].LogProbs.ToArray(), seqs[s].Stopped);
        return results;
    }

    /// <summary>
    /// For each sequence, the first one with the same prompt (itself when none is earlier). Equal prompts in one call
    /// have equal capacities, hence equal cache strides, so one's K/V block can be copied onto the other's.
    /// </summary>
    private static int[] FirstWithSamePrompt(Sequence[] seqs)
    {
        var firstOf = new int[seqs.Length];
        var byHash = new Dictionary<int, List<int>>();
        for (int s = 0; s < seqs.Length; s++)
        {
            firstOf[s] = s;
            var prompt = seqs[s].Prompt;
            if (prompt.Length < 2) continue; // nothing to share: the last position runs anyway
            var hash = new HashCode();
            hash.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(prompt.AsSpan()));
            if (!byHash.TryGetValue(hash.ToHashCode(), out var firsts)) byHash[hash.ToHashCode()] = firsts = [];
            int match = firsts.FindIndex(f => seqs[f].Prompt.AsSpan().SequenceEqual(prompt));
            if (match >= 0) firstOf[s] = firsts[match];
            else firsts.Add(s);
        }
        return firstOf;
    }

    /// <summary>Copies every layer's K/V block of one sequence onto another of the same stride.</summary>
    private void CopyCache(Sequence from, Sequence to)
    {
        long kvDim = (long)_c.NumKeyValueHeads * _c.HeadDim, floats = from.Stride * kvDim;
        for (int l = 0; l < _c.NumHiddenLayers; l++)
        {
            Buffer.MemoryCopy(_kCache[l].Ptr + from.CacheOffset * kvDim, _kCache[l].Ptr + to.CacheOffset * kvDim, floats * 4, floats * 4);
            Buffer.MemoryCopy(_vCache[l].Ptr + from.CacheOffset * kvDim, _vCache[l].Ptr + to.CacheOffset * kvDim, floats * 4, floats * 4);
        }
    }

    /// <summary>Copies the current weights into the panel layout the decode steps read.</summary>
    private void PackPanels()
    {
        var layers = _model.Layers;
        if (_layerPanels.Length != layers.Count)
        {
            _layerPanels = layers.Select(l => new LayerPanels(Shaped(l.QProj), Shaped(l.KProj), Shaped(l.VProj), Shaped(l.OProj),
                Shaped(l.GateProj), Shaped(l.UpProj), Shaped(l.DownProj))).ToArray();
            _lmHeadPanels = Shaped(_model.LmHead);
        }
        for (int l = 0; l < layers.Count; l++)
        {
            var (w, p) = (layers[l], _layerPanels[l]);
            Pack(p.Q, w.QProj); Pack(p.K, w.KProj); Pack(p.V, w.VProj); Pack(p.O, w.OProj);
            Pack(p.Gate, w.GateProj); Pack(p.Up, w.UpProj); Pack(p.Down, w.DownProj);
        }
        Pack(_lmHeadPanels!, _model.LmHead);

        static PanelMatrix Shaped(Pacs.Tensors.Tensor w) => new(w.Shape[0], w.Shape[1]);
        static void Pack(PanelMatrix panels, Pacs.Tensors.Tensor w)
        {
            fixed (float* p = w.Data) panels.Pack(p);
        }
    }

    /// <summary>The decode weights of one layer, repacked.</summary>
    private sealed record LayerPanels(PanelMatrix Q, PanelMatrix K, PanelMatrix V, PanelMatrix O, PanelMatrix Gate, PanelMatrix Up, PanelMatrix Down);

    /// <summary>Next-token logits [V] after a whole prompt, through the KV-cache path (for tests).</summary>
    internal float[] PromptLogits(int[] prompt)
    {
        var seqs = new[] { new Sequence(prompt, new SplitMix64(0), 0, prompt.Length, 1) };
        EnsureCache(seqs[0].Stride);
        var rows = new List<Row>();
        for (int p = 0; p < prompt.Length; p++) rows.Add(new Row(0, p, prompt[p], p == prompt.Length - 1));
        _prefill = true;
        Step(rows, seqs, _model.Rope, new SamplingOptions(Greedy: true), []);
        _prefill = false;
        return new ReadOnlySpan<float>(_logits.Ptr, _c.VocabSize).ToArray();
    }

    /// <summary>Per-request state: tokens so far, where its K/V rows live, and its random stream.</summary>
    private sealed class Sequence(int[] prompt, SplitMix64 rng, long cacheOffset, int capacity, int maxNew)
    {
        public int[] Prompt { get; } = prompt;
        public SplitMix64 Rng { get; } = rng;
        public long CacheOffset { get; } = cacheOffset;
        public int Capacity { get; } = capacity;
        /// <summary>Cache rows reserved: the capacity rounded up to whole vectors (the transposed keys' row stride).</summary>
        public int Stride { get; } = DecodeKernels.PadKeys(capacity);
        public int MaxNew { get; } = maxNew;
        /// <summary>A live sequence's own sampling settings and stop ids (see Generator.Live); null: the call's.</summary>
        public SamplingOptions? Options { get; init; }
        public HashSet<int>? Stop { get; init; }
        /// <summary>A live sequence that asked for the most likely alternatives at each step: TopCount per token.</summary>
        public List<(int Token, float LogProb)[]>? TopLogProbs { get; init; }
        public int TopCount { get; init; }
        public List<int> Tokens { get; } = new(Math.Min(maxNew, 4096));
        public List<float> LogProbs { get; } = new(Math.Min(maxNew, 4096));
        public bool Done { get; set; }
        public bool Stopped { get; set; }
        /// <summary>Prompt plus new tokens.</summary>
        public int Length => Prompt.Length + Tokens.Count;
    }

    /// <summary>One token to push through the model: sequence index, its position, the token, whether to sample after it.</summary>
    private readonly record struct Row(int Seq, int Position, int Token, bool Sample);
}

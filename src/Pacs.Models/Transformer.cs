using Pacs.Tensors;
using Pacs.Tensors.Kernels;

namespace Pacs.Models;

/// <summary>One decoder block's parameters (Hugging Face names under `model.layers.{i}.`).</summary>
public sealed class TransformerLayer
{
    public required Tensor InputNorm { get; init; }      // [D]
    public required Tensor QProj { get; init; }          // [Hq*hd, D]
    public required Tensor KProj { get; init; }          // [Hkv*hd, D]
    public required Tensor VProj { get; init; }          // [Hkv*hd, D]
    public required Tensor OProj { get; init; }          // [D, Hq*hd]
    public Tensor? QBias { get; init; }                  // [Hq*hd]
    public Tensor? KBias { get; init; }                  // [Hkv*hd]
    public Tensor? VBias { get; init; }                  // [Hkv*hd]
    public Tensor? OBias { get; init; }                  // [D]
    public Tensor? QNorm { get; init; }                  // [hd] (Qwen3)
    public Tensor? KNorm { get; init; }                  // [hd] (Qwen3)
    public required Tensor PostAttentionNorm { get; init; } // [D]
    public required Tensor GateProj { get; init; }       // [I, D]
    public required Tensor UpProj { get; init; }         // [I, D]
    public required Tensor DownProj { get; init; }       // [D, I]
}

/// <summary>
/// A Llama / Qwen2 / Qwen3 decoder-only transformer (pre-norm RMSNorm, rotary attention with grouped KV heads,
/// SwiGLU MLP), with parameters named exactly as in Hugging Face checkpoints.
/// D = hidden size, V = vocabulary, Hq/Hkv = query/KV heads, hd = head dim, I = MLP width.
/// </summary>
public sealed partial class Transformer
{
    public ModelConfig Config { get; }

    /// <summary>Sampling defaults and end ids from `generation_config.json`, when the model folder had one.</summary>
    public GenerationConfig? GenerationConfig { get; set; }

    public Tensor Embed { get; }                         // [V, D]
    public IReadOnlyList<TransformerLayer> Layers { get; }
    public Tensor FinalNorm { get; }                     // [D]
    /// <summary>The output projection [V, D]; the same tensor as <see cref="Embed"/> when embeddings are tied.</summary>
    public Tensor LmHead { get; }

    /// <summary>Every trainable tensor once, in checkpoint order, keyed by its Hugging Face name.</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> Parameters { get; }

    /// <summary>Builds the model; with a seed, weights ~ N(0, initializer_range), norms 1, biases 0 (as HF);
    /// without one, all zeros (to be filled by <see cref="Load"/>).</summary>
    public Transformer(ModelConfig config, ulong? seed = 0)
    {
        config.Validate();
        Config = config;
        int d = config.HiddenSize, v = config.VocabSize, hd = config.HeadDim, i = config.IntermediateSize;
        int qDim = config.NumAttentionHeads * hd, kvDim = config.NumKeyValueHeads * hd;
        var rng = seed is { } s ? new SplitMix64(s) : null;
        var parameters = new List<KeyValuePair<string, Tensor>>();

        Tensor Weight(string name, params int[] shape) => Add(name, shape, rng is null ? 0 : config.InitializerRange, 0);
        Tensor Ones(string name, int n) => Add(name, [n], 0, rng is null ? 0 : 1);
        Tensor Add(string name, int[] shape, double std, float fill)
        {
            var data = new float[Shapes.Numel(shape)];
            if (std > 0) for (int k = 0; k < data.Length; k++) data[k] = (float)(std * rng!.NextGaussian());
            else if (fill != 0) Array.Fill(data, fill);
            var t = Tensor.Parameter(data, shape, name);
            parameters.Add(new(name, t));
            return t;
        }

        Embed = Weight("model.embed_tokens.weight", v, d);
        var layers = new TransformerLayer[config.NumHiddenLayers];
        for (int l = 0; l < layers.Length; l++)
        {
            string p = $"model.layers.{l}.";
            var inputNorm = Ones(p + "input_layernorm.weight", d);
            var q = Weight(p + "self_attn.q_proj.weight", qDim, d);
            var qb = config.QkvBias ? Add(p + "self_attn.q_proj.bias", [qDim], 0, 0) : null;
            var k = Weight(p + "self_attn.k_proj.weight", kvDim, d);
            var kb = config.QkvBias ? Add(p + "self_attn.k_proj.bias", [kvDim], 0, 0) : null;
            var vp = Weight(p + "self_attn.v_proj.weight", kvDim, d);
            var vb = config.QkvBias ? Add(p + "self_attn.v_proj.bias", [kvDim], 0, 0) : null;
            var o = Weight(p + "self_attn.o_proj.weight", d, qDim);
            var ob = config.OutputBias ? Add(p + "self_attn.o_proj.bias", [d], 0, 0) : null;
            var qn = config.QkNorm ? Ones(p + "self_attn.q_norm.weight", hd) : null;
            var kn = config.QkNorm ? Ones(p + "self_attn.k_norm.weight", hd) : null;
            var postNorm = Ones(p + "post_attention_layernorm.weight", d);
            layers[l] = new TransformerLayer
            {
                InputNorm = inputNorm,
                QProj = q,
                KProj = k,
                VProj = vp,
                OProj = o,
                QBias = qb,
                KBias = kb,
                VBias = vb,
                OBias = ob,
                QNorm = qn,
                KNorm = kn,
                PostAttentionNorm = postNorm,
                GateProj = Weight(p + "mlp.gate_proj.weight", i, d),
                UpProj = Weight(p + "mlp.up_proj.weight", i, d),
                DownProj = Weight(p + "mlp.down_proj.weight", d, i),
            };
        }
        Layers = layers;
        FinalNorm = Ones("model.norm.weight", d);
        LmHead = config.TieWordEmbeddings ? Embed : Weight("lm_head.weight", v, d);
        Parameters = parameters;
        _rope = new Lazy<RopeTable>(() => new RopeTable(config.HeadDim, config.MaxPositionEmbeddings, config.RopeTheta,
            config.RopeScaling is { } s ? new Pacs.Tensors.Kernels.RopeScaling((float)s.Factor, (float)s.LowFreqFactor,
                (float)s.HighFreqFactor, s.OriginalMaxPositionEmbeddings) : null));
    }

    private readonly Lazy<RopeTable> _rope;

    /// <summary>cos/sin tables [max_position_embeddings, hd/2], shared by <see cref="Forward"/> and the KV-cache decoder.</summary>
    public RopeTable Rope => _rope.Value;

    public long ParameterCount => Parameters.Sum(p => (long)p.Value.Numel);

    public void ZeroGrad()
    {
        foreach (var (_, t) in Parameters) t.ZeroGrad();
    }

    /// <summary>Loads `config.json`, `model.safetensors` (or its sharded index) and `generation_config.json`.</summary>
    public static Transformer Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: model directory not found");
        var config = ModelConfig.Load(Path.Combine(dir, ModelConfig.FileName));
        var model = new Transformer(config, seed: null) { GenerationConfig = GenerationConfig.TryLoad(dir) };
        model.ReadWeights(dir);
        return model;
    }

    /// <summary>
    /// Reads the weights of the Hugging Face folder <paramref name="dir"/> into this model's parameters in place (a
    /// resumed run restores a checkpoint without a second copy of the model); every tensor must be present with this
    /// model's shape.
    /// </summary>
    public void ReadWeights(string dir)
    {
        var config = Config;
        using var checkpoint = SafetensorsCheckpoint.Open(dir);
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in Parameters)
        {
            expected.Add(name);
            if (!checkpoint.Contains(name))
                throw new InvalidDataException($"{dir}: missing tensor '{name}' in the checkpoint (config.json: model_type {config.ModelType})");
            var entry = checkpoint.Entry(name);
            if (!entry.Shape.AsSpan().SequenceEqual(tensor.Shape))
                throw new InvalidDataException($"{checkpoint.FileOf(name)}: tensor '{name}' has shape {Shapes.Format(entry.Shape)}, config.json implies {Shapes.Format(tensor.Shape)}");
            checkpoint.ReadInto(name, tensor.Data);
        }
        foreach (var name in checkpoint.Names)
        {
            if (expected.Contains(name) || name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)) continue;
            // Some tied checkpoints store a copy of the embedding as lm_head; it is redundant.
            if (name == "lm_head.weight" && config.TieWordEmbeddings) continue;
            throw new InvalidDataException($"{checkpoint.FileOf(name)}: unexpected tensor '{name}' for model_type {config.ModelType} (config.json)");
        }
    }

    /// <summary>Writes `config.json` and the weights (float32, sharded above <paramref name="maxShardBytes"/>).</summary>
    public void Save(string dir, long maxShardBytes = 2L << 30)
    {
        Directory.CreateDirectory(dir);
        Config.Save(Path.Combine(dir, ModelConfig.FileName));
        SafetensorsCheckpoint.Save(dir, Parameters.Select(p => new NamedArray(p.Key, p.Value.Shape, p.Value.Data)).ToList(), maxShardBytes);
        GenerationConfig?.Save(dir);
    }

    /// <summary>Copies every parameter's values from another model with the same config (e.g. a reference policy).</summary>
    public void CopyWeightsFrom(Transformer other)
    {
        if (other.Parameters.Count != Parameters.Count)
            throw new ArgumentException($"CopyWeightsFrom: {other.Parameters.Count} parameters vs {Parameters.Count}");
        for (int i = 0; i < Parameters.Count; i++)
        {
            var (name, dst) = Parameters[i];
            var src = other.Parameters[i].Value;
            if (other.Parameters[i].Key != name || src.Numel != dst.Numel)
                throw new ArgumentException($"CopyWeightsFrom: parameter {i} is '{other.Parameters[i].Key}' {Shapes.Format(src.Shape)} vs '{name}' {Shapes.Format(dst.Shape)}");
            src.Data.CopyTo(dst.Data, 0);
        }
    }
}

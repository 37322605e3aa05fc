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
    /// <param name="weights">
    /// Storage of the embedding, the projections and the LM head: float32 (trainable), or bfloat16 (frozen, half the
    /// memory; random values rounded to nearest even). Norm weights and biases are float32 either way (they are tiny).
    /// </param>
    public Transformer(ModelConfig config, ulong? seed = 0, TensorDtype weights = TensorDtype.Float32)
    {
        config.Validate();
        Config = config;
        int d = config.HiddenSize, v = config.VocabSize, hd = config.HeadDim, i = config.IntermediateSize;
        int qDim = config.NumAttentionHeads * hd, kvDim = config.NumKeyValueHeads * hd;
        var rng = seed is { } s ? new SplitMix64(s) : null;
        var parameters = new List<KeyValuePair<string, Tensor>>();

        Tensor Weight(string name, params int[] shape) => weights == TensorDtype.BFloat16
            ? AddBFloat16(name, shape, rng is null ? 0 : config.InitializerRange)
            : Add(name, shape, rng is null ? 0 : config.InitializerRange, 0);
        Tensor Ones(string name, int n) => Add(name, [n], 0, rng is null ? 0 : 1);
        Tensor AddBFloat16(string name, int[] shape, double std)
        {
            var bits = new ushort[Shapes.Numel(shape)];
            if (std > 0) for (int k = 0; k < bits.Length; k++) bits[k] = BFloat16.FromSingle((float)(std * rng!.NextGaussian()));
            var t = Tensor.FromBFloat16(bits, shape, name);
            parameters.Add(new(name, t));
            return t;
        }
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

    /// <summary>A model over <paramref name="other"/>'s weight tensors themselves (see <see cref="ShareFrozenWeights"/>).</summary>
    private Transformer(Transformer other)
    {
        Config = other.Config;
        GenerationConfig = other.GenerationConfig;
        Embed = other.Embed;
        Layers = other.Layers;
        FinalNorm = other.FinalNorm;
        LmHead = other.LmHead;
        Parameters = other.Parameters;
        _rope = other._rope;
    }

    /// <summary>
    /// A second model over these very weight tensors (no copy), without an adapter: a LoRA critic trains its own
    /// adapter on the policy's frozen base this way. Frozen weights only, since a step on a shared weight would move
    /// both models.
    /// </summary>
    public Transformer ShareFrozenWeights()
    {
        if (Parameters.FirstOrDefault(p => p.Value.RequiresGrad) is { Key: { } trained })
            throw new InvalidOperationException($"ShareFrozenWeights: '{trained}' is trained; only a frozen model's weights can be shared");
        return new Transformer(this);
    }

    /// <summary>cos/sin tables [max_position_embeddings, hd/2], shared by <see cref="Forward"/> and the KV-cache decoder.</summary>
    public RopeTable Rope => _rope.Value;

    public long ParameterCount => Parameters.Sum(p => (long)p.Value.Numel);

    /// <summary>Bytes of all parameters as stored (2 per bfloat16 element, 4 per float32 one).</summary>
    public long ParameterBytes => Parameters.Sum(p => p.Value.ByteSize);

    /// <summary>Storage of the embedding, projections and LM head (norms and biases are always float32).</summary>
    public TensorDtype WeightDtype => Embed.Dtype;

    public void ZeroGrad()
    {
        foreach (var (_, t) in Parameters) t.ZeroGrad();
    }

    /// <summary>Loads `config.json`, `model.safetensors` (or its sharded index) and `generation_config.json`.</summary>
    /// <param name="dir">The Hugging Face model folder.</param>
    /// <param name="weights">
    /// Storage of the large weights (see the constructor); null: the checkpoint's (bfloat16 when its embedding is
    /// stored as BF16, else float32). A BF16 checkpoint loaded as bfloat16 is copied bit for bit, with no float32 copy;
    /// loaded as float32 (to train every weight) it is widened exactly.
    /// </param>
    public static Transformer Load(string dir, TensorDtype? weights = null)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: model directory not found");
        var config = ModelConfig.Load(Path.Combine(dir, ModelConfig.FileName));
        using var checkpoint = SafetensorsCheckpoint.Open(dir);
        var model = new Transformer(config, seed: null, weights ?? CheckpointDtype(checkpoint)) { GenerationConfig = GenerationConfig.TryLoad(dir) };
        model.ReadWeights(checkpoint);
        return model;
    }

    /// <summary>bfloat16 when the checkpoint stores its embedding as BF16, else float32.</summary>
    public static TensorDtype CheckpointDtype(SafetensorsCheckpoint checkpoint)
    {
        const string embed = "model.embed_tokens.weight";
        return checkpoint.Contains(embed) && checkpoint.Entry(embed).Dtype == SafetensorsDtype.BF16 ? TensorDtype.BFloat16 : TensorDtype.Float32;
    }

    /// <summary>
    /// Reads the weights of the Hugging Face folder <paramref name="dir"/> into this model's parameters in place (a
    /// resumed run restores a checkpoint without a second copy of the model); every tensor must be present with this
    /// model's shape.
    /// </summary>
    public void ReadWeights(string dir)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(dir);
        ReadWeights(checkpoint);
    }

    private void ReadWeights(SafetensorsCheckpoint checkpoint)
    {
        var config = Config;
        string dir = checkpoint.Directory;
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in Parameters)
        {
            expected.Add(name);
            if (!checkpoint.Contains(name))
                throw new InvalidDataException($"{dir}: missing tensor '{name}' in the checkpoint (config.json: model_type {config.ModelType})");
            var entry = checkpoint.Entry(name);
            if (!entry.Shape.AsSpan().SequenceEqual(tensor.Shape))
                throw new InvalidDataException($"{checkpoint.FileOf(name)}: tensor '{name}' has shape {Shapes.Format(entry.Shape)}, config.json implies {Shapes.Format(tensor.Shape)}");
            if (tensor.Dtype == TensorDtype.BFloat16) checkpoint.ReadInto(name, tensor.BFloat16Data);
            else checkpoint.ReadInto(name, tensor.Data);
        }
        foreach (var name in checkpoint.Names)
        {
            if (expected.Contains(name) || name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)) continue;
            // Some tied checkpoints store a copy of the embedding as lm_head; it is redundant.
            if (name == "lm_head.weight" && config.TieWordEmbeddings) continue;
            throw new InvalidDataException($"{checkpoint.FileOf(name)}: unexpected tensor '{name}' for model_type {config.ModelType} (config.json)");
        }
    }

    /// <summary>
    /// Writes `config.json` and the weights, sharded above <paramref name="maxShardBytes"/>, as
    /// <paramref name="dtype"/> (default: BF16 for a bfloat16 model, every tensor, as Hugging Face writes them; else F32).
    /// </summary>
    public void Save(string dir, long maxShardBytes = 2L << 30, SafetensorsDtype? dtype = null)
    {
        var fileDtype = dtype ?? (WeightDtype == TensorDtype.BFloat16 ? SafetensorsDtype.BF16 : SafetensorsDtype.F32);
        Directory.CreateDirectory(dir);
        Config.Save(Path.Combine(dir, ModelConfig.FileName), fileDtype switch
        {
            SafetensorsDtype.BF16 => "bfloat16",
            SafetensorsDtype.F16 => "float16",
            _ => "float32",
        });
        SafetensorsCheckpoint.Save(dir, Parameters.Select(p => NamedArray.Of(p.Key, p.Value)).ToList(), maxShardBytes, fileDtype);
        GenerationConfig?.Save(dir);
    }

    /// <summary>
    /// This model with float32, trainable weights: itself when they are float32 already, else a new model holding the
    /// widened values (exact) and the same generation config.
    /// </summary>
    public Transformer ToFloat32()
    {
        if (WeightDtype == TensorDtype.Float32) return this;
        var copy = new Transformer(Config, seed: null) { GenerationConfig = GenerationConfig, GradientCheckpointing = GradientCheckpointing };
        copy.CopyWeightsFrom(this);
        return copy;
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
            CopyValues(src, dst);
        }
    }

    /// <summary>dst's values = src's, widened or rounded (to nearest even) when their storage differs.</summary>
    private static void CopyValues(Tensor src, Tensor dst)
    {
        switch (src.Dtype, dst.Dtype)
        {
            case (TensorDtype.Float32, TensorDtype.Float32): src.Data.CopyTo(dst.Data, 0); break;
            case (TensorDtype.BFloat16, TensorDtype.BFloat16): src.BFloat16Data.CopyTo(dst.BFloat16Data, 0); break;
            case (TensorDtype.BFloat16, TensorDtype.Float32): BFloat16.Widen(src.BFloat16Data, dst.Data); break;
            default: BFloat16.Round(src.Data, dst.BFloat16Data); break;
        }
    }
}

using System.Text.Json;

namespace Pacs.Models;

/// <summary>Llama 3 "rope_scaling": stretches the low RoPE frequencies for long contexts.</summary>
public sealed record RopeScaling(
    string Type,
    double Factor,
    double LowFreqFactor,
    double HighFreqFactor,
    int OriginalMaxPositionEmbeddings);

/// <summary>
/// A decoder-only transformer's hyper-parameters, read from and written to a Hugging Face `config.json`.
/// Llama, Qwen2 (q/k/v bias) and Qwen3 (per-head q/k RMSNorm) differ only in the flags below.
/// </summary>
public sealed record ModelConfig
{
    public const string FileName = "config.json";

    public string ModelType { get; init; } = "llama";
    public int VocabSize { get; init; }
    public int HiddenSize { get; init; }
    public int NumHiddenLayers { get; init; }
    public int NumAttentionHeads { get; init; }
    public int NumKeyValueHeads { get; init; }
    public int HeadDim { get; init; }
    public int IntermediateSize { get; init; }
    public double RopeTheta { get; init; } = 10000;
    public double RmsNormEps { get; init; } = 1e-6;
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Bias on q/k/v projections (Qwen2 always; Llama/Qwen3 when `attention_bias`).</summary>
    public bool QkvBias { get; init; }
    /// <summary>Bias on the output projection (Llama/Qwen3 `attention_bias`; never in Qwen2).</summary>
    public bool OutputBias { get; init; }
    /// <summary>Qwen3: RMSNorm over each head's q and k before RoPE.</summary>
    public bool QkNorm { get; init; }
    public RopeScaling? RopeScaling { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }
    public double InitializerRange { get; init; } = 0.02;

    public string Architecture => ModelType switch
    {
        "llama" => "LlamaForCausalLM",
        "qwen2" => "Qwen2ForCausalLM",
        "qwen3" => "Qwen3ForCausalLM",
        _ => throw new NotSupportedException($"model type '{ModelType}' is not supported"),
    };

    public int KvGroups => NumAttentionHeads / NumKeyValueHeads;

    /// <summary>Checks the sizes fit together; <paramref name="source"/> names the file in the message.</summary>
    public void Validate(string source = FileName)
    {
        if (ModelType is not ("llama" or "qwen2" or "qwen3"))
            throw new NotSupportedException($"{source}: model_type '{ModelType}' is not supported (llama, qwen2, qwen3)");
        Positive(VocabSize, "vocab_size");
        Positive(HiddenSize, "hidden_size");
        Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(NumKeyValueHeads, "num_key_value_heads");
        Positive(HeadDim, "head_dim");
        Positive(IntermediateSize, "intermediate_size");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new InvalidDataException($"{source}: field 'num_attention_heads' ({NumAttentionHeads}) is not divisible by 'num_key_value_heads' ({NumKeyValueHeads})");
        if (HeadDim % 2 != 0)
            throw new InvalidDataException($"{source}: field 'head_dim' ({HeadDim}) must be even for rotary embeddings");
        if (!(RopeTheta > 0)) throw new InvalidDataException($"{source}: field 'rope_theta' must be positive, got {RopeTheta}");
        if (!(RmsNormEps > 0)) throw new InvalidDataException($"{source}: field 'rms_norm_eps' must be positive, got {RmsNormEps}");
        foreach (var id in EosTokenIds)
            if (id < 0 || id >= VocabSize) throw new InvalidDataException($"{source}: field 'eos_token_id' {id} is outside the vocabulary [0, {VocabSize})");
        if (BosTokenId is { } bos && (bos < 0 || bos >= VocabSize))
            throw new InvalidDataException($"{source}: field 'bos_token_id' {bos} is outside the vocabulary [0, {VocabSize})");
        if (RopeScaling is { } s)
        {
            if (!(s.Factor > 0 && s.LowFreqFactor > 0 && s.HighFreqFactor > s.LowFreqFactor && s.OriginalMaxPositionEmbeddings > 0))
                throw new InvalidDataException($"{source}: field 'rope_scaling' needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0");
        }

        void Positive(int value, string field)
        {
            if (value <= 0) throw new InvalidDataException($"{source}: field '{field}' must be a positive integer, got {value}");
        }
    }

    public static ModelConfig Load(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: model config not found", path);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid JSON: {e.Message}");
        }
        using (doc) return Parse(doc.RootElement, path);
    }

    public static ModelConfig Parse(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{source}: expected a JSON object");
        string? modelType = OptString(root, "model_type", source);
        string? architecture = null;
        if (root.TryGetProperty("architectures", out var archs) && archs.ValueKind == JsonValueKind.Array && archs.GetArrayLength() > 0)
            architecture = archs[0].GetString();
        modelType ??= architecture switch
        {
            "LlamaForCausalLM" => "llama",
            "Qwen2ForCausalLM" => "qwen2",
            "Qwen3ForCausalLM" => "qwen3",
            null => throw new InvalidDataException($"{source}: field 'model_type' is missing (and no 'architectures')"),
            _ => throw new NotSupportedException($"{source}: field 'architectures' names '{architecture}', which is not supported (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)"),
        };
        if (modelType is not ("llama" or "qwen2" or "qwen3"))
            throw new NotSupportedException($"{source}: field 'model_type' is '{modelType}', which is not supported (llama, qwen2, qwen3)");
        if (architecture is not null && architecture is not ("LlamaForCausalLM" or "Qwen2ForCausalLM" or "Qwen3ForCausalLM"))
            throw new NotSupportedException($"{source}: field 'architectures' names '{architecture}', which is not supported (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)");

        string act = OptString(root, "hidden_act", source) ?? "silu";
        if (act != "silu") throw new NotSupportedException($"{source}: field 'hidden_act' is '{act}'; only 'silu' is supported");
        if (OptBool(root, "mlp_bias", source) == true) throw new NotSupportedException($"{source}: field 'mlp_bias' true is not supported");
        if (OptBool(root, "use_sliding_window", source) == true)
            throw new NotSupportedException($"{source}: field 'use_sliding_window' true is not supported");

        int hidden = ReqInt(root, "hidden_size", source);
        int heads = ReqInt(root, "num_attention_heads", source);
        int? headDim = OptInt(root, "head_dim", source);
        if (headDim is null)
        {
            if (heads <= 0) throw new InvalidDataException($"{source}: field 'num_attention_heads' must be a positive integer, got {heads}");
            if (hidden % heads != 0)
                throw new InvalidDataException($"{source}: field 'hidden_size' ({hidden}) is not divisible by 'num_attention_heads' ({heads}) and no 'head_dim' is given");
            headDim = hidden / heads;
        }
        bool attentionBias = OptBool(root, "attention_bias", source) ?? false;
        var config = new ModelConfig
        {
            ModelType = modelType,
            VocabSize = ReqInt(root, "vocab_size", source),
            HiddenSize = hidden,
            NumHiddenLayers = ReqInt(root, "num_hidden_layers", source),
            NumAttentionHeads = heads,
            NumKeyValueHeads = OptInt(root, "num_key_value_heads", source) ?? heads,
            HeadDim = headDim.Value,
            IntermediateSize = ReqInt(root, "intermediate_size", source),
            RopeTheta = OptDouble(root, "rope_theta", source) ?? 10000,
            RmsNormEps = OptDouble(root, "rms_norm_eps", source) ?? 1e-6,
            TieWordEmbeddings = OptBool(root, "tie_word_embeddings", source) ?? (modelType != "llama"),
            QkvBias = modelType == "qwen2" || attentionBias,
            OutputBias = modelType != "qwen2" && attentionBias,
            QkNorm = modelType == "qwen3",
            RopeScaling = ParseRopeScaling(root, source),
            MaxPositionEmbeddings = OptInt(root, "max_position_embeddings", source) ?? 2048,
            BosTokenId = OptInt(root, "bos_token_id", source),
            EosTokenIds = ParseIds(root, "eos_token_id", source),
            PadTokenId = OptInt(root, "pad_token_id", source),
            InitializerRange = OptDouble(root, "initializer_range", source) ?? 0.02,
        };
        config.Validate(source);
        return config;
    }

    private static RopeScaling? ParseRopeScaling(JsonElement root, string source)
    {
        if (!root.TryGetProperty("rope_scaling", out var s) || s.ValueKind == JsonValueKind.Null) return null;
        if (s.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{source}: field 'rope_scaling' must be an object or null");
        string type = OptString(s, "rope_type", source) ?? OptString(s, "type", source)
            ?? throw new InvalidDataException($"{source}: field 'rope_scaling.rope_type' is missing");
        if (type == "default") return null;
        if (type != "llama3") throw new NotSupportedException($"{source}: field 'rope_scaling.rope_type' is '{type}'; only 'llama3' is supported");
        return new RopeScaling(type,
            OptDouble(s, "factor", source) ?? throw new InvalidDataException($"{source}: field 'rope_scaling.factor' is missing"),
            OptDouble(s, "low_freq_factor", source) ?? throw new InvalidDataException($"{source}: field 'rope_scaling.low_freq_factor' is missing"),
            OptDouble(s, "high_freq_factor", source) ?? throw new InvalidDataException($"{source}: field 'rope_scaling.high_freq_factor' is missing"),
            OptInt(s, "original_max_position_embeddings", source) ?? throw new InvalidDataException($"{source}: field 'rope_scaling.original_max_position_embeddings' is missing"));
    }

    /// <summary>Reads an id field that may be null, an integer or a list of integers.</summary>
    internal static IReadOnlyList<int> ParseIds(JsonElement root, string field, string source)
    {
        if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return [];
        if (v.ValueKind == JsonValueKind.Number) return [AsInt(v, field, source)];
        if (v.ValueKind == JsonValueKind.Array) return v.EnumerateArray().Select(e => AsInt(e, field, source)).ToArray();
        throw new InvalidDataException($"{source}: field '{field}' must be an integer or a list of integers");
    }

    private static int AsInt(JsonElement v, string field, string source)
    {
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i))
            throw new InvalidDataException($"{source}: field '{field}' must be an integer, got {v.GetRawText()}");
        return i;
    }

    private static int ReqInt(JsonElement root, string field, string source) =>
        OptInt(root, field, source) ?? throw new InvalidDataException($"{source}: field '{field}' is missing");

    internal static int? OptInt(JsonElement root, string field, string source)
    {
        if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return AsInt(v, field, source);
    }

    internal static double? OptDouble(JsonElement root, string field, string source)
    {
        if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number) throw new InvalidDataException($"{source}: field '{field}' must be a number, got {v.GetRawText()}");
        return v.GetDouble();
    }

    internal static bool? OptBool(JsonElement root, string field, string source)
    {
        if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            throw new InvalidDataException($"{source}: field '{field}' must be true or false, got {v.GetRawText()}");
        return v.GetBoolean();
    }

    private static string? OptString(JsonElement root, string field, string source)
    {
        if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{source}: field '{field}' must be a string, got {v.GetRawText()}");
        return v.GetString();
    }

    /// <summary>Writes `config.json` in the Hugging Face layout (atomically); torch_dtype names the weights' dtype.</summary>
    public void Save(string path, string torchDtype = "float32")
    {
        if (Directory.Exists(path)) path = Path.Combine(path, FileName);
        Validate(path);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("architectures");
            w.WriteStringValue(Architecture);
            w.WriteEndArray();
            w.WriteString("model_type", ModelType);
            w.WriteString("hidden_act", "silu");
            w.WriteNumber("vocab_size", VocabSize);
            w.WriteNumber("hidden_size", HiddenSize);
            w.WriteNumber("num_hidden_layers", NumHiddenLayers);
            w.WriteNumber("num_attention_heads", NumAttentionHeads);
            w.WriteNumber("num_key_value_heads", NumKeyValueHeads);
            w.WriteNumber("head_dim", HeadDim);
            w.WriteNumber("intermediate_size", IntermediateSize);
            w.WriteNumber("rope_theta", RopeTheta);
            w.WriteNumber("rms_norm_eps", RmsNormEps);
            w.WriteBoolean("tie_word_embeddings", TieWordEmbeddings);
            // Qwen2 has q/k/v bias by construction; elsewhere one flag covers q/k/v/o.
            w.WriteBoolean("attention_bias", ModelType == "qwen2" ? false : QkvBias);
            if (ModelType == "qwen2") w.WriteBoolean("use_sliding_window", false);
            if (RopeScaling is { } s)
            {
                w.WriteStartObject("rope_scaling");
                w.WriteString("rope_type", s.Type);
                w.WriteNumber("factor", s.Factor);
                w.WriteNumber("low_freq_factor", s.LowFreqFactor);
                w.WriteNumber("high_freq_factor", s.HighFreqFactor);
                w.WriteNumber("original_max_position_embeddings", s.OriginalMaxPositionEmbeddings);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("rope_scaling");
            }
            w.WriteNumber("max_position_embeddings", MaxPositionEmbeddings);
            if (BosTokenId is { } bos) w.WriteNumber("bos_token_id", bos); else w.WriteNull("bos_token_id");
            if (EosTokenIds.Count == 1) w.WriteNumber("eos_token_id", EosTokenIds[0]);
            else
            {
                w.WriteStartArray("eos_token_id");
                foreach (var id in EosTokenIds) w.WriteNumberValue(id);
                w.WriteEndArray();
            }
            if (PadTokenId is { } pad) w.WriteNumber("pad_token_id", pad);
            w.WriteNumber("initializer_range", InitializerRange);
            w.WriteString("torch_dtype", torchDtype);
            w.WriteEndObject();
        }
        AtomicFile.WriteAllBytes(path, stream.ToArray());
    }
}

/// <summary>Writes a file via a temporary sibling and a rename, so readers never see half a file.</summary>
internal static class AtomicFile
{
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        Write(path, s => s.Write(bytes));
    }

    public static void Write(string path, SpanAction write)
    {
        string tmp = path + ".tmp-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            using (var s = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(s);
                s.Flush(flushToDisk: false);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    public delegate void SpanAction(Stream stream);
}

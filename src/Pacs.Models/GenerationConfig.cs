using System.Text.Json;

namespace Pacs.Models;

/// <summary>Default sampling settings and end ids from a Hugging Face `generation_config.json`.</summary>
public sealed record GenerationConfig
{
    public const string FileName = "generation_config.json";

    public bool DoSample { get; init; }
    public float Temperature { get; init; } = 1;
    public int TopK { get; init; }
    public float TopP { get; init; } = 1;
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }
    public int? MaxNewTokens { get; init; }

    /// <summary>Reads `generation_config.json` from a model folder; null when the folder has none.</summary>
    public static GenerationConfig? TryLoad(string dir)
    {
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid JSON: {e.Message}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object");
            var config = new GenerationConfig
            {
                DoSample = ModelConfig.OptBool(root, "do_sample", path) ?? false,
                Temperature = (float)(ModelConfig.OptDouble(root, "temperature", path) ?? 1),
                TopK = ModelConfig.OptInt(root, "top_k", path) ?? 0,
                TopP = (float)(ModelConfig.OptDouble(root, "top_p", path) ?? 1),
                BosTokenId = ModelConfig.OptInt(root, "bos_token_id", path),
                EosTokenIds = ModelConfig.ParseIds(root, "eos_token_id", path),
                PadTokenId = ModelConfig.OptInt(root, "pad_token_id", path),
                MaxNewTokens = ModelConfig.OptInt(root, "max_new_tokens", path),
            };
            if (!(config.Temperature >= 0)) throw new InvalidDataException($"{path}: field 'temperature' must be >= 0, got {config.Temperature}");
            if (!(config.TopP > 0 && config.TopP <= 1)) throw new InvalidDataException($"{path}: field 'top_p' must be in (0, 1], got {config.TopP}");
            if (config.TopK < 0) throw new InvalidDataException($"{path}: field 'top_k' must be >= 0, got {config.TopK}");
            return config;
        }
    }
    /// <summary>Writes `generation_config.json` into a model folder (atomically).</summary>
    public void Save(string dir)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            if (BosTokenId is { } bos) w.WriteNumber("bos_token_id", bos);
            if (EosTokenIds.Count == 1) w.WriteNumber("eos_token_id", EosTokenIds[0]);
            else if (EosTokenIds.Count > 1)
            {
                w.WriteStartArray("eos_token_id");
                foreach (var id in EosTokenIds) w.WriteNumberValue(id);
                w.WriteEndArray();
            }
            if (PadTokenId is { } pad) w.WriteNumber("pad_token_id", pad);
            w.WriteBoolean("do_sample", DoSample);
            w.WriteNumber("temperature", Temperature);
            if (TopK > 0) w.WriteNumber("top_k", TopK);
            w.WriteNumber("top_p", TopP);
            if (MaxNewTokens is { } m) w.WriteNumber("max_new_tokens", m);
            w.WriteEndObject();
        }
        AtomicFile.WriteAllBytes(Path.Combine(dir, FileName), stream.ToArray());
    }
}

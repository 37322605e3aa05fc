using System.Text.Json;

namespace Pacs.Models;

/// <summary>
/// A LoRA adapter folder in Hugging Face PEFT's format: `adapter_config.json` (PEFT's `LoraConfig`,
/// src/peft/tuners/lora/config.py) and `adapter_model.safetensors` (src/peft/utils/save_and_load.py:
/// `get_peft_model_state_dict` drops the adapter name, so keys read
/// `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`; keys that keep it,
/// `...lora_A.default.weight`, are read too).
/// </summary>
public static class PeftAdapter
{
    public const string ConfigFileName = "adapter_config.json";
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>True when <paramref name="dir"/> holds an adapter (its `adapter_config.json`).</summary>
    public static bool IsAdapterFolder(string dir) => File.Exists(Path.Combine(dir, ConfigFileName));

    /// <summary>Writes both files (float32 weights); <paramref name="baseModel"/> goes to `base_model_name_or_path`.</summary>
    public static void Save(LoraAdapter adapter, string dir, string baseModel)
    {
        Directory.CreateDirectory(dir);
        var c = adapter.Config;
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("peft_type", "LORA");
            w.WriteString("task_type", "CAUSAL_LM");
            w.WriteString("base_model_name_or_path", baseModel);
            w.WriteNumber("r", c.Rank);
            w.WriteNumber("lora_alpha", c.Alpha);
            w.WriteNumber("lora_dropout", c.Dropout);
            w.WriteStartArray("target_modules");
            foreach (var t in c.Targets) w.WriteStringValue(LoraTargets.Name(t));
            w.WriteEndArray();
            w.WriteString("bias", "none");
            w.WriteBoolean("fan_in_fan_out", false);
            w.WriteBoolean("use_rslora", c.UseRsLora);
            w.WriteBoolean("use_dora", false);
            w.WriteBoolean("inference_mode", true);
            w.WriteBoolean("init_lora_weights", true);
            w.WriteNull("modules_to_save");
            w.WriteNull("layers_to_transform");
            w.WriteNull("layers_pattern");
            w.WriteStartObject("rank_pattern");
            w.WriteEndObject();
            w.WriteStartObject("alpha_pattern");
            w.WriteEndObject();
            w.WriteNull("revision");
            w.WriteEndObject();
        }
        AtomicFile.WriteAllBytes(Path.Combine(dir, ConfigFileName), stream.ToArray());
        SafetensorsFile.Write(Path.Combine(dir, WeightsFileName),
            adapter.Parameters.Select(p => new NamedArray(p.Key, p.Value.Shape, p.Value.Data)).ToList());
    }

    /// <summary>The adapter's settings and `base_model_name_or_path` (null when absent).</summary>
    public static (LoraConfig Config, string? BaseModel) ReadConfig(string dir)
    {
        string path = Path.Combine(dir, ConfigFileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{dir}: no {ConfigFileName} (not a PEFT adapter folder)", path);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: malformed JSON: {e.Message}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            string? Text(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            bool Flag(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.True;
            bool Present(string key) => root.TryGetProperty(key, out var v) && v.ValueKind switch
            {
                JsonValueKind.Null or JsonValueKind.False => false,
                JsonValueKind.Object => v.EnumerateObject().Any(),
                JsonValueKind.Array => v.GetArrayLength() > 0,
                _ => true,
            };
            if (Text("peft_type") is not "LORA") throw new InvalidDataException($"{path}: peft_type '{Text("peft_type")}' is not LORA");
            if (Text("bias") is { } bias && bias != "none") throw new InvalidDataException($"{path}: bias '{bias}' is not supported (only \"none\")");
            foreach (var key in new[] { "fan_in_fan_out", "use_dora", "modules_to_save", "layers_to_transform", "rank_pattern", "alpha_pattern" })
                if (Present(key)) throw new InvalidDataException($"{path}: {key} is not supported by Pacs's LoRA");
            int rank = root.TryGetProperty("r", out var r) && r.TryGetInt32(out int rv) ? rv : throw new InvalidDataException($"{path}: 'r' must be an integer");
            double alpha = root.TryGetProperty("lora_alpha", out var a) && a.TryGetDouble(out double av) ? av : rank;
            double dropout = root.TryGetProperty("lora_dropout", out var d) && d.TryGetDouble(out double dv) ? dv : 0;
            if (!root.TryGetProperty("target_modules", out var tm)) throw new InvalidDataException($"{path}: no target_modules");
            IReadOnlyList<LoraTarget> targets;
            try
            {
                targets = tm.ValueKind == JsonValueKind.Array
                    ? LoraTargets.Parse(tm.EnumerateArray().Select(e => e.GetString() ?? ""), path + ": target_modules")
                    : tm.ValueKind == JsonValueKind.String && tm.GetString() == "all-linear" ? LoraTargets.All
                    : throw new InvalidDataException($"{path}: target_modules must be a list of module names");
                var config = new LoraConfig(rank, alpha, dropout, targets, Flag("use_rslora"));
                config.Validate(path + ": lora");
                return (config, Text("base_model_name_or_path"));
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException(e.Message);
            }
        }
    }

    /// <summary>
    /// Reads the adapter in <paramref name="dir"/> for <paramref name="model"/> (any of float32, bf16, f16 weights):
    /// every targeted projection of every layer must be present with PEFT's shapes, and nothing else.
    /// </summary>
    public static LoraAdapter Load(string dir, Transformer model, ulong dropoutSeed = 0)
    {
        var (config, _) = ReadConfig(dir);
        string path = Path.Combine(dir, WeightsFileName);
        using var file = SafetensorsFile.Open(path);
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in file.Entries.Keys) byName[name.Replace(".default.weight", ".weight", StringComparison.Ordinal)] = name;
        var adapter = LoraAdapter.Build(model, config, dropoutSeed,
            (l, t, rows, cols) => Read(l, t, "lora_A", rows, cols), (l, t, rows, cols) => Read(l, t, "lora_B", rows, cols));
        var expected = adapter.Parameters.Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var name in byName.Keys)
            if (!expected.Contains(name))
                throw new InvalidDataException($"{path}: unexpected tensor '{byName[name]}' (config: {model.Layers.Count} layers, target_modules {string.Join(", ", config.Targets.Select(LoraTargets.Name))})");
        return adapter;

        float[] Read(int layer, LoraTarget target, string factor, int rows, int cols)
        {
            string name = LoraAdapter.TensorName(layer, target, factor);
            if (!byName.TryGetValue(name, out var stored)) throw new InvalidDataException($"{path}: missing tensor '{name}'");
            var entry = file.Entry(stored);
            if (!entry.Shape.AsSpan().SequenceEqual([rows, cols]))
                throw new InvalidDataException($"{path}: tensor '{stored}' has shape {Pacs.Tensors.Shapes.Format(entry.Shape)}, the base model and r imply [{rows}, {cols}]");
            var data = new float[rows * cols];
            file.ReadInto(stored, data);
            return data;
        }
    }
}

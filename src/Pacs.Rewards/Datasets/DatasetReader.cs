using System.Text.Json;

namespace Pacs.Rewards.Datasets;

/// <summary>Which fields of a row hold the prompt, the gold answer and the id. A dotted key (e.g.
/// <c>reward_model.ground_truth</c>) reads a nested field.</summary>
public sealed record DatasetKeys(string Prompt = "problem", string Answer = "answer", string Id = "id")
{
    public static DatasetKeys Default { get; } = new();
}

/// <summary>
/// One row of a prompt set. <see cref="Formatted"/> rows (verl's) carry the prompt exactly as the model should see it
/// (instruction included), so no prompt template is applied to them.
/// </summary>
public sealed record DatasetRow(string Id, string Prompt, string Answer, string? Solution, string? System, bool Formatted);

/// <summary>
/// Reads prompt sets from JSON Lines or Parquet. A row is either verl's (<c>prompt</c> a list of chat messages: an
/// optional system message and one user message; the answer in <c>reward_model.ground_truth</c>; <c>data_source</c>
/// and <c>extra_info.index</c> name it) or any object with string fields at the prompt and answer keys. A bad row is
/// reported with the file and its line (JSONL) or row (Parquet, 1-based) before anything trains.
/// </summary>
public static class DatasetReader
{
    public static IReadOnlyList<DatasetRow> Read(string path, DatasetKeys? keys = null)
    {
        keys ??= DatasetKeys.Default;
        if (!File.Exists(path)) throw new FileNotFoundException($"dataset file not found: {path}", path);
        var rows = path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) ? ParquetRows.Read(path, keys) : ReadJsonl(path, keys);
        if (rows.Count == 0) throw new InvalidDataException($"{path}: no problems");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in rows)
            if (!seen.Add(row.Id)) throw new InvalidDataException($"{path}: id '{row.Id}' appears twice");
        return rows;
    }

    private static List<DatasetRow> ReadJsonl(string path, DatasetKeys keys)
    {
        var rows = new List<DatasetRow>();
        string name = Path.GetFileNameWithoutExtension(path);
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement row;
            try
            {
                using var doc = JsonDocument.Parse(line);
                row = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{lineNumber}: not valid JSON ({e.Message})");
            }
            string where = $"{path}:{lineNumber}";
            if (row.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: expected a JSON object");
            rows.Add(FromJson(row, keys, where, fallbackId: $"{name}-{lineNumber - 1}"));
        }
        return rows;
    }

    /// <summary>One JSON object as a row; <paramref name="where"/> ("file:line") prefixes every error.</summary>
    public static DatasetRow FromJson(JsonElement row, DatasetKeys keys, string where, string fallbackId)
    {
        if (IsVerl(row, keys))
        {
            var (system, user) = Messages(row.GetProperty("prompt"), where);
            string answer = Scalar(Field(row, "reward_model.ground_truth"), "reward_model.ground_truth", where);
            return new DatasetRow(VerlId(row, keys, fallbackId), user, answer, null, system, Formatted: true);
        }
        string prompt = Scalar(Field(row, keys.Prompt), keys.Prompt, where);
        string gold = Scalar(Field(row, keys.Answer), keys.Answer, where);
        string id = Field(row, keys.Id) is { ValueKind: JsonValueKind.String or JsonValueKind.Number } idValue ? ScalarText(idValue) : fallbackId;
        string? solution = Field(row, "solution") is { ValueKind: JsonValueKind.String } s ? s.GetString() : null;
        return new DatasetRow(id, prompt, gold, solution, null, Formatted: false);
    }

    /// <summary>verl's layout: `prompt` is a list of messages (unless data.prompt_key names some other field).</summary>
    private static bool IsVerl(JsonElement row, DatasetKeys keys) =>
        keys.Prompt is "prompt" or "problem" && row.TryGetProperty("prompt", out var prompt) && prompt.ValueKind == JsonValueKind.Array;

    private static string VerlId(JsonElement row, DatasetKeys keys, string fallbackId)
    {
        if (Field(row, keys.Id) is { ValueKind: JsonValueKind.String or JsonValueKind.Number } id) return ScalarText(id);
        string source = Field(row, "data_source") is { ValueKind: JsonValueKind.String } s ? s.GetString()! : "";
        return Field(row, "extra_info.index") is { ValueKind: JsonValueKind.String or JsonValueKind.Number } index
            ? $"{(source.Length > 0 ? source : "row")}-{ScalarText(index)}" : fallbackId;
    }

    /// <summary>[system?, user]: the only conversations a prompt set may hold (the model answers the user turn).</summary>
    private static (string? System, string User) Messages(JsonElement prompt, string where)
    {
        var messages = new List<(string Role, string Content)>();
        foreach (var m in prompt.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: field 'prompt' must be a list of {{role, content}} messages");
            string role = Scalar(Field(m, "role"), "prompt[].role", where);
            string content = Scalar(Field(m, "content"), "prompt[].content", where);
            messages.Add((role, content));
        }
        return FromMessages(messages, where);
    }

    /// <summary>Checks a conversation is an optional system message then one user message.</summary>
    public static (string? System, string User) FromMessages(IReadOnlyList<(string Role, string Content)> messages, string where)
    {
        bool withSystem = messages.Count == 2 && messages[0].Role == "system";
        if (!(messages.Count == 1 || withSystem) || messages[^1].Role != "user")
            throw new InvalidDataException($"{where}: field 'prompt' must be one user message, optionally after one system message (got roles: {string.Join(", ", messages.Select(m => m.Role))})");
        return (withSystem ? messages[0].Content : null, messages[^1].Content);
    }

    /// <summary>The value at a dotted key, or null when any part is missing.</summary>
    private static JsonElement? Field(JsonElement row, string dottedKey)
    {
        var current = row;
        foreach (var part in dottedKey.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out var next)) return null;
            current = next;
        }
        return current;
    }

    private static string Scalar(JsonElement? value, string key, string where) => value switch
    {
        null => throw new InvalidDataException($"{where}: missing field '{key}'"),
        { ValueKind: JsonValueKind.String or JsonValueKind.Number } v => ScalarText(v),
        _ => throw new InvalidDataException($"{where}: field '{key}' must be a string"),
    };

    private static string ScalarText(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
}

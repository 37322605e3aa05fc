using System.Text.Json;

namespace Pacs.Serve;

/// <summary>
/// Typed reads of a JSON request object: a field of the wrong type or out of range is a 400 naming the field.
/// Absent and null fields read as the default.
/// </summary>
internal readonly struct RequestBody(JsonElement root, string prefix = "")
{
    public JsonElement Root { get; } = root;

    public static RequestBody Parse(byte[] body)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw ApiError.BadRequest($"the request body is not valid JSON: {e.Message}");
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw ApiError.BadRequest("the request body must be a JSON object");
        return new RequestBody(doc.RootElement);
    }

    public bool Has(string name) => Root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public JsonElement? Get(string name) => Root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    /// <summary>A nested object (e.g. SGLang's sampling_params); field names in errors carry its name.</summary>
    public RequestBody? Object(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Object) throw Wrong(name, "an object");
        return new RequestBody(v, Name(name) + ".");
    }

    public long? Long(string name, long min, long max)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long x)) throw Wrong(name, "an integer");
        if (x < min || x > max) throw ApiError.BadRequest($"'{Name(name)}' must be in [{min}, {max}], got {x}", Name(name));
        return x;
    }

    public int? Int(string name, int min, int max) => (int?)Long(name, min, max);

    public ulong? Seed(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number) throw Wrong(name, "an integer");
        if (v.TryGetUInt64(out ulong u)) return u;
        if (v.TryGetInt64(out long s)) return unchecked((ulong)s);
        throw Wrong(name, "a 64-bit integer");
    }

    public float? Float(string name, double min, double max)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number) throw Wrong(name, "a number");
        double x = v.GetDouble();
        if (!(x >= min && x <= max)) throw ApiError.BadRequest($"'{Name(name)}' must be in [{min}, {max}], got {x}", Name(name));
        return (float)x;
    }

    public bool? Bool(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw Wrong(name, "a boolean");
        return v.GetBoolean();
    }

    public string? String(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.String) throw Wrong(name, "a string");
        return v.GetString();
    }

    /// <summary>A string or a list of strings (OpenAI's `stop`).</summary>
    public string[] Strings(string name)
    {
        if (Get(name) is not { } v) return [];
        if (v.ValueKind == JsonValueKind.String) return [v.GetString()!];
        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String)) throw Wrong(name, "a string or a list of strings");
        return v.EnumerateArray().Select(e => e.GetString()!).ToArray();
    }

    public int[] Ints(string name)
    {
        if (Get(name) is not { } v) return [];
        return IntArray(v, Name(name));
    }

    public static int[] IntArray(JsonElement v, string name)
    {
        if (v.ValueKind != JsonValueKind.Array) throw ApiError.BadRequest($"'{name}' must be a list of integers", name);
        var ids = new int[v.GetArrayLength()];
        int i = 0;
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out ids[i++])) throw ApiError.BadRequest($"'{name}' must be a list of integers", name);
        }
        return ids;
    }

    public ApiError Wrong(string name, string what) => ApiError.BadRequest($"'{Name(name)}' must be {what}", Name(name));

    private string Name(string name) => prefix + name;
}

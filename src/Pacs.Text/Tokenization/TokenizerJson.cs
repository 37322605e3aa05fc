using System.Text.Json;
using System.Text.RegularExpressions;

namespace Pacs.Text.Tokenization;

/// <summary>Helpers that read tokenizer.json fields and name the file and field when one is missing or mistyped.</summary>
internal static class TokenizerJson
{
    public static string RequireString(JsonElement json, string key, string file, string where)
    {
        if (json.ValueKind == JsonValueKind.Object && json.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String)
            return v.GetString()!;
        throw new InvalidDataException($"{file}: {where} needs a string field '{key}'");
    }

    public static string? OptionalString(JsonElement json, string key)
        => json.ValueKind == JsonValueKind.Object && json.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static bool OptionalBool(JsonElement json, string key, bool fallback)
        => json.ValueKind == JsonValueKind.Object && json.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? v.GetBoolean() : fallback;

    public static int OptionalInt(JsonElement json, string key, int fallback)
        => json.ValueKind == JsonValueKind.Object && json.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;

    public static JsonElement.ArrayEnumerator RequireArray(JsonElement json, string key, string file, string where)
    {
        if (json.ValueKind == JsonValueKind.Object && json.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Array)
            return v.EnumerateArray();
        throw new InvalidDataException($"{file}: {where} needs an array field '{key}'");
    }

    public static JsonElement Optional(JsonElement json, string key)
        => json.ValueKind == JsonValueKind.Object && json.TryGetProperty(key, out var v) ? v : default;
}

/// <summary>The `pattern` of Replace and Split: `{"String": s}` (literal) or `{"Regex": r}` (Oniguruma syntax, run with .NET Regex).</summary>
public sealed class TextPattern
{
    public string? Literal { get; }
    public Regex? Regex { get; }

    private TextPattern(string? literal, Regex? regex)
    {
        Literal = literal;
        Regex = regex;
    }

    public static TextPattern FromJson(JsonElement owner, string file, string where)
    {
        var pattern = TokenizerJson.Optional(owner, "pattern");
        if (TokenizerJson.OptionalString(pattern, "String") is { } literal)
        {
            if (literal.Length == 0) throw new InvalidDataException($"{file}: {where} has an empty String pattern");
            return new TextPattern(literal, null);
        }
        if (TokenizerJson.OptionalString(pattern, "Regex") is { } regex)
        {
            try
            {
                return new TextPattern(null, new Regex(regex, RegexOptions.Compiled | RegexOptions.CultureInvariant));
            }
            catch (ArgumentException e)
            {
                throw new NotSupportedException($"{file}: {where} regex '{regex}' is not supported by .NET Regex: {e.Message}");
            }
        }
        throw new InvalidDataException($"{file}: {where} needs a pattern with a 'String' or 'Regex' field");
    }

    public string ReplaceAll(string text, string content)
        => Literal is not null ? text.Replace(Literal, content, StringComparison.Ordinal) : Regex!.Replace(text, content.Replace("$", "$$"));

    /// <summary>Appends the (start, length) of every match in text[start..start+length) to matches.</summary>
    public void FindAll(string text, int start, int length, List<(int Start, int Length)> matches)
    {
        if (Literal is not null)
        {
            var span = text.AsSpan(start, length);
            int at = 0;
            while (at <= span.Length - Literal.Length)
            {
                int found = span[at..].IndexOf(Literal, StringComparison.Ordinal);
                if (found < 0) break;
                matches.Add((start + at + found, Literal.Length));
                at += found + Literal.Length;
            }
            return;
        }
        foreach (var m in Regex!.EnumerateMatches(text.AsSpan(start, length)))
            if (m.Length > 0) matches.Add((start + m.Index, m.Length));
    }
}

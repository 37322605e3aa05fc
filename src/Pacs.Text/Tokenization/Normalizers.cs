using System.Text;
using System.Text.Json;

namespace Pacs.Text.Tokenization;

/// <summary>A `normalizer` of tokenizer.json: rewrites the text before pre-tokenization.</summary>
public abstract class Normalizer
{
    public abstract string Normalize(string text);

    public static Normalizer? FromJson(JsonElement json, string file)
    {
        if (json.ValueKind == JsonValueKind.Null) return null;
        string type = TokenizerJson.RequireString(json, "type", file, "normalizer");
        return type switch
        {
            "NFC" => new UnicodeNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "Prepend" => new PrependNormalizer(TokenizerJson.RequireString(json, "prepend", file, "normalizer Prepend")),
            "Replace" => new ReplaceNormalizer(TextPattern.FromJson(json, file, "normalizer Replace"),
                TokenizerJson.RequireString(json, "content", file, "normalizer Replace")),
            "Strip" => new StripNormalizer(TokenizerJson.OptionalBool(json, "strip_left", true), TokenizerJson.OptionalBool(json, "strip_right", true)),
            "Sequence" => new SequenceNormalizer(TokenizerJson.RequireArray(json, "normalizers", file, "normalizer Sequence")
                .Select(n => FromJson(n, file)).OfType<Normalizer>().ToArray()),
            _ => throw new NotSupportedException($"{file}: normalizer type '{type}' is not supported"),
        };
    }
}

public sealed class UnicodeNormalizer(NormalizationForm form) : Normalizer
{
    public override string Normalize(string text) => UnicodeNormalization.Normalize(text, form);
}

public sealed class LowercaseNormalizer : Normalizer
{
    public override string Normalize(string text) => text.ToLowerInvariant();
}

/// <summary>Prepends a string to non-empty text (SentencePiece's "▁" before the first word).</summary>
public sealed class PrependNormalizer(string prefix) : Normalizer
{
    public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

public sealed class ReplaceNormalizer(TextPattern pattern, string content) : Normalizer
{
    public override string Normalize(string text) => pattern.ReplaceAll(text, content);
}

public sealed class StripNormalizer(bool left, bool right) : Normalizer
{
    public override string Normalize(string text) => left && right ? text.Trim() : left ? text.TrimStart() : right ? text.TrimEnd() : text;
}

public sealed class SequenceNormalizer(IReadOnlyList<Normalizer> steps) : Normalizer
{
    public override string Normalize(string text)
    {
        foreach (var step in steps) text = step.Normalize(text);
        return text;
    }
}

using System.Text;
using System.Text.Json;

namespace Pacs.Text.Tokenization;

/// <summary>A `decoder` of tokenizer.json: turns the token strings of some ids back into text, as a chain of steps
/// each mapping a list of strings to a list of strings (joined at the end).</summary>
public abstract class Decoder
{
    public abstract List<string> DecodeChain(List<string> tokens);

    public static Decoder? FromJson(JsonElement json, string file, IReadOnlySet<string> addedTokens)
    {
        if (json.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) return null;
        string type = TokenizerJson.RequireString(json, "type", file, "decoder");
        return type switch
        {
            "ByteLevel" => new ByteLevelDecoder(addedTokens),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(TokenizerJson.RequireString(json, "content", file, "decoder Strip"),
                TokenizerJson.OptionalInt(json, "start", 0), TokenizerJson.OptionalInt(json, "stop", 0), file),
            "Replace" => new ReplaceDecoder(TextPattern.FromJson(json, file, "decoder Replace"),
                TokenizerJson.RequireString(json, "content", file, "decoder Replace")),
            "Metaspace" => new MetaspaceDecoder(TokenizerJson.OptionalString(json, "replacement") ?? "\u2581",
                (TokenizerJson.OptionalString(json, "prepend_scheme")
                 ?? (TokenizerJson.OptionalBool(json, "add_prefix_space", true) ? "always" : "never")) != "never"),
            "Sequence" => new SequenceDecoder(TokenizerJson.RequireArray(json, "decoders", file, "decoder Sequence")
                .Select(d => FromJson(d, file, addedTokens)).OfType<Decoder>().ToArray()),
            _ => throw new NotSupportedException($"{file}: decoder type '{type}' is not supported"),
        };
    }
}

/// <summary>Maps byte-alphabet characters back to bytes and decodes UTF-8 (invalid sequences become U+FFFD). Added
/// tokens are kept as written, as the JavaScript and Python ports do.</summary>
public sealed class ByteLevelDecoder(IReadOnlySet<string> addedTokens) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>();
        var bytes = new List<byte>();
        void Flush()
        {
            if (bytes.Count == 0) return;
            result.Add(Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes)));
            bytes.Clear();
        }
        foreach (var token in tokens)
        {
            if (addedTokens.Contains(token))
            {
                Flush();
                result.Add(token);
                continue;
            }
            bool allMapped = true;
            foreach (char c in token) allMapped &= ByteLevelAlphabet.TryGetByte(c, out _);
            if (allMapped)
                foreach (char c in token) { ByteLevelAlphabet.TryGetByte(c, out byte b); bytes.Add(b); }
            else bytes.AddRange(Encoding.UTF8.GetBytes(token));
        }
        Flush();
        return result;
    }
}

/// <summary>Turns runs of "&lt;0xXX&gt;" tokens into the text their bytes encode.</summary>
public sealed class ByteFallbackDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var bytes = new List<byte>();
        foreach (var token in tokens)
        {
            if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
                && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out byte b))
            {
                bytes.Add(b);
                continue;
            }
            if (bytes.Count > 0)
            {
                result.Add(Encoding.UTF8.GetString(bytes.ToArray()));
                bytes.Clear();
            }
            result.Add(token);
        }
        if (bytes.Count > 0) result.Add(Encoding.UTF8.GetString(bytes.ToArray()));
        return result;
    }
}

public sealed class FuseDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>Removes up to `start` leading and `stop` trailing copies of one character from every token.</summary>
public sealed class StripDecoder : Decoder
{
    private readonly char _content;
    private readonly int _start, _stop;

    public StripDecoder(string content, int start, int stop, string file)
    {
        if (content.Length != 1) throw new InvalidDataException($"{file}: decoder Strip content must be one character");
        (_content, _start, _stop) = (content[0], start, stop);
    }

    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        foreach (var token in tokens)
        {
            int from = 0, to = token.Length;
            while (from < _start && from < to && token[from] == _content) from++;
            int stripped = 0;
            while (stripped < _stop && to > from && token[to - 1] == _content) { to--; stripped++; }
            result.Add(token[from..to]);
        }
        return result;
    }
}

public sealed class ReplaceDecoder(TextPattern pattern, string content) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => tokens.Select(t => pattern.ReplaceAll(t, content)).ToList();
}

public sealed class MetaspaceDecoder(string replacement, bool stripFirstSpace) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i].Replace(replacement, " ", StringComparison.Ordinal);
            if (i == 0 && stripFirstSpace && t.StartsWith(' ')) t = t[1..];
            result.Add(t);
        }
        return result;
    }
}

public sealed class SequenceDecoder(IReadOnlyList<Decoder> steps) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        foreach (var step in steps) tokens = step.DecodeChain(tokens);
        return tokens;
    }
}

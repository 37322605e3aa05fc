using System.IO.Compression;
using System.Text.Json;

namespace Pacs.Text.Tests;

/// <summary>One line of tests/fixtures/text/NAME.tokens.jsonl.gz, written by tools/tokenizer_fixtures.</summary>
internal sealed record TokenizerCase(int Line, string Text, int[] Ids, string Decoded, int[]? IdsWithSpecial, string? DecodedSkippingSpecial);

internal static class TokenizerFixtures
{
    private static readonly Dictionary<string, HfTokenizer> Tokenizers = [];
    private static readonly Dictionary<string, IReadOnlyList<TokenizerCase>> Cases = [];

    public static string TokenizerDir(string name) => name == "stories260K"
        ? RepoPaths.Get("models", "stories260K")
        : RepoPaths.Get("models", "tokenizers", name);

    public static HfTokenizer Tokenizer(string name)
    {
        lock (Tokenizers)
        {
            if (!Tokenizers.TryGetValue(name, out var t)) Tokenizers[name] = t = HfTokenizer.Load(TokenizerDir(name));
            return t;
        }
    }

    public static IReadOnlyList<TokenizerCase> Load(string name)
    {
        lock (Cases)
        {
            if (Cases.TryGetValue(name, out var cached)) return cached;
            var list = new List<TokenizerCase>();
            using var file = File.OpenRead(RepoPaths.Get("tests", "fixtures", "text", $"{name}.tokens.jsonl.gz"));
            using var gzip = new GZipStream(file, CompressionMode.Decompress);
            using var reader = new StreamReader(gzip);
            int line = 0;
            while (reader.ReadLine() is { } text)
            {
                line++;
                if (text.Length == 0) continue;
                using var doc = JsonDocument.Parse(text);
                var root = doc.RootElement;
                string t = root.GetProperty("t").GetString()!;
                int[] ids = root.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
                string decoded = root.TryGetProperty("d", out var d) ? d.GetString()! : t;
                int[]? sids = root.TryGetProperty("sids", out var s) ? s.EnumerateArray().Select(e => e.GetInt32()).ToArray() : null;
                string? ds = root.TryGetProperty("ds", out var dsv) ? dsv.GetString() : null;
                list.Add(new TokenizerCase(line, t, ids, decoded, sids, ds));
            }
            Cases[name] = list;
            return list;
        }
    }
}

using System.Text;

namespace Pacs.Text.Tests;

/// <summary>Every fixture string must encode and decode exactly as the JavaScript port of Hugging Face tokenizers does.</summary>
public class HfTokenizerParityTests
{
    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama3")]
    [InlineData("stories260K")]
    public void Encode_matches_the_javascript_port_on_every_fixture_string(string name)
    {
        var tokenizer = TokenizerFixtures.Tokenizer(name);
        var cases = TokenizerFixtures.Load(name);
        Assert.True(cases.Count >= 10_000, $"only {cases.Count} fixture strings");
        var failures = new StringBuilder();
        int failed = 0;
        foreach (var c in cases)
        {
            var ids = tokenizer.Encode(c.Text);
            if (ids.AsSpan().SequenceEqual(c.Ids)) continue;
            if (failed++ < 5)
                failures.AppendLine($"line {c.Line} {Show(c.Text)}: expected [{string.Join(",", c.Ids)}] got [{string.Join(",", ids)}]");
        }
        Assert.True(failed == 0, $"{failed}/{cases.Count} mismatches\n{failures}");
    }

    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama3")]
    [InlineData("stories260K")]
    public void Encode_with_special_tokens_matches_the_javascript_port(string name)
    {
        var tokenizer = TokenizerFixtures.Tokenizer(name);
        var cases = TokenizerFixtures.Load(name).Where(c => c.IdsWithSpecial is not null).ToList();
        Assert.True(cases.Count >= 600);
        foreach (var c in cases)
            Assert.True(tokenizer.Encode(c.Text, addSpecialTokens: true).AsSpan().SequenceEqual(c.IdsWithSpecial),
                $"line {c.Line} {Show(c.Text)}");
    }

    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama3")]
    [InlineData("stories260K")]
    public void Decode_matches_the_javascript_port_on_every_fixture_string(string name)
    {
        var tokenizer = TokenizerFixtures.Tokenizer(name);
        var failures = new StringBuilder();
        int failed = 0;
        var cases = TokenizerFixtures.Load(name);
        foreach (var c in cases)
        {
            string decoded = tokenizer.Decode(c.Ids);
            bool ok = decoded == c.Decoded;
            if (c.DecodedSkippingSpecial is not null) ok &= tokenizer.Decode(c.Ids, skipSpecialTokens: true) == c.DecodedSkippingSpecial;
            // The JavaScript port decodes byte-fallback runs with TextDecoder(), which drops a leading U+FEFF (BOM);
            // Rust and Python keep it. That is the one divergence we keep on purpose.
            if (!ok && c.Text.Contains('\uFEFF') && decoded.Replace("\uFEFF", "") == c.Decoded.Replace("\uFEFF", "")) ok = true;
            if (ok) continue;
            if (failed++ < 5) failures.AppendLine($"line {c.Line}: expected {Show(c.Decoded)} got {Show(decoded)}");
        }
        Assert.True(failed == 0, $"{failed}/{cases.Count} mismatches\n{failures}");
    }

    private static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s.Length > 120 ? s[..120] + "…" : s);
}

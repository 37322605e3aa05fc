using System.Text.Json;
using System.Text.RegularExpressions;

namespace Pacs.Text.Tokenization;

/// <summary>A `pre_tokenizer` of tokenizer.json. Most are pure splitters, which cut a span of the text into
/// sub-spans without copying; Metaspace (and ByteLevel with add_prefix_space) also rewrite the text.</summary>
public abstract class PreTokenizer
{
    /// <summary>True when this step only cuts text into pieces (no rewriting), so it can work on index ranges.</summary>
    public virtual bool IsPureSplitter => true;

    /// <summary>True when the pieces leaving this step are to be read as UTF-8 bytes in GPT-2's byte alphabet.</summary>
    public virtual bool MapsToByteAlphabet => false;

    /// <summary>Cuts text[start..start+length) and appends the pieces to output.</summary>
    public abstract void Split(string text, int start, int length, List<(int Start, int Length)> output);

    /// <summary>Rewrites and cuts one piece; used only when some step is not a pure splitter.</summary>
    public virtual void PreTokenize(string piece, bool isFirstSection, List<string> output)
    {
        var ranges = new List<(int Start, int Length)>();
        Split(piece, 0, piece.Length, ranges);
        foreach (var (s, l) in ranges) output.Add(piece.Substring(s, l));
    }

    public static PreTokenizer? FromJson(JsonElement json, string file)
    {
        if (json.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) return null;
        string type = TokenizerJson.RequireString(json, "type", file, "pre_tokenizer");
        switch (type)
        {
            case "Split":
                {
                    string behavior = TokenizerJson.OptionalString(json, "behavior") ?? "Isolated";
                    var kind = behavior switch
                    {
                        "Isolated" => SplitBehavior.Isolated,
                        "Removed" => SplitBehavior.Removed,
                        "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
                        "MergedWithNext" => SplitBehavior.MergedWithNext,
                        "Contiguous" => SplitBehavior.Contiguous,
                        _ => throw new NotSupportedException($"{file}: pre_tokenizer Split behavior '{behavior}' is not supported"),
                    };
                    var pattern = TextPattern.FromJson(json, file, "pre_tokenizer Split");
                    return new SplitPreTokenizer(FastPatterns.TryCreate(pattern) ?? new PatternMatcher(pattern), kind, TokenizerJson.OptionalBool(json, "invert", false));
                }
            case "ByteLevel":
                return new ByteLevelPreTokenizer(TokenizerJson.OptionalBool(json, "add_prefix_space", true), TokenizerJson.OptionalBool(json, "use_regex", true));
            case "Metaspace":
                {
                    string replacement = TokenizerJson.OptionalString(json, "replacement") ?? "\u2581";
                    string scheme = TokenizerJson.OptionalString(json, "prepend_scheme")
                        ?? (TokenizerJson.OptionalBool(json, "add_prefix_space", true) ? "always" : "never");
                    if (scheme is not ("always" or "first" or "never"))
                        throw new NotSupportedException($"{file}: pre_tokenizer Metaspace prepend_scheme '{scheme}' is not supported");
                    return new MetaspacePreTokenizer(replacement, scheme, TokenizerJson.OptionalBool(json, "split", true));
                }
            case "Digits":
                return new SplitPreTokenizer(new PatternMatcher(new Regex(@"\p{N}", RegexOptions.Compiled)),
                    TokenizerJson.OptionalBool(json, "individual_digits", false) ? SplitBehavior.Isolated : SplitBehavior.Contiguous, invert: false);
            case "Whitespace":
                return new SplitPreTokenizer(new PatternMatcher(new Regex(@"\w+|[^\w\s]+", RegexOptions.Compiled)), SplitBehavior.Removed, invert: true);
            case "WhitespaceSplit":
                return new SplitPreTokenizer(new PatternMatcher(new Regex(@"\s+", RegexOptions.Compiled)), SplitBehavior.Removed, invert: false);
            case "Sequence":
                {
                    var steps = TokenizerJson.RequireArray(json, "pretokenizers", file, "pre_tokenizer Sequence")
                        .Select(p => FromJson(p, file)).OfType<PreTokenizer>().ToArray();
                    for (int i = 0; i < steps.Length - 1; i++)
                        if (steps[i].MapsToByteAlphabet)
                            throw new NotSupportedException($"{file}: pre_tokenizer Sequence with ByteLevel before another step is not supported");
                    return new SequencePreTokenizer(steps);
                }
            default:
                throw new NotSupportedException($"{file}: pre_tokenizer type '{type}' is not supported");
        }
    }
}

public enum SplitBehavior { Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>Finds the non-empty matches of a pattern in a span of text.</summary>
public class PatternMatcher
{
    private readonly TextPattern? _pattern;
    private readonly Regex? _regex;

    public PatternMatcher(TextPattern pattern) => _pattern = pattern;

    public PatternMatcher(Regex regex) => _regex = regex;

    protected PatternMatcher() { }

    public virtual void FindAll(string text, int start, int length, List<(int Start, int Length)> matches)
    {
        if (_pattern is not null)
        {
            _pattern.FindAll(text, start, length, matches);
            return;
        }
        foreach (var m in _regex!.EnumerateMatches(text.AsSpan(start, length)))
            if (m.Length > 0) matches.Add((start + m.Index, m.Length));
    }
}

public sealed class SplitPreTokenizer(PatternMatcher matcher, SplitBehavior behavior, bool invert) : PreTokenizer
{
    [ThreadStatic] private static List<(int Start, int Length)>? t_matches;

    [ThreadStatic] private static List<(int Start, int Length, bool IsDelimiter)>? t_segments;

    public override void Split(string text, int start, int length, List<(int Start, int Length)> output)
    {
        if (length == 0) return;
        var matches = t_matches ??= new List<(int, int)>();
        matches.Clear();
        matcher.FindAll(text, start, length, matches);
        if (behavior == SplitBehavior.Isolated)
        {
            // The common case: matches and the gaps between them, in order, whatever invert says.
            int at = start;
            foreach (var (mStart, mLength) in matches)
            {
                if (mStart > at) output.Add((at, mStart - at));
                output.Add((mStart, mLength));
                at = mStart + mLength;
            }
            if (at < start + length) output.Add((at, start + length - at));
            return;
        }
        // Matches and gaps as (start, length, is-delimiter), then the Rust library's fold for each behavior.
        var segments = t_segments ??= new List<(int, int, bool)>();
        segments.Clear();
        int next = start;
        foreach (var (mStart, mLength) in matches)
        {
            if (mStart > next) segments.Add((next, mStart - next, invert));
            segments.Add((mStart, mLength, !invert));
            next = mStart + mLength;
        }
        if (next < start + length) segments.Add((next, start + length - next, invert));
        int first = output.Count;
        switch (behavior)
        {
            case SplitBehavior.Removed:
                foreach (var (s, l, d) in segments) if (!d) output.Add((s, l));
                break;
            case SplitBehavior.MergedWithPrevious:
                {
                    bool previousWasDelimiter = false;
                    foreach (var (s, l, d) in segments)
                    {
                        if (d && !previousWasDelimiter && output.Count > first) output[^1] = (output[^1].Start, s + l - output[^1].Start);
                        else output.Add((s, l));
                        previousWasDelimiter = d;
                    }
                    break;
                }
            case SplitBehavior.MergedWithNext:
                {
                    bool nextWasDelimiter = false;
                    var reversed = new List<(int Start, int Length)>();
                    for (int k = segments.Count - 1; k >= 0; k--)
                    {
                        var (s, l, d) = segments[k];
                        if (d && !nextWasDelimiter && reversed.Count > 0) reversed[^1] = (s, reversed[^1].Start + reversed[^1].Length - s);
                        else reversed.Add((s, l));
                        nextWasDelimiter = d;
                    }
                    for (int k = reversed.Count - 1; k >= 0; k--) output.Add(reversed[k]);
                    break;
                }
            case SplitBehavior.Contiguous:
                {
                    bool previousWasDelimiter = false;
                    foreach (var (s, l, d) in segments)
                    {
                        if (d && previousWasDelimiter && output.Count > first) output[^1] = (output[^1].Start, s + l - output[^1].Start);
                        else output.Add((s, l));
                        previousWasDelimiter = d;
                    }
                    break;
                }
        }
    }
}

/// <summary>GPT-2's byte-level step: optionally the GPT-2 regex split, then every piece is read as UTF-8 bytes in the
/// byte alphabet (that mapping is done by the BPE model, which caches per piece).</summary>
public sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly SplitPreTokenizer Gpt2Split = new(
        FastPatterns.TryCreate(Gpt2Pattern) ?? new PatternMatcher(new Regex(Gpt2Pattern, RegexOptions.Compiled)), SplitBehavior.Isolated, invert: false);

    public override bool IsPureSplitter => !addPrefixSpace;

    public override bool MapsToByteAlphabet => true;

    public override void Split(string text, int start, int length, List<(int Start, int Length)> output)
    {
        if (useRegex) Gpt2Split.Split(text, start, length, output);
        else if (length > 0) output.Add((start, length));
    }

    public override void PreTokenize(string piece, bool isFirstSection, List<string> output)
    {
        if (addPrefixSpace && !piece.StartsWith(' ')) piece = " " + piece;
        base.PreTokenize(piece, isFirstSection, output);
    }
}

/// <summary>SentencePiece's whitespace handling: spaces become "▁", a "▁" is prepended, and the text is cut before
/// each "▁".</summary>
public sealed class MetaspacePreTokenizer(string replacement, string prependScheme, bool split) : PreTokenizer
{
    public override bool IsPureSplitter => false;

    public override void Split(string text, int start, int length, List<(int Start, int Length)> output)
        => throw new InvalidOperationException("Metaspace rewrites text; use PreTokenize");

    public override void PreTokenize(string piece, bool isFirstSection, List<string> output)
    {
        string text = piece.Replace(" ", replacement, StringComparison.Ordinal);
        if (!text.StartsWith(replacement, StringComparison.Ordinal)
            && (prependScheme == "always" || (prependScheme == "first" && isFirstSection)))
            text = replacement + text;
        if (!split)
        {
            if (text.Length > 0) output.Add(text);
            return;
        }
        int pieceStart = 0;
        for (int at = replacement.Length > 0 ? text.IndexOf(replacement, 1, StringComparison.Ordinal) : -1; at > 0;
             at = at + 1 < text.Length ? text.IndexOf(replacement, at + 1, StringComparison.Ordinal) : -1)
        {
            if (at > pieceStart) output.Add(text[pieceStart..at]);
            pieceStart = at;
        }
        if (pieceStart < text.Length) output.Add(text[pieceStart..]);
    }
}

public sealed class SequencePreTokenizer(IReadOnlyList<PreTokenizer> steps) : PreTokenizer
{
    public override bool IsPureSplitter => steps.All(s => s.IsPureSplitter);

    public override bool MapsToByteAlphabet => steps.Count > 0 && steps[^1].MapsToByteAlphabet;

    public override void Split(string text, int start, int length, List<(int Start, int Length)> output)
    {
        if (steps.Count == 0)
        {
            if (length > 0) output.Add((start, length));
            return;
        }
        if (steps.Count == 1)
        {
            steps[0].Split(text, start, length, output);
            return;
        }
        var current = new List<(int Start, int Length)> { (start, length) };
        var next = new List<(int Start, int Length)>();
        foreach (var step in steps)
        {
            next.Clear();
            foreach (var (s, l) in current) step.Split(text, s, l, next);
            (current, next) = (next, current);
        }
        output.AddRange(current);
    }

    public override void PreTokenize(string piece, bool isFirstSection, List<string> output)
    {
        var current = new List<string> { piece };
        foreach (var step in steps)
        {
            var next = new List<string>();
            foreach (var p in current) step.PreTokenize(p, isFirstSection, next);
            current = next;
        }
        output.AddRange(current);
    }
}

namespace Pacs.Rewards.Math;

/// <summary>Where a final answer can be written in a response.</summary>
public enum AnswerFormat
{
    /// <summary>The last \boxed{...}, \boxed ..., or \fbox{...} (consecutive boxes joined by "and" or commas form a list).</summary>
    Boxed,
    /// <summary>GSM8K's "#### 42".</summary>
    Gsm8k,
    /// <summary>"The answer is ...", "Answer: ...", "Final Answer: The final answer is $...$".</summary>
    AnswerIs,
    /// <summary>The last $...$, $$...$$, \[...\] or \(...\).</summary>
    FinalLatex,
    /// <summary>The whole response when it is short (at most 200 characters) and parses as math: a bare "\frac{1}{2}".</summary>
    WholeResponse,
    /// <summary>The last number in the text (opt-in: it rewards answers the model never committed to). When both this
    /// and <see cref="FinalLatex"/> are on, whichever comes later in the text wins.</summary>
    LastNumber,
}

/// <summary>Which answer formats are looked for, in priority order: the first format that finds an answer wins.</summary>
public sealed record ExtractionPolicy(IReadOnlyList<AnswerFormat> Order)
{
    /// <summary>Boxed first, as the training prompt asks, then the other explicit formats; no last-number fallback.</summary>
    public static readonly ExtractionPolicy Default = new([AnswerFormat.Boxed, AnswerFormat.Gsm8k, AnswerFormat.AnswerIs, AnswerFormat.FinalLatex, AnswerFormat.WholeResponse]);

    public static readonly ExtractionPolicy BoxedOnly = new([AnswerFormat.Boxed]);

    /// <summary>Default plus the last number: for evaluating models that were not prompted to box.</summary>
    public static readonly ExtractionPolicy Lenient = new([.. Default.Order, AnswerFormat.LastNumber]);

    /// <summary>"default", "boxed", "lenient", or a comma list of format names (boxed,gsm8k,answer,latex,number).</summary>
    public static ExtractionPolicy Parse(string spec)
    {
        switch (spec.Trim().ToLowerInvariant())
        {
            case "default": return Default;
            case "boxed" or "strict": return BoxedOnly;
            case "lenient": return Lenient;
        }
        var order = new List<AnswerFormat>();
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            order.Add(part.ToLowerInvariant() switch
            {
                "boxed" => AnswerFormat.Boxed,
                "gsm8k" or "hashes" => AnswerFormat.Gsm8k,
                "answer" or "answeris" => AnswerFormat.AnswerIs,
                "latex" or "finallatex" => AnswerFormat.FinalLatex,
                "number" or "lastnumber" => AnswerFormat.LastNumber,
                "whole" or "wholeresponse" => AnswerFormat.WholeResponse,
                _ => throw new ArgumentException($"extraction policy: unknown format '{part}' (expected default, boxed, lenient, or a comma list of boxed, gsm8k, answer, latex, whole, number)"),
            });
        }
        if (order.Count == 0) throw new ArgumentException("extraction policy: empty");
        return new ExtractionPolicy(order);
    }

    /// <summary>The policy matching Math-Verify's extraction targets: "latex" (boxed, answer statements, final math,
    /// a whole short response), "expr" (a whole short response, the last number), both (all of them).</summary>
    public static ExtractionPolicy? ForMathVerifyTargets(IEnumerable<string?> matchTypes)
    {
        var types = matchTypes.ToHashSet();
        bool latex = types.Contains("latex"), expr = types.Contains("expr");
        if (latex && expr) return Lenient;
        if (latex) return Default;
        if (expr) return new ExtractionPolicy([AnswerFormat.WholeResponse, AnswerFormat.LastNumber]);
        return null;
    }

    public override string ToString() => string.Join(",", Order);
}

public readonly record struct ExtractedAnswer(string Text, AnswerFormat Format);

/// <summary>Finds final answers in free text by hand-written linear scans (no regular expressions).</summary>
public static class AnswerExtractor
{
    public const int MaxAnswerLength = 4000;

    /// <summary>The answers each enabled format finds, in policy order (a format that finds nothing is skipped).</summary>
    /// <summary>Only the last this many characters are searched: every format looks for the last answer, and the
    /// bound keeps a 1 MB response as cheap as a 64 kB one.</summary>
    public const int MaxScanLength = 1 << 16;

    /// <summary>The searched tail of a long text, starting at a line break so that $...$ pairs are not split.</summary>
    public static string Tail(string text)
    {
        if (text.Length <= MaxScanLength) return text;
        int cut = text.Length - MaxScanLength;
        int newline = text.IndexOf('\n', cut, System.Math.Min(4096, text.Length - cut));
        return text[(newline < 0 ? cut : newline + 1)..];
    }

    public static IEnumerable<ExtractedAnswer> Candidates(string text, ExtractionPolicy policy)
    {
        text = Tail(text);
        bool numberCompetes = policy.Order.Contains(AnswerFormat.LastNumber) && policy.Order.Contains(AnswerFormat.FinalLatex);
        foreach (var format in policy.Order)
        {
            string? found;
            switch (format)
            {
                case AnswerFormat.Boxed:
                    {
                        // "... \boxed{200} ... The final answer is $10,455$": a later explicit answer statement wins
                        found = LastBoxed(text, out int boxEnd);
                        if (found is not null && policy.Order.Contains(AnswerFormat.AnswerIs) && AfterAnswerIs(text, out int answerAt) is { } later
                            && answerAt > boxEnd && !Normalization.IsProse(later) && LooksLikeMath(later))
                            yield return new ExtractedAnswer(Truncate(later.Trim()), AnswerFormat.AnswerIs);
                        break;
                    }
                case AnswerFormat.Gsm8k: found = AfterHashes(text); break;
                case AnswerFormat.AnswerIs: found = AfterAnswerIs(text, out _); break;
                case AnswerFormat.WholeResponse: found = text.Length <= 200 ? text : null; break;
                case AnswerFormat.FinalLatex:
                    {
                        found = LastMath(text, out int mathEnd);
                        if (numberCompetes && found is not null && LastNumber(text, out int numberStart) is { } number && numberStart >= mathEnd)
                        {
                            yield return new ExtractedAnswer(number, AnswerFormat.LastNumber);
                        }
                        break;
                    }
                default: found = LastNumber(text, out _); break;
            }
            if (found is not null) yield return new ExtractedAnswer(Truncate(found.Trim()), format);
        }
    }

    /// <summary>Whether a later "the answer is ..." states math (42, \\frac12, p - q, x) rather than a word ("correct").</summary>
    private static bool LooksLikeMath(string text) => text.Any(char.IsAsciiDigit) || text.IndexOfAny(['\\', '+', '-', '=', '^', '/', '(']) >= 0
        || (text.Trim().Length == 1 && char.IsLetter(text.Trim()[0]));

    private static string Truncate(string s) => s.Length <= MaxAnswerLength ? s : s[..MaxAnswerLength];

    public static string? LastBoxed(string text) => LastBoxed(text, out _);

    /// <summary>Every box of the text joined into one list (at most 16): for a gold that is one math span holding
    /// several boxes, <c>$\boxed{35} ++ \boxed{4}$</c>.</summary>
    public static string? AllBoxes(string text) => LastBoxed(text, out _, joinAll: true);

    private static string? LastBoxed(string text, out int end, bool joinAll = false)
    {
        end = -1;
        // only the last boxes matter: keep a bounded window of them (a response may hold thousands)
        const int keep = 32;
        var boxes = new List<(int Start, int End, int ContentStart, int ContentEnd)>();
        int i = 0;
        while ((i = text.IndexOf('\\', i)) >= 0)
        {
            int nameEnd = i + 1;
            while (nameEnd < text.Length && text[nameEnd] == '\\') nameEnd++; // \\boxed from double escaping
            int len = Matches(text, nameEnd, "boxed") ? 5 : Matches(text, nameEnd, "fbox") ? 4 : 0;
            if (len == 0) { i = nameEnd; continue; }
            int j = nameEnd + len;
            while (j < text.Length && text[j] == ' ') j++;
            if (j < text.Length && text[j] == '{')
            {
                int close = MatchBrace(text, j);
                if (close < 0) { boxes.Add((i, text.Length, j + 1, text.Length)); break; }
                boxes.Add((i, close + 1, j + 1, close));
                i = close + 1;
            }
            else if (j > nameEnd + len)
            {
                int k = j;
                while (k < text.Length && !char.IsWhiteSpace(text[k]) && text[k] != '$') k++;
                if (k > j) boxes.Add((i, k, j, k));
                i = k;
            }
            else i = j;
            if (boxes.Count > 2 * keep) boxes.RemoveRange(0, boxes.Count - keep);
        }
        if (boxes.Count == 0) return null;
        end = boxes[^1].End;
        int first = boxes.Count - 1;
        while (first > 0 && boxes.Count - first < 16 && (joinAll || IsJoiner(text, boxes[first - 1].End, boxes[first].Start))) first--;
        return string.Join(", ", boxes.Skip(first).Select(b => text[b.ContentStart..b.ContentEnd]));
    }

    private static bool Matches(string text, int at, string word) =>
        at + word.Length <= text.Length && string.CompareOrdinal(text, at, word, 0, word.Length) == 0;

    /// <summary>Index of the brace closing the one at <paramref name="open"/>, or -1.</summary>
    internal static int MatchBrace(string text, int open)
    {
        int depth = 0;
        for (int k = open; k < text.Length; k++)
        {
            char c = text[k];
            if (c == '\\') { k++; continue; }
            if (c == '{') depth++;
            else if (c == '}' && --depth == 0) return k;
        }
        return -1;
    }

    /// <summary>Whether the text between two answers only joins them ("and", commas, \quad, a few words).</summary>
    private static bool IsJoiner(string text, int from, int to)
    {
        if (to - from > 60) return false;
        var between = text[from..to];
        foreach (var noise in new[] { "\\qquad", "\\quad", "\\text", "\\textnormal", "\\mbox", "\\,", "\\;", "\\(", "\\)", "\\[", "\\]", "$", "{", "}", "\\ " })
            between = between.Replace(noise, " ");
        var words = between.Split([' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (words.All(w => w.Trim(',', ';', '.').Length == 0)) return true; // nothing, or only commas
        // "\boxed{1} and \boxed{2}", "\boxed{(3,3)} for part (a) and \boxed{(1,1)}", but not "\boxed{41}, but then \boxed{42}"
        int last = words.Length - 1;
        if (last >= 2 && words[last] == "=") last -= 2; // "... and y_2 = \boxed{...}" names the next answer
        else if (last >= 1 && words[last].EndsWith('=')) last -= 1;
        return words.Length <= 6 && last >= 0 && words[last].Trim(',', '.', ';') is "and" or "or";
    }

    public static string? AfterHashes(string text)
    {
        int at = text.LastIndexOf("####", StringComparison.Ordinal);
        if (at < 0) return null;
        var rest = Line(text, at + 4).Trim().TrimEnd('.');
        return rest.Length == 0 ? null : rest.Replace("$", "");
    }

    private static string Line(string text, int from)
    {
        int end = text.IndexOf('\n', from);
        return end < 0 ? text[from..] : text[from..end];
    }

    public static string? AfterAnswerIs(string text) => AfterAnswerIs(text, out _);

    private static string? AfterAnswerIs(string text, out int position)
    {
        position = -1;
        int at = text.Length;
        while (at > 0 && (at = text.LastIndexOf("answer", at - 1, StringComparison.OrdinalIgnoreCase)) >= 0)
        {
            int j = at + 6;
            while (j < text.Length && (text[j] == ' ' || text[j] == '*')) j++;
            if (j < text.Length && text[j] == ':') j++;
            else if (Matches(text, j, "is")) j += 2;
            else if (Matches(text, j, "=")) j += 1;
            else continue;
            var answer = Line(text, j);
            foreach (var stop in new[] { "I hope", "<|" })
            {
                int cut = answer.IndexOf(stop, StringComparison.OrdinalIgnoreCase);
                if (cut >= 0) answer = answer[..cut];
            }
            answer = answer.Trim().Trim('*').Trim().TrimEnd('.').Trim();
            int isAt = answer.LastIndexOf(" is ", StringComparison.Ordinal);
            if (isAt >= 0 && !answer.Contains("\\boxed", StringComparison.Ordinal)) answer = answer[(isAt + 4)..];
            if (answer.Contains('$') || answer.Contains("\\(") || answer.Contains("\\["))
                answer = LastMath(answer) ?? answer;
            answer = answer.Trim().TrimEnd('.').Trim();
            if (answer.Length > 0)
            {
                position = at;
                return answer;
            }
        }
        return null;
    }

    /// <summary>The last math segment; segments separated only by "and"/commas are joined into one list.</summary>
    public static string? LastMath(string text) => LastMath(text, out _);

    private static string? LastMath(string text, out int end)
    {
        end = -1;
        var segments = new List<(int Start, int End, string Content)>();
        int i = 0, n = text.Length;
        while (i < n)
        {
            char c = text[i];
            if (c == '\\' && i + 1 < n)
            {
                char d = text[i + 1];
                if (d is '[' or '(')
                {
                    string closer = d == '[' ? "\\]" : "\\)";
                    int close = text.IndexOf(closer, i + 2, StringComparison.Ordinal);
                    if (close < 0) { i += 2; continue; }
                    var content = text[(i + 2)..close];
                    if (d == '(' && content.Contains('\n')) { i += 2; continue; }
                    segments.Add((i, close + 2, content));
                    i = close + 2;
                    continue;
                }
                i += 2;
                continue;
            }
            if (c == '$')
            {
                bool display = i + 1 < n && text[i + 1] == '$';
                int start = i + (display ? 2 : 1);
                int close = display ? text.IndexOf("$$", start, StringComparison.Ordinal) : UnescapedDollar(text, start);
                if (close < 0) { i = start; continue; }
                var content = text[start..close];
                if (!display && content.Contains('\n')) { i = start; continue; }
                segments.Add((i, close + (display ? 2 : 1), content));
                i = close + (display ? 2 : 1);
                continue;
            }
            i++;
        }
        // drop empty segments ($ $) and take the last one, joined with list-like neighbours
        segments.RemoveAll(s => string.IsNullOrWhiteSpace(s.Content));
        if (segments.Count == 0) return null;
        end = segments[^1].End;
        int first = segments.Count - 1;
        while (first > 0 && segments.Count - first < 16 && IsJoiner(text, segments[first - 1].End, segments[first].Start)) first--;
        return string.Join(", ", segments.Skip(first).Select(s => s.Content.Trim()));
    }

    private static int UnescapedDollar(string text, int from)
    {
        for (int k = from; k < text.Length; k++)
        {
            if (text[k] == '\\') { k++; continue; }
            if (text[k] == '\n') return -1;
            if (text[k] == '$') return k;
        }
        return -1;
    }

    /// <summary>The last number not glued to a word ("AZYUK2A" holds none), with thousands separators and a
    /// decimal comma (2,74) read the way they are written; a/b fractions and a trailing % are kept.</summary>
    public static string? LastNumber(string text) => LastNumber(text, out _);

    private static string? LastNumber(string text, out int at)
    {
        at = -1;
        int end = text.Length;
        while (end > 0)
        {
            int k = end - 1;
            while (k >= 0 && !char.IsAsciiDigit(text[k])) k--;
            if (k < 0) return null;
            int stop = k + 1;
            int start = k;
            while (start > 0 && (char.IsAsciiDigit(text[start - 1]) || ((text[start - 1] is ',' or '.') && start - 2 >= 0 && char.IsAsciiDigit(text[start - 2]))))
                start--;
            if (start > 0 && text[start - 1] == '.') start--;
            if (start > 0 && char.IsLetter(text[start - 1])) { end = start - 1; while (end > 0 && char.IsLetterOrDigit(text[end - 1])) end--; continue; }
            if (stop < text.Length && char.IsLetter(text[stop]) && stop + 1 < text.Length && char.IsLetter(text[stop + 1]) is var twoLetters
                && twoLetters && IsGluedWord(text, stop)) { end = start; continue; }
            string number = CleanNumber(text[start..stop]);
            bool negative = start > 0 && text[start - 1] == '-';
            if (start > 1 && text[start - 1] == '/' && char.IsAsciiDigit(text[start - 2]))
            {
                int numStart = start - 1;
                while (numStart > 0 && char.IsAsciiDigit(text[numStart - 1])) numStart--;
                negative = numStart > 0 && text[numStart - 1] == '-';
                number = text[numStart..(start - 1)] + "/" + number;
            }
            if (stop < text.Length && text[stop] == '%') number += "%";
            at = start;
            return negative ? "-" + number : number;
        }
        return null;
    }

    private static bool IsGluedWord(string text, int at)
    {
        // "2A" or "2nd" glue a number into a word; units like "m²" or "cm" do not
        int e = at;
        while (e < text.Length && char.IsLetter(text[e])) e++;
        var word = text[at..e];
        return word is "st" or "nd" or "rd" or "th";
    }

    private static string CleanNumber(string raw)
    {
        raw = raw.TrimEnd('.', ',');
        int comma = raw.IndexOf(',');
        if (comma < 0) return raw;
        var groups = raw.Split(',');
        bool thousands = groups[0].Length is >= 1 and <= 3 && groups[0][0] != '0'
            && groups.Skip(1).All(g => g.Length == 3 || (g.Length > 3 && g[3] == '.' && g.IndexOf('.') == 3));
        if (thousands) return raw.Replace(",", "");
        if (groups.Length == 2 && !raw.Contains('.')) return groups[0] + "." + groups[1]; // decimal comma: 2,74 or 0,111
        return groups[^1];
    }
}

namespace Pacs.Rewards.Math;

/// <summary>Options of <see cref="MathVerifier"/>: where answers are looked for and how they are compared.</summary>
public sealed record MathVerifierOptions
{
    public ExtractionPolicy Policy { get; init; } = ExtractionPolicy.Default;
    public EquivalenceOptions Equivalence { get; init; } = EquivalenceOptions.Default;

    public static readonly MathVerifierOptions Default = new();

    /// <summary>Default extraction with the given treatment of decimals against exact golds.</summary>
    public static MathVerifierOptions ForPolicy(VerifierPolicy policy) =>
        policy == VerifierPolicy.Strict ? Default : new() { Equivalence = EquivalenceOptions.Default with { Policy = policy } };
}

/// <summary>
/// Checks a model's response against a gold answer: extracts the final answer (boxed by default), parses both into
/// expressions or structures and compares them exactly (rationals) or numerically. Never throws on what a model
/// writes; oversized or unparseable answers are judged not equal.
/// </summary>
public static class MathVerifier
{
    public static Verdict Verify(string response, string gold, MathVerifierOptions? options = null)
    {
        options ??= MathVerifierOptions.Default;
        if (string.IsNullOrWhiteSpace(gold)) return new Verdict(false, null, "empty gold answer");
        if (string.IsNullOrEmpty(response)) return new Verdict(false, null, "empty response");
        try
        {
            var goldAnswer = GoldAnswer(gold);
            ExtractedAnswer? chosen = null;
            foreach (var candidate in AnswerExtractor.Candidates(response, options.Policy))
            {
                // a sentence after "answer is" that parses to nothing is not an answer: try the next format
                // a whole response may be one word ("Evelyn") but not a sentence with a number in it
                if (candidate.Format is AnswerFormat.WholeResponse && Normalization.IsProse(candidate.Text, candidate.Text.Any(char.IsAsciiDigit) ? 0 : 1)) continue;
                if (candidate.Format is AnswerFormat.AnswerIs or AnswerFormat.WholeResponse
                    && (Normalization.IsProse(candidate.Text) || Parser.Parse(Normalization.ForParsing(candidate.Text)) is null)) continue;
                chosen = candidate;
                break;
            }
            if (chosen is not { } answer) return new Verdict(false, null, $"no answer found ({options.Policy})");
            var (equal, reason) = CompareAnswers(goldAnswer, answer.Text, options.Equivalence);
            return new Verdict(equal, answer.Text, $"{answer.Format}: {reason}");
        }
        catch (Exception e) when (e is InsufficientExecutionStackException or OverflowException or ArgumentException
                                    or FormatException or InvalidOperationException or OutOfMemoryException)
        {
            return new Verdict(false, null, $"verifier error: {e.GetType().Name}");
        }
    }

    /// <summary>The answer a gold string holds: its boxed or final math part if it is a worked solution, else itself.</summary>
    public static string GoldAnswer(string gold)
    {
        gold = AnswerExtractor.Tail(gold);
        if (gold.Contains("boxed", StringComparison.Ordinal) || gold.Contains("\\fbox", StringComparison.Ordinal))
        {
            // a gold written as one math span with several boxes lists them all
            var trimmed = gold.Trim();
            bool oneSpan = trimmed.Length > 2 && trimmed[0] == '$' && trimmed[^1] == '$' && trimmed.Count(c => c == '$') is 2 or 4;
            return (oneSpan ? AnswerExtractor.AllBoxes(trimmed) : AnswerExtractor.LastBoxed(gold)) ?? gold;
        }
        if (gold.Contains('$') || gold.Contains("\\[", StringComparison.Ordinal) || gold.Contains("\\(", StringComparison.Ordinal))
            return AnswerExtractor.LastMath(gold) ?? gold;
        if (gold.Contains("####", StringComparison.Ordinal)) return AnswerExtractor.AfterHashes(gold) ?? gold;
        return gold.Length > AnswerExtractor.MaxAnswerLength ? gold[..AnswerExtractor.MaxAnswerLength] : gold;
    }

    /// <summary>Compares two already extracted answers.</summary>
    public static (bool Equal, string Reason) CompareAnswers(string goldAnswer, string predAnswer, EquivalenceOptions? options = null)
    {
        options ??= EquivalenceOptions.Default;
        var goldKey = Normalization.Key(goldAnswer);
        var predKey = Normalization.Key(predAnswer);
        if (goldKey.Length > 0 && goldKey == predKey) return (true, "identical after normalization");
        bool words = Normalization.IsWordKey(goldKey) && Normalization.IsWordKey(predKey);
        if (words && string.Equals(goldKey, predKey, StringComparison.OrdinalIgnoreCase)) return (true, "same text");
        if (MultipleChoice.Compare(goldAnswer, predAnswer, options) is { } choice) return choice;
        var goldNode = Parser.Parse(Normalization.ForParsing(goldAnswer));
        var predNode = Parser.Parse(Normalization.ForParsing(predAnswer));
        if (goldNode is BasedNumberNode || predNode is BasedNumberNode) return BasedEqual(goldNode, goldKey, predNode, predKey);
        if (goldNode is null) return (false, "gold answer does not parse; texts differ");
        if (predNode is null) return (false, "answer does not parse");
        if (Equivalence.Equal(goldNode, predNode, options)) return (true, "equivalent");
        // a decimal comma (1,22 or 0,111) read as a list, against a single number on the other side
        if (AsCommaDecimal(goldAnswer) is { } goldDecimal && predNode is not ListNode && Equivalence.Equal(goldDecimal, predNode, options))
            return (true, "equivalent (decimal comma)");
        if (AsCommaDecimal(predAnswer) is { } predDecimal && goldNode is not ListNode && Equivalence.Equal(goldNode, predDecimal, options))
            return (true, "equivalent (decimal comma)");
        return (false, "not equivalent");
    }

    /// <summary>A number in another base against the same digits, with or without the subscript (A3_{16} and a3, 1011
    /// and 1011_2); two subscripts must name the same base.</summary>
    private static (bool Equal, string Reason) BasedEqual(Node? goldNode, string goldKey, Node? predNode, string predKey)
    {
        static (string Digits, int? Base)? Digits(Node? node, string key)
        {
            if (node is BasedNumberNode b) return (b.Digits, b.Base);
            if (key.Length == 0 || key.Length > 64 || !key.All(char.IsAsciiLetterOrDigit)) return null;
            var digits = key.ToUpperInvariant().TrimStart('0');
            return (digits.Length == 0 ? "0" : digits, null);
        }
        if (Digits(goldNode, goldKey) is not { } g || Digits(predNode, predKey) is not { } p) return (false, "not the same number in that base");
        bool equal = g.Digits == p.Digits && (g.Base is null || p.Base is null || g.Base == p.Base);
        return (equal, equal ? "same digits in that base" : "not the same number in that base");
    }

    /// <summary>"1,22" as 1.22: digits, one comma, digits, no spaces (1,000 was already read as a thousand).</summary>
    private static Node? AsCommaDecimal(string answer)
    {
        var s = Normalization.ForParsing(answer);
        int comma = s.IndexOf(',');
        if (comma <= 0 || comma == s.Length - 1 || s.LastIndexOf(',') != comma) return null;
        for (int k = 0; k < s.Length; k++)
            if (k != comma && !char.IsAsciiDigit(s[k])) return null;
        return Parser.Parse(s.Replace(',', '.'));
    }
}

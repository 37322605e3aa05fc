using System.Text;

namespace Pacs.Rewards.Math;

/// <summary>
/// Multiple-choice answers: a letter in parentheses, with or without the option's value (<c>\textbf{(C) }18</c>,
/// <c>\text{(C)}</c>, <c>(C)</c>), against the same letter with or without parentheses, or against the value alone.
/// </summary>
public static class MultipleChoice
{
    private static readonly HashSet<string> Wrappers = ["textbf", "text", "mathrm", "mathbf", "textrm", "textnormal", "mbox"];

    /// <summary>The letter and the value written after it ("" when none), if <paramref name="answer"/> starts with
    /// "(C)", possibly inside \textbf{...} or \text{...}; the closing braces of those wrappers are dropped.</summary>
    public static (char Letter, string Value)? Parse(string answer)
    {
        var s = answer.Trim().Trim('$').Trim();
        int i = 0, opened = 0;
        while (i < s.Length)
        {
            if (char.IsWhiteSpace(s[i])) { i++; continue; }
            if (s[i] == '{') { opened++; i++; continue; }
            if (s[i] != '\\') break;
            int j = i + 1;
            while (j < s.Length && char.IsAsciiLetter(s[j])) j++;
            if (!Wrappers.Contains(s[(i + 1)..j])) return null;
            i = j;
        }
        if (i + 2 >= s.Length || s[i] != '(' || !char.IsAsciiLetterUpper(s[i + 1]) || s[i + 2] != ')') return null;
        var value = new StringBuilder();
        int depth = 0;
        foreach (char c in s[(i + 3)..])
        {
            if (c == '{') depth++;
            else if (c == '}' && depth > 0) depth--;
            else if (c == '}' && opened > 0) { opened--; continue; }
            value.Append(c);
        }
        return (s[i + 1], value.ToString().Trim());
    }

    /// <summary>The verdict when either side is a choice in parentheses, else null (the caller compares as usual).
    /// Letters must agree; values, where both sides give one, must be equal; a choice answered by its value alone
    /// is equal when the values are. A value holding a second option, a joining word or an aside is no value.</summary>
    public static (bool Equal, string Reason)? Compare(string goldAnswer, string predAnswer, EquivalenceOptions options)
    {
        var gold = Parse(goldAnswer);
        var pred = Parse(predAnswer);
        if (gold is null && pred is null) return null;
        if (gold is { } g && pred is { } p)
        {
            if (g.Letter != p.Letter) return (false, "different choice");
            if (!IsValue(g.Value) || !IsValue(p.Value)) return (false, "a choice followed by more than its value");
            bool same = g.Value.Length == 0 || p.Value.Length == 0 || MathVerifier.CompareAnswers(g.Value, p.Value, options).Equal;
            return (same, same ? "same choice" : "same letter, different value");
        }
        var (choice, other) = gold is { } only ? (only, predAnswer) : (pred!.Value, goldAnswer);
        if (!IsValue(choice.Value)) return (false, "a choice followed by more than its value");
        var otherKey = Normalization.Key(other);
        if (otherKey.Length == 1 && char.IsAsciiLetterUpper(otherKey[0]))
            return otherKey[0] == choice.Letter ? (true, "same choice") : (false, "different choice");
        bool equal = choice.Value.Length > 0 && IsValue(other) && MathVerifier.CompareAnswers(choice.Value, other, options).Equal;
        return (equal, equal ? "the value of the choice" : "not the choice");
    }

    /// <summary>Whether text is one value: it parses, holds no other "(X)" option, no list, no "or"/"and"/\lor, and
    /// no words (an aside such as "or maybe 12").</summary>
    private static bool IsValue(string value)
    {
        if (value.Length == 0) return true;
        if (value.Contains(',') || value.Contains(';')) return false;
        for (int k = 0; k + 2 < value.Length; k++)
            if (value[k] == '(' && char.IsAsciiLetterUpper(value[k + 1]) && value[k + 2] == ')') return false;
        for (int k = 0; k < value.Length;)
        {
            if (!char.IsAsciiLetter(value[k])) { k++; continue; }
            int start = k;
            while (k < value.Length && char.IsAsciiLetter(value[k])) k++;
            bool command = start > 0 && value[start - 1] == '\\';
            var word = value[start..k].ToLowerInvariant();
            if (command ? word is "lor" or "vee" or "cup" or "quad" or "qquad" : word is "or" or "and" or "if") return false;
        }
        return !Normalization.IsProse(value, 0) && Parser.Parse(Normalization.ForParsing(value)) is { } node and not (ListNode or SetNode);
    }
}

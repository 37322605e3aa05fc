using System.Text;

namespace Pacs.Rewards.Math;

/// <summary>String-level clean-up done before parsing, and the normalized key used for the exact-text fast path.</summary>
public static class Normalization
{
    private static readonly string[] KeyDropped =
    [
        "\\left", "\\right", "\\displaystyle", "\\textstyle", "\\textbf", "\\textnormal", "\\textrm", "\\text", "\\mathrm",
        "\\mathbf", "\\mbox", "\\boxed", "\\qquad", "\\quad", "\\!", "\\,", "\\;", "\\:", "\\ ", "^\\circ", "^{\\circ}", "\\circ",
        "\\$", "$",
    ];

    /// <summary>A canonical spelling: spacing, \left/\right, \text wrappers, braces and dollars removed; \dfrac and
    /// \tfrac read as \frac; a multiple-choice letter loses its parentheses.</summary>
    public static string Key(string answer)
    {
        var sb = new StringBuilder(answer);
        sb.Replace("\\dfrac", "\\frac").Replace("\\tfrac", "\\frac").Replace("\\cfrac", "\\frac").Replace("\\%", "%")
            .Replace("\\le ", "\\leq ").Replace("\\ge ", "\\geq ");
        foreach (var d in KeyDropped) sb.Replace(d, "");
        var key = new StringBuilder(sb.Length);
        for (int i = 0; i < sb.Length; i++)
        {
            char c = sb[i];
            if (char.IsWhiteSpace(c) || c is '{' or '}') continue;
            key.Append(c);
        }
        while (key.Length > 0 && key[^1] == '.') key.Length--;
        var s = key.ToString();
        if (s.Length == 3 && s[0] == '(' && s[2] == ')' && char.IsAsciiLetterUpper(s[1])) s = s[1].ToString();
        return s;
    }

    private static readonly HashSet<string> MathWords =
    [
        "sin", "cos", "tan", "sec", "csc", "cot", "log", "exp", "sqrt", "and", "inf", "infty", "pct", "percent", "arcsin",
        "arccos", "arctan", "sinh", "cosh", "tanh",
    ];

    /// <summary>Whether text reads as a sentence rather than an answer: more than <paramref name="maxWords"/> words of
    /// three or more letters that are not LaTeX commands, function names or units.</summary>
    public static bool IsProse(string text, int maxWords = 1)
    {
        int words = 0;
        for (int i = 0; i < text.Length;)
        {
            if (text[i] == '\\')
            {
                int name = ++i;
                while (i < text.Length && char.IsAsciiLetter(text[i])) i++;
                // \begin{pmatrix}: the environment's name is not a word of a sentence
                bool environment = text.AsSpan(name, i - name) is "begin" or "end";
                if (environment && i < text.Length && text[i] == '{' && text.IndexOf('}', i) is var close and > 0) i = close + 1;
                continue;
            }
            if (!char.IsLetter(text[i])) { i++; continue; }
            int start = i;
            while (i < text.Length && char.IsLetter(text[i])) i++;
            var word = text[start..i].ToLowerInvariant();
            if (i - start >= 3 && !MathWords.Contains(word) && !Parser.IsUnit(word) && ++words > maxWords) return true;
        }
        return false;
    }

    /// <summary>Whether a key is plain words (a text answer), compared case-insensitively.</summary>
    public static bool IsWordKey(string key) => key.Length >= 2 && key.All(char.IsLetter);

    /// <summary>Prepares an extracted answer for the parser: strips surrounding dollars and a trailing period, writes
    /// degree marks as °, and reads thousands separators (7,425,000 and 1 000) in a lone number.</summary>
    public static string ForParsing(string answer)
    {
        var s = answer.Trim();
        while (s.Length > 0 && (s[^1] == '.' || s[^1] == '$' || s[^1] == ',')) s = s[..^1].TrimEnd();
        while (s.StartsWith('$')) s = s[1..].TrimStart();
        if (s.StartsWith("\\$", StringComparison.Ordinal)) s = s[2..];
        if (s.Contains("circ", StringComparison.Ordinal))
            s = s.Replace("^{\\circ}", "°").Replace("^\\circ", "°").Replace("^{ \\circ }", "°").Replace("^{\\circ }", "°");
        if (s.Contains("{,", StringComparison.Ordinal)) s = s.Replace(" {, }", "{,}").Replace("{, }", "{,}").Replace(" {,}", "{,}");
        if (IsGroupedNumber(s, ',')) return s.Replace(",", "");
        if (IsGroupedNumber(s, ' ')) return s.Replace(" ", "");
        return s;
    }

    /// <summary>-?d{1,3}(SEP ddd)+(.d+)? with SEP the given separator.</summary>
    private static bool IsGroupedNumber(string s, char sep)
    {
        int i = 0;
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) i++;
        int lead = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i])) { i++; lead++; }
        if (lead is < 1 or > 3 || s[i - lead] == '0') return false;
        int groups = 0;
        while (i < s.Length && s[i] == sep)
        {
            int g = 0;
            i++;
            while (i < s.Length && char.IsAsciiDigit(s[i])) { i++; g++; }
            if (g != 3) return false;
            groups++;
        }
        if (groups == 0) return false;
        if (i < s.Length && s[i] == '.')
        {
            i++;
            int f = 0;
            while (i < s.Length && char.IsAsciiDigit(s[i])) { i++; f++; }
            if (f == 0) return false;
        }
        return i == s.Length;
    }
}

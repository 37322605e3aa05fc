using System.Text;

namespace Pacs.Rewards.Math;

public enum TokenKind
{
    Number,    // digits with an optional decimal point
    Word,      // a run of letters
    Command,   // \name (the name without the backslash)
    Symbol,    // one of + - * / ^ _ ( ) [ ] { } , ; = < > ! | % : ' and the set braces « », and ° (a degree mark)
    Relation,  // <=, >=, != written in ASCII
    Based,     // a number in another base with its subscript (1011_2, A3_{16}): "DIGITS_BASE", digits upper-cased
    Text,      // the content of \text{...}, \mbox{...}
    BeginEnv,
    EndEnv,
    RowBreak,  // \\ (matrix row separator)
    End,
}

public readonly record struct Token(TokenKind Kind, string Text);

/// <summary>
/// Splits LaTeX or plain math into tokens with a single left-to-right scan (no regular expressions, linear time).
/// Spacing commands, \left/\right, \displaystyle, dollar signs and degree marks produce no token.
/// </summary>
public static class Tokenizer
{
    private static readonly HashSet<string> Dropped =
    [
        "left", "right", "bigl", "bigr", "Bigl", "Bigr", "big", "Big", "bigg", "Bigg", "biggl", "biggr", "Biggl", "Biggr",
        "displaystyle", "textstyle", "scriptstyle", "limits", "nolimits", "hline", "circ", "degree",
        "mathrm", "mathbf", "mathit", "mathsf", "mathbb", "mathcal", "mathnormal", "textbf", "textit", "boldsymbol", "bm",
        "boxed", "fbox", "vec", "hat", "bar", "widehat", "overrightarrow", "underline", "mathop", "noindent", "medskip",
        "smallskip", "bigskip", "nonumber", "notag", "ensuremath", "cr", "newline", "phantom", "relax", "tag", "label",
    ];

    private static readonly HashSet<string> TextCommands = ["text", "textnormal", "mbox", "textrm", "textup", "texttt", "textsf", "hbox"];

    /// <summary>Commands a model may write with a doubled backslash (\\frac) that should still read as commands.</summary>
    private static readonly HashSet<string> DoubledCommands =
    [
        "frac", "dfrac", "tfrac", "sqrt", "left", "right", "le", "leq", "ge", "geq", "boxed", "pi", "infty", "cdot", "times",
        "text", "pm", "in", "cup", "neq", "ne", "lt", "gt", "approx", "circ", "mathrm", "sin", "cos", "tan", "log", "ln",
    ];

    /// <summary>Tokenizes <paramref name="s"/>; returns null if it holds more than <paramref name="maxTokens"/> tokens
    /// or a character no math answer contains.</summary>
    public static List<Token>? Tokenize(string s, int maxTokens = 4000)
    {
        var tokens = new List<Token>();
        int i = 0, n = s.Length;
        while (i < n)
        {
            if (tokens.Count > maxTokens) return null;
            char c = s[i];
            if (char.IsWhiteSpace(c) || c == '$' || c == '~') { i++; continue; }
            if (c == '°')
            {
                // kept after a value (the parser reads it inside sin/cos/tan), dropped elsewhere
                if (tokens.Count > 0 && tokens[^1].Kind is TokenKind.Number or TokenKind.Word or TokenKind.Command or TokenKind.Symbol
                    && (tokens[^1].Kind != TokenKind.Symbol || tokens[^1].Text is ")" or "}")) tokens.Add(new Token(TokenKind.Symbol, "°"));
                i++;
                continue;
            }
            if (char.IsAsciiLetterOrDigit(c) && (i == 0 || !char.IsLetterOrDigit(s[i - 1]) && s[i - 1] != '\\') && ReadBased(s, i, tokens) is var based and > 0)
            {
                i = based;
                continue;
            }
            if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < n && char.IsAsciiDigit(s[i + 1])))
            {
                i = ReadNumber(s, i, tokens);
                continue;
            }
            if (c is 'π' or 'ℝ')
            {
                tokens.Add(new Token(TokenKind.Command, c == 'π' ? "pi" : "reals"));
                i++;
                continue;
            }
            if (char.IsLetter(c))
            {
                int start = i;
                while (i < n && char.IsLetter(s[i])) i++;
                tokens.Add(new Token(TokenKind.Word, s[start..i]));
                continue;
            }
            if (c == '\\')
            {
                i = ReadBackslash(s, i, tokens);
                if (i < 0) return null;
                continue;
            }
            switch (c)
            {
                case '<' or '>' or '!' when i + 1 < n && s[i + 1] == '=':
                    tokens.Add(new Token(TokenKind.Relation, s.Substring(i, 2)));
                    i += 2;
                    continue;
                case '=' when i + 1 < n && s[i + 1] == '=':
                    tokens.Add(new Token(TokenKind.Symbol, "="));
                    i += 2;
                    continue;
                case '=' when i + 1 < n && s[i + 1] == '<':
                    tokens.Add(new Token(TokenKind.Relation, "<="));
                    i += 2;
                    continue;
                case '+' or '-' or '*' or '/' or '^' or '_' or '(' or ')' or '[' or ']' or '{' or '}' or ',' or ';' or '='
                    or '<' or '>' or '!' or '|' or '%' or ':' or '\'' or '&':
                    tokens.Add(new Token(TokenKind.Symbol, c.ToString()));
                    i++;
                    continue;
                case '−' or '–': tokens.Add(new Token(TokenKind.Symbol, "-")); i++; continue;
                case '×' or '·' or '⋅': tokens.Add(new Token(TokenKind.Symbol, "*")); i++; continue;
                case '÷': tokens.Add(new Token(TokenKind.Symbol, "/")); i++; continue;
                case '≤': tokens.Add(new Token(TokenKind.Relation, "<=")); i++; continue;
                case '≥': tokens.Add(new Token(TokenKind.Relation, ">=")); i++; continue;
                case '≠': tokens.Add(new Token(TokenKind.Relation, "!=")); i++; continue;
                case '±': tokens.Add(new Token(TokenKind.Command, "pm")); i++; continue;
                case '∞': tokens.Add(new Token(TokenKind.Command, "infty")); i++; continue;
                case '√': tokens.Add(new Token(TokenKind.Command, "sqrt")); i++; continue;
                case '∪': tokens.Add(new Token(TokenKind.Command, "cup")); i++; continue;
                case '∈': tokens.Add(new Token(TokenKind.Command, "in")); i++; continue;
                case '∅': tokens.Add(new Token(TokenKind.Command, "emptyset")); i++; continue;
                case '²': tokens.Add(new Token(TokenKind.Symbol, "^")); tokens.Add(new Token(TokenKind.Number, "2")); i++; continue;
                case '³': tokens.Add(new Token(TokenKind.Symbol, "^")); tokens.Add(new Token(TokenKind.Number, "3")); i++; continue;
                case '.' or '?': i++; continue; // a stray period (end of sentence) carries no value
                default: return null;
            }
        }
        tokens.Add(new Token(TokenKind.End, ""));
        return tokens;
    }

    private static int ReadNumber(string s, int i, List<Token> tokens)
    {
        var sb = new StringBuilder();
        int n = s.Length;
        bool seenPoint = false;
        while (i < n)
        {
            char c = s[i];
            if (char.IsAsciiDigit(c)) { sb.Append(c); i++; continue; }
            if (c == '.' && !seenPoint && i + 1 < n && char.IsAsciiDigit(s[i + 1])) { seenPoint = true; sb.Append('.'); i++; continue; }
            if (c == '.' && !seenPoint && string.CompareOrdinal(s, i + 1, "\\overline", 0, 9) == 0) { seenPoint = true; sb.Append('.'); i++; continue; }
            // LaTeX thousands separators: 14{,}916 and 11,\!111
            if (!seenPoint && c == '{' && i + 3 < n && s[i + 1] == ',' && s[i + 2] == '}' && char.IsAsciiDigit(s[i + 3])) { i += 3; continue; }
            if (!seenPoint && c == ',' && i + 3 < n && s[i + 1] == '\\' && s[i + 2] == '!' && char.IsAsciiDigit(s[i + 3])) { i += 3; continue; }
            if (!seenPoint && c == '\\' && i + 4 < n && s[i + 1] == ',' && IsDigitGroup(s, i + 2)) { i += 2; continue; } // 1\,000
            if (!seenPoint && c == ',' && i + 4 < n && s[i + 1] == '\\' && s[i + 2] == '!' && s[i + 3] == ' ' && char.IsAsciiDigit(s[i + 4])) { i += 4; continue; }
            break;
        }
        tokens.Add(new Token(TokenKind.Number, sb.ToString()));
        return ReadExponent(s, i, tokens);
    }

    /// <summary>After a number, e5 / E-3 / e+12 (scientific notation) becomes · 10^{±k}; anything else is left alone
    /// (2e^x, 3each). Returns the index after what was read.</summary>
    private static int ReadExponent(string s, int i, List<Token> tokens)
    {
        int n = s.Length;
        if (i >= n || s[i] is not ('e' or 'E')) return i;
        int j = i + 1;
        bool negative = j < n && s[j] == '-';
        if (j < n && s[j] is '-' or '+') j++;
        int digits = j;
        while (j < n && char.IsAsciiDigit(s[j])) j++;
        if (j == digits || j - digits > 4 || (j < n && (char.IsLetter(s[j]) || s[j] == '.'))) return i;
        tokens.Add(new Token(TokenKind.Symbol, "*"));
        tokens.Add(new Token(TokenKind.Number, "10"));
        tokens.Add(new Token(TokenKind.Symbol, "^"));
        tokens.Add(new Token(TokenKind.Symbol, "{"));
        if (negative) tokens.Add(new Token(TokenKind.Symbol, "-"));
        tokens.Add(new Token(TokenKind.Number, s[digits..j]));
        tokens.Add(new Token(TokenKind.Symbol, "}"));
        return j;
    }

    /// <summary>A run of digits and letters with a base subscript it is written in (1011_2, 4210_{5}, A3_{16}):
    /// one <see cref="TokenKind.Based"/> token. The run needs a decimal digit (or, in bases above 10, two
    /// characters) so that x_2 and a_{16} stay subscripted names. Returns the index after it, or 0.</summary>
    private static int ReadBased(string s, int i, List<Token> tokens)
    {
        int n = s.Length, j = i;
        while (j < n && char.IsAsciiLetterOrDigit(s[j])) j++;
        if (j >= n - 1 || s[j] != '_') return 0;
        var run = s[i..j];
        int k = j + 1;
        bool braced = s[k] == '{';
        if (braced) k++;
        int baseStart = k;
        while (k < n && k - baseStart < 2 && char.IsAsciiDigit(s[k])) k++;
        if (k == baseStart || !int.TryParse(s.AsSpan(baseStart, k - baseStart), out int radix) || radix is < 2 or > 36) return 0;
        if (braced) { if (k >= n || s[k] != '}') return 0; k++; }
        else if (k < n && char.IsAsciiDigit(s[k])) return 0;
        bool hasDigit = run.Any(char.IsAsciiDigit);
        if (!hasDigit && (radix <= 10 || run.Length < 2)) return 0;
        foreach (char c in run)
            if (DigitValue(c) >= radix) return 0;
        tokens.Add(new Token(TokenKind.Based, $"{run.ToUpperInvariant()}_{radix}"));
        return k;
    }

    private static int DigitValue(char c) => char.IsAsciiDigit(c) ? c - '0' : char.ToUpperInvariant(c) - 'A' + 10;

    /// <summary>Exactly three digits at <paramref name="at"/> (a thousands group).</summary>
    private static bool IsDigitGroup(string s, int at) => at + 3 <= s.Length && char.IsAsciiDigit(s[at]) && char.IsAsciiDigit(s[at + 1])
        && char.IsAsciiDigit(s[at + 2]) && (at + 3 == s.Length || !char.IsAsciiDigit(s[at + 3]));

    private static int ReadBackslash(string s, int i, List<Token> tokens)
    {
        int n = s.Length;
        if (i + 1 >= n) return i + 1;
        char c = s[i + 1];
        if (c == '\\')
        {
            // \\ is a row break unless a doubled-backslash command follows (\\frac from double-escaped output)
            int j = i + 2;
            while (j < n && char.IsAsciiLetter(s[j])) j++;
            if (j > i + 2 && DoubledCommands.Contains(s[(i + 2)..j])) return ReadBackslash(s, i + 1, tokens);
            tokens.Add(new Token(TokenKind.RowBreak, ""));
            return i + 2;
        }
        if (char.IsAsciiLetter(c))
        {
            int j = i + 1;
            while (j < n && char.IsAsciiLetter(s[j])) j++;
            string name = s[(i + 1)..j];
            if (name.StartsWith("qquad", StringComparison.Ordinal) && name.Length > 5) { tokens.Add(new Token(TokenKind.Word, name[5..])); return j; }
            if (name.StartsWith("quad", StringComparison.Ordinal) && name.Length > 4) { tokens.Add(new Token(TokenKind.Word, name[4..])); return j; }
            if (name is "mathbb" or "Bbb" && GroupEnd(s, j) is var bb and >= 0 && s[(SkipSpaces(s, j) + 1)..bb].Trim() == "R")
            {
                tokens.Add(new Token(TokenKind.Command, "reals"));
                return bb + 1;
            }
            if (name is "mathbb" or "Bbb" && SkipSpaces(s, j) is var r && r < n && s[r] == 'R' && (r + 1 == n || !char.IsLetter(s[r + 1])))
            {
                tokens.Add(new Token(TokenKind.Command, "reals")); // \mathbb R
                return r + 1;
            }
            if (name is "R" or "Reals" or "reals") { tokens.Add(new Token(TokenKind.Command, "reals")); return j; }
            // a wide space separates answers (5 \quad 6 is two values, not a product)
            if (name is "quad" or "qquad") { tokens.Add(new Token(TokenKind.Symbol, ",")); return j; }
            if (Dropped.Contains(name)) return j;
            if (TextCommands.Contains(name)) return ReadText(s, j, tokens);
            if (name is "begin" or "end")
            {
                int close = GroupEnd(s, j);
                if (close < 0) return -1;
                string env = s[(SkipSpaces(s, j) + 1)..close].Trim();
                tokens.Add(new Token(name == "begin" ? TokenKind.BeginEnv : TokenKind.EndEnv, env));
                int k = close + 1;
                if (name == "begin" && env == "array" && GroupEnd(s, k) is var spec and >= 0) k = spec + 1; // column spec {cc}
                return k;
            }
            if (name is "dfrac" or "tfrac" or "cfrac") name = "frac";
            if (name is "operatorname" && GroupEnd(s, j) is var op and >= 0)
            {
                tokens.Add(new Token(TokenKind.Word, s[(SkipSpaces(s, j) + 1)..op].Trim()));
                return op + 1;
            }
            tokens.Add(new Token(TokenKind.Command, name));
            return j;
        }
        switch (c)
        {
            case ',' or ';' or ':' or '!' or ' ' or '>' or '$' or '\n' or '\t': return i + 2;
            case '{': tokens.Add(new Token(TokenKind.Symbol, "«")); return i + 2;
            case '}': tokens.Add(new Token(TokenKind.Symbol, "»")); return i + 2;
            case '%': tokens.Add(new Token(TokenKind.Symbol, "%")); return i + 2;
            case '|': tokens.Add(new Token(TokenKind.Symbol, "|")); return i + 2;
            case '(' or ')' or '[' or ']': return i + 2; // \( \) \[ \] math delimiters
            default: return -1;
        }
    }

    private static int ReadText(string s, int j, List<Token> tokens)
    {
        int close = GroupEnd(s, j);
        if (close < 0) return s.Length;
        string content = s[(SkipSpaces(s, j) + 1)..close].Trim();
        if (content.Length > 0) tokens.Add(new Token(TokenKind.Text, content));
        return close + 1;
    }

    private static int SkipSpaces(string s, int j)
    {
        while (j < s.Length && char.IsWhiteSpace(s[j])) j++;
        return j;
    }

    /// <summary>Index of the '}' closing the group that starts at the first non-space at or after j, or -1.</summary>
    internal static int GroupEnd(string s, int j)
    {
        j = SkipSpaces(s, j);
        if (j >= s.Length || s[j] != '{') return -1;
        int depth = 0;
        for (int k = j; k < s.Length; k++)
        {
            char c = s[k];
            if (c == '\\') { k++; continue; }
            if (c == '{') depth++;
            else if (c == '}' && --depth == 0) return k;
        }
        return -1;
    }
}

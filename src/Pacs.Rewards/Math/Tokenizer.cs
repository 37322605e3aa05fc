using System.Text;

namespace Pacs.Rewards.Math;

public enum TokenKind
{
    Number,    // digits with an optional decimal point
    Word,      // a run of letters
    Command,   // \name (the name without the backslash)
    Symbol,    // one of + - * / ^ _ ( ) [ ] { } , ; = < > ! | % : ' and the set braces « »
    Relation,  // <=, >=, != written in ASCII
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
        "displaystyle", "textstyle", "scriptstyle", "quad", "qquad", "limits", "nolimits", "hline", "circ", "degree",
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
            if (char.IsWhiteSpace(c) || c == '$' || c == '~' || c == '°') { i++; continue; }
            if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < n && char.IsAsciiDigit(s[i + 1])))
            {
                i = ReadNumber(s, i, tokens);
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
                case 'π': tokens.Add(new Token(TokenKind.Command, "pi")); i++; continue;
                case '√': tokens.Add(new Token(TokenKind.Command, "sqrt")); i++; continue;
                case '∪': tokens.Add(new Token(TokenKind.Command, "cup")); i++; continue;
                case '∈': tokens.Add(new Token(TokenKind.Command, "in")); i++; continue;
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
            if (!seenPoint && c == ',' && i + 4 < n && s[i + 1] == '\\' && s[i + 2] == '!' && s[i + 3] == ' ' && char.IsAsciiDigit(s[i + 4])) { i += 4; continue; }
            break;
        }
        tokens.Add(new Token(TokenKind.Number, sb.ToString()));
        return i;
    }

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

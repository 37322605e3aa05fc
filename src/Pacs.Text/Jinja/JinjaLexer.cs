using System.Text;
using System.Text.RegularExpressions;

namespace Pacs.Text.Jinja;

internal enum TokenKind
{
    Text, OpenStatement, CloseStatement, OpenExpression, CloseExpression, OpenParen, CloseParen, OpenCurly, CloseCurly,
    OpenSquare, CloseSquare, Comma, Dot, Colon, Pipe, Comparison, Additive, Multiplicative, Power, Equals, Unary,
    Number, String, Identifier, Comment,
}

internal readonly record struct Token(TokenKind Kind, string Value, int Line);

/// <summary>Tokenises a template the way @huggingface/jinja does, with lstrip_blocks and trim_blocks on (as
/// transformers renders chat templates) and `{% generation %}` markers removed.</summary>
internal static partial class JinjaLexer
{
    private static readonly (string Text, TokenKind Kind)[] Symbols =
    [
        ("{%", TokenKind.OpenStatement), ("%}", TokenKind.CloseStatement), ("{{", TokenKind.OpenExpression), ("}}", TokenKind.CloseExpression),
        ("(", TokenKind.OpenParen), (")", TokenKind.CloseParen), ("{", TokenKind.OpenCurly), ("}", TokenKind.CloseCurly),
        ("[", TokenKind.OpenSquare), ("]", TokenKind.CloseSquare), (",", TokenKind.Comma), (".", TokenKind.Dot), (":", TokenKind.Colon),
        ("|", TokenKind.Pipe), ("<=", TokenKind.Comparison), (">=", TokenKind.Comparison), ("==", TokenKind.Comparison),
        ("!=", TokenKind.Comparison), ("<", TokenKind.Comparison), (">", TokenKind.Comparison), ("+", TokenKind.Additive),
        ("-", TokenKind.Additive), ("~", TokenKind.Additive), ("**", TokenKind.Power), ("*", TokenKind.Multiplicative),
        ("//", TokenKind.Multiplicative), ("/", TokenKind.Multiplicative), ("%", TokenKind.Multiplicative), ("=", TokenKind.Equals),
    ];

    [GeneratedRegex(@"(\s*){%(-?)\s*(?:end)?generation\s*(-?)%}(\s*)", RegexOptions.Singleline)]
    private static partial Regex GenerationTag();

    /// <summary>Applies @huggingface/jinja's preprocessing and returns, for each character of the result, its line
    /// in the original template (so errors name the line the author sees).</summary>
    public static string Preprocess(string template, out int[] lineOf)
    {
        if (template.EndsWith('\n')) template = template[..^1];
        // lstrip_blocks: drop spaces and tabs between a line start and "{%", "{#" or "{-".
        var stripped = new StringBuilder(template.Length);
        var strippedLines = new List<int>(template.Length);
        int line = 1;
        for (int i = 0; i < template.Length;)
        {
            bool lineStart = i == 0 || template[i - 1] is '\n' or '\r' or '\u2028' or '\u2029';
            if (lineStart)
            {
                int j = i;
                while (j < template.Length && template[j] is ' ' or '\t') j++;
                if (j + 1 < template.Length && template[j] == '{' && template[j + 1] is '#' or '%' or '-')
                    i = j;
            }
            stripped.Append(template[i]);
            strippedLines.Add(line);
            if (template[i] == '\n') line++;
            i++;
        }
        // trim_blocks: drop the newline right after "#}", "%}" or "-}".
        var trimmed = new StringBuilder(stripped.Length);
        var lines = new List<int>(stripped.Length);
        for (int i = 0; i < stripped.Length; i++)
        {
            if (stripped[i] == '\n' && i >= 2 && stripped[i - 1] == '}' && stripped[i - 2] is '#' or '%' or '-') continue;
            trimmed.Append(stripped[i]);
            lines.Add(strippedLines[i]);
        }
        string result = trimmed.ToString();
        if (GenerationTag().IsMatch(result))
        {
            // Rare ({% generation %} markers): line numbers after the markers are counted in the rewritten text.
            result = GenerationTag().Replace(result, m => (m.Groups[2].Value.Length > 0 ? "" : m.Groups[1].Value) + (m.Groups[3].Value.Length > 0 ? "" : m.Groups[4].Value));
            lines.Clear();
            int l = 1;
            foreach (char c in result) { lines.Add(l); if (c == '\n') l++; }
        }
        lines.Add(lines.Count > 0 ? lines[^1] : 1); // the end-of-input position
        lineOf = lines.ToArray();
        return result;
    }

    public static bool IsJsWhitespace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r' or '\u00a0' or '\u1680'
        or (>= '\u2000' and <= '\u200a') or '\u2028' or '\u2029' or '\u202f' or '\u205f' or '\u3000' or '\ufeff';

    private static bool IsWordChar(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_';

    public static List<Token> Tokenize(string source)
    {
        string src = Preprocess(source, out int[] lineOf);
        var tokens = new List<Token>();
        int pos = 0, curlyDepth = 0;
        int Line(int at) => lineOf[Math.Min(at, lineOf.Length - 1)];
        InvalidDataException Error(string message) => new($"chat template line {Line(pos)}: {message}");
        string ConsumeWhile(Func<char, bool> predicate)
        {
            var sb = new StringBuilder();
            while (pos < src.Length && predicate(src[pos]))
            {
                if (src[pos] == '\\')
                {
                    pos++;
                    if (pos >= src.Length) throw Error("unexpected end of input");
                    char escaped = src[pos++];
                    if (escaped is 'x' or 'u')
                    {
                        int length = escaped == 'x' ? 2 : 4;
                        if (pos + length > src.Length || !int.TryParse(src.AsSpan(pos, length), System.Globalization.NumberStyles.AllowHexSpecifier, null, out int code))
                            throw Error($"invalid escape \\{escaped}");
                        sb.Append((char)code);
                        pos += length;
                        continue;
                    }
                    sb.Append(escaped switch
                    {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'b' => '\b',
                        'f' => '\f',
                        'v' => '\v',
                        '\'' => '\'',
                        '"' => '"',
                        '\\' => '\\',
                        _ => throw Error($"unexpected escaped character '{escaped}'"),
                    });
                    continue;
                }
                sb.Append(src[pos++]);
                if (pos >= src.Length) throw Error("unexpected end of input");
            }
            return sb.ToString();
        }
        void StripTrailingWhitespace()
        {
            if (tokens.Count > 0 && tokens[^1].Kind == TokenKind.Text)
            {
                string trimmed = tokens[^1].Value.TrimEnd(JsWhitespaceChars);
                if (trimmed.Length == 0) tokens.RemoveAt(tokens.Count - 1);
                else tokens[^1] = tokens[^1] with { Value = trimmed };
            }
        }
        void SkipLeadingWhitespace()
        {
            while (pos < src.Length && IsJsWhitespace(src[pos])) pos++;
        }
        bool At(string s) => string.CompareOrdinal(src, pos, s, 0, s.Length) == 0 && pos + s.Length <= src.Length;

        while (pos < src.Length)
        {
            var last = tokens.Count > 0 ? tokens[^1].Kind : (TokenKind?)null;
            if (last is null or TokenKind.CloseStatement or TokenKind.CloseExpression or TokenKind.Comment)
            {
                int start = pos;
                while (pos < src.Length && !(src[pos] == '{' && pos + 1 < src.Length && src[pos + 1] is '%' or '{' or '#')) pos++;
                if (pos > start)
                {
                    tokens.Add(new Token(TokenKind.Text, src[start..pos], Line(start)));
                    continue;
                }
            }
            if (At("{#"))
            {
                pos += 2;
                bool stripBefore = pos < src.Length && src[pos] == '-';
                if (stripBefore) pos++;
                int start = pos;
                while (!(pos + 1 < src.Length && src[pos] == '#' && src[pos + 1] == '}'))
                {
                    if (pos + 2 >= src.Length) throw Error("missing end of comment tag");
                    pos++;
                }
                string comment = src[start..pos];
                bool stripAfter = comment.EndsWith('-');
                if (stripAfter) comment = comment[..^1];
                if (stripBefore) StripTrailingWhitespace();
                tokens.Add(new Token(TokenKind.Comment, comment, Line(start)));
                pos += 2;
                if (stripAfter) SkipLeadingWhitespace();
                continue;
            }
            if (At("{%-"))
            {
                StripTrailingWhitespace();
                tokens.Add(new Token(TokenKind.OpenStatement, "{%", Line(pos)));
                pos += 3;
                continue;
            }
            if (At("{{-"))
            {
                StripTrailingWhitespace();
                tokens.Add(new Token(TokenKind.OpenExpression, "{{", Line(pos)));
                curlyDepth = 0;
                pos += 3;
                continue;
            }
            while (pos < src.Length && IsJsWhitespace(src[pos])) pos++;
            if (pos >= src.Length) break;
            if (At("-%}"))
            {
                tokens.Add(new Token(TokenKind.CloseStatement, "%}", Line(pos)));
                pos += 3;
                SkipLeadingWhitespace();
                continue;
            }
            if (At("-}}"))
            {
                tokens.Add(new Token(TokenKind.CloseExpression, "}}", Line(pos)));
                pos += 3;
                SkipLeadingWhitespace();
                continue;
            }
            char c = src[pos];
            if (c is '-' or '+')
            {
                var lastKind = tokens.Count > 0 ? tokens[^1].Kind : (TokenKind?)null;
                if (lastKind is null or TokenKind.Text) throw Error($"unexpected character '{c}'");
                if (lastKind is not (TokenKind.Identifier or TokenKind.Number or TokenKind.String or TokenKind.CloseParen or TokenKind.CloseSquare))
                {
                    int at = pos++;
                    string num = ConsumeWhile(char.IsAsciiDigit);
                    if (num.Length > 0 && pos + 1 < src.Length && src[pos] == '.' && char.IsAsciiDigit(src[pos + 1]))
                    {
                        pos++;
                        num = num + "." + ConsumeWhile(char.IsAsciiDigit);
                    }
                    tokens.Add(new Token(num.Length > 0 ? TokenKind.Number : TokenKind.Unary, c + num, Line(at)));
                    continue;
                }
            }
            bool matched = false;
            foreach (var (text, kind) in Symbols)
            {
                if (text == "}}" && curlyDepth > 0) continue;
                if (!At(text)) continue;
                tokens.Add(new Token(kind, text, Line(pos)));
                if (kind == TokenKind.OpenExpression) curlyDepth = 0;
                else if (kind == TokenKind.OpenCurly) curlyDepth++;
                else if (kind == TokenKind.CloseCurly) curlyDepth--;
                pos += text.Length;
                matched = true;
                break;
            }
            if (matched) continue;
            if (c is '\'' or '"')
            {
                int at = pos++;
                string s = ConsumeWhile(ch => ch != c);
                tokens.Add(new Token(TokenKind.String, s, Line(at)));
                pos++;
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                int at = pos;
                string num = ConsumeWhile(char.IsAsciiDigit);
                if ((tokens.Count == 0 || tokens[^1].Kind != TokenKind.Dot) && pos + 1 < src.Length && src[pos] == '.' && char.IsAsciiDigit(src[pos + 1]))
                {
                    pos++;
                    num = num + "." + ConsumeWhile(char.IsAsciiDigit);
                }
                tokens.Add(new Token(TokenKind.Number, num, Line(at)));
                continue;
            }
            if (IsWordChar(c))
            {
                int at = pos;
                tokens.Add(new Token(TokenKind.Identifier, ConsumeWhile(IsWordChar), Line(at)));
                continue;
            }
            throw Error($"unexpected character '{c}'");
        }
        return tokens;
    }

    public static readonly char[] JsWhitespaceChars =
    [
        ' ', '\t', '\n', '\v', '\f', '\r', '\u00a0', '\u1680', '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005',
        '\u2006', '\u2007', '\u2008', '\u2009', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff',
    ];
}

using System.Numerics;

namespace Pacs.Rewards.Math;

/// <summary>
/// Recursive-descent parser from tokens to <see cref="Node"/>. Depth and node budgets make any input either parse
/// or fail fast (null) instead of overflowing the stack; nothing here throws to the caller.
/// </summary>
public sealed partial class Parser
{
    public const int MaxDepth = 120;
    public const int MaxNodes = 4000;

    private static readonly HashSet<string> Functions =
    [
        "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "ln", "log", "exp",
        "lg", "sqrt",
    ];

    private static readonly HashSet<string> Units =
    [
        "cm", "mm", "km", "meter", "meters", "metre", "metres", "centimeter", "centimeters", "millimeters", "kilometers",
        "inch", "inches", "ft", "feet", "foot", "yd", "yard", "yards", "mile", "miles", "mph", "kg", "gram", "grams", "pound",
        "pounds", "lb", "lbs", "oz", "ounce", "ounces", "sec", "second", "seconds", "minute", "minutes", "min", "hour",
        "hours", "hr", "hrs", "day", "days", "week", "weeks", "month", "months", "year", "years", "dollar", "dollars", "cent",
        "cents", "yuan", "euro", "euros", "unit", "units", "sq", "square", "cubic", "degree", "degrees", "deg", "radians",
        "liter", "liters", "litres", "ml", "cups", "people", "students", "ways", "points", "times", "km/h", "kmh", "m/s",
        "centimeters", "squared", "cubed", "per", "each", "rs", "rupees", "marks", "games", "pages", "apples",
    ];

    private readonly List<Token> _tokens;
    private int _pos;
    private int _depth;
    private int _nodes;
    private int _absDepth;
    private int _trigDepth;

    private Parser(List<Token> tokens) => _tokens = tokens;

    private sealed class BudgetExceeded : Exception;

    /// <summary>Parses a whole answer (possibly a list), or returns null.</summary>
    public static Node? Parse(string text)
    {
        var tokens = Tokenizer.Tokenize(text);
        if (tokens is null) return null;
        var parser = new Parser(tokens);
        try
        {
            var node = parser.ParseList(TokenKind.End, null);
            return parser.Peek.Kind == TokenKind.End ? node : null;
        }
        catch (BudgetExceeded)
        {
            return null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private Token Peek => _tokens[_pos];
    private Token PeekAt(int k) => _tokens[System.Math.Min(_pos + k, _tokens.Count - 1)];
    private Token Next() => _tokens[_pos < _tokens.Count - 1 ? _pos++ : _pos];
    private bool IsSymbol(string s) => Peek.Kind == TokenKind.Symbol && Peek.Text == s;
    private bool IsCommand(string s) => Peek.Kind == TokenKind.Command && Peek.Text == s;

    private T Count<T>(T node) where T : Node
    {
        if (++_nodes > MaxNodes) throw new BudgetExceeded();
        return node;
    }

    private void Expect(string symbol)
    {
        if (!IsSymbol(symbol)) throw new FormatException(symbol);
        _pos++;
    }

    private void Enter()
    {
        if (++_depth > MaxDepth) throw new BudgetExceeded();
    }

    private bool AtSeparator => Peek switch
    {
        { Kind: TokenKind.Symbol, Text: "," or ";" } => true,
        { Kind: TokenKind.Word, Text: "and" or "or" } => true,
        { Kind: TokenKind.Command, Text: "lor" or "vee" or "land" or "wedge" } => true, // 5 \lor 6 lists two answers
        { Kind: TokenKind.Text } t => IsSeparatorText(t.Text),
        _ => false,
    };

    private static bool IsSeparatorText(string t) => t is "and" or "or" or "," or ", and" or "or," || t.StartsWith("for ", StringComparison.Ordinal)
        || t.EndsWith(" and", StringComparison.Ordinal);

    private bool AtClose(string? close) => Peek.Kind == TokenKind.End || (close is not null && Peek.Kind == TokenKind.Symbol
        && (Peek.Text == close || (close is ")" or "]" && Peek.Text is ")" or "]")));

    /// <summary>item (sep item)* up to <paramref name="close"/>; one item comes back unwrapped. At the top level,
    /// when both ';' and ',' separate items, ';' separates groups and each group is a tuple (p=5,q=2;p=7,q=2).</summary>
    private Node ParseList(TokenKind endKind, string? close)
    {
        Enter();
        var items = new List<Node>();
        var groups = new List<Node>();
        bool sawComma = false, sawSemicolon = false;
        int groupStart = 0;
        while (true)
        {
            while (AtSeparator)
            {
                if (IsSymbol(";"))
                {
                    sawSemicolon = true;
                    if (items.Count > groupStart) groups.Add(Group(items, groupStart));
                    groupStart = items.Count;
                }
                else sawComma = true;
                _pos++;
            }
            if (AtClose(close) || Peek.Kind == endKind) break;
            items.Add(ParseRelation(close));
            if (!AtSeparator) break;
        }
        _depth--;
        if (items.Count == 0) throw new FormatException("empty");
        if (close is null && sawComma && sawSemicolon)
        {
            if (items.Count > groupStart) groups.Add(Group(items, groupStart));
            return groups.Count == 1 ? groups[0] : Count(new ListNode(groups));
        }
        return items.Count == 1 ? items[0] : Count(new ListNode(items));
    }

    private Node Group(List<Node> items, int start) =>
        items.Count - start == 1 ? items[start] : Count(new TupleNode(items.Skip(start).ToList(), '(', ')'));

    private RelationKind? PeekRelation()
    {
        var t = Peek;
        return t.Kind switch
        {
            TokenKind.Symbol => t.Text switch { "=" => RelationKind.Equal, "<" => RelationKind.Less, ">" => RelationKind.Greater, _ => null },
            TokenKind.Relation => t.Text switch { "<=" => RelationKind.LessEqual, ">=" => RelationKind.GreaterEqual, _ => RelationKind.NotEqual },
            TokenKind.Command => t.Text switch
            {
                "le" or "leq" or "leqslant" or "leqq" => RelationKind.LessEqual,
                "ge" or "geq" or "geqslant" or "geqq" => RelationKind.GreaterEqual,
                "lt" => RelationKind.Less,
                "gt" => RelationKind.Greater,
                "ne" or "neq" => RelationKind.NotEqual,
                "approx" or "simeq" or "equiv" or "cong" => RelationKind.Approx,
                "in" => RelationKind.In,
                _ => null,
            },
            _ => null,
        };
    }

    private Node ParseRelation(string? close)
    {
        if (PeekRelation() is RelationKind.Approx or RelationKind.Equal) _pos++; // "\approx 8.24", "= 5": the value stated
        var operands = new List<Node> { ParseUnion(close) };
        var kinds = new List<RelationKind>();
        while (PeekRelation() is { } kind)
        {
            _pos++;
            kinds.Add(kind);
            operands.Add(ParseUnion(close));
        }
        return kinds.Count == 0 ? operands[0] : Count(new RelationNode(operands, kinds));
    }

    private Node ParseUnion(string? close)
    {
        var first = ParseAdditive();
        if (!IsCommand("cup")) return first;
        var parts = new List<Node> { first };
        while (IsCommand("cup") || (Peek.Kind == TokenKind.Word && Peek.Text == "U"))
        {
            _pos++;
            parts.Add(ParseAdditive());
        }
        return Count(new UnionNode(parts));
    }

    private Node ParseAdditive()
    {
        Enter();
        Node? acc = null;
        var terms = new List<Node>();
        while (true)
        {
            if (IsSymbol("+")) { _pos++; if (acc is not null) terms.Add(acc); acc = ParseTerm(); continue; }
            if (IsSymbol("-")) { _pos++; if (acc is not null) terms.Add(acc); acc = Count(new NegateNode(ParseTerm())); continue; }
            if (IsCommand("pm") || IsCommand("mp"))
            {
                _pos++;
                Node? left = acc is null ? null : terms.Count == 0 ? acc : Count(new SumNode([.. terms, acc]));
                terms.Clear();
                acc = Count(new PlusMinusNode(left, ParseTerm()));
                continue;
            }
            if (acc is null) { acc = ParseTerm(); continue; }
            break;
        }
        _depth--;
        if (terms.Count == 0) return acc;
        terms.Add(acc);
        return Count(new SumNode(terms));
    }

    private bool StartsPrimary()
    {
        var t = Peek;
        return t.Kind switch
        {
            TokenKind.Number or TokenKind.Word or TokenKind.BeginEnv => !(t.Kind == TokenKind.Word && t.Text is "and" or "or"),
            TokenKind.Text => !IsSeparatorText(t.Text),
            TokenKind.Command => t.Text is not ("cdot" or "times" or "div" or "pm" or "mp" or "cup" or "ast" or "rangle" or "rvert"
                or "rVert" or "rfloor" or "rceil" or "lor" or "vee" or "land" or "wedge") && PeekRelation() is null,
            TokenKind.Symbol => t.Text is "(" or "{" or "«" || (t.Text == "|" && _absDepth == 0),
            _ => false,
        };
    }

    private Node ParseTerm()
    {
        Enter();
        var factors = new List<Node> { ParseUnary() };
        while (true)
        {
            if (IsSymbol("*") || IsCommand("cdot") || IsCommand("times") || IsCommand("ast")) { _pos++; factors.Add(ParseUnary()); continue; }
            if (IsSymbol("/") || IsCommand("div") || IsSymbol(":"))
            {
                _pos++;
                var den = ParseUnary();
                var num = factors.Count == 1 ? factors[0] : Count(new ProductNode([.. factors]));
                factors.Clear();
                factors.Add(Count(new DivideNode(num, den)));
                continue;
            }
            // implicit product (2x, 2\sqrt3, x(y+1)), but never of a number after another factor: 5 6 is two values
            if (StartsPrimary() && Peek.Kind != TokenKind.Number) { factors.Add(ParseUnary()); continue; }
            break;
        }
        _depth--;
        factors.RemoveAll(f => f is TextNode t && IsUnit(t.Text) && factors.Count > 1);
        return factors.Count == 1 ? factors[0] : Count(new ProductNode(factors));
    }

    private static bool IsPercentWord(string text) => IsOneOf(text, "percent", "pct", "percentage", "per cent");

    /// <summary>Whether <paramref name="text"/>, trimmed, is one of <paramref name="words"/> in any case (no allocation).</summary>
    private static bool IsOneOf(string text, params ReadOnlySpan<string> words)
    {
        var trimmed = text.AsSpan().Trim();
        foreach (var word in words)
            if (trimmed.Equals(word, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    internal static bool IsUnit(string text)
    {
        foreach (var word in text.Split([' ', '^', '-', '/'], StringSplitOptions.RemoveEmptyEntries))
            if (!Units.Contains(word.ToLowerInvariant()) && !word.All(char.IsAsciiDigit)) return false;
        return true;
    }

    private Node ParseUnary()
    {
        Enter();
        Node result;
        if (IsSymbol("-")) { _pos++; result = Count(new NegateNode(ParseUnary())); }
        else if (IsSymbol("+")) { _pos++; result = ParseUnary(); }
        else result = ParsePostfix(ParsePrimary());
        _depth--;
        return result;
    }

    private Node ParsePostfix(Node node)
    {
        while (true)
        {
            if (IsSymbol("^"))
            {
                _pos++;
                if (IsCommand("circ") || IsCommand("prime")) { _pos++; continue; }
                if (IsSymbol("{") && PeekAt(1) is { Kind: TokenKind.Command, Text: "circ" } && PeekAt(2) is { Kind: TokenKind.Symbol, Text: "}" }) { _pos += 3; continue; }
                node = Count(new PowerNode(node, ParseArgument(exponent: true)));
                continue;
            }
            if (IsSymbol("!")) { _pos++; node = Count(new FunctionNode("factorial", node)); continue; }
            if (IsSymbol("%")) { _pos++; node = Count(new PercentNode(node)); continue; }
            if (Peek.Kind is TokenKind.Word or TokenKind.Text && IsPercentWord(Peek.Text)) { _pos++; node = Count(new PercentNode(node)); continue; }
            if (IsSymbol("°"))
            {
                // 60° is 60 as an answer, but π/3 as the argument of sin, cos or tan
                _pos++;
                if (_trigDepth > 0) node = Count(new ProductNode([node, new DivideNode(new ConstantNode(ConstantKind.Pi), new NumberNode(Rational.FromInt(180), 0))]));
                continue;
            }
            if (IsSymbol("'")) { _pos++; node = node is SymbolNode s ? new SymbolNode(s.Name + "'") : node; continue; }
            if (IsSymbol("_"))
            {
                _pos++;
                var sub = ParseArgument(exponent: true);
                node = Count(new SymbolNode($"{Describe(node)}_{Describe(sub)}"));
                continue;
            }
            if (Peek.Kind == TokenKind.Word && IsUnit(Peek.Text) && node is not TextNode) { _pos++; continue; }
            if (Peek.Kind == TokenKind.Text && IsUnit(Peek.Text))
            {
                _pos++;
                if (IsSymbol("^")) { _pos++; ParseArgument(exponent: true); } // cm^2
                continue;
            }
            return node;
        }
    }

    /// <summary>A stable spelling of a small node, used to name subscripted symbols (x_1, a_{37}, 204_5).</summary>
    private static string Describe(Node node) => node switch
    {
        NumberNode n => n.Value.ToString(),
        SymbolNode s => s.Name,
        ConstantNode c => c.Kind.ToString(),
        TextNode t => t.Text,
        ProductNode p => string.Concat(p.Factors.Select(Describe)),
        SumNode s => string.Join("+", s.Terms.Select(Describe)),
        NegateNode g => "-" + Describe(g.Operand),
        _ => node.GetType().Name,
    };

    /// <summary>The argument of ^, _, \frac or \sqrt: a braced group, or a single token (one digit of a number).</summary>
    private Node ParseArgument(bool exponent = false)
    {
        if (IsSymbol("{"))
        {
            _pos++;
            var inner = ParseList(TokenKind.End, "}");
            Expect("}");
            return inner;
        }
        var t = Peek;
        if (t.Kind == TokenKind.Number)
        {
            // \frac12 and x^23 take one digit; a decimal exponent (x^{0.5} written x^0.5) stays whole
            if (t.Text.Length > 1 && (!exponent || !t.Text.Contains('.')))
            {
                _tokens[_pos] = new Token(TokenKind.Number, t.Text[1..]);
                return Count(NumberFrom(t.Text[..1]));
            }
            _pos++;
            return Count(NumberFrom(t.Text));
        }
        if (t.Kind == TokenKind.Word && t.Text.Length > 1 && !Functions.Contains(t.Text))
        {
            _tokens[_pos] = new Token(TokenKind.Word, t.Text[1..]);
            return Count(LetterNode(t.Text[0]));
        }
        if (IsSymbol("-")) { _pos++; return Count(new NegateNode(ParseArgument(exponent))); }
        return ParsePrimary();
    }

    private static Node NumberFrom(string digits)
    {
        int point = digits.IndexOf('.');
        if (point < 0) return new NumberNode(new Rational(BigInteger.Parse(digits), BigInteger.One), 0);
        if (digits.Length > 2000) throw new FormatException("number too long");
        var intPart = digits[..point];
        var frac = digits[(point + 1)..];
        var num = BigInteger.Parse((intPart.Length == 0 ? "0" : intPart) + frac);
        return new NumberNode(Rational.Create(num, BigInteger.Pow(10, frac.Length))!.Value, frac.Length);
    }

    private static Node LetterNode(char c) => c switch
    {
        'e' => new ConstantNode(ConstantKind.E),
        'i' => new ConstantNode(ConstantKind.I),
        _ => new SymbolNode(c.ToString()),
    };

    private Node ParsePrimary()
    {
        Enter();
        var result = ParsePrimaryInner();
        _depth--;
        return result;
    }

    private Node ParsePrimaryInner()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.Number:
                if (IsCommand("overline") && t.Text.Contains('.')) return Count(RepeatingDecimal(t.Text));
                if (t.Text.Length > 400) throw new FormatException("number too long");
                if (IsCommand("frac") && !t.Text.Contains('.') && MixedFraction() is { } fraction)
                {
                    // 1\frac{1}{2}: a mixed number, 1 + 1/2
                    var whole = (NumberNode)NumberFrom(t.Text);
                    return Count(new NumberNode((whole.Value + fraction) ?? throw new FormatException("mixed number"), 0));
                }
                return Count(NumberFrom(t.Text));
            case TokenKind.Based:
                {
                    int underscore = t.Text.LastIndexOf('_');
                    var digits = t.Text[..underscore].TrimStart('0');
                    return Count(new BasedNumberNode(digits.Length == 0 ? "0" : digits, int.Parse(t.Text[(underscore + 1)..])));
                }
            case TokenKind.Word:
                return ParseWord(t.Text);
            case TokenKind.Text:
                return ParseTextToken(t.Text);
            case TokenKind.BeginEnv:
                return ParseEnvironment(t.Text);
            case TokenKind.Command:
                return ParseCommand(t.Text);
            case TokenKind.Symbol:
                switch (t.Text)
                {
                    case "(" or "[":
                        {
                            var inner = ParseList(TokenKind.End, t.Text == "(" ? ")" : "]");
                            var close = Next();
                            if (close.Kind != TokenKind.Symbol || close.Text is not (")" or "]")) throw new FormatException("unclosed");
                            if ((t.Text == "(" && close.Text == ")" && inner is not ListNode) || inner is MatrixNode) return inner;
                            var items = inner is ListNode l ? l.Items : [inner];
                            return Count(new TupleNode(items, t.Text[0], close.Text[0]));
                        }
                    case "{":
                        {
                            if (IsSymbol("}")) { _pos++; return ParsePrimary(); }
                            var inner = ParseList(TokenKind.End, "}");
                            Expect("}");
                            return inner;
                        }
                    case "«":
                        {
                            if (IsSymbol("»")) { _pos++; return Count(new SetNode([])); }
                            var inner = ParseList(TokenKind.End, "»");
                            Expect("»");
                            return Count(new SetNode(inner is ListNode l ? l.Items : [inner]));
                        }
                    case "|":
                        {
                            _absDepth++;
                            var inner = ParseAdditive();
                            _absDepth--;
                            Expect("|");
                            return Count(new FunctionNode("abs", inner));
                        }
                }
                break;
        }
        throw new FormatException("unexpected token");
    }

    private Node ParseWord(string word)
    {
        switch (word)
        {
            case "pi": return Count(new ConstantNode(ConstantKind.Pi));
            case "infty" or "inf" or "infinity" or "oo": return Count(new ConstantNode(ConstantKind.Infinity));
        }
        if (Functions.Contains(word)) return ParseFunction(word == "lg" ? "log" : word);
        if (word.Length == 1) return Count(LetterNode(word[0]));
        if (IsUnit(word)) return Count(new TextNode(word));
        if (word.Length <= 3 || !word.All(char.IsAsciiLetter))
        {
            // implicit product of single-letter variables (xy)
            var letters = word.Select(c => (Node)Count(LetterNode(c))).ToList();
            return letters.Count == 1 ? letters[0] : Count(new ProductNode(letters));
        }
        return Count(new TextNode(word));
    }

    private Node ParseTextToken(string text)
    {
        if (IsOneOf(text, "all real numbers", "all reals", "the real numbers")) return Reals();
        if (text.Any(char.IsAsciiDigit) && !text.Any(char.IsLetter))
        {
            return Parse(text) ?? throw new FormatException("text");
        }
        return Count(new TextNode(text));
    }
}

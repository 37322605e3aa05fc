using System.Numerics;

namespace Pacs.Rewards.Math;

/// <summary>
/// Recursive-descent parser from tokens to <see cref="Node"/>. Depth and node budgets make any input either parse
/// or fail fast (null) instead of overflowing the stack; nothing here throws to the caller.
/// </summary>
public sealed class Parser
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
                or "rVert" or "rfloor" or "rceil") && PeekRelation() is null,
            TokenKind.Symbol => t.Text is "(" or "{" or "«" || (t.Text == "|" && _absDepth == 0) || (t.Text == "[" && false),
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
            if (StartsPrimary()) { factors.Add(ParseUnary()); continue; }
            break;
        }
        _depth--;
        factors.RemoveAll(f => f is TextNode t && IsUnit(t.Text) && factors.Count > 1);
        return factors.Count == 1 ? factors[0] : Count(new ProductNode(factors));
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
            if (Peek.Kind == TokenKind.Word && Peek.Text is "percent" or "pct" or "percentage") { _pos++; node = Count(new PercentNode(node)); continue; }
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
            if (t.Text.Length > 1 && !exponent || t.Text.Length > 1 && exponent && !t.Text.Contains('.'))
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
        if (IsSymbol("(")) return ParsePrimary();
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

    /// <summary>After an integer: \frac{p}{q} or \frac pq with integer p, q. Consumes it and returns p/q, or leaves
    /// the tokens alone and returns null.</summary>
    private Rational? MixedFraction()
    {
        static bool IsInt(Token t) => t.Kind == TokenKind.Number && !t.Text.Contains('.') && t.Text.Length <= 18;
        Token a = PeekAt(1), b = PeekAt(2), c = PeekAt(3), d = PeekAt(4), e = PeekAt(5), f = PeekAt(6);
        if (a is { Kind: TokenKind.Symbol, Text: "{" } && IsInt(b) && c is { Kind: TokenKind.Symbol, Text: "}" }
            && d is { Kind: TokenKind.Symbol, Text: "{" } && IsInt(e) && f is { Kind: TokenKind.Symbol, Text: "}" })
        {
            _pos += 7;
            return Rational.Create(System.Numerics.BigInteger.Parse(b.Text), System.Numerics.BigInteger.Parse(e.Text));
        }
        if (a.Kind == TokenKind.Number && a.Text.Length == 2 && char.IsAsciiDigit(a.Text[1]) && char.IsAsciiDigit(a.Text[0]))
        {
            _pos += 2;
            return Rational.Create(a.Text[0] - '0', a.Text[1] - '0');
        }
        return null;
    }

    private Node RepeatingDecimal(string written)
    {
        _pos++;
        var repeat = ParseArgument();
        if (repeat is not NumberNode { Decimals: 0 } r) throw new FormatException("repeating part");
        string digits = r.Value.Num.ToString();
        // 0.1\overline{6}: x = 0.1 + 0.0666... = 0.1 + 6 / (9 * 10^1)
        int point = written.IndexOf('.');
        int places = written.Length - point - 1;
        var prefix = (NumberNode)NumberFrom(written);
        var nines = BigInteger.Pow(10, digits.Length) - 1;
        var tail = Rational.Create(r.Value.Num, nines * BigInteger.Pow(10, places)) ?? throw new FormatException("repeat");
        return new NumberNode((prefix.Value + tail) ?? throw new FormatException("repeat"), int.MaxValue);
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
        if (text.Any(char.IsAsciiDigit) && !text.Any(char.IsLetter))
        {
            return Parse(text) ?? throw new FormatException("text");
        }
        return Count(new TextNode(text));
    }

    private Node ParseEnvironment(string env)
    {
        string name = env.TrimEnd('*');
        if (name is "pmatrix" or "bmatrix" or "Bmatrix" or "vmatrix" or "matrix" or "array" or "smallmatrix")
        {
            var rows = new List<IReadOnlyList<Node>>();
            var row = new List<Node>();
            while (true)
            {
                if (Peek.Kind == TokenKind.EndEnv) { _pos++; break; }
                if (Peek.Kind == TokenKind.End) throw new FormatException("unclosed matrix");
                if (Peek.Kind == TokenKind.RowBreak) { _pos++; if (row.Count > 0) rows.Add(row); row = []; continue; }
                if (IsSymbol("&")) { _pos++; continue; }
                row.Add(ParseRelation(null));
            }
            if (row.Count > 0) rows.Add(row);
            if (rows.Count == 0 || rows.Any(r => r.Count != rows[0].Count)) throw new FormatException("ragged matrix");
            return Count(new MatrixNode(rows));
        }
        // align, equation, gather, cases: parse the content, dropping alignment marks and line breaks
        var parts = new List<Node>();
        while (Peek.Kind != TokenKind.EndEnv)
        {
            if (Peek.Kind == TokenKind.End) throw new FormatException("unclosed environment");
            if (Peek.Kind == TokenKind.RowBreak || IsSymbol("&")) { _pos++; continue; }
            parts.Add(ParseRelation(null));
        }
        _pos++;
        if (parts.Count == 0) throw new FormatException("empty environment");
        return parts[^1];
    }

    private Node ParseCommand(string name)
    {
        switch (name)
        {
            case "frac" or "over":
            {
                var num = ParseArgument();
                var den = ParseArgument();
                return Count(new DivideNode(num, den));
            }
            case "binom" or "dbinom" or "tbinom":
            {
                var top = ParseArgument();
                var bottom = ParseArgument();
                return Count(new FunctionNode("binom", top, bottom));
            }
            case "sqrt":
            {
                Node? index = null;
                if (IsSymbol("["))
                {
                    _pos++;
                    index = ParseAdditive();
                    Expect("]");
                }
                var radicand = ParseArgument();
                return Count(index is null ? new FunctionNode("sqrt", radicand) : new FunctionNode("root", radicand, index));
            }
            case "pi": return Count(new ConstantNode(ConstantKind.Pi));
            case "infty" or "infinity" or "infin": return Count(new ConstantNode(ConstantKind.Infinity));
            case "e" or "mathrm_e": return Count(new ConstantNode(ConstantKind.E));
            case "overline" or "mathring" or "tilde" or "dot" or "ddot":
                return ParseArgument();
            case "lvert" or "rvert" or "vert" or "mid" or "lVert" or "rVert":
            {
                _absDepth++;
                var inner = ParseAdditive();
                _absDepth--;
                if (Peek.Kind == TokenKind.Command && Peek.Text is "rvert" or "vert" or "mid" or "rVert") _pos++;
                else Expect("|");
                return Count(new FunctionNode("abs", inner));
            }
            case "lfloor" or "lceil":
            {
                var inner = ParseAdditive();
                if (Peek.Kind == TokenKind.Command && Peek.Text is "rfloor" or "rceil") _pos++;
                return Count(new FunctionNode(name == "lfloor" ? "floor" : "ceil", inner));
            }
            case "langle":
            {
                var inner = ParseList(TokenKind.End, null);
                if (!IsCommand("rangle")) throw new FormatException("langle");
                _pos++;
                return Count(new TupleNode(inner is ListNode l ? l.Items : [inner], '(', ')'));
            }
            case "dots" or "ldots" or "cdots" or "dotsc" or "dotsb" or "dotsm":
                return Count(new SymbolNode("..."));
            case "ln" or "log" or "exp" or "sin" or "cos" or "tan" or "sec" or "csc" or "cot" or "arcsin" or "arccos" or "arctan"
                or "sinh" or "cosh" or "tanh" or "lg":
                return ParseFunction(name == "lg" ? "log" : name);
        }
        return Count(new SymbolNode(name)); // Greek letters and anything else: a named symbol
    }

    private Node ParseFunction(string name)
    {
        Node? power = null, logBase = null;
        for (int k = 0; k < 2; k++)
        {
            if (IsSymbol("^")) { _pos++; power = ParseArgument(exponent: true); }
            else if (IsSymbol("_")) { _pos++; logBase = ParseArgument(exponent: true); }
        }
        if (power is NegateNode { Operand: NumberNode { Value: { Num.IsOne: true, Den.IsOne: true } } } && name is "sin" or "cos" or "tan")
        {
            name = "arc" + name;
            power = null;
        }
        Node argument;
        if (name == "sqrt" && IsSymbol("{")) argument = ParseArgument();
        else if (IsSymbol("(") || IsSymbol("{")) argument = ParsePrimary();
        else
        {
            // \sin 2x: the argument runs over an implicit product, stopping at the next function
            var factors = new List<Node> { ParseUnary() };
            while (StartsPrimary() && !(Peek.Kind == TokenKind.Command && Functions.Contains(Peek.Text))
                   && !(Peek.Kind == TokenKind.Word && Functions.Contains(Peek.Text)) && Peek.Kind != TokenKind.Text && !IsSymbol("("))
                factors.Add(ParseUnary());
            argument = factors.Count == 1 ? factors[0] : Count(new ProductNode(factors));
        }
        Node result = Count(logBase is not null && name == "log" ? new FunctionNode("log", argument, logBase) : new FunctionNode(name, argument));
        return power is null ? result : Count(new PowerNode(result, power));
    }
}

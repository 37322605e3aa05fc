using System.Numerics;

namespace Pacs.Rewards.Math;

/// <summary>LaTeX commands, functions, environments (matrices), mixed numbers and repeating decimals.</summary>
public sealed partial class Parser
{
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
        // the repeating digits as written: 0.\overline{05} repeats two digits, not the number 5
        var repeatToken = IsSymbol("{") ? PeekAt(1) : Peek;
        var repeat = ParseArgument();
        if (repeat is not NumberNode { Decimals: 0 } r) throw new FormatException("repeating part");
        int length = repeatToken.Kind == TokenKind.Number && !repeatToken.Text.Contains('.') && BigInteger.Parse(repeatToken.Text) == r.Value.Num
            ? repeatToken.Text.Length
            : r.Value.Num.ToString().Length;
        // 0.1\overline{6}: x = 0.1 + 0.0666... = 0.1 + 6 / (9 * 10^1)
        int point = written.IndexOf('.');
        int places = written.Length - point - 1;
        var prefix = (NumberNode)NumberFrom(written);
        var nines = BigInteger.Pow(10, length) - 1;
        var tail = Rational.Create(r.Value.Num, nines * BigInteger.Pow(10, places)) ?? throw new FormatException("repeat");
        return new NumberNode((prefix.Value + tail) ?? throw new FormatException("repeat"), int.MaxValue);
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
            case "reals": return Reals();
            case "emptyset" or "varnothing": return Count(new SetNode([]));
            case "infty" or "infinity" or "infin": return Count(new ConstantNode(ConstantKind.Infinity));
            case "e": return Count(new ConstantNode(ConstantKind.E));
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

    /// <summary>ℝ as the interval (-∞, ∞).</summary>
    private Node Reals()
    {
        var infinity = Count(new ConstantNode(ConstantKind.Infinity));
        return Count(new TupleNode([Count(new NegateNode(infinity)), infinity], '(', ')'));
    }

    private static bool IsTrig(string name) => name is "sin" or "cos" or "tan" or "sec" or "csc" or "cot";

    private Node ParseFunction(string name)
    {
        if (!IsTrig(name)) return ParseFunctionWithArgument(name);
        _trigDepth++;
        try { return ParseFunctionWithArgument(name); }
        finally { _trigDepth--; }
    }

    private Node ParseFunctionWithArgument(string name)
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

using System.Globalization;

namespace Pacs.Text.Jinja;

/// <summary>Recursive-descent parser with @huggingface/jinja's grammar and precedence: ternary &lt; or &lt; and &lt;
/// not &lt; comparison/in &lt; + - ~ &lt; * / // % &lt; ** &lt; is-tests &lt; filters &lt; unary sign &lt; call/member.</summary>
internal sealed class JinjaParser(List<Token> tokens)
{
    private int _at;

    public static List<Node> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var program = new List<Node>();
        while (parser._at < parser._tokens.Count) program.Add(parser.ParseAny());
        return program;
    }

    private readonly List<Token> _tokens = tokens;

    private Token Current => _at < _tokens.Count ? _tokens[_at] : throw Error("unexpected end of template");

    private int CurrentLine => _at < _tokens.Count ? _tokens[_at].Line : (_tokens.Count > 0 ? _tokens[^1].Line : 1);

    private InvalidDataException Error(string message) => new($"chat template line {CurrentLine}: {message}");

    private bool Is(TokenKind kind) => _at < _tokens.Count && _tokens[_at].Kind == kind;

    private bool IsIdentifier(string name, int offset = 0)
        => _at + offset < _tokens.Count && _tokens[_at + offset].Kind == TokenKind.Identifier && _tokens[_at + offset].Value == name;

    private bool IsStatement(params string[] names)
        => Is(TokenKind.OpenStatement) && _at + 1 < _tokens.Count && _tokens[_at + 1].Kind == TokenKind.Identifier && names.Contains(_tokens[_at + 1].Value);

    private Token Expect(TokenKind kind, string what)
    {
        var token = Current;
        if (token.Kind != kind) throw Error($"expected {what}, got '{token.Value}'");
        _at++;
        return token;
    }

    private void ExpectIdentifier(string name)
    {
        if (!IsIdentifier(name)) throw Error($"expected '{name}'");
        _at++;
    }

    private Node ParseAny()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.Comment:
                _at++;
                return new CommentNode(token.Line);
            case TokenKind.Text:
                _at++;
                return new TextNode(token.Value, token.Line);
            case TokenKind.OpenStatement:
                return ParseStatement();
            case TokenKind.OpenExpression:
                {
                    _at++;
                    var value = ParseExpression();
                    Expect(TokenKind.CloseExpression, "'}}'");
                    return new OutputNode(value, token.Line);
                }
            default:
                throw Error($"unexpected '{token.Value}'");
        }
    }

    private List<Node> ParseUntil(params string[] names)
    {
        var body = new List<Node>();
        while (!IsStatement(names))
        {
            if (_at >= _tokens.Count) throw Error($"missing {{% {names[^1]} %}}");
            body.Add(ParseAny());
        }
        return body;
    }

    private void ExpectEnd(string name)
    {
        Expect(TokenKind.OpenStatement, "'{%'");
        ExpectIdentifier(name);
        Expect(TokenKind.CloseStatement, "'%}'");
    }

    private Node ParseStatement()
    {
        Expect(TokenKind.OpenStatement, "'{%'");
        var nameToken = Current;
        if (nameToken.Kind != TokenKind.Identifier) throw Error($"unknown statement '{nameToken.Value}'");
        int line = nameToken.Line;
        _at++;
        switch (nameToken.Value)
        {
            case "set":
                {
                    var target = ParseExpressionSequence();
                    if (Is(TokenKind.Equals))
                    {
                        _at++;
                        var value = ParseExpressionSequence();
                        Expect(TokenKind.CloseStatement, "'%}'");
                        return new SetNode(target, value, [], line);
                    }
                    Expect(TokenKind.CloseStatement, "'%}'");
                    var body = ParseUntil("endset");
                    ExpectEnd("endset");
                    return new SetNode(target, null, body, line);
                }
            case "if":
                {
                    var node = ParseIf(line);
                    ExpectEnd("endif");
                    return node;
                }
            case "for":
                {
                    var target = ParseExpressionSequence(primary: true);
                    if (target is not (IdentifierExpr or ListExpr { IsTuple: true })) throw Error("expected a loop variable");
                    ExpectIdentifier("in");
                    var iterable = ParseExpression();
                    Expr? filter = null;
                    if (iterable is SelectExpr select) (iterable, filter) = (select.Value, select.Condition);
                    Expect(TokenKind.CloseStatement, "'%}'");
                    var body = ParseUntil("endfor", "else");
                    var elseBody = new List<Node>();
                    if (IsStatement("else"))
                    {
                        _at += 2;
                        Expect(TokenKind.CloseStatement, "'%}'");
                        elseBody = ParseUntil("endfor");
                    }
                    ExpectEnd("endfor");
                    return new ForNode(target, iterable, filter, body, elseBody, line);
                }
            case "macro":
                {
                    var name = Expect(TokenKind.Identifier, "a macro name").Value;
                    var parameters = ParseArgs();
                    Expect(TokenKind.CloseStatement, "'%}'");
                    var body = ParseUntil("endmacro");
                    ExpectEnd("endmacro");
                    return new MacroNode(name, parameters, body, line);
                }
            case "filter":
                {
                    var filter = ParsePrimary();
                    if (filter is IdentifierExpr && Is(TokenKind.OpenParen)) filter = ParseCall(filter);
                    Expect(TokenKind.CloseStatement, "'%}'");
                    var body = ParseUntil("endfilter");
                    ExpectEnd("endfilter");
                    return new FilterBlockNode(filter, body, line);
                }
            case "break":
                Expect(TokenKind.CloseStatement, "'%}'");
                return new BreakNode(line);
            case "continue":
                Expect(TokenKind.CloseStatement, "'%}'");
                return new ContinueNode(line);
            default:
                throw new NotSupportedException($"chat template line {line}: statement '{{% {nameToken.Value} %}}' is not supported");
        }
    }

    private IfNode ParseIf(int line)
    {
        var test = ParseExpression();
        Expect(TokenKind.CloseStatement, "'%}'");
        var body = ParseUntil("elif", "else", "endif");
        var alternate = new List<Node>();
        if (IsStatement("elif"))
        {
            int elifLine = _tokens[_at + 1].Line;
            _at += 2;
            alternate.Add(ParseIf(elifLine));
        }
        else if (IsStatement("else"))
        {
            _at += 2;
            Expect(TokenKind.CloseStatement, "'%}'");
            alternate = ParseUntil("endif");
        }
        return new IfNode(test, body, alternate, line);
    }

    private Expr ParseExpressionSequence(bool primary = false)
    {
        int line = CurrentLine;
        var first = primary ? ParsePrimary() : ParseExpression();
        if (!Is(TokenKind.Comma)) return first;
        var items = new List<Expr> { first };
        while (Is(TokenKind.Comma))
        {
            _at++;
            items.Add(primary ? ParsePrimary() : ParseExpression());
        }
        return new ListExpr(items, IsTuple: true, line);
    }

    private Expr ParseExpression()
    {
        int line = CurrentLine;
        var value = ParseOr();
        if (!IsIdentifier("if")) return value;
        _at++;
        var condition = ParseOr();
        if (!IsIdentifier("else")) return new SelectExpr(value, condition, line);
        _at++;
        return new TernaryExpr(condition, value, ParseExpression(), line);
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (IsIdentifier("or"))
        {
            int line = CurrentLine;
            _at++;
            left = new BinaryExpr("or", left, ParseAnd(), line);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (IsIdentifier("and"))
        {
            int line = CurrentLine;
            _at++;
            left = new BinaryExpr("and", left, ParseNot(), line);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (IsIdentifier("not"))
        {
            int line = CurrentLine;
            _at++;
            return new UnaryExpr("not", ParseNot(), line);
        }
        return ParseComparison();
    }

    private Expr ParseComparison()
    {
        var left = ParseAdditive();
        while (true)
        {
            int line = CurrentLine;
            string op;
            if (IsIdentifier("not") && IsIdentifier("in", 1)) { op = "not in"; _at += 2; }
            else if (IsIdentifier("in")) { op = "in"; _at++; }
            else if (Is(TokenKind.Comparison)) { op = Current.Value; _at++; }
            else break;
            left = new BinaryExpr(op, left, ParseAdditive(), line);
        }
        return left;
    }

    private Expr ParseAdditive()
    {
        var left = ParseMultiplicative();
        while (Is(TokenKind.Additive))
        {
            var op = Current;
            _at++;
            left = new BinaryExpr(op.Value, left, ParseMultiplicative(), op.Line);
        }
        return left;
    }

    private Expr ParseMultiplicative()
    {
        var left = ParsePower();
        while (Is(TokenKind.Multiplicative))
        {
            var op = Current;
            _at++;
            left = new BinaryExpr(op.Value, left, ParsePower(), op.Line);
        }
        return left;
    }

    private Expr ParsePower()
    {
        var left = ParseTest();
        while (Is(TokenKind.Power))
        {
            var op = Current;
            _at++;
            left = new BinaryExpr("**", left, ParseTest(), op.Line);
        }
        return left;
    }

    private Expr ParseTest()
    {
        var operand = ParseFilter();
        while (IsIdentifier("is"))
        {
            int line = CurrentLine;
            _at++;
            bool negate = IsIdentifier("not");
            if (negate) _at++;
            if (ParsePrimary() is not IdentifierExpr test) throw Error("expected a test name after 'is'");
            operand = new TestExpr(operand, negate, test.Name, line);
        }
        return operand;
    }

    private Expr ParseFilter()
    {
        var operand = ParseUnarySign();
        while (Is(TokenKind.Pipe))
        {
            int line = CurrentLine;
            _at++;
            if (ParsePrimary() is not IdentifierExpr filter) throw Error("expected a filter name after '|'");
            List<Expr>? args = null;
            if (Is(TokenKind.OpenParen)) args = ParseArgs();
            operand = new FilterExpr(operand, filter.Name, args, line);
        }
        return operand;
    }

    private Expr ParseUnarySign()
    {
        if ((Is(TokenKind.Unary) || Is(TokenKind.Additive)) && Current.Value is "-" or "+")
        {
            var op = Current;
            _at++;
            return new UnaryExpr(op.Value, ParseUnarySign(), op.Line);
        }
        var member = ParseMember(ParsePrimary());
        return Is(TokenKind.OpenParen) ? ParseCall(member) : member;
    }

    private Expr ParseCall(Expr callee)
    {
        int line = CurrentLine;
        Expr call = new CallExpr(callee, ParseArgs(), line);
        call = ParseMember(call);
        return Is(TokenKind.OpenParen) ? ParseCall(call) : call;
    }

    private List<Expr> ParseArgs()
    {
        Expect(TokenKind.OpenParen, "'('");
        var args = new List<Expr>();
        while (!Is(TokenKind.CloseParen))
        {
            if (Is(TokenKind.Power) || (Is(TokenKind.Multiplicative) && Current.Value == "*"))
                throw new NotSupportedException($"chat template line {CurrentLine}: argument unpacking (* / **) is not supported");
            int line = CurrentLine;
            var argument = ParseExpression();
            if (Is(TokenKind.Equals))
            {
                _at++;
                if (argument is not IdentifierExpr name) throw Error("expected an identifier before '='");
                argument = new KeywordArgExpr(name.Name, ParseExpression(), line);
            }
            args.Add(argument);
            if (Is(TokenKind.Comma)) _at++;
        }
        _at++;
        return args;
    }

    private Expr ParseMember(Expr target)
    {
        while (Is(TokenKind.Dot) || Is(TokenKind.OpenSquare))
        {
            var op = Current;
            _at++;
            if (op.Kind == TokenKind.OpenSquare)
            {
                var property = ParseSubscript();
                Expect(TokenKind.CloseSquare, "']'");
                target = new MemberExpr(target, property, Computed: true, op.Line);
            }
            else
            {
                var property = ParsePrimary();
                if (property is not (IdentifierExpr or LiteralExpr { Value: long })) throw Error("expected an identifier or integer after '.'");
                target = new MemberExpr(target, property, Computed: false, op.Line);
            }
        }
        return target;
    }

    private Expr ParseSubscript()
    {
        int line = CurrentLine;
        var parts = new List<Expr?>();
        bool isSlice = false;
        while (!Is(TokenKind.CloseSquare))
        {
            if (Is(TokenKind.Colon))
            {
                parts.Add(null);
                _at++;
                isSlice = true;
            }
            else
            {
                parts.Add(ParseExpression());
                if (Is(TokenKind.Colon))
                {
                    _at++;
                    isSlice = true;
                }
            }
        }
        if (parts.Count == 0) throw Error("empty subscript");
        if (!isSlice) return parts[0]!;
        if (parts.Count > 3) throw Error("a slice takes at most 3 parts");
        return new SliceExpr(parts[0], parts.Count > 1 ? parts[1] : null, parts.Count > 2 ? parts[2] : null, line);
    }

    private Expr ParsePrimary()
    {
        var token = Current;
        _at++;
        switch (token.Kind)
        {
            case TokenKind.Number:
                return token.Value.Contains('.')
                    ? new LiteralExpr(double.Parse(token.Value, CultureInfo.InvariantCulture), token.Line)
                    : new LiteralExpr(long.Parse(token.Value, CultureInfo.InvariantCulture), token.Line);
            case TokenKind.String:
                {
                    string value = token.Value;
                    while (Is(TokenKind.String)) value += _tokens[_at++].Value;
                    return new LiteralExpr(value, token.Line);
                }
            case TokenKind.Identifier:
                return new IdentifierExpr(token.Value, token.Line);
            case TokenKind.OpenParen:
                {
                    var inner = ParseExpressionSequence();
                    Expect(TokenKind.CloseParen, "')'");
                    return inner;
                }
            case TokenKind.OpenSquare:
                {
                    var items = new List<Expr>();
                    while (!Is(TokenKind.CloseSquare))
                    {
                        items.Add(ParseExpression());
                        if (Is(TokenKind.Comma)) _at++;
                    }
                    _at++;
                    return new ListExpr(items, IsTuple: false, token.Line);
                }
            case TokenKind.OpenCurly:
                {
                    var items = new List<(Expr, Expr)>();
                    while (!Is(TokenKind.CloseCurly))
                    {
                        var key = ParseExpression();
                        Expect(TokenKind.Colon, "':' in a dict literal");
                        items.Add((key, ParseExpression()));
                        if (Is(TokenKind.Comma)) _at++;
                    }
                    _at++;
                    return new DictExpr(items, token.Line);
                }
            default:
                throw new InvalidDataException($"chat template line {token.Line}: unexpected '{token.Value}'");
        }
    }
}

using System.Numerics;

namespace Pacs.Rewards.Tasks;

/// <summary>An exact rational number, always reduced with a positive denominator.</summary>
public readonly record struct Fraction
{
    public Fraction(BigInteger numerator, BigInteger denominator)
    {
        if (denominator.IsZero) throw new DivideByZeroException();
        if (denominator.Sign < 0) { numerator = -numerator; denominator = -denominator; }
        var g = BigInteger.GreatestCommonDivisor(numerator, denominator);
        if (!g.IsOne && !g.IsZero) { numerator /= g; denominator /= g; }
        Numerator = numerator;
        Denominator = denominator;
    }

    public BigInteger Numerator { get; }

    public BigInteger Denominator { get; }

    public bool IsInteger => Denominator.IsOne;

    public static Fraction FromInteger(BigInteger value) => new(value, BigInteger.One);

    public static Fraction operator +(Fraction a, Fraction b) => new(a.Numerator * b.Denominator + b.Numerator * a.Denominator, a.Denominator * b.Denominator);

    public static Fraction operator -(Fraction a, Fraction b) => new(a.Numerator * b.Denominator - b.Numerator * a.Denominator, a.Denominator * b.Denominator);

    public static Fraction operator *(Fraction a, Fraction b) => new(a.Numerator * b.Numerator, a.Denominator * b.Denominator);

    public static Fraction operator /(Fraction a, Fraction b) => new(a.Numerator * b.Denominator, a.Denominator * b.Numerator);

    public override string ToString() => IsInteger ? Numerator.ToString() : $"{Numerator}/{Denominator}";
}

/// <summary>
/// Parses and evaluates exactly an expression of non-negative integer literals, + - * / and parentheses
/// (spaces allowed; no unary minus, so every literal is one of the given numbers). Division is exact (rational).
/// </summary>
public static class ExactExpression
{
    /// <summary>Longest literal accepted, so a degenerate response cannot make the evaluator slow.</summary>
    public const int MaxLiteralDigits = 18;

    public sealed record Result(Fraction Value, IReadOnlyList<long> Literals);

    /// <summary>Evaluates <paramref name="text"/>; returns null with <paramref name="error"/> set when it does not parse or divides by zero.</summary>
    public static Result? TryEvaluate(string text, out string? error)
    {
        var parser = new Parser(text);
        try
        {
            var value = parser.ParseExpression();
            parser.SkipSpaces();
            if (!parser.AtEnd) throw new FormatException($"unexpected '{parser.Current}' at position {parser.Position}");
            error = null;
            return new Result(value, parser.Literals);
        }
        catch (FormatException e)
        {
            error = e.Message;
            return null;
        }
        catch (DivideByZeroException)
        {
            error = "division by zero";
            return null;
        }
    }

    private sealed class Parser(string text)
    {
        private int _depth;

        public int Position { get; private set; }

        public List<long> Literals { get; } = [];

        public bool AtEnd => Position >= text.Length;

        public char Current => text[Position];

        public void SkipSpaces()
        {
            while (!AtEnd && char.IsWhiteSpace(Current)) Position++;
        }

        // expression := term (('+' | '-') term)*
        public Fraction ParseExpression()
        {
            if (++_depth > 200) throw new FormatException("expression nested too deeply");
            var value = ParseTerm();
            while (true)
            {
                SkipSpaces();
                if (AtEnd || (Current != '+' && Current != '-')) break;
                char op = Current;
                Position++;
                var right = ParseTerm();
                value = op == '+' ? value + right : value - right;
            }
            _depth--;
            return value;
        }

        // term := factor (('*' | '/') factor)*
        private Fraction ParseTerm()
        {
            var value = ParseFactor();
            while (true)
            {
                SkipSpaces();
                if (AtEnd || (Current != '*' && Current != '/')) break;
                char op = Current;
                Position++;
                var right = ParseFactor();
                value = op == '*' ? value * right : value / right;
            }
            return value;
        }

        // factor := integer | '(' expression ')'
        private Fraction ParseFactor()
        {
            SkipSpaces();
            if (AtEnd) throw new FormatException("expression ends where a number or '(' was expected");
            if (Current == '(')
            {
                Position++;
                var inner = ParseExpression();
                SkipSpaces();
                if (AtEnd || Current != ')') throw new FormatException($"missing ')' at position {Position}");
                Position++;
                return inner;
            }
            if (!char.IsAsciiDigit(Current)) throw new FormatException($"unexpected '{Current}' at position {Position}");
            int start = Position;
            while (!AtEnd && char.IsAsciiDigit(Current)) Position++;
            if (Position - start > MaxLiteralDigits) throw new FormatException($"number at position {start} is too long");
            long literal = long.Parse(text.AsSpan(start, Position - start), System.Globalization.CultureInfo.InvariantCulture);
            Literals.Add(literal);
            return Fraction.FromInteger(literal);
        }
    }
}

using System.Numerics;

namespace Pacs.Rewards.Math;

/// <summary>Evaluates expression nodes exactly (rationals, within size caps) or numerically (complex doubles).</summary>
public static class Evaluator
{
    private const int MaxFactorial = 300;

    /// <summary>The exact rational value, or null when the node is irrational, symbolic, or too large.</summary>
    public static Rational? Exact(Node node)
    {
        switch (node)
        {
            case NumberNode n: return n.Value;
            case NegateNode g: return Exact(g.Operand) is { } v ? -v : null;
            case SumNode s:
                {
                    Rational acc = Rational.Zero;
                    foreach (var t in s.Terms)
                    {
                        if (Exact(t) is not { } tv || (acc + tv) is not { } r) return null;
                        acc = r;
                    }
                    return acc;
                }
            case ProductNode p:
                {
                    Rational acc = Rational.One;
                    foreach (var f in p.Factors)
                    {
                        if (Exact(f) is not { } fv || (acc * fv) is not { } r) return null;
                        acc = r;
                    }
                    return acc;
                }
            case DivideNode d:
                return Exact(d.Numerator) is { } a && Exact(d.Denominator) is { } b ? a / b : null;
            case PercentNode pc:
                return Exact(pc.Operand) is { } x ? x / Rational.FromInt(100) : null;
            case PowerNode pw:
                {
                    if (Exact(pw.Exponent) is not { } e || Exact(pw.Base) is not { } pb) return null;
                    if (e.IsInteger) return Rational.Pow(pb, e.Num);
                    if (e.Den > 64 || Rational.Root(pb, (int)e.Den) is not { } root) return null;
                    return Rational.Pow(root, e.Num);
                }
            case FunctionNode f:
                return ExactFunction(f);
            default:
                return null;
        }
    }

    private static Rational? ExactFunction(FunctionNode f)
    {
        switch (f.Name)
        {
            case "sqrt":
                return Exact(f.Argument) is { } a && a.Sign >= 0 ? Rational.Root(a, 2) : null;
            case "root":
                return Exact(f.Argument) is { } r && f.Argument2 is not null && Exact(f.Argument2) is { IsInteger: true } idx
                    && idx.Num > 0 && idx.Num <= 64 ? Rational.Root(r, (int)idx.Num) : null;
            case "abs":
                return Exact(f.Argument) is { } v ? (v.Sign < 0 ? -v : v) : null;
            case "factorial":
                {
                    if (Exact(f.Argument) is not { IsInteger: true } n || n.Sign < 0 || n.Num > MaxFactorial) return null;
                    BigInteger acc = BigInteger.One;
                    for (int m = 2; m <= (int)n.Num; m++) acc *= m;
                    return Rational.Create(acc, BigInteger.One);
                }
            case "binom":
                {
                    if (Exact(f.Argument) is not { IsInteger: true } top || f.Argument2 is null || Exact(f.Argument2) is not { IsInteger: true } bottom) return null;
                    if (bottom.Sign < 0 || bottom.Num > top.Num) return Rational.Zero;
                    if (bottom.Num > 2000 || top.Num > 1_000_000) return null;
                    BigInteger acc = BigInteger.One;
                    for (int j = 0; j < (int)bottom.Num; j++) acc = acc * (top.Num - j) / (j + 1);
                    return Rational.Create(acc, BigInteger.One);
                }
            case "floor" or "ceil":
                {
                    if (Exact(f.Argument) is not { } fl) return null;
                    var q = BigInteger.DivRem(fl.Num, fl.Den, out var rem);
                    if (rem.Sign < 0 && f.Name == "floor") q -= 1;
                    if (rem.Sign > 0 && f.Name == "ceil") q += 1;
                    return new Rational(q, BigInteger.One);
                }
            case "log" when f.Argument2 is not null:
                {
                    // log_b(b^k) = k for exact integers, e.g. \log_2 8
                    if (Exact(f.Argument) is not { IsInteger: true } x || Exact(f.Argument2) is not { IsInteger: true } b || b.Num < 2 || x.Sign <= 0) return null;
                    int power = 0;
                    var p = BigInteger.One;
                    while (p < x.Num && power < 4096) { p *= b.Num; power++; }
                    return p == x.Num ? Rational.FromInt(power) : null;
                }
            default:
                return null;
        }
    }

    /// <summary>The numeric value with the symbols bound by <paramref name="env"/>; NaN when undefined.</summary>
    public static Complex Numeric(Node node, IReadOnlyDictionary<string, Complex> env)
    {
        switch (node)
        {
            case NumberNode n: return n.Value.ToDouble();
            case ConstantNode c:
                return c.Kind switch
                {
                    ConstantKind.Pi => System.Math.PI,
                    ConstantKind.E => System.Math.E,
                    ConstantKind.I => Complex.ImaginaryOne,
                    _ => double.PositiveInfinity,
                };
            case SymbolNode s: return env.TryGetValue(s.Name, out var v) ? v : double.NaN;
            case NegateNode g: return -Numeric(g.Operand, env);
            case SumNode s:
                {
                    Complex acc = 0;
                    foreach (var t in s.Terms) acc += Numeric(t, env);
                    return acc;
                }
            case ProductNode p:
                {
                    Complex acc = 1;
                    foreach (var f in p.Factors) acc *= Numeric(f, env);
                    return acc;
                }
            case DivideNode d:
                {
                    var den = Numeric(d.Denominator, env);
                    return den == Complex.Zero ? double.NaN : Numeric(d.Numerator, env) / den;
                }
            case PercentNode pc: return Numeric(pc.Operand, env) / 100.0;
            case PowerNode pw: return Power(Numeric(pw.Base, env), Numeric(pw.Exponent, env));
            case FunctionNode f: return Function(f, env);
            default: return double.NaN;
        }
    }

    private static Complex Power(Complex b, Complex e)
    {
        if (e.Imaginary == 0 && b.Imaginary == 0)
        {
            double x = b.Real, k = e.Real;
            if (x >= 0 || k == System.Math.Round(k)) return System.Math.Pow(x, k);
        }
        if (b == Complex.Zero) return e.Real > 0 ? Complex.Zero : double.NaN;
        return Complex.Pow(b, e);
    }

    private static Complex Function(FunctionNode f, IReadOnlyDictionary<string, Complex> env)
    {
        var x = Numeric(f.Argument, env);
        switch (f.Name)
        {
            case "sqrt": return x.Imaginary == 0 && x.Real >= 0 ? System.Math.Sqrt(x.Real) : Complex.Sqrt(x);
            case "root":
                {
                    var k = f.Argument2 is null ? double.NaN : Numeric(f.Argument2, env).Real;
                    if (x.Imaginary == 0 && x.Real < 0 && k % 2 == 1) return -System.Math.Pow(-x.Real, 1 / k);
                    return Power(x, 1 / k);
                }
            case "abs": return Complex.Abs(x);
            case "sin": return Complex.Sin(x);
            case "cos": return Complex.Cos(x);
            case "tan": return Complex.Tan(x);
            case "sec": return 1 / Complex.Cos(x);
            case "csc": return 1 / Complex.Sin(x);
            case "cot": return 1 / Complex.Tan(x);
            case "arcsin": return Complex.Asin(x);
            case "arccos": return Complex.Acos(x);
            case "arctan": return Complex.Atan(x);
            case "sinh": return Complex.Sinh(x);
            case "cosh": return Complex.Cosh(x);
            case "tanh": return Complex.Tanh(x);
            case "exp": return Complex.Exp(x);
            case "ln": return x == Complex.Zero ? double.NaN : Complex.Log(x);
            case "log":
                {
                    if (x == Complex.Zero) return double.NaN;
                    var b = f.Argument2 is null ? 10 : Numeric(f.Argument2, env);
                    return Complex.Log(x) / Complex.Log(b);
                }
            case "floor": return System.Math.Floor(x.Real);
            case "ceil": return System.Math.Ceiling(x.Real);
            case "factorial":
                {
                    double n = x.Real;
                    if (x.Imaginary != 0 || n < 0 || n != System.Math.Round(n)) return double.NaN;
                    if (n > 170) return double.PositiveInfinity;
                    double acc = 1;
                    for (int k = 2; k <= (int)n; k++) acc *= k;
                    return acc;
                }
            case "binom":
                {
                    double n = x.Real, k = f.Argument2 is null ? double.NaN : Numeric(f.Argument2, env).Real;
                    if (k != System.Math.Round(k) || k < 0 || k > 1000) return double.NaN;
                    double acc = 1;
                    for (int j = 0; j < (int)k; j++) acc = acc * (n - j) / (j + 1);
                    return acc;
                }
            default: return double.NaN;
        }
    }

    /// <summary>Names of the free symbols in a node.</summary>
    public static void CollectSymbols(Node node, HashSet<string> into)
    {
        switch (node)
        {
            case SymbolNode s: into.Add(s.Name); break;
            case NegateNode g: CollectSymbols(g.Operand, into); break;
            case SumNode s: foreach (var t in s.Terms) CollectSymbols(t, into); break;
            case ProductNode p: foreach (var f in p.Factors) CollectSymbols(f, into); break;
            case DivideNode d: CollectSymbols(d.Numerator, into); CollectSymbols(d.Denominator, into); break;
            case PercentNode pc: CollectSymbols(pc.Operand, into); break;
            case PowerNode pw: CollectSymbols(pw.Base, into); CollectSymbols(pw.Exponent, into); break;
            case FunctionNode f:
                CollectSymbols(f.Argument, into);
                if (f.Argument2 is not null) CollectSymbols(f.Argument2, into);
                break;
        }
    }

    /// <summary>True when the node is a plain expression the evaluators understand (no text, lists or relations).</summary>
    public static bool IsScalar(Node node) => node switch
    {
        NumberNode or SymbolNode or ConstantNode => true,
        NegateNode g => IsScalar(g.Operand),
        SumNode s => s.Terms.All(IsScalar),
        ProductNode p => p.Factors.All(IsScalar),
        DivideNode d => IsScalar(d.Numerator) && IsScalar(d.Denominator),
        PercentNode pc => IsScalar(pc.Operand),
        PowerNode pw => IsScalar(pw.Base) && IsScalar(pw.Exponent),
        FunctionNode f => IsScalar(f.Argument) && (f.Argument2 is null || IsScalar(f.Argument2)),
        _ => false,
    };
}

using System.Numerics;

namespace Pacs.Rewards.Math;

/// <summary>Numbers and expressions: exact rationals, then complex doubles at random points.</summary>
public static partial class Equivalence
{
    private static bool ScalarEqual(Node gold, Node pred, EquivalenceOptions o)
    {
        bool gPct = gold is PercentNode, pPct = pred is PercentNode;
        var g = gold is PercentNode gp ? gp.Operand : gold;
        var p = pred is PercentNode pp ? pp.Operand : pred;
        if (ValuesEqual(g, p, o)) return true;
        if (gPct == pPct || !o.PercentAsFraction) return false;
        return ValuesEqual(gold, pred, o); // 50% (as 0.5) against 0.5
    }

    private static bool ValuesEqual(Node a, Node b, EquivalenceOptions o)
    {
        var ea = Evaluator.Exact(a);
        var eb = Evaluator.Exact(b);
        if (ea is { } x && eb is { } y)
        {
            if (x == y) return true;
            return o.AcceptRoundedDecimals && (RoundedMatch(a, y) || RoundedMatch(b, x));
        }
        var symbols = new HashSet<string>();
        Evaluator.CollectSymbols(a, symbols);
        Evaluator.CollectSymbols(b, symbols);
        double tol = HasDecimal(a) || HasDecimal(b) ? o.DecimalTolerance : o.ExactTolerance;
        if (symbols.Count == 0)
        {
            var va = Evaluator.Numeric(a, Empty);
            var vb = Evaluator.Numeric(b, Empty);
            if (Close(va, vb, tol)) return true;
            if (!o.AcceptRoundedDecimals) return false;
            return RoundedMatchNumeric(a, ea, vb) || RoundedMatchNumeric(b, eb, va);
        }
        return SameFunction(a, b, symbols, tol);
    }

    private static readonly Dictionary<string, Complex> Empty = [];

    private static bool Close(Complex a, Complex b, double tol)
    {
        if (!IsFinite(a) || !IsFinite(b))
        {
            // ±∞ only equals the same infinity; NaN (undefined, overflow) equals nothing
            return a.Imaginary == 0 && b.Imaginary == 0 && double.IsInfinity(a.Real) && a.Real == b.Real;
        }
        double scale = System.Math.Max(1.0, System.Math.Max(Complex.Abs(a), Complex.Abs(b)));
        return Complex.Abs(a - b) <= tol * scale;
    }

    private static bool IsFinite(Complex c) => double.IsFinite(c.Real) && double.IsFinite(c.Imaginary);

    private static bool HasDecimal(Node n) => n switch
    {
        NumberNode num => num.Decimals > 0 && num.Decimals != int.MaxValue,
        NegateNode g => HasDecimal(g.Operand),
        SumNode s => s.Terms.Any(HasDecimal),
        ProductNode p => p.Factors.Any(HasDecimal),
        DivideNode d => HasDecimal(d.Numerator) || HasDecimal(d.Denominator),
        PowerNode pw => HasDecimal(pw.Base) || HasDecimal(pw.Exponent),
        FunctionNode f => HasDecimal(f.Argument),
        _ => false,
    };

    /// <summary>The written decimal (possibly negated) and its number of places, if <paramref name="n"/> is one.</summary>
    private static (Rational Value, int Places)? WrittenDecimal(Node n) => n switch
    {
        NumberNode { Decimals: >= 2 and < int.MaxValue } num => (num.Value, num.Decimals),
        NegateNode { Operand: NumberNode { Decimals: >= 2 and < int.MaxValue } num } => (-num.Value, num.Decimals),
        _ => null,
    };

    private static bool RoundedMatch(Node written, Rational exact)
    {
        if (WrittenDecimal(written) is not { } d || exact.Terminates) return false;
        return exact.RoundTo(d.Places) == d.Value;
    }

    private static bool RoundedMatchNumeric(Node written, Rational? writtenExact, Complex other)
    {
        if (WrittenDecimal(written) is not { } d || writtenExact is null || other.Imaginary != 0 || !double.IsFinite(other.Real)) return false;
        double half = 0.5 * System.Math.Pow(10, -d.Places);
        return System.Math.Abs(other.Real - d.Value.ToDouble()) <= half * (1 + 1e-9);
    }

    private static bool SameFunction(Node a, Node b, HashSet<string> symbols, double tol)
    {
        var names = symbols.Order(StringComparer.Ordinal).ToArray();
        var rng = new Random(12345);
        int valid = 0;
        var env = new Dictionary<string, Complex>();
        for (int trial = 0; trial < Points * 2 && valid < Points; trial++)
        {
            foreach (var name in names) env[name] = 0.5 + 2.0 * rng.NextDouble();
            var va = Evaluator.Numeric(a, env);
            var vb = Evaluator.Numeric(b, env);
            bool fa = IsFinite(va), fb = IsFinite(vb);
            if (!fa && !fb) continue;
            if (fa != fb || !Close(va, vb, System.Math.Max(tol, 1e-8))) return false;
            valid++;
        }
        return valid >= 2;
    }

    /// <summary>Whether a = c·b for a constant c (c &gt; 0 when <paramref name="positiveOnly"/>) at random points:
    /// the test for equations and inequalities written with their sides moved or scaled.</summary>
    private static bool Proportional(Node a, Node b, bool positiveOnly, EquivalenceOptions o)
    {
        var symbols = new HashSet<string>();
        Evaluator.CollectSymbols(a, symbols);
        Evaluator.CollectSymbols(b, symbols);
        var names = symbols.Order(StringComparer.Ordinal).ToArray();
        var rng = new Random(4242);
        var env = new Dictionary<string, Complex>();
        Complex? ratio = null;
        int valid = 0, zeros = 0;
        for (int trial = 0; trial < Points * 2 && valid < Points; trial++)
        {
            foreach (var name in names) env[name] = 0.5 + 2.0 * rng.NextDouble();
            var va = Evaluator.Numeric(a, env);
            var vb = Evaluator.Numeric(b, env);
            if (!IsFinite(va) || !IsFinite(vb)) continue;
            if (Complex.Abs(va) < 1e-12 && Complex.Abs(vb) < 1e-12) { zeros++; valid++; continue; }
            if (Complex.Abs(vb) < 1e-12 || Complex.Abs(va) < 1e-12) return false;
            var r = va / vb;
            if (ratio is null) ratio = r;
            else if (!Close(r, ratio.Value, 1e-8)) return false;
            valid++;
        }
        if (valid < 2) return false;
        if (ratio is null) return zeros == valid;
        return !positiveOnly || (ratio.Value.Real > 0 && System.Math.Abs(ratio.Value.Imaginary) < 1e-9);
    }
}

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

    /// <summary><paramref name="gold"/> against <paramref name="pred"/>: exactly when both are rationals, else
    /// numerically at a tolerance that depends on which side is written as a decimal and on the policy.</summary>
    private static bool ValuesEqual(Node gold, Node pred, EquivalenceOptions o)
    {
        var eg = Evaluator.Exact(gold);
        var ep = Evaluator.Exact(pred);
        if (o.FloatRounding is { } places && (HasDecimal(gold) || HasDecimal(pred)) && SameAtPlaces(gold, eg, pred, ep, places)) return true;
        if (eg is { } x && ep is { } y)
        {
            if (x == y) return true;
            // a decimal gold (0.33) is the rounding of the exact answer (1/3); lenient also reads it the other way
            return RoundedMatch(gold, y) || (o.AcceptRoundedDecimals && RoundedMatch(pred, x));
        }
        var symbols = new HashSet<string>();
        Evaluator.CollectSymbols(gold, symbols);
        Evaluator.CollectSymbols(pred, symbols);
        double tol = Tolerance(gold, pred, o);
        if (symbols.Count == 0)
        {
            var vg = Evaluator.Numeric(gold, Empty);
            var vp = Evaluator.Numeric(pred, Empty);
            if (CloseConstants(vg, vp, tol)) return true;
            return RoundedMatchNumeric(gold, eg, vp) || (o.AcceptRoundedDecimals && RoundedMatchNumeric(pred, ep, vg));
        }
        return SameFunction(gold, pred, symbols, tol);
    }

    /// <summary>Math-Verify's float_rounding: both values rounded to <paramref name="places"/> places are the same.</summary>
    private static bool SameAtPlaces(Node a, Rational? exactA, Node b, Rational? exactB, int places)
    {
        if (exactA is { } x && exactB is { } y) return x.RoundTo(places) == y.RoundTo(places);
        if (places > 15 || Evaluator.IsScalar(a) is false || Evaluator.IsScalar(b) is false) return false;
        var va = Evaluator.Numeric(a, Empty);
        var vb = Evaluator.Numeric(b, Empty);
        if (va.Imaginary != 0 || vb.Imaginary != 0 || !double.IsFinite(va.Real) || !double.IsFinite(vb.Real)) return false;
        double ra = System.Math.Round(va.Real, places, MidpointRounding.AwayFromZero);
        double rb = System.Math.Round(vb.Real, places, MidpointRounding.AwayFromZero);
        return System.Math.Abs(ra - rb) <= 1e-12 * System.Math.Max(1.0, System.Math.Abs(ra));
    }

    /// <summary>The decimal tolerance when the gold holds a decimal; the double-precision limit when only the answer
    /// does (√2 against 1.414213562 fails, 288π + 0.0001 fails; 0.5x+0.5 against (x+1)/2 passes; the lenient policy's
    /// rounded decimals are a rule of their own); else the tolerance of exact expressions.</summary>
    private static double Tolerance(Node gold, Node pred, EquivalenceOptions o)
    {
        if (HasDecimal(gold)) return o.DecimalTolerance;
        return HasDecimal(pred) ? o.DecimalAgainstExactTolerance : System.Math.Max(o.ExactTolerance, 1e-8);
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

    /// <summary>Two constants: relative to the larger, so that e^{-19} is not 0; values both under 1e-15 are
    /// rounding noise around 0 (sin π).</summary>
    private static bool CloseConstants(Complex a, Complex b, double tol)
    {
        if (!IsFinite(a) || !IsFinite(b)) return Close(a, b, tol);
        double scale = System.Math.Max(Complex.Abs(a), Complex.Abs(b));
        return scale < 1e-15 || Complex.Abs(a - b) <= tol * scale;
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
        NumberNode { Decimals: >= 2 and < int.MaxValue } num when SignificantDigits(num.Value, num.Decimals) >= 2 => (num.Value, num.Decimals),
        NegateNode g when WrittenDecimal(g.Operand) is { } d => (-d.Value, d.Places),
        _ => null,
    };

    /// <summary>Digits of a decimal from its first non-zero one: 0.0033 has 2, 0.00 none (it rounds every small value).</summary>
    private static int SignificantDigits(Rational value, int places)
    {
        var scaled = BigInteger.Abs(value.Num * BigInteger.Pow(10, places) / value.Den);
        return scaled.IsZero ? 0 : scaled.ToString().Length;
    }

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
            if (fa != fb || !Close(va, vb, tol)) return false;
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

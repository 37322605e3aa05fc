using System.Numerics;

namespace Pacs.Rewards.Math;

/// <summary>Options of the equivalence check.</summary>
public sealed record EquivalenceOptions
{
    /// <summary>Relative tolerance when either side is written as a decimal (float_rounding 6 in Math-Verify).</summary>
    public double DecimalTolerance { get; init; } = 1e-6;

    /// <summary>Relative tolerance for exact expressions compared numerically (2√2 vs √8, identities in variables).</summary>
    public double ExactTolerance { get; init; } = 1e-9;

    /// <summary>Whether 50% also equals 0.5 (it always equals 50).</summary>
    public bool PercentAsFraction { get; init; } = true;

    /// <summary>Whether a decimal with at least 2 places equals a non-terminating exact value rounded to those places
    /// (0.33 for 1/3, 1.41 for √2). A terminating gold (0.25) must be written in full.</summary>
    public bool AcceptRoundedDecimals { get; init; } = true;

    public static readonly EquivalenceOptions Default = new();
}

/// <summary>Decides whether two parsed answers denote the same mathematical object.</summary>
public static class Equivalence
{
    private const int Points = 5;
    private const int MaxListItems = 64;

    public static bool Equal(Node gold, Node pred, EquivalenceOptions o, int depth = 0)
    {
        if (depth > 16) return false;
        gold = ExpandPlusMinus(gold);
        pred = ExpandPlusMinus(pred);

        if (gold is RelationNode gr && pred is RelationNode pr) return RelationsEqual(gr, pr, o, depth);
        if (pred is RelationNode prOnly)
        {
            if (ValueOfPrediction(prOnly) is { } reduced && Equal(gold, reduced, o, depth + 1)) return true;
            return IntervalOf(prOnly) is { } pi && Equal(gold, pi, o, depth + 1);
        }
        if (gold is RelationNode grOnly)
        {
            if (ValueOfAssignment(grOnly) is { } reduced && Equal(reduced, pred, o, depth + 1)) return true;
            return IntervalOf(grOnly) is { } gi && Equal(gi, pred, o, depth + 1);
        }

        if (gold is SumNode or ProductNode && pred is MatrixNode && MatrixValue(gold, 0) is { } gm0) gold = gm0;
        if (pred is SumNode or ProductNode && gold is MatrixNode && MatrixValue(pred, 0) is { } pm0) pred = pm0;
        switch (gold, pred)
        {
            case (ListNode gl, not (ListNode or SetNode or TupleNode)):
                return Unordered(gl.Items, [pred], o, depth);
            case (not (ListNode or SetNode or TupleNode), ListNode pl):
                return Unordered([gold], pl.Items, o, depth);
            case (ListNode or SetNode, ListNode or SetNode):
                return Unordered(Items(gold), Items(pred), o, depth);
            case (ListNode gl, TupleNode pt):
                return Ordered(gl.Items, pt.Items, o, depth);
            case (TupleNode gt, ListNode pl):
                return Ordered(gt.Items, pl.Items, o, depth);
            case (TupleNode gt, TupleNode pt):
                return Bracket(gt.Open) == Bracket(pt.Open) && Bracket(gt.Close) == Bracket(pt.Close) && Ordered(gt.Items, pt.Items, o, depth);
            case (UnionNode gu, UnionNode pu):
                return Unordered(gu.Parts, pu.Parts, o, depth);
            case (MatrixNode gm, MatrixNode pm):
                return gm.Rows.Count == pm.Rows.Count && gm.Rows.Zip(pm.Rows).All(r => Ordered(r.First, r.Second, o, depth));
            case (MatrixNode gm, TupleNode pt) when gm.Rows.All(r => r.Count == 1):
                return Ordered(gm.Rows.Select(r => r[0]).ToList(), pt.Items, o, depth);
            case (TupleNode gt, MatrixNode pm) when pm.Rows.All(r => r.Count == 1):
                return Ordered(gt.Items, pm.Rows.Select(r => r[0]).ToList(), o, depth);
            case (TextNode gt, TextNode pt):
                return string.Equals(Normalization.Key(gt.Text), Normalization.Key(pt.Text), StringComparison.OrdinalIgnoreCase);
        }
        return Evaluator.IsScalar(gold) && Evaluator.IsScalar(pred) && ScalarEqual(gold, pred, o);
    }

    /// <summary>Sums and products of matrices (and scalar multiples) as one matrix of element expressions.</summary>
    private static MatrixNode? MatrixValue(Node n, int depth)
    {
        if (depth > 8) return null;
        switch (n)
        {
            case MatrixNode m: return m;
            case NegateNode g when MatrixValue(g.Operand, depth + 1) is { } gm:
                return new MatrixNode(gm.Rows.Select(r => (IReadOnlyList<Node>)r.Select(x => (Node)new NegateNode(x)).ToList()).ToList());
            case SumNode s:
            {
                MatrixNode? acc = null;
                foreach (var t in s.Terms)
                {
                    if (MatrixValue(t, depth + 1) is not { } tm) return null;
                    if (acc is null) { acc = tm; continue; }
                    if (acc.Rows.Count != tm.Rows.Count || acc.Rows[0].Count != tm.Rows[0].Count) return null;
                    acc = new MatrixNode(acc.Rows.Zip(tm.Rows).Select(r => (IReadOnlyList<Node>)r.First.Zip(r.Second)
                        .Select(e => (Node)new SumNode([e.First, e.Second])).ToList()).ToList());
                }
                return acc;
            }
            case ProductNode p:
            {
                MatrixNode? acc = null;
                Node scalar = new NumberNode(Rational.One, 0);
                foreach (var f in p.Factors)
                {
                    if (Evaluator.IsScalar(f)) { scalar = new ProductNode([scalar, f]); continue; }
                    if (MatrixValue(f, depth + 1) is not { } fm) return null;
                    if (acc is null) { acc = fm; continue; }
                    int inner = acc.Rows[0].Count;
                    if (inner != fm.Rows.Count || acc.Rows.Count * fm.Rows[0].Count > 64) return null;
                    var rows = new List<IReadOnlyList<Node>>();
                    for (int i = 0; i < acc.Rows.Count; i++)
                    {
                        var row = new List<Node>();
                        for (int j = 0; j < fm.Rows[0].Count; j++)
                            row.Add(new SumNode(Enumerable.Range(0, inner).Select(k => (Node)new ProductNode([acc.Rows[i][k], fm.Rows[k][j]])).ToList()));
                        rows.Add(row);
                    }
                    acc = new MatrixNode(rows);
                }
                return acc is null ? null
                    : new MatrixNode(acc.Rows.Select(r => (IReadOnlyList<Node>)r.Select(x => (Node)new ProductNode([scalar, x])).ToList()).ToList());
            }
            default: return null;
        }
    }

    private static char Bracket(char c) => c switch { ']' => ']', '[' => '[', '(' => '(', _ => ')' };

    private static IReadOnlyList<Node> Items(Node n) => n switch { ListNode l => l.Items, SetNode s => s.Items, _ => [n] };

    private static bool Ordered(IReadOnlyList<Node> a, IReadOnlyList<Node> b, EquivalenceOptions o, int depth)
    {
        if (a.Count != b.Count) return false;
        for (int k = 0; k < a.Count; k++)
            if (!Equal(a[k], b[k], o, depth + 1)) return false;
        return true;
    }

    /// <summary>Set equality: every item of each side equals some item of the other (repeats do not count).</summary>
    private static bool Unordered(IReadOnlyList<Node> a, IReadOnlyList<Node> b, EquivalenceOptions o, int depth)
    {
        if (a.Count > MaxListItems || b.Count > MaxListItems) return false;
        var matchedB = new bool[b.Count];
        foreach (var x in a)
        {
            bool found = false;
            for (int k = 0; k < b.Count; k++)
            {
                if ((found && matchedB[k]) || !Equal(x, b[k], o, depth + 1)) continue;
                found = true;
                matchedB[k] = true;
            }
            if (!found) return false;
        }
        return matchedB.All(m => m);
    }

    // ---- relations -------------------------------------------------------------------------------------------

    /// <summary>x ≈ 11 means 11; x = 1/3 ≈ 0.33 means x = 1/3.</summary>
    private static Node DropApprox(RelationNode r)
    {
        int at = r.Kinds.ToList().IndexOf(RelationKind.Approx);
        if (at < 0) return r;
        if (at == 0) return IsName(r.Operands[0]) ? r.Operands[1] : r.Operands[0];
        return new RelationNode(r.Operands.Take(at + 1).ToList(), r.Kinds.Take(at).ToList());
    }

    /// <summary>What a predicted relation answers: the last right-hand side of an equality chain, or the set after \in.</summary>
    private static Node? ValueOfPrediction(RelationNode r)
    {
        var n = DropApprox(r);
        if (n is not RelationNode rel) return n;
        if (rel.Kinds.All(k => k == RelationKind.Equal) || rel.Kinds is [RelationKind.In]) return rel.Operands[^1];
        return null;
    }

    /// <summary>A gold relation counts as its value only when it assigns to a name (x = 3, f(x) = 1, AB = 4).</summary>
    private static Node? ValueOfAssignment(RelationNode r)
    {
        var n = DropApprox(r);
        if (n is not RelationNode rel) return n;
        if (rel.Kinds is [RelationKind.In]) return rel.Operands[1];
        if (!rel.Kinds.All(k => k == RelationKind.Equal)) return null;
        if (rel.Operands.Count > 2) return rel.Operands[^1]; // a chain a = b = c states its final value
        for (int k = 0; k < rel.Operands.Count - 1; k++)
            if (!IsName(rel.Operands[k])) return null;
        return rel.Operands[^1];
    }

    private static bool IsName(Node n) => n switch
    {
        SymbolNode or ConstantNode or TextNode => true,
        ProductNode p => p.Factors.All(IsName),
        DivideNode d => IsName(d.Numerator) && IsName(d.Denominator),
        FunctionNode f => IsName(f.Argument),
        TupleNode t => t.Items.All(IsName),
        _ => false,
    };

    private static bool RelationsEqual(RelationNode g, RelationNode p, EquivalenceOptions o, int depth)
    {
        var gn = DropApprox(g);
        var pn = DropApprox(p);
        if (gn is not RelationNode gr || pn is not RelationNode pr) return Equal(gn, pn, o, depth + 1);
        bool gEq = gr.Kinds.All(k => k == RelationKind.Equal), pEq = pr.Kinds.All(k => k == RelationKind.Equal);
        if (gEq && pEq)
        {
            Node gl = gr.Operands[0], grr = gr.Operands[^1], pl = pr.Operands[0], prr = pr.Operands[^1];
            if (Equal(gl, pl, o, depth + 1) && Equal(grr, prr, o, depth + 1)) return true;
            return Evaluator.IsScalar(gl) && Evaluator.IsScalar(grr) && Evaluator.IsScalar(pl) && Evaluator.IsScalar(prr)
                && Proportional(Difference(gl, grr), Difference(pl, prr), positiveOnly: false, o);
        }
        if (gr.Kinds is [RelationKind.In] && pr.Kinds is [RelationKind.In])
            return Equal(gr.Operands[0], pr.Operands[0], o, depth + 1) && Equal(gr.Operands[1], pr.Operands[1], o, depth + 1);
        if (gr.Operands.Count == 2 && pr.Operands.Count == 2 && Strictness(gr.Kinds[0]) is { } gs && Strictness(pr.Kinds[0]) is { } ps)
        {
            if (gs != ps) return false;
            var gd = Oriented(gr);
            var pd = Oriented(pr);
            return Evaluator.IsScalar(gd) && Evaluator.IsScalar(pd) && Proportional(gd, pd, positiveOnly: gs != 2, o);
        }
        Node gi = gr.Kinds is [RelationKind.In] ? gr.Operands[1] : IntervalOf(gr) ?? gr;
        Node pi = pr.Kinds is [RelationKind.In] ? pr.Operands[1] : IntervalOf(pr) ?? pr;
        return gi is not RelationNode && pi is not RelationNode && Equal(gi, pi, o, depth + 1);
    }

    /// <summary>0 for strict inequalities, 1 for non-strict, 2 for ≠; null for others.</summary>
    private static int? Strictness(RelationKind k) => k switch
    {
        RelationKind.Less or RelationKind.Greater => 0,
        RelationKind.LessEqual or RelationKind.GreaterEqual => 1,
        RelationKind.NotEqual => 2,
        _ => null,
    };

    /// <summary>a &lt; b and b &gt; a both become (a - b) &lt; 0.</summary>
    private static Node Oriented(RelationNode r) => r.Kinds[0] is RelationKind.Greater or RelationKind.GreaterEqual
        ? Difference(r.Operands[1], r.Operands[0])
        : Difference(r.Operands[0], r.Operands[1]);

    private static Node Difference(Node a, Node b) => new SumNode([a, new NegateNode(b)]);

    /// <summary>An inequality in one variable as an interval: a &lt; x ≤ b is (a, b]; x &gt; 5 is (5, ∞).</summary>
    private static Node? IntervalOf(RelationNode r)
    {
        var ops = r.Operands;
        var kinds = r.Kinds;
        if (kinds.Any(k => Strictness(k) is not (0 or 1))) return null;
        bool Less(RelationKind k) => k is RelationKind.Less or RelationKind.LessEqual;
        bool Closed(RelationKind k) => k is RelationKind.LessEqual or RelationKind.GreaterEqual;
        Node inf = new ConstantNode(ConstantKind.Infinity), negInf = new NegateNode(inf);
        if (ops.Count == 3 && ops[1] is FunctionNode { Name: "abs" } abs && IsVariable(abs.Argument) && Less(kinds[0]) == Less(kinds[1]))
        {
            // a ≤ |x| ≤ b is [-b, -a] ∪ [a, b]
            bool up = Less(kinds[0]);
            Node lo = up ? ops[0] : ops[2], hi = up ? ops[2] : ops[0];
            var (loK, hiK) = up ? (kinds[0], kinds[1]) : (kinds[1], kinds[0]);
            return new UnionNode([
                new TupleNode([new NegateNode(hi), new NegateNode(lo)], Closed(hiK) ? '[' : '(', Closed(loK) ? ']' : ')'),
                new TupleNode([lo, hi], Closed(loK) ? '[' : '(', Closed(hiK) ? ']' : ')'),
            ]);
        }
        if (ops.Count == 3 && IsVariable(ops[1]) && Less(kinds[0]) == Less(kinds[1]))
        {
            bool up = Less(kinds[0]);
            Node lo = up ? ops[0] : ops[2], hi = up ? ops[2] : ops[0];
            var (loK, hiK) = up ? (kinds[0], kinds[1]) : (kinds[1], kinds[0]);
            return new TupleNode([lo, hi], Closed(loK) ? '[' : '(', Closed(hiK) ? ']' : ')');
        }
        if (ops.Count != 2) return null;
        bool varLeft = IsVariable(ops[0]);
        if (!varLeft && !IsVariable(ops[1])) return null;
        var bound = varLeft ? ops[1] : ops[0];
        bool upperBound = Less(kinds[0]) == varLeft; // x < b or b > x
        char edge = Closed(kinds[0]) ? (upperBound ? ']' : '[') : (upperBound ? ')' : '(');
        return upperBound ? new TupleNode([negInf, bound], '(', edge) : new TupleNode([bound, inf], edge, ')');
    }

    private static bool IsVariable(Node n) => n is SymbolNode || (n is ProductNode p && p.Factors.All(x => x is SymbolNode));

    // ---- ± ---------------------------------------------------------------------------------------------------

    private static Node ExpandPlusMinus(Node n)
    {
        if (n is ListNode l)
        {
            var items = new List<Node>();
            foreach (var item in l.Items)
            {
                var e = ExpandPlusMinus(item);
                if (e is ListNode inner) items.AddRange(inner.Items);
                else items.Add(e);
            }
            return new ListNode(items);
        }
        if (n is SetNode s)
        {
            var expanded = ExpandPlusMinus(new ListNode(s.Items));
            return new SetNode(((ListNode)expanded).Items);
        }
        if (!ContainsPlusMinus(n, 0)) return n;
        var plus = Substitute(n, +1);
        var minus = Substitute(n, -1);
        return new ListNode([plus, minus]);
    }

    private static bool ContainsPlusMinus(Node n, int depth) => depth < 64 && n switch
    {
        PlusMinusNode => true,
        SumNode s => s.Terms.Any(t => ContainsPlusMinus(t, depth + 1)),
        ProductNode p => p.Factors.Any(t => ContainsPlusMinus(t, depth + 1)),
        DivideNode d => ContainsPlusMinus(d.Numerator, depth + 1) || ContainsPlusMinus(d.Denominator, depth + 1),
        NegateNode g => ContainsPlusMinus(g.Operand, depth + 1),
        PowerNode pw => ContainsPlusMinus(pw.Base, depth + 1) || ContainsPlusMinus(pw.Exponent, depth + 1),
        FunctionNode f => ContainsPlusMinus(f.Argument, depth + 1),
        RelationNode r => r.Operands.Any(t => ContainsPlusMinus(t, depth + 1)),
        _ => false,
    };

    /// <summary>Every ± takes the same sign (the usual reading of x = 1 ± √2).</summary>
    private static Node Substitute(Node n, int sign) => n switch
    {
        PlusMinusNode pm => pm.Left is null
            ? (sign > 0 ? Substitute(pm.Right, sign) : new NegateNode(Substitute(pm.Right, sign)))
            : new SumNode([Substitute(pm.Left, sign), sign > 0 ? Substitute(pm.Right, sign) : new NegateNode(Substitute(pm.Right, sign))]),
        SumNode s => new SumNode(s.Terms.Select(t => Substitute(t, sign)).ToList()),
        ProductNode p => new ProductNode(p.Factors.Select(t => Substitute(t, sign)).ToList()),
        DivideNode d => new DivideNode(Substitute(d.Numerator, sign), Substitute(d.Denominator, sign)),
        NegateNode g => new NegateNode(Substitute(g.Operand, sign)),
        PowerNode pw => new PowerNode(Substitute(pw.Base, sign), Substitute(pw.Exponent, sign)),
        FunctionNode f => f with { Argument = Substitute(f.Argument, sign) },
        RelationNode r => new RelationNode(r.Operands.Select(t => Substitute(t, sign)).ToList(), r.Kinds),
        _ => n,
    };

    // ---- scalars ---------------------------------------------------------------------------------------------

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

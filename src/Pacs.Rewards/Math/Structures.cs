namespace Pacs.Rewards.Math;

/// <summary>Structures that expand or combine before comparison: ± and matrix arithmetic.</summary>
public static partial class Equivalence
{
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

    /// <summary>Whether a sum, product, negation or quotient holds a matrix: a walk without allocation, so that the
    /// scalar expressions most answers are skip <see cref="MatrixValue"/>.</summary>
    private static bool ContainsMatrix(Node n, int depth) => depth < 16 && n switch
    {
        MatrixNode => depth > 0,
        SumNode s => AnyMatrix(s.Terms, depth),
        ProductNode p => AnyMatrix(p.Factors, depth),
        NegateNode g => ContainsMatrix(g.Operand, depth + 1),
        DivideNode d => ContainsMatrix(d.Numerator, depth + 1),
        _ => false,
    };

    private static bool AnyMatrix(IReadOnlyList<Node> parts, int depth)
    {
        for (int k = 0; k < parts.Count; k++)
            if (ContainsMatrix(parts[k], depth + 1)) return true;
        return false;
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
            case DivideNode d when Evaluator.IsScalar(d.Denominator) && MatrixValue(d.Numerator, depth + 1) is { } dm:
                return new MatrixNode(dm.Rows.Select(r => (IReadOnlyList<Node>)r.Select(x => (Node)new DivideNode(x, d.Denominator)).ToList()).ToList());
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
}

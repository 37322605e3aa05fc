namespace Pacs.Rewards.Math;

/// <summary>Equations, inequalities and intervals.</summary>
public static partial class Equivalence
{
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
}

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
public static partial class Equivalence
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
}

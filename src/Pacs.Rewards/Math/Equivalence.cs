using System.Numerics;

namespace Pacs.Rewards.Math;

/// <summary>How numbers written as decimals are held against exact values (see docs/verifier.md).</summary>
public enum VerifierPolicy
{
    /// <summary>Exact means exact: when the gold is exact (an integer, a fraction, a radical, an expression in pi or
    /// e, a repeating decimal), a decimal answer is equal only if it is the same number (0.25 for 1/4, never 0.33 for
    /// 1/3). A decimal gold is compared at its own precision, as Math-Verify does. The default.</summary>
    Strict,

    /// <summary>The rounded decimals of the verifier before strict became the default: a decimal with at least two
    /// places and two significant digits also equals a non-terminating exact value rounded to those places (0.33 for
    /// 1/3, 1.41 for √2; never 0.00 for 1/300).</summary>
    Lenient,
}

/// <summary>Options of the equivalence check.</summary>
public sealed record EquivalenceOptions
{
    /// <summary>Relative tolerance when the gold is written as a decimal and the answer is not a rational
    /// (float_rounding 6 in Math-Verify).</summary>
    public double DecimalTolerance { get; init; } = 1e-6;

    /// <summary>Relative tolerance for exact expressions compared numerically (2√2 vs √8, identities in variables).</summary>
    public double ExactTolerance { get; init; } = 1e-9;

    /// <summary>Relative tolerance between an answer holding a decimal and an exact gold whose value is not a rational
    /// the evaluator can compute (sin π/6 against 0.5): the limit of double precision, so that only the same number
    /// passes, never a rounded or nudged one.</summary>
    public double DecimalAgainstExactTolerance { get; init; } = 1e-14;

    /// <summary>Math-Verify's <c>float_rounding</c>, for reproducing its test suite: when set, a value holding a
    /// decimal also equals another value that rounds to the same number at this many places (1/3 and 0.3333 at 4,
    /// not at 5). Null (the default) leaves the policy alone. <c>pacs verify --jsonl</c> sets it from a line's
    /// <c>precision</c>.</summary>
    public int? FloatRounding { get; init; }

    /// <summary>Whether 50% also equals 0.5 (it always equals 50).</summary>
    public bool PercentAsFraction { get; init; } = true;

    /// <summary>Whether decimals are held to exact golds exactly (strict, the default) or may round them (lenient).</summary>
    public VerifierPolicy Policy { get; init; } = VerifierPolicy.Strict;

    /// <summary>Whether a decimal with at least 2 places equals a non-terminating exact value rounded to those places
    /// (0.33 for 1/3, 1.41 for √2): true under <see cref="VerifierPolicy.Lenient"/> only.</summary>
    public bool AcceptRoundedDecimals => Policy == VerifierPolicy.Lenient;

    public static readonly EquivalenceOptions Default = new();

    public static readonly EquivalenceOptions Lenient = new() { Policy = VerifierPolicy.Lenient };

    /// <summary>"strict" or "lenient" (case-insensitive).</summary>
    public static VerifierPolicy ParsePolicy(string name) => name.Trim().ToLowerInvariant() switch
    {
        "strict" => VerifierPolicy.Strict,
        "lenient" => VerifierPolicy.Lenient,
        _ => throw new ArgumentException($"verifier policy: unknown '{name}' (expected strict or lenient)"),
    };
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
            // a gold (1, 2) may be a point: only an interval the gold cannot mistake for one is answered by 1 < x < 2
            return !IsPointOrOpenInterval(gold) && IntervalOf(prOnly) is { } pi && Equal(gold, pi, o, depth + 1);
        }
        if (gold is RelationNode grOnly)
        {
            if (ValueOfAssignment(grOnly) is { } reduced && Equal(reduced, pred, o, depth + 1)) return true;
            return IntervalOf(grOnly) is { } gi && Equal(gi, pred, o, depth + 1);
        }

        // 2·M, -M/3, M + N: the matrix they make, compared entry by entry
        if (ContainsMatrix(gold, 0) && MatrixValue(gold, 0) is { } gm0) gold = gm0;
        if (ContainsMatrix(pred, 0) && MatrixValue(pred, 0) is { } pm0) pred = pm0;
        switch (gold, pred)
        {
            case (BasedNumberNode gb, BasedNumberNode pb):
                return gb.Base == pb.Base && gb.Digits == pb.Digits;
            case (BasedNumberNode gb, NumberNode pn):
                return SameDigits(gb, pn);
            case (NumberNode gn, BasedNumberNode pb):
                return SameDigits(pb, gn);
            case (ListNode or SetNode, not (ListNode or SetNode or TupleNode)):
                // a list or set of answers against one answer; a set of one is its element
                return Unordered(Items(gold), [pred], o, depth);
            case (not (ListNode or SetNode or TupleNode), ListNode or SetNode):
                return Unordered([gold], Items(pred), o, depth);
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

    /// <summary>1011_2 against 1011: the same digits, the base being the one the question asked for.</summary>
    private static bool SameDigits(BasedNumberNode based, NumberNode number) =>
        number.Decimals == 0 && number.Value.IsInteger && number.Value.Sign >= 0 && number.Value.Num.ToString() == based.Digits;

    /// <summary>(a, b) with finite ends: a point as much as an open interval.</summary>
    private static bool IsPointOrOpenInterval(Node n) => n is TupleNode { Open: '(', Close: ')', Items.Count: 2 } t
        && !t.Items.Any(item => item is ConstantNode { Kind: ConstantKind.Infinity } or NegateNode { Operand: ConstantNode { Kind: ConstantKind.Infinity } });

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

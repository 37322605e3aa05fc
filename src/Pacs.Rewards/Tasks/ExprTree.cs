namespace Pacs.Rewards.Tasks;

/// <summary>An integer expression tree used to generate problems and their worked solutions.</summary>
public abstract record ExprNode
{
    public abstract long Value { get; }

    public abstract int OperatorCount { get; }
}

public sealed record Leaf(long Number) : ExprNode
{
    public override long Value => Number;

    public override int OperatorCount => 0;
}

/// <summary>A binary operation; generators only build ones whose value is an integer (exact division).</summary>
public sealed record BinaryNode(char Op, ExprNode Left, ExprNode Right) : ExprNode
{
    public override long Value { get; } = Apply(Op, Left.Value, Right.Value);

    public override int OperatorCount { get; } = Left.OperatorCount + Right.OperatorCount + 1;

    public static long Apply(char op, long a, long b) => op switch
    {
        '+' => a + b,
        '-' => a - b,
        '*' => a * b,
        '/' => b != 0 && a % b == 0 ? a / b : throw new ArgumentException($"inexact division {a}/{b}"),
        _ => throw new ArgumentException($"unknown operator '{op}'"),
    };
}

public static class ExprFormat
{
    private static int Precedence(char op) => op is '*' or '/' ? 2 : 1;

    /// <summary>
    /// Infix text with the parentheses the tree needs: a child is wrapped when it binds looser than its parent,
    /// or binds equally and is the right operand (so the text always parses back to this tree).
    /// </summary>
    public static string Render(ExprNode node) => node switch
    {
        Leaf leaf => leaf.Number.ToString(System.Globalization.CultureInfo.InvariantCulture),
        BinaryNode b => Child(b.Left, Precedence(b.Op), isRight: false) + b.Op + Child(b.Right, Precedence(b.Op), isRight: true),
        _ => throw new ArgumentException("unknown node"),
    };

    private static string Child(ExprNode child, int parentPrecedence, bool isRight)
    {
        var text = Render(child);
        if (child is not BinaryNode b) return text;
        int p = Precedence(b.Op);
        return p < parentPrecedence || (isRight && p == parentPrecedence) ? "(" + text + ")" : text;
    }

    /// <summary>A form equal for trees that differ only in the order of + and * operands (for split hashing).</summary>
    public static string Canonical(ExprNode node)
    {
        if (node is not BinaryNode b) return Render(node);
        string l = Canonical(b.Left), r = Canonical(b.Right);
        if (b.Op is '+' or '*' && string.CompareOrdinal(l, r) > 0) (l, r) = (r, l);
        return "(" + l + b.Op + r + ")";
    }

    /// <summary>
    /// Replaces the first operation (post-order, left first) whose operands are both numbers by its value: one step
    /// of a worked solution. Returns the operation reduced through <paramref name="reduced"/>.
    /// </summary>
    public static ExprNode ReduceOnce(ExprNode node, out BinaryNode? reduced)
    {
        reduced = null;
        if (node is not BinaryNode b) return node;
        if (b.Left is Leaf && b.Right is Leaf)
        {
            reduced = b;
            return new Leaf(b.Value);
        }
        var left = ReduceOnce(b.Left, out reduced);
        if (reduced is not null) return new BinaryNode(b.Op, left, b.Right);
        var right = ReduceOnce(b.Right, out reduced);
        return new BinaryNode(b.Op, b.Left, right);
    }

    /// <summary>The operations of a tree in the order <see cref="ReduceOnce"/> performs them.</summary>
    public static List<BinaryNode> Steps(ExprNode node)
    {
        var steps = new List<BinaryNode>();
        while (node is BinaryNode)
        {
            node = ReduceOnce(node, out var op);
            steps.Add(op!);
        }
        return steps;
    }
}

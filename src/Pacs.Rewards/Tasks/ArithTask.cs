using System.Globalization;
using System.Numerics;
using System.Text;

namespace Pacs.Rewards.Tasks;

/// <summary>Difficulty knobs of <see cref="ArithTask"/>.</summary>
/// <param name="MinOps">Fewest operators in a problem.</param>
/// <param name="MaxOps">Most operators in a problem.</param>
/// <param name="MaxOperand">Operands of + and - are drawn from 1..MaxOperand.</param>
/// <param name="MaxMultiplier">One operand of every * is a single number from 2..MaxMultiplier.</param>
/// <param name="MaxValue">No intermediate or final value exceeds this (problems are redrawn otherwise).</param>
/// <param name="TestPercent">Share of the problem space (by hash) held out as the test split.</param>
/// <param name="RlPercent">Share of the problem space (by hash) reserved for RL prompts, disjoint from train and test (0: none).</param>
public sealed record ArithOptions(
    int MinOps = 1,
    int MaxOps = 2,
    int MaxOperand = 20,
    int MaxMultiplier = 5,
    int MaxValue = 200,
    int TestPercent = 10,
    int RlPercent = 20)
{
    /// <summary>
    /// Preset levels 1 (one or two operations on numbers up to 20) to 5 (four or five operations, operands up to 99).
    /// Level 1 is the default, the difficulty the default SFT recipe is tuned for.
    /// </summary>
    public static ArithOptions ForLevel(int level) => level switch
    {
        1 => new ArithOptions(MinOps: 1, MaxOps: 2, MaxOperand: 20, MaxMultiplier: 5, MaxValue: 200),
        2 => new ArithOptions(MinOps: 2, MaxOps: 3, MaxOperand: 20, MaxMultiplier: 5, MaxValue: 200),
        3 => new ArithOptions(MinOps: 2, MaxOps: 3, MaxOperand: 50, MaxMultiplier: 9, MaxValue: 999),
        4 => new ArithOptions(MinOps: 3, MaxOps: 4, MaxOperand: 99, MaxMultiplier: 9, MaxValue: 9999),
        5 => new ArithOptions(MinOps: 4, MaxOps: 5, MaxOperand: 99, MaxMultiplier: 12, MaxValue: 99999),
        _ => throw new ArgumentException($"arith: difficulty level {level} is not one of 1..5"),
    };

    public void Validate()
    {
        if (MinOps < 1 || MaxOps < MinOps) throw new ArgumentException($"arith: need 1 <= MinOps <= MaxOps, got {MinOps}, {MaxOps}");
        if (MaxOperand < 1) throw new ArgumentException($"arith: MaxOperand must be >= 1, got {MaxOperand}");
        if (MaxMultiplier < 2) throw new ArgumentException($"arith: MaxMultiplier must be >= 2, got {MaxMultiplier}");
        if (MaxValue < MaxOperand) throw new ArgumentException($"arith: MaxValue {MaxValue} is below MaxOperand {MaxOperand}");
        if (TestPercent is < 1 or > 99) throw new ArgumentException($"arith: TestPercent must be in 1..99, got {TestPercent}");
        if (RlPercent < 0 || TestPercent + RlPercent > 99) throw new ArgumentException($"arith: RlPercent must be >= 0 with TestPercent + RlPercent <= 99, got {RlPercent}");
    }
}

/// <summary>
/// Multi-step integer arithmetic with + - * and parentheses, e.g. prompt <c>(37+85)*2-19=</c>. The target
/// (<see cref="Problem.Solution"/>) rewrites the expression one operation at a time and ends with the answer boxed:
/// <c>122*2-19=244-19=225\n\boxed{225}</c>. Values stay non-negative. The verifier compares the integer in the
/// last <c>\boxed{}</c> with the gold answer.
/// </summary>
public sealed class ArithTask : ITask
{
    private readonly long _seed;

    public ArithTask(long seed = 0, ArithOptions? options = null)
    {
        Options = options ?? new ArithOptions();
        Options.Validate();
        _seed = seed;
    }

    public string Name => "arith";

    public ArithOptions Options { get; }

    public long Count(Split split) => split == Split.Rl && Options.RlPercent == 0 ? 0 : long.MaxValue;

    public Problem Get(Split split, long index)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), $"arith: index {index} is negative");
        var tree = SplitAssigner.Draw(Name, _seed, split, index, Options.TestPercent, Options.RlPercent, Generate, ExprFormat.Canonical);
        return ToProblem(tree, $"arith/{split.ToString().ToLowerInvariant()}/{index}");
    }

    /// <summary>The problem for a given expression tree (prompt, worked solution, answer).</summary>
    public static Problem ToProblem(ExprNode tree, string id)
    {
        var solution = new StringBuilder();
        var node = tree;
        while (node is BinaryNode)
        {
            node = ExprFormat.ReduceOnce(node, out _);
            if (solution.Length > 0) solution.Append('=');
            solution.Append(ExprFormat.Render(node));
        }
        string answer = tree.Value.ToString(CultureInfo.InvariantCulture);
        solution.Append("\n\\boxed{").Append(answer).Append('}');
        return new Problem(id, ExprFormat.Render(tree) + "=", answer, solution.ToString());
    }

    public Verdict Verify(Problem problem, string response) => VerifyAnswer(problem.Answer, response);

    public static Verdict VerifyAnswer(string gold, string response)
    {
        var boxed = Boxed.Last(response);
        if (boxed is null) return new Verdict(false, null, "no \\boxed{} answer");
        var text = boxed.Trim();
        if (!TryParseInteger(text, out var value)) return new Verdict(false, text, $"boxed answer '{text}' is not an integer");
        if (!TryParseInteger(gold.Trim(), out var goldValue)) throw new ArgumentException($"arith: gold answer '{gold}' is not an integer");
        var extracted = value.ToString(CultureInfo.InvariantCulture);
        return value == goldValue
            ? new Verdict(true, extracted, "correct")
            : new Verdict(false, extracted, $"answer {extracted} != {goldValue}");
    }

    private static bool TryParseInteger(string text, out BigInteger value)
    {
        value = default;
        if (text.Length == 0 || text.Length > 40) return false;
        int start = text[0] is '-' or '+' ? 1 : 0;
        if (start == text.Length) return false;
        for (int i = start; i < text.Length; i++) if (!char.IsAsciiDigit(text[i])) return false;
        return BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    private ExprNode? Generate(TaskRandom rng)
    {
        int ops = rng.Next(Options.MinOps, Options.MaxOps);
        var tree = Build(rng, ops);
        return MaxValue(tree) <= Options.MaxValue ? tree : null;
    }

    private ExprNode Build(TaskRandom rng, int ops)
    {
        if (ops == 0) return new Leaf(rng.Next(1, Options.MaxOperand));
        switch (rng.Next(0, 2))
        {
            case 0:
                {
                    var factor = new Leaf(rng.Next(2, Options.MaxMultiplier));
                    var rest = Build(rng, ops - 1);
                    return rng.NextBool() ? new BinaryNode('*', rest, factor) : new BinaryNode('*', factor, rest);
                }
            default:
                {
                    char op = rng.NextBool() ? '+' : '-';
                    int leftOps = rng.Next(0, ops - 1);
                    var left = Build(rng, leftOps);
                    var right = Build(rng, ops - 1 - leftOps);
                    if (op == '-' && left.Value < right.Value) (left, right) = (right, left);
                    return new BinaryNode(op, left, right);
                }
        }
    }

    private static long MaxValue(ExprNode node) => node switch
    {
        BinaryNode b => System.Math.Max(b.Value, System.Math.Max(MaxValue(b.Left), MaxValue(b.Right))),
        _ => node.Value,
    };
}

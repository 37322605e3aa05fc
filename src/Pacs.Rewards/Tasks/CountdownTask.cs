using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Pacs.Rewards.Tasks;

/// <summary>Difficulty knobs of <see cref="CountdownTask"/>.</summary>
/// <param name="Numbers">How many numbers a problem gives.</param>
/// <param name="MaxNumber">Given numbers are drawn from 1..MaxNumber.</param>
/// <param name="MaxTarget">Targets are in 1..MaxTarget.</param>
/// <param name="UseAllNumbers">True: every given number must be used exactly once; false: at most once.</param>
/// <param name="TestPercent">Share of the problem space (by hash) held out as the test split.</param>
/// <param name="RlPercent">Share of the problem space (by hash) reserved for RL prompts, disjoint from train and test (0: none).</param>
public sealed record CountdownOptions(
    int Numbers = 3,
    int MaxNumber = 20,
    int MaxTarget = 200,
    bool UseAllNumbers = true,
    int TestPercent = 10,
    int RlPercent = 20)
{
    /// <summary>Preset levels 1 (three numbers up to 10) to 5 (five numbers up to 50).</summary>
    public static CountdownOptions ForLevel(int level) => level switch
    {
        1 => new CountdownOptions(Numbers: 3, MaxNumber: 10, MaxTarget: 100),
        2 => new CountdownOptions(Numbers: 3, MaxNumber: 20, MaxTarget: 200),
        3 => new CountdownOptions(Numbers: 4, MaxNumber: 20, MaxTarget: 500),
        4 => new CountdownOptions(Numbers: 4, MaxNumber: 50, MaxTarget: 1000),
        5 => new CountdownOptions(Numbers: 5, MaxNumber: 50, MaxTarget: 1000),
        _ => throw new ArgumentException($"countdown: difficulty level {level} is not one of 1..5"),
    };

    public void Validate()
    {
        if (Numbers is < 2 or > 8) throw new ArgumentException($"countdown: Numbers must be in 2..8, got {Numbers}");
        if (MaxNumber < 2) throw new ArgumentException($"countdown: MaxNumber must be >= 2, got {MaxNumber}");
        if (MaxTarget < 1) throw new ArgumentException($"countdown: MaxTarget must be >= 1, got {MaxTarget}");
        if (TestPercent is < 1 or > 99) throw new ArgumentException($"countdown: TestPercent must be in 1..99, got {TestPercent}");
        if (RlPercent < 0 || TestPercent + RlPercent > 99) throw new ArgumentException($"countdown: RlPercent must be >= 0 with TestPercent + RlPercent <= 99, got {RlPercent}");
    }
}

/// <summary>
/// Countdown: reach a target from given numbers with + - * / and parentheses. Prompt <c>Use 3 5 8 to make 9\n</c>;
/// target <c>8-5=3\n3*3=9\n\boxed{(8-5)*3}</c>. The verifier takes the expression in the last <c>\boxed{}</c> (else the
/// last line), left of any '=', evaluates it exactly (rationals), and checks each given number is used exactly once
/// (or at most once, <see cref="CountdownOptions.UseAllNumbers"/> false) and that the value equals the target.
/// Every generated problem is solvable: it is made from a random expression over its numbers.
/// </summary>
public sealed partial class CountdownTask : ITask
{
    private readonly long _seed;

    public CountdownTask(long seed = 0, CountdownOptions? options = null)
    {
        Options = options ?? new CountdownOptions();
        Options.Validate();
        _seed = seed;
    }

    public string Name => "countdown";

    public CountdownOptions Options { get; }

    public long Count(Split split) => split == Split.Rl && Options.RlPercent == 0 ? 0 : long.MaxValue;

    private sealed record Draft(long[] Numbers, ExprNode Tree);

    public Problem Get(Split split, long index)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), $"countdown: index {index} is negative");
        var draft = SplitAssigner.Draw(Name, _seed, split, index, Options.TestPercent, Options.RlPercent, Generate, Canonical);
        return ToProblem(draft.Numbers, draft.Tree, $"countdown/{split.ToString().ToLowerInvariant()}/{index}");
    }

    public static string FormatPrompt(IEnumerable<long> numbers, long target) =>
        $"Use {string.Join(' ', numbers.Select(n => n.ToString(CultureInfo.InvariantCulture)))} to make {target.ToString(CultureInfo.InvariantCulture)}\n";

    /// <summary>The problem for given numbers and a solving expression tree (which uses them).</summary>
    public static Problem ToProblem(IReadOnlyList<long> numbers, ExprNode tree, string id)
    {
        var solution = new StringBuilder();
        foreach (var step in ExprFormat.Steps(tree))
            solution.Append(CultureInfo.InvariantCulture, $"{step.Left.Value}{step.Op}{step.Right.Value}={step.Value}\n");
        solution.Append("\\boxed{").Append(ExprFormat.Render(tree)).Append('}');
        string target = tree.Value.ToString(CultureInfo.InvariantCulture);
        return new Problem(id, FormatPrompt(numbers, tree.Value), target, solution.ToString());
    }

    /// <summary>Reads the numbers and target back from a prompt made by <see cref="FormatPrompt"/>.</summary>
    public static (long[] Numbers, long Target) ParsePrompt(string prompt)
    {
        var match = PromptPattern().Match(prompt);
        if (!match.Success) throw new FormatException($"countdown: prompt '{prompt.ReplaceLineEndings(" ")}' is not of the form 'Use N N ... to make T'");
        var numbers = match.Groups[1].Value.Split(' ').Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        return (numbers, long.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    public Verdict Verify(Problem problem, string response)
    {
        var (numbers, target) = ParsePrompt(problem.Prompt);
        return VerifyExpression(numbers, target, response, Options.UseAllNumbers);
    }

    public static Verdict VerifyExpression(IReadOnlyList<long> numbers, long target, string response, bool useAllNumbers)
    {
        string? candidate = Boxed.Last(response);
        if (candidate is null)
        {
            var lines = response.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (lines.Length == 0) return new Verdict(false, null, "empty response");
            candidate = lines[^1];
        }
        int eq = candidate.IndexOf('=');
        if (eq >= 0) candidate = candidate[..eq];
        string extracted = string.Concat(candidate.Where(c => !char.IsWhiteSpace(c)));
        if (extracted.Length == 0) return new Verdict(false, null, "no expression found");

        var result = ExactExpression.TryEvaluate(extracted, out var error);
        if (result is null) return new Verdict(false, extracted, $"expression does not evaluate: {error}");

        var available = new Dictionary<long, int>();
        foreach (var n in numbers) available[n] = available.GetValueOrDefault(n) + 1;
        foreach (var literal in result.Literals)
        {
            if (!available.TryGetValue(literal, out int left)) return new Verdict(false, extracted, $"{literal} is not one of the given numbers");
            if (left == 0) return new Verdict(false, extracted, $"{literal} is used more times than it is given");
            available[literal] = left - 1;
        }
        if (useAllNumbers && available.Values.Any(v => v > 0))
            return new Verdict(false, extracted, $"not every number is used (unused: {string.Join(' ', available.Where(kv => kv.Value > 0).Select(kv => kv.Key))})");
        if (result.Value != Fraction.FromInteger(target))
            return new Verdict(false, extracted, $"expression equals {result.Value}, not {target}");
        return new Verdict(true, extracted, "correct");
    }

    private Draft? Generate(TaskRandom rng)
    {
        var numbers = new long[Options.Numbers];
        for (int i = 0; i < numbers.Length; i++) numbers[i] = rng.Next(1, Options.MaxNumber);
        var order = (long[])numbers.Clone();
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Next(0, i);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var tree = Build(rng, order);
        if (tree.Value < 1 || tree.Value > Options.MaxTarget) return null;
        return new Draft(numbers, tree);
    }

    /// <summary>A random tree over the numbers in order; each op is redrawn until its result is a positive integer.</summary>
    private static ExprNode Build(TaskRandom rng, ReadOnlySpan<long> numbers)
    {
        if (numbers.Length == 1) return new Leaf(numbers[0]);
        int split = rng.Next(1, numbers.Length - 1);
        var left = Build(rng, numbers[..split]);
        var right = Build(rng, numbers[split..]);
        switch (rng.Next(0, 3))
        {
            case 0: return new BinaryNode('*', left, right);
            case 1:
                if (left.Value < right.Value) (left, right) = (right, left);
                if (left.Value != right.Value) return new BinaryNode('-', left, right);
                break;
            case 2:
                if (left.Value < right.Value) (left, right) = (right, left);
                if (right.Value > 1 && left.Value % right.Value == 0) return new BinaryNode('/', left, right);
                break;
        }
        return new BinaryNode('+', left, right);
    }

    private static string Canonical(Draft draft) =>
        string.Join(' ', draft.Numbers.Order()) + "->" + draft.Tree.Value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^Use ((?:\d+ )*\d+) to make (\d+)")]
    private static partial Regex PromptPattern();
}

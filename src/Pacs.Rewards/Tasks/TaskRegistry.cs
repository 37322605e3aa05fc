using Pacs.Rewards.Datasets;
using Pacs.Rewards.Math;

namespace Pacs.Rewards.Tasks;

/// <summary>
/// Creates tasks by name: the synthetic <c>arith</c> and <c>countdown</c> generators, and the math datasets of
/// <see cref="MathDatasets"/> (by name, e.g. <c>math500</c>, or a path to a <c>.jsonl</c> file).
/// </summary>
public static class TaskRegistry
{
    public static IReadOnlyList<string> SyntheticNames { get; } = ["arith", "countdown"];

    /// <summary>Every name <see cref="Create"/> accepts besides file paths.</summary>
    public static IReadOnlyList<string> KnownNames => [.. SyntheticNames, .. MathDatasets.Names];

    /// <summary>
    /// A task by name. <paramref name="seed"/> seeds the generators; <paramref name="level"/> picks a difficulty
    /// preset (1..5) of a synthetic task, default: the task's default options. Datasets take neither; they take
    /// <paramref name="verifierPolicy"/> (strict by default), which the synthetic tasks, graded exactly, ignore.
    /// </summary>
    public static ITask Create(string name, long seed = 0, int? level = null, VerifierPolicy verifierPolicy = VerifierPolicy.Strict)
    {
        ArgumentNullException.ThrowIfNull(name);
        switch (name.Trim().ToLowerInvariant())
        {
            case "arith":
                return new ArithTask(seed, level is { } a ? ArithOptions.ForLevel(a) : null);
            case "countdown":
                return new CountdownTask(seed, level is { } c ? CountdownOptions.ForLevel(c) : null);
            default:
                if (MathDatasets.IsKnown(name.Trim()) || name.Trim().EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
                {
                    if (level is not null) throw new ArgumentException($"task '{name}': a difficulty level applies only to {string.Join(", ", SyntheticNames)}");
                    return MathDatasets.Open(name, verifier: MathVerifierOptions.ForPolicy(verifierPolicy));
                }
                throw new ArgumentException($"unknown task '{name}'; known tasks: {string.Join(", ", KnownNames)} (or a path to a .jsonl file)");
        }
    }
}

namespace Pacs.Rewards.Tasks;

/// <summary>Creates tasks by name: the synthetic <c>arith</c> and <c>countdown</c> generators.</summary>
public static class TaskRegistry
{
    public static IReadOnlyList<string> SyntheticNames { get; } = ["arith", "countdown"];

    /// <summary>
    /// A task by name. <paramref name="seed"/> seeds the generators; <paramref name="level"/> picks a difficulty
    /// preset (1..5) of a synthetic task, default: the task's default options.
    /// </summary>
    public static ITask Create(string name, long seed = 0, int? level = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        switch (name.Trim().ToLowerInvariant())
        {
            case "arith":
                return new ArithTask(seed, level is { } a ? ArithOptions.ForLevel(a) : null);
            case "countdown":
                return new CountdownTask(seed, level is { } c ? CountdownOptions.ForLevel(c) : null);
            default:
                throw new ArgumentException($"unknown task '{name}'; known tasks: {string.Join(", ", SyntheticNames)}");
        }
    }
}

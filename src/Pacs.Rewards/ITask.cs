namespace Pacs.Rewards;

/// <summary>One problem: the prompt text shown to the model and the gold answer the verifier checks against.</summary>
public sealed record Problem(string Id, string Prompt, string Answer, string? Solution = null);

public enum Split
{
    Train,
    Test,
}

/// <summary>
/// A task whose answers a program can check: a source of problems (seeded, with disjoint train and test
/// splits) and a verifier. Synthetic tasks (arith, countdown) generate problems; dataset tasks read JSONL.
/// </summary>
public interface ITask
{
    string Name { get; }

    /// <summary>The i-th problem of a split. Deterministic in (seed, split, index); train and test never overlap.</summary>
    Problem Get(Split split, long index);

    /// <summary>How many problems a split holds (long.MaxValue for an unbounded generator).</summary>
    long Count(Split split);

    Verdict Verify(Problem problem, string response);
}

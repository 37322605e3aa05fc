namespace Pacs.Rewards;

/// <summary>One problem: the prompt text shown to the model and the gold answer the verifier checks against.</summary>
public sealed record Problem(string Id, string Prompt, string Answer, string? Solution = null)
{
    /// <summary>A system message shown before the prompt (verl rows may carry one); null: none.</summary>
    public string? System { get; init; }
}

/// <summary>
/// Which part of a task's problems to draw from. The three are disjoint: a synthetic task assigns every problem to
/// exactly one by hashing it, so a model fine-tuned on <see cref="Train"/> has never seen an <see cref="Rl"/> or a
/// <see cref="Test"/> problem, and RL on <see cref="Rl"/> measures generalisation on <see cref="Test"/> rather than
/// the recall of memorised answers. Datasets hold one split (a train file or a test file).
/// </summary>
public enum Split
{
    /// <summary>The supervised pool (what <c>pacs sft</c> learns from).</summary>
    Train,

    /// <summary>Held out for evaluation.</summary>
    Test,

    /// <summary>Problems reserved for reinforcement learning: never in Train or Test.</summary>
    Rl,
}

/// <summary>
/// A task whose answers a program can check: a source of problems (seeded, with disjoint train and test
/// splits) and a verifier. Synthetic tasks (arith, countdown) generate problems; dataset tasks read JSONL.
/// </summary>
public interface ITask
{
    string Name { get; }

    /// <summary>The i-th problem of a split. Deterministic in (seed, split, index); the splits never overlap.</summary>
    Problem Get(Split split, long index);

    /// <summary>How many problems a split holds (long.MaxValue for an unbounded generator).</summary>
    long Count(Split split);

    Verdict Verify(Problem problem, string response);
}

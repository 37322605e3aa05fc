using Pacs.Rewards.Math;

namespace Pacs.Rewards.Datasets;

/// <summary>
/// A math task made of explicit splits: the RL prompt set (<see cref="Split.Train"/>) and the validation set
/// (<see cref="Split.Test"/>, possibly empty). Responses are checked with <see cref="MathVerifier"/>.
/// </summary>
public sealed class DatasetTask(string name, IReadOnlyList<Problem> train, IReadOnlyList<Problem> test, MathVerifierOptions? verifier = null) : ITask
{
    private readonly MathVerifierOptions _verifier = verifier ?? MathVerifierOptions.Default;

    public string Name { get; } = name;

    public long Count(Split split) => split switch
    {
        Split.Train => train.Count,
        Split.Test => test.Count,
        _ => 0,
    };

    public Problem Get(Split split, long index)
    {
        var problems = split switch
        {
            Split.Train => train,
            Split.Test => test,
            _ => throw new ArgumentOutOfRangeException(nameof(split), $"{Name} has no {split} split (train and test only)"),
        };
        if (index < 0 || index >= problems.Count)
            throw new ArgumentOutOfRangeException(nameof(index), $"{Name}: {split} index {index} outside 0..{problems.Count - 1}");
        return problems[(int)index];
    }

    public Verdict Verify(Problem problem, string response) => MathVerifier.Verify(response, problem.Answer, _verifier);
}

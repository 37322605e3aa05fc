using Pacs.Rewards;

namespace Pacs.Rl.Tests.Training;

/// <summary>
/// A bandit: reward 1 when the response's character at <paramref name="position"/> is a lowercase letter from 'a'
/// to 'h'. Position 0 tests the first sampled token; a later position tests that every response token's log-prob
/// is aligned with the token it scores (an off-by-one would teach the wrong position).
/// </summary>
internal sealed class LetterAtTask(int position) : ITask
{
    public string Name => "letter-at";

    public Problem Get(Split split, long index) => new($"{split}-{index}", "Say:", "a-h");

    public long Count(Split split) => split == Split.Train ? long.MaxValue : 4;

    public Verdict Verify(Problem problem, string response) =>
        response.Length > position && response[position] is >= 'a' and <= 'h'
            ? new Verdict(true, response[position..(position + 1)], "a-h at the position")
            : new Verdict(false, null, "no a-h at the position");
}

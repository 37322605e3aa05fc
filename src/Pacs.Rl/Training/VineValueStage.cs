using Pacs.Rewards;
using Pacs.Rl.Algorithms;
using Pacs.Text;

namespace Pacs.Rl.Training;

/// <summary>
/// VinePPO's value estimation: for every response, the start of each reasoning step (token 0 and the token after each
/// one holding a newline) is a state; K continuations of the rollout policy from the prompt plus that prefix are
/// verified, and their mean reward is the state's value. The advantages follow
/// <see cref="VinePpoAlgorithm.StepAdvantages"/>. Continuations are seeded by (trainer seed, step, row, state, k), and
/// asked of the engine at most <c>maxBatchRows</c> at a time (`rollout.max_batch_rows`; 0: all at once).
/// </summary>
public sealed class VineValueStage(IRolloutEngine policy, ITokenizer tokenizer, ITask task, VinePpoOptions options, long seed, int maxBatchRows = 0)
{
    /// <summary>Per-token advantages of every row, and the number of value states estimated.</summary>
    public (float[][] Advantages, int States) Advantages(int step, IReadOnlyList<Problem> problems, int[][] rowPrompts, int[][] responses,
        float[] rewards, int group, SamplingParams sampling)
    {
        var starts = responses.Select(StepStarts).ToArray();
        var requests = new List<RolloutRequest>();
        var budgets = new List<int>();
        for (int r = 0; r < responses.Length; r++)
            for (int s = 0; s < starts[r].Length; s++)
                for (int k = 0; k < options.McRollouts; k++)
                    requests.Add(new RolloutRequest([.. rowPrompts[r], .. responses[r][..starts[r][s]]], Rng.Hash(seed, 0x7135, step, r, s, k), sampling));
        // One batch per prefix length would match the budget exactly; one call with the full budget is simpler, and
        // a continuation past the response limit is cut when it is scored.
        var results = RolloutBatches.Generate(policy, requests, maxBatchRows);
        var advantages = new float[responses.Length][];
        int next = 0;
        for (int r = 0; r < responses.Length; r++)
        {
            var values = new double[starts[r].Length];
            for (int s = 0; s < starts[r].Length; s++)
            {
                var prefix = responses[r][..starts[r][s]];
                double sum = 0;
                for (int k = 0; k < options.McRollouts; k++)
                {
                    var continuation = results[next++].ResponseIds;
                    int room = Math.Max(0, sampling.MaxTokens - prefix.Length);
                    string text = tokenizer.Decode([.. prefix, .. continuation.Take(room)], skipSpecialTokens: true);
                    sum += task.Verify(problems[r / group], text).Reward;
                }
                values[s] = sum / options.McRollouts;
            }
            advantages[r] = VinePpoAlgorithm.StepAdvantages(starts[r], values, rewards[r], responses[r].Length);
        }
        return (advantages, starts.Sum(s => s.Length));

        int[] StepStarts(int[] response)
        {
            var list = new List<int>();
            if (response.Length > 0) list.Add(0);
            for (int t = 0; t + 1 < response.Length; t++)
                if (tokenizer.Decode([response[t]]).Contains('\n')) list.Add(t + 1);
            return [.. list];
        }
    }
}

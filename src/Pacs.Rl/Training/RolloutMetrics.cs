using Pacs.Engine;

namespace Pacs.Rl.Training;

/// <summary>The metrics of a step's rollout batch: rewards, group statistics, lengths, clipping, entropy, KL to the reference.</summary>
internal static class RolloutMetrics
{
    public static void Add(Dictionary<string, double> metrics, float[] rewards, IReadOnlyList<RolloutResult> results,
        float[]?[] entropy, float[][] oldLogProbs, float[][]? refLogProbs, int group)
    {
        int rows = rewards.Length;
        metrics["reward/mean"] = rewards.Average(r => (double)r);
        metrics["reward/accuracy"] = rewards.Count(r => r >= 0.5f) / (double)rows;
        AddGroups(metrics, rewards, group);
        metrics["response/length_mean"] = results.Average(r => (double)r.ResponseIds.Length);
        metrics["response/length_max"] = results.Max(r => r.ResponseIds.Length);
        // Cut at the token budget or at the model's context: either way the response did not finish.
        metrics["response/clip_fraction"] = results.Count(r => r.Clipped) / (double)rows;
        // Rows of an update cut short by a non-finite loss have no entropy.
        double entropySum = 0;
        long entropyTokens = 0;
        foreach (var row in entropy)
        {
            if (row is null) continue;
            foreach (var e in row) entropySum += e;
            entropyTokens += row.Length;
        }
        if (entropyTokens > 0) metrics["actor/entropy"] = entropySum / entropyTokens;
        if (refLogProbs is not null) metrics["actor/kl_ref"] = KlToReference(oldLogProbs, refLogProbs);
    }

    private static void AddGroups(Dictionary<string, double> metrics, float[] rewards, int group)
    {
        int groups = rewards.Length / group;
        int uniform = 0, solved = 0;
        for (int g = 0; g < groups; g++)
        {
            var slice = rewards.AsSpan(g * group, group);
            bool allEqual = true, anyCorrect = false;
            foreach (var r in slice)
            {
                allEqual &= r == slice[0];
                anyCorrect |= r >= 0.5f;
            }
            if (allEqual) uniform++;
            if (anyCorrect) solved++;
        }
        metrics["reward/all_equal_group_fraction"] = uniform / (double)groups;
        metrics[$"reward/pass@{group}"] = solved / (double)groups;
    }

    /// <summary>k1 estimate of KL(pi_old || pi_ref) per token from the sampled tokens.</summary>
    private static double KlToReference(float[][] oldLogProbs, float[][] refLogProbs)
    {
        double kl = 0;
        long n = 0;
        for (int r = 0; r < oldLogProbs.Length; r++)
            for (int t = 0; t < oldLogProbs[r].Length; t++) { kl += oldLogProbs[r][t] - refLogProbs[r][t]; n++; }
        return n > 0 ? kl / n : 0;
    }
}

namespace Pacs.Rl.Training;

/// <summary>
/// PODS (Xu et al. 2025, "Not All Rollouts are Useful: Down-Sampling Rollouts in LLM Reasoning", arXiv 2504.13818):
/// generate n rollouts per prompt, train on the m of them whose rewards have the largest variance, with any group
/// objective. The paper shows that a max-variance subset of size m is always made of the i highest and the m − i
/// lowest rewards for some i, so trying the m + 1 splits of the sorted rewards finds it in O(n log n). The authors'
/// code is not in the search index; this follows the paper's description of max-variance down-sampling. Ties
/// (equal variance, equal rewards) go to the smallest i and, among equal rewards, to the earlier rollout, so the
/// selection is deterministic.
/// </summary>
public static class PodsSelection
{
    /// <summary>
    /// Rows to keep, group by group (<paramref name="groupSize"/> = n consecutive rows per prompt, <paramref name="keep"/>
    /// = m of each), in their original order inside each group.
    /// </summary>
    public static int[] MaxVariance(IReadOnlyList<float> rewards, int groupSize, int keep)
    {
        if (keep < 1 || keep > groupSize) throw new ArgumentException($"rollout.pods_keep={keep} must be in [1, group_size={groupSize}]");
        if (rewards.Count % groupSize != 0) throw new ArgumentException($"pods: {rewards.Count} rewards do not split into groups of {groupSize}");
        var kept = new List<int>(rewards.Count / groupSize * keep);
        for (int start = 0; start < rewards.Count; start += groupSize)
        {
            // Sorted by reward, ties by position: the i highest are the last i, the m − i lowest the first m − i.
            var order = Enumerable.Range(start, groupSize).OrderBy(r => rewards[r]).ThenBy(r => r).ToArray();
            int bestHigh = 0;
            double bestVariance = double.NegativeInfinity;
            for (int high = 0; high <= keep; high++)
            {
                double variance = Variance(order.Take(keep - high).Concat(order.Skip(groupSize - high)).Select(r => (double)rewards[r]));
                if (variance > bestVariance + 1e-12)
                {
                    bestVariance = variance;
                    bestHigh = high;
                }
            }
            kept.AddRange(order.Take(keep - bestHigh).Concat(order.Skip(groupSize - bestHigh)).Order());
        }
        return [.. kept];
    }

    private static double Variance(IEnumerable<double> values)
    {
        var list = values.ToList();
        double mean = list.Average();
        return list.Sum(v => (v - mean) * (v - mean)) / list.Count;
    }
}

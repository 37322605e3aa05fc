using Pacs.Rewards;

namespace Pacs.Rl.Training;

/// <summary>One rollout batch: prompts, their groups of responses, the verifier's rewards and the shaped ones the loss sees.</summary>
internal sealed record SampledBatch(long[] Indices, Problem[] Problems, int[][] PromptIds, RolloutResult[] Results, float[] Rewards, int Group)
{
    /// <summary>Groups whose rewards are not all equal (the only ones with a learning signal for group-relative objectives).</summary>
    public List<int> MixedGroups()
    {
        var mixed = new List<int>();
        for (int g = 0; g < Problems.Length; g++)
        {
            var slice = Rewards.AsSpan(g * Group, Group);
            foreach (var r in slice)
            {
                if (r == slice[0]) continue;
                mixed.Add(g);
                break;
            }
        }
        return mixed;
    }

    public SampledBatch SelectGroups(IReadOnlyList<int> groups)
    {
        var rows = groups.SelectMany(g => Enumerable.Range(g * Group, Group)).ToArray();
        return new SampledBatch([.. groups.Select(g => Indices[g])], [.. groups.Select(g => Problems[g])], [.. groups.Select(g => PromptIds[g])],
            [.. rows.Select(r => Results[r])], [.. rows.Select(r => Rewards[r])], Group);
    }

    public static SampledBatch Concat(IReadOnlyList<SampledBatch> parts, int group) => new(
        [.. parts.SelectMany(p => p.Indices)], [.. parts.SelectMany(p => p.Problems)], [.. parts.SelectMany(p => p.PromptIds)],
        [.. parts.SelectMany(p => p.Results)], [.. parts.SelectMany(p => p.Rewards)], group);
}

/// <summary>
/// DAPO's dynamic sampling (verl's `filter_groups`): groups whose rewards are all equal are dropped and more prompts
/// are drawn until the batch holds <c>prompts</c> mixed groups, at most <c>maxDraws</c> batches per step.
/// </summary>
internal static class DynamicSampling
{
    /// <summary>What one step's draws gave: the full batch (null when the cap was reached first), draws, mixed groups found, tokens generated.</summary>
    public sealed record Outcome(SampledBatch? Batch, int Draws, int MixedFound, long GeneratedTokens);

    /// <param name="draw">Samples the next batch of prompts; its argument is the draw number within the step (0, 1, ...).</param>
    public static Outcome Fill(Func<int, SampledBatch> draw, int prompts, int group, int maxDraws)
    {
        var kept = new List<SampledBatch>();
        int mixed = 0, draws = 0;
        long tokens = 0;
        while (mixed < prompts && draws < maxDraws)
        {
            var batch = draw(draws++);
            tokens += batch.Results.Sum(r => (long)r.ResponseIds.Length);
            var groups = batch.MixedGroups();
            kept.Add(batch.SelectGroups(groups));
            mixed += groups.Count;
        }
        if (mixed < prompts) return new Outcome(null, draws, mixed, tokens);
        var full = SampledBatch.Concat(kept, group);
        return new Outcome(full.SelectGroups([.. Enumerable.Range(0, prompts)]), draws, mixed, tokens);
    }
}

/// <summary>DAPO's overlong reward shaping: a linear penalty over the last <c>buffer</c> tokens before the budget.</summary>
public static class OverlongShaping
{
    /// <summary>
    /// The reward minus penalty x min(1, (length - (maxTokens - buffer)) / buffer) once the response is longer than
    /// maxTokens - buffer. Rewards are verifier scores in [0, 1] (PACS reads them as BCE targets), so the shaped
    /// reward stops at 0: an overlong wrong answer is not pushed below a wrong answer.
    /// </summary>
    public static float Apply(float reward, int length, int maxTokens, int buffer, double penalty)
    {
        if (buffer <= 0) return reward;
        int start = maxTokens - buffer;
        if (length <= start) return reward;
        double fraction = Math.Min(1.0, (length - start) / (double)buffer);
        return (float)Math.Max(0.0, reward - fraction * penalty);
    }
}

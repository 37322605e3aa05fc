using Pacs.Engine;

namespace Pacs.Rl.Training;

/// <summary>`rollout.max_batch_rows`: a step's rollouts asked of the engine in batches of at most that many requests.</summary>
public static class RolloutBatches
{
    /// <summary>
    /// One result per request, in request order, from consecutive batches of at most <paramref name="maxRows"/>
    /// requests (0: all at once). An engine's response depends only on its own request, so the results are those of
    /// one call; the local engine's KV cache then holds <paramref name="maxRows"/> sequences, not the whole batch.
    /// </summary>
    public static RolloutResult[] Generate(IRolloutEngine engine, IReadOnlyList<RolloutRequest> requests, int maxRows)
    {
        if (maxRows <= 0 || requests.Count <= maxRows) return [.. engine.Generate(requests)];
        var results = new List<RolloutResult>(requests.Count);
        for (int start = 0; start < requests.Count; start += maxRows)
        {
            var batch = requests.Skip(start).Take(maxRows).ToList();
            var generated = engine.Generate(batch);
            if (generated.Count != batch.Count)
                throw new InvalidOperationException($"rollout engine returned {generated.Count} results for {batch.Count} requests");
            results.AddRange(generated);
        }
        return [.. results];
    }
}

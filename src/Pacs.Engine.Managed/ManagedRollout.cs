using Pacs.Engine;
using Pacs.Models;
using Pacs.Tensors;

namespace Pacs.Engine.Managed;

/// <summary>
/// Rollouts in process with the KV-cache <see cref="Generator"/>. It samples from the very weights being trained,
/// so <see cref="SyncWeights"/> only records the version; its log-probs come from the same kernels and precision
/// as the trainer's forward (they differ only by the logits' rounding), and a request's tokens depend only on its
/// prompt and seed.
/// </summary>
public sealed class ManagedRollout(Transformer model) : IRolloutEngine
{
    private readonly Generator _generator = new(model);

    public RolloutTraits Traits { get; } = new(LogProbsMatchTrainer: true, Reproducible: true);

    public long WeightVersion { get; private set; }

    public IReadOnlyList<RolloutResult> Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancel = default)
    {
        cancel.ThrowIfCancellationRequested();
        // Sampling uses no pooled tensors: the buffers the pool keeps for the next teacher-forced pass would sit idle
        // beside the KV cache, and the cache would sit idle through the passes after it; both go before they would.
        long pooled = TensorPool.Shared.CachedBytes;
        TensorPool.Shared.Trim();
        CollectIfLarge(pooled);
        try
        {
            return Sample(requests);
        }
        finally
        {
            CollectIfLarge(_generator.ReleaseBuffers());
        }
    }

    /// <summary>A full blocking collection when at least the pool's threshold of large buffers became garbage, so
    /// their memory goes back before the next phase allocates its own (the GC would otherwise wait for its budget).</summary>
    private static void CollectIfLarge(long releasedBytes)
    {
        if (releasedBytes >= TensorPool.Shared.CollectAfterReleasingBytes)
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
    }

    private RolloutResult[] Sample(IReadOnlyList<RolloutRequest> requests)
    {
        var results = new RolloutResult[requests.Count];
        // Requests that share sampling settings run as one batch; a response depends only on its own prompt and seed.
        foreach (var batch in requests.Select((request, index) => (request, index)).GroupBy(r => r.request.Sampling))
        {
            var sampling = batch.Key;
            var options = new SamplingOptions(sampling.Temperature, sampling.TopK, sampling.TopP, sampling.MaxTokens, sampling.StopTokenIds);
            var items = batch.ToList();
            var generated = _generator.Generate(items.Select(r => new GenerationRequest(r.request.PromptIds, r.request.Seed)).ToList(), options);
            for (int i = 0; i < items.Count; i++) results[items[i].index] = ToResult(generated[i], sampling.MaxTokens);
        }
        return results;
    }

    public void SyncWeights(ITrainableModel policy, long version) => WeightVersion = version;

    private RolloutResult ToResult(GenerationResult r, int maxTokens)
    {
        var finish = r.Stopped ? FinishReason.Stop : r.Tokens.Length >= maxTokens ? FinishReason.Length : FinishReason.ContextLimit;
        return new RolloutResult(r.Tokens, r.LogProbs, finish, WeightVersion);
    }
}

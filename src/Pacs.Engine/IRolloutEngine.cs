namespace Pacs.Engine;

/// <summary>How responses are sampled. Log-probs are always of the full softmax at <see cref="Temperature"/>.</summary>
/// <param name="Temperature">Softmax temperature; 0 means greedy.</param>
/// <param name="TopP">Nucleus threshold (1 disables it).</param>
/// <param name="TopK">Keep the k most likely tokens (0 disables it).</param>
/// <param name="MaxTokens">Most response tokens; a response cut here finishes with <see cref="FinishReason.Length"/>.</param>
/// <param name="StopTokenIds">Ids that end a response (kept as its last token).</param>
public sealed record SamplingParams(float Temperature, float TopP, int TopK, int MaxTokens, IReadOnlyList<int> StopTokenIds)
{
    public static SamplingParams Of(float temperature, int maxTokens, IReadOnlyList<int> stopTokenIds, float topP = 1f, int topK = 0) =>
        new(temperature, topP, topK, maxTokens, stopTokenIds);
}

/// <summary>One response to sample: prompt ids, the seed of its own sampling stream, and how to sample.</summary>
public sealed record RolloutRequest(int[] PromptIds, ulong Seed, SamplingParams Sampling);

public enum FinishReason
{
    /// <summary>A stop id was sampled (it is the response's last token).</summary>
    Stop,

    /// <summary>The response reached its token budget.</summary>
    Length,

    /// <summary>The model's context ran out before the token budget (counted as clipped, like Length).</summary>
    ContextLimit,
}

/// <summary>A sampled response: its ids, the sampler's log-prob of each, why it ended, and the weights that sampled it.</summary>
public sealed record RolloutResult(int[] ResponseIds, float[] LogProbs, FinishReason Finish, long WeightVersion)
{
    /// <summary>Cut short rather than ended by a stop id.</summary>
    public bool Clipped => Finish != FinishReason.Stop;
}

/// <summary>What a trainer may assume of an engine's rollouts.</summary>
/// <param name="LogProbsMatchTrainer">The returned log-probs are computed exactly as the trainer's forward computes
/// them (same kernels, same precision), so the trainer may use them as the rollout policy's log-probs.</param>
/// <param name="Reproducible">The same request (prompt, seed, sampling) gives the same response on every run.</param>
public sealed record RolloutTraits(bool LogProbsMatchTrainer, bool Reproducible);

/// <summary>
/// Samples responses: in process (the managed engine), or on inference servers. After every optimizer step the
/// trainer calls <see cref="SyncWeights"/>, so the next rollouts come from the new policy.
/// </summary>
public interface IRolloutEngine
{
    RolloutTraits Traits { get; }

    /// <summary>The weight version the next rollouts are sampled with (the last <see cref="SyncWeights"/>'s).</summary>
    long WeightVersion { get; }

    /// <summary>One result per request, in request order; a response depends only on its own request.</summary>
    IReadOnlyList<RolloutResult> Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancel = default);

    /// <summary>Makes the engine sample from <paramref name="policy"/>'s current weights, labelled <paramref name="version"/>.</summary>
    void SyncWeights(ITrainableModel policy, long version);
}

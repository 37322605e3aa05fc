namespace Pacs.Engine.Tinker;

/// <summary>
/// Rollouts through the API's `asample`: one request per response (num_samples 1, its own seed), so each response
/// depends only on its own request as the seam requires. After every optimizer step SyncWeights publishes the
/// policy for sampling (`save_weights_for_sampler` without a path: an ephemeral sampling session).
/// </summary>
public sealed class TinkerRollout : IRolloutEngine
{
    private readonly TinkerConnection _connection;
    private readonly TinkerTrainingModel? _policy;
    private string _samplingSession;
    private int _seq;

    /// <summary>Sampling from a trained model; the first SyncWeights opens its session.</summary>
    internal TinkerRollout(TinkerConnection connection, TinkerTrainingModel policy)
    {
        _connection = connection;
        _policy = policy;
        _samplingSession = "";
    }

    /// <summary>Sampling from the base model (evaluation).</summary>
    internal TinkerRollout(TinkerConnection connection, string baseModel)
    {
        _connection = connection;
        var request = new CreateSamplingSessionRequest(connection.SessionId, connection.NextSamplingSeq(), baseModel, null);
        _samplingSession = connection.Post<CreateSamplingSessionResponse>("api/v1/create_sampling_session", request, "create_sampling_session").SamplingSessionId;
    }

    /// <summary>The server's sampler is not the trainer's forward, and hosted sampling is not promised to repeat.</summary>
    public RolloutTraits Traits { get; } = new(LogProbsMatchTrainer: false, Reproducible: false);

    public long WeightVersion { get; private set; }

    public void SyncWeights(ITrainableModel policy, long version)
    {
        if (!ReferenceEquals(policy, _policy)) throw new ArgumentException("the tinker rollout engine samples from the tinker policy it was made for");
        var request = new SaveWeightsForSamplerRequest(_policy.ModelId, null, _connection.NextSamplingSeq(), _policy.NextSeq());
        var saved = _connection.Call<SaveWeightsForSamplerResponse>("api/v1/save_weights_for_sampler", request, $"save_weights_for_sampler of model {_policy.ModelId}");
        _samplingSession = saved.SamplingSessionId ?? throw new TinkerException($"tinker save_weights_for_sampler of {_policy.ModelId}: no sampling_session_id in the answer");
        WeightVersion = version;
    }

    public IReadOnlyList<RolloutResult> Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancel = default)
    {
        if (_samplingSession.Length == 0) throw new InvalidOperationException("SyncWeights must publish the policy before the first rollout");
        var results = new RolloutResult[requests.Count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancel };
        int firstSeq = Interlocked.Add(ref _seq, requests.Count) - requests.Count;
        try
        {
            Parallel.For(0, requests.Count, options, i => results[i] = Sample(requests[i], firstSeq + i + 1));
        }
        catch (AggregateException e)
        {
            // One clear error (the first request's), not one per request in flight.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        return results;
    }

    private RolloutResult Sample(RolloutRequest request, int seq)
    {
        var s = request.Sampling;
        var parameters = new TinkerSamplingParams(s.MaxTokens, unchecked((long)request.Seed), [.. s.StopTokenIds], s.Temperature, s.TopK > 0 ? s.TopK : -1, s.TopP);
        var body = new SampleRequest(ModelInput.Of(request.PromptIds), parameters, SamplingSessionId: _samplingSession, SeqId: seq);
        var response = _connection.Call<SampleResponse>("api/v1/asample", body, $"asample (sampling session {_samplingSession}, seq {seq})");
        if (response.Sequences.Count != 1) throw new TinkerException($"tinker asample seq {seq}: {response.Sequences.Count} sequences for num_samples 1");
        var sequence = response.Sequences[0];
        var logProbs = sequence.Logprobs is { } lp ? Array.ConvertAll(lp, v => (float)v) : new float[sequence.Tokens.Length];
        var finish = sequence.StopReason == "stop" ? FinishReason.Stop : FinishReason.Length;
        return new RolloutResult(sequence.Tokens, logProbs, finish, WeightVersion);
    }
}

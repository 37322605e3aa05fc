using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Pacs.Engine.Tinker;

/// <summary>What `pacs serve --tinker` serves.</summary>
/// <param name="ModelDir">The Hugging Face folder every model of this server starts from.</param>
/// <param name="ModelName">The base_model name clients ask for (default: the folder's name).</param>
/// <param name="StateDir">Where save_weights keeps training states (they outlive sessions, so a client can resume).</param>
/// <param name="TryAgainPolls">retrieve_future answers try_again this many times per future before the result (tests the polling).</param>
/// <param name="KeptFutures">Answers kept for retrieve_future (and repeats of their seq_id); older ones are dropped, so a long session holds bounded memory.</param>
public sealed record TinkerServerOptions(string ModelDir, string? ModelName, string StateDir, int TryAgainPolls = 0, int KeptFutures = 4096)
{
    public string Name => ModelName ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(ModelDir));
}

/// <summary>
/// The Tinker API served by any <see cref="IEngineBackend"/> (the managed engine for `pacs serve --tinker`). Each
/// request runs when it arrives, one at a time, and its answer waits as a future for retrieve_future. Training goes
/// through the seam: create_model is LoadPolicy (a LoRA adapter of lora_config's rank and seed, or a full fine-tune at rank 0), forward is Forward's
/// outputs, forward_backward is Backward with d loss / d log-prob (cross_entropy: -weights; importance_sampling, ppo, cispo:
/// BuiltInLosses.Token of the Datum's logprobs and advantages), optim_step is
/// ClipGradNorm(grad_clip_norm) + Step(learning_rate); sampling is CreateRollout / LoadRollout. docs/tinker.md lists
/// the routes served and what is ignored.
/// </summary>
public sealed class TinkerServer
{
    private readonly IEngineBackend _backend;
    private readonly TinkerServerOptions _options;
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, (string Json, int Polls)> _futures = new();
    private readonly Dictionary<string, Session> _sessions = [];
    private readonly Dictionary<string, ServedModel> _models = [];
    private readonly Dictionary<string, string> _bySeq = [];
    private readonly Queue<(string Id, string? ReplayKey)> _answered = new();
    private readonly Dictionary<string, (IRolloutEngine Engine, ServedModel? Model)> _samplers = [];
    private IRolloutEngine? _baseSampler;
    private long _ids;

    public TinkerServer(IEngineBackend backend, TinkerServerOptions options)
    {
        _backend = backend;
        _options = options;
        _backend.Describe(options.ModelDir); // a folder that is not a model fails before the server listens
        Directory.CreateDirectory(options.StateDir);
    }

    private sealed class Session(string id)
    {
        public string Id { get; } = id;

        public bool Ended { get; set; }
    }

    private sealed class ServedModel(string id, Session session, ITrainableModel policy, TrainingSettings settings, int loraRank)
    {
        public string Id { get; } = id;

        public Session Session { get; } = session;

        public ITrainableModel Policy { get; } = policy;

        public TrainingSettings Settings { get; } = settings;

        public int LoraRank { get; } = loraRank;

        public IRolloutEngine? Rollout { get; set; }
    }

    /// <summary>Ends a session as a lost heartbeat would: its models answer 404 from now on (the dropped-session fault).</summary>
    public void EndSession(string sessionId)
    {
        lock (_gate)
            if (_sessions.TryGetValue(sessionId, out var session)) session.Ended = true;
    }

    /// <summary>A web application serving the API; <paramref name="configure"/> may pick the host (Kestrel's URL, or a TestServer).</summary>
    public WebApplication Build(Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        configure?.Invoke(builder);
        var app = builder.Build();
        Map(app);
        return app;
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/api/v1/healthz", () => Results.Json(new { status = "ok" }));
        app.MapGet("/api/v1/get_server_capabilities", () => Results.Json(new { supported_models = new[] { new { model_name = _options.Name } } }));
        Post<CreateSessionRequest>(app, "create_session", CreateSession);
        Post<SessionHeartbeatRequest>(app, "session_heartbeat", Heartbeat);
        Post<CreateSamplingSessionRequest>(app, "create_sampling_session", CreateSamplingSession);
        Post<FutureRetrieveRequest>(app, "retrieve_future", RetrieveFuture);
        Queued<CreateModelRequest>(app, "create_model", r => null, CreateModel);
        Queued<ForwardRequest>(app, "forward", r => r.ModelId, r => Forward(r.ModelId, r.ForwardInput, backward: false));
        Queued<ForwardBackwardRequest>(app, "forward_backward", r => r.ModelId, r => Forward(r.ModelId, r.ForwardBackwardInput, backward: true));
        Queued<OptimStepRequest>(app, "optim_step", r => r.ModelId, OptimStep);
        Queued<SaveWeightsRequest>(app, "save_weights", r => r.ModelId, SaveWeights);
        Queued<LoadWeightsRequest>(app, "load_weights", r => r.ModelId, LoadWeights);
        Queued<SaveWeightsForSamplerRequest>(app, "save_weights_for_sampler", r => r.ModelId, SaveForSampler);
        Queued<SampleRequest>(app, "asample", r => null, Sample);
    }

    /// <summary>A route answered at once; a bad body or state is a 400/404 naming the route.</summary>
    private void Post<T>(WebApplication app, string route, Func<T, object> handle) =>
        app.MapPost("/api/v1/" + route, async (HttpRequest http) =>
        {
            try
            {
                var body = await ReadBody<T>(http, route);
                object answer;
                lock (_gate) answer = handle(body);
                return answer is IResult result ? result : Results.Text(TinkerJson.Write(answer), "application/json");
            }
            catch (ServedError e)
            {
                return Results.Json(new { detail = e.Message }, statusCode: e.Status);
            }
        });

    /// <summary>
    /// A route that runs the work now and answers with a future (the model's session must be alive). A request
    /// repeated with the same model and seq_id (a client retrying after a timeout) gets the first one's future, so
    /// a retried step is applied once.
    /// </summary>
    private void Queued<T>(WebApplication app, string route, Func<T, string?> modelOf, Func<T, object> work) =>
        Post<T>(app, route, body =>
        {
            if (modelOf(body) is { } modelId) Model(modelId);
            string? replayKey = SeqOf(body) is { } seq && modelOf(body) is { } model ? $"{model}/{route}/{seq}" : null;
            if (replayKey is not null && _bySeq.TryGetValue(replayKey, out var earlier)) return new UntypedApiFuture(earlier, modelOf(body));
            string id = $"req-{Interlocked.Increment(ref _ids)}";
            if (replayKey is not null) _bySeq[replayKey] = id;
            string json;
            try
            {
                json = TinkerJson.Write(work(body));
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or TinkerException or NotSupportedException or KeyNotFoundException)
            {
                json = TinkerJson.Write(new RequestFailedResponse($"{route}: {e.Message}", "user"));
            }
            _futures[id] = (json, _options.TryAgainPolls);
            Keep(id, replayKey);
            return new UntypedApiFuture(id, modelOf(body));
        });

    private void Keep(string id, string? replayKey)
    {
        _answered.Enqueue((id, replayKey));
        while (_answered.Count > _options.KeptFutures)
        {
            var (old, key) = _answered.Dequeue();
            _futures.TryRemove(old, out _);
            if (key is not null) _bySeq.Remove(key);
        }
    }

    private static int? SeqOf(object? body) => body switch
    {
        ForwardRequest r => r.SeqId,
        ForwardBackwardRequest r => r.SeqId,
        OptimStepRequest r => r.SeqId,
        SaveWeightsRequest r => r.SeqId,
        LoadWeightsRequest r => r.SeqId,
        SaveWeightsForSamplerRequest r => r.SeqId,
        _ => null,
    };

    private static async Task<T> ReadBody<T>(HttpRequest http, string route)
    {
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(http.Body, TinkerJson.Options) ?? throw new ServedError(400, $"{route}: empty body");
        }
        catch (JsonException e)
        {
            throw new ServedError(400, $"{route}: body is not a {typeof(T).Name}: {e.Message}");
        }
    }

    private sealed class ServedError(int status, string message) : Exception(message)
    {
        public int Status { get; } = status;
    }

    private object RetrieveFuture(FutureRetrieveRequest request)
    {
        if (!_futures.TryGetValue(request.RequestId, out var future)) throw new ServedError(404, $"retrieve_future: unknown request_id '{request.RequestId}'");
        if (future.Polls > 0)
        {
            _futures[request.RequestId] = (future.Json, future.Polls - 1);
            return new TryAgainResponse(request.RequestId);
        }
        return Results.Text(future.Json, "application/json");
    }

    private object CreateSession(CreateSessionRequest request)
    {
        var session = new Session($"session-{Interlocked.Increment(ref _ids)}");
        _sessions[session.Id] = session;
        return new CreateSessionResponse(session.Id);
    }

    private object Heartbeat(SessionHeartbeatRequest request)
    {
        LiveSession(request.SessionId);
        return new SessionHeartbeatResponse();
    }

    private Session LiveSession(string id)
    {
        if (!_sessions.TryGetValue(id, out var session)) throw new ServedError(404, $"unknown session '{id}'");
        if (session.Ended) throw new ServedError(404, $"session '{id}' has ended (heartbeat lost)");
        return session;
    }

    private ServedModel Model(string id)
    {
        if (!_models.TryGetValue(id, out var model)) throw new ServedError(404, $"unknown model_id '{id}'");
        LiveSession(model.Session.Id);
        return model;
    }

    /// <summary>Adam's betas, eps and weight decay are fixed when the policy is loaded (the seam's TrainingSettings): the client's user_metadata may set them.</summary>
    private static TrainingSettings SettingsOf(Dictionary<string, string>? metadata)
    {
        double Get(string key, double fallback) => metadata is not null && metadata.TryGetValue(key, out var v)
            ? double.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;
        var defaults = new OptimizerSettings();
        return new TrainingSettings(new OptimizerSettings(Get("adam_beta1", defaults.Beta1), Get("adam_beta2", defaults.Beta2),
            Get("adam_eps", defaults.Epsilon), Get("weight_decay", defaults.WeightDecay)));
    }

    /// <summary>LoRA's alpha: the SDK's LoraConfig has none; SkyRL-tx's api.py fixes 32 as the hosted service's default.</summary>
    public const double LoraAlpha = 32;

    /// <summary>
    /// lora_config as the seam's LoRA settings (null: rank 0, a full fine-tune): alpha <see cref="LoraAlpha"/>, no
    /// dropout, train_attn / train_mlp pick the projections (both by default), and A's initialisation from the
    /// request's seed (0 when none is sent, so a model is reproducible either way; SkyRL-tx draws a random one).
    /// </summary>
    private static LoraSettings? LoraOf(LoraConfig? lora)
    {
        if (lora is null || lora.Rank == 0) return null;
        if (lora.Rank < 0) throw new ArgumentException($"lora_config.rank must be >= 0, got {lora.Rank}");
        if (lora.TrainUnembed == true) throw new NotSupportedException("lora_config.train_unembed: this server puts adapters on the attention and MLP projections only");
        string[] targets = [.. lora.TrainAttn == false ? [] : AttentionProjections, .. lora.TrainMlp == false ? [] : MlpProjections];
        if (targets.Length == 0) throw new ArgumentException("lora_config: train_attn and train_mlp are both false, so no projection would get an adapter");
        return new LoraSettings(lora.Rank, LoraAlpha, Dropout: 0, targets, unchecked((ulong)(lora.Seed ?? 0)));
    }

    private static readonly string[] AttentionProjections = ["q_proj", "k_proj", "v_proj", "o_proj"];
    private static readonly string[] MlpProjections = ["gate_proj", "up_proj", "down_proj"];

    private object CreateModel(CreateModelRequest request)
    {
        var session = LiveSession(request.SessionId);
        if (request.BaseModel != _options.Name) throw new ArgumentException($"base_model '{request.BaseModel}' is not served here (this server serves '{_options.Name}')");
        var settings = SettingsOf(request.UserMetadata) with { Lora = LoraOf(request.LoraConfig) };
        var model = new ServedModel($"model-{Interlocked.Increment(ref _ids)}", session, _backend.LoadPolicy(_options.ModelDir, settings), settings, request.LoraConfig?.Rank ?? 0);
        _models[model.Id] = model;
        return new CreateModelResponse(model.Id);
    }

    private object Forward(string modelId, ForwardBackwardInput input, bool backward)
    {
        var model = Model(modelId);
        var loss = ServedLoss.Of(input);
        var rows = input.Data.Select((d, i) => ServedRow.Of(d, i, loss)).ToArray();
        var packed = _backend.Pack(rows.Select(r => r.First).ToList(), rows.Select(r => r.Rest).ToList(), padId: 0);
        using var pass = model.Policy.Forward(packed, 1f, withEntropy: true, withGradients: backward);
        var terms = rows.Select((r, i) => r.Terms(pass.Outputs[i], loss)).ToArray();
        var metrics = new Dictionary<string, double> { ["loss:sum"] = terms.Sum(t => t.Loss.Sum()) };
        if (backward)
        {
            pass.Backward([.. terms.Select(t => t.Grad)]);
            metrics[TinkerTrainingModel.GradNormMetric] = model.Policy.ClipGradNorm(0);
        }
        var outputs = rows.Select((r, i) => new Dictionary<string, TensorData>
        {
            ["logprobs"] = TensorData.Floats(pass.Outputs[i]),
            ["elementwise_loss"] = TensorData.Floats(Array.ConvertAll(terms[i].Loss, v => (float)v)),
            [TinkerTrainingModel.EntropyOutput] = TensorData.Floats(pass.Entropy![i]),
        }).ToList();
        return new ForwardBackwardOutput("ArrayRecord", outputs, metrics);
    }

    /// <summary>
    /// The loss a forward / forward_backward names: cross_entropy, or a built-in policy loss with its
    /// loss_fn_config. Clip defaults where the config leaves them out: ppo 0.8 / 1.2 (tinker-cookbook
    /// tutorials/202_loss_functions.py, SkyRL-tx's fixed values), cispo 0 / 4 (the same tutorial: one-sided by default).
    /// </summary>
    private sealed record ServedLoss(BuiltInLossKind? BuiltIn, double ClipLow, double ClipHigh)
    {
        private static readonly string[] ClipKeys = ["clip_low_threshold", "clip_high_threshold"];

        public static ServedLoss Of(ForwardBackwardInput input)
        {
            var config = input.LossFnConfig ?? [];
            if (input.LossFn == "cross_entropy")
            {
                Allow(input.LossFn, config, []);
                return new ServedLoss(null, 0, 0);
            }
            if (!BuiltInLosses.TryParse(input.LossFn, out var kind))
                throw new NotSupportedException($"loss_fn '{input.LossFn}': this server runs cross_entropy, importance_sampling, ppo and cispo");
            if (kind == BuiltInLossKind.ImportanceSampling)
            {
                Allow(input.LossFn, config, []);
                return new ServedLoss(kind, 0, 0);
            }
            Allow(input.LossFn, config, ClipKeys);
            var (low, high) = kind == BuiltInLossKind.Ppo ? (0.8, 1.2) : (0.0, 4.0);
            low = config.GetValueOrDefault("clip_low_threshold", low);
            high = config.GetValueOrDefault("clip_high_threshold", high);
            if (!(double.IsFinite(low) && double.IsFinite(high) && 0 <= low && low <= high))
                throw new ArgumentException($"loss_fn_config: {input.LossFn} needs 0 <= clip_low_threshold <= clip_high_threshold, got {low} and {high}");
            return new ServedLoss(kind, low, high);
        }

        private static void Allow(string lossFn, Dictionary<string, double> config, string[] keys)
        {
            var unknown = config.Keys.Where(k => !keys.Contains(k)).Order().ToList();
            if (unknown.Count > 0)
                throw new ArgumentException($"loss_fn_config: {lossFn} takes {(keys.Length == 0 ? "no keys" : string.Join(", ", keys))}, got {string.Join(", ", unknown)}");
        }
    }

    /// <summary>
    /// One Datum as the engine's row: the first token is the "prompt" and the rest the "response", so every target
    /// gets its log-prob (as the API returns them); target_tokens must be the input shifted by one. `weights` (1 where
    /// absent) weigh cross_entropy's terms and mask a built-in loss's (as SkyRL-tx's loss_mask); a built-in loss also
    /// reads `logprobs` (the sampler's) and `advantages`.
    /// </summary>
    private sealed record ServedRow(int[] First, int[] Rest, float[] Weights, float[]? OldLogProbs, float[]? Advantages)
    {
        public static ServedRow Of(Datum datum, int index, ServedLoss loss)
        {
            var tokens = datum.ModelInput.Tokens();
            var inputs = datum.LossFnInputs;
            if (!inputs.TryGetValue("target_tokens", out var targetData)) throw new ArgumentException($"datum {index}: no target_tokens");
            var targets = targetData.ToInts();
            if (tokens.Length == 0 || targets.Length != tokens.Length || !tokens.AsSpan(1).SequenceEqual(targets.AsSpan(0, targets.Length - 1)))
                throw new ArgumentException($"datum {index}: target_tokens must be model_input shifted by one token (this server scores next tokens)");
            float[]? PerTarget(string name, bool required)
            {
                if (inputs.TryGetValue(name, out var data))
                {
                    var values = data.ToFloats();
                    return values.Length == targets.Length ? values : throw new ArgumentException($"datum {index}: {values.Length} {name} for {targets.Length} target_tokens");
                }
                if (required) throw new ArgumentException($"datum {index}: loss_fn {BuiltInLosses.WireName(loss.BuiltIn!.Value)} needs {name}");
                return null;
            }
            var weights = PerTarget("weights", required: false) ?? Enumerable.Repeat(1f, targets.Length).ToArray();
            bool builtIn = loss.BuiltIn is not null;
            return new ServedRow([tokens[0]], targets, weights, builtIn ? PerTarget("logprobs", true) : null, builtIn ? PerTarget("advantages", true) : null);
        }

        /// <summary>Each target's term of the loss and d term / d log-prob.</summary>
        public (double[] Loss, float[] Grad) Terms(float[] logProbs, ServedLoss loss)
        {
            var terms = new double[logProbs.Length];
            var grad = new float[logProbs.Length];
            for (int t = 0; t < logProbs.Length; t++)
            {
                if (loss.BuiltIn is not { } kind)
                {
                    terms[t] = -Weights[t] * logProbs[t];
                    grad[t] = -Weights[t];
                    continue;
                }
                var (term, d) = Weights[t] == 0 ? (0.0, 0.0) : BuiltInLosses.Token(kind, logProbs[t], OldLogProbs![t], Advantages![t], loss.ClipLow, loss.ClipHigh);
                terms[t] = Weights[t] * term;
                grad[t] = (float)(Weights[t] * d);
            }
            return (terms, grad);
        }
    }

    private object OptimStep(OptimStepRequest request)
    {
        var model = Model(request.ModelId);
        var adam = request.AdamParams;
        var metrics = new Dictionary<string, double>();
        var held = model.Settings.Optimizer;
        if (adam.Beta1 != held.Beta1 || adam.Beta2 != held.Beta2 || adam.Eps != held.Epsilon || adam.WeightDecay != held.WeightDecay)
            metrics["pacs/adam_params_ignored"] = 1;
        if (adam.GradClipNorm > 0) model.Policy.ClipGradNorm(adam.GradClipNorm);
        bool stepped = model.Policy.Step(adam.LearningRate);
        model.Policy.ZeroGrad();
        if (!stepped) metrics[TinkerTrainingModel.StepRefusedMetric] = 1;
        return new OptimStepResponse(metrics);
    }

    private string StateDir(ServedModel model, string name)
    {
        if (name.Length == 0 || name.IndexOfAny(['/', '\\']) >= 0 || name.StartsWith('.'))
            throw new ArgumentException($"checkpoint name '{name}' must be a plain file name");
        return Path.Combine(_options.StateDir, name);
    }

    private object SaveWeights(SaveWeightsRequest request)
    {
        var model = Model(request.ModelId);
        string name = request.Path ?? $"state-{Interlocked.Increment(ref _ids)}";
        string dir = StateDir(model, name);
        string tmp = dir + ".tmp-" + Guid.NewGuid().ToString("N");
        model.Policy.SaveState(tmp);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.Move(tmp, dir);
        return new SaveWeightsResponse($"tinker://{model.Id}/weights/{name}");
    }

    private object LoadWeights(LoadWeightsRequest request)
    {
        var model = Model(request.ModelId);
        const string marker = "/weights/";
        int at = request.Path.IndexOf(marker, StringComparison.Ordinal);
        if (!request.Path.StartsWith("tinker://", StringComparison.Ordinal) || at < 0) throw new ArgumentException($"path '{request.Path}' is not a tinker://MODEL/weights/NAME path");
        string dir = StateDir(model, request.Path[(at + marker.Length)..]);
        if (!Directory.Exists(dir)) throw new ArgumentException($"no saved state '{request.Path}' on this server");
        model.Policy.LoadState(dir);
        return new LoadWeightsResponse(request.Path);
    }

    private object SaveForSampler(SaveWeightsForSamplerRequest request)
    {
        var model = Model(request.ModelId);
        model.Rollout ??= _backend.CreateRollout(model.Policy);
        model.Rollout.SyncWeights(model.Policy, model.Policy.StepCount);
        string session = $"sampler-{model.Id}-{Interlocked.Increment(ref _ids)}";
        _samplers[session] = (model.Rollout, model);
        return new SaveWeightsForSamplerResponse(request.Path is null ? null : $"tinker://{model.Id}/sampler_weights/{request.Path}", session);
    }

    private object CreateSamplingSession(CreateSamplingSessionRequest request)
    {
        LiveSession(request.SessionId);
        if (request.ModelPath is not null) throw new ServedError(400, "create_sampling_session: model_path is not served here; use save_weights_for_sampler's sampling session");
        if (request.BaseModel != _options.Name) throw new ServedError(400, $"create_sampling_session: base_model '{request.BaseModel}' is not served here (this server serves '{_options.Name}')");
        _baseSampler ??= _backend.LoadRollout(_options.ModelDir);
        string id = $"sampler-base-{Interlocked.Increment(ref _ids)}";
        _samplers[id] = (_baseSampler, null);
        return new CreateSamplingSessionResponse(id);
    }

    private object Sample(SampleRequest request)
    {
        if (request.SamplingSessionId is not { } id || !_samplers.TryGetValue(id, out var sampler))
            throw new ArgumentException($"unknown sampling_session_id '{request.SamplingSessionId}' (this server samples through sampling sessions)");
        if (sampler.Model is { } model) Model(model.Id);
        var p = request.SamplingParams;
        var stop = p.Stop ?? [];
        var sampling = SamplingParams.Of((float)p.Temperature, p.MaxTokens ?? 256, stop, (float)p.TopP, Math.Max(0, p.TopK));
        ulong seed = unchecked((ulong)(p.Seed ?? 0));
        var requests = Enumerable.Range(0, request.NumSamples)
            .Select(i => new RolloutRequest(request.Prompt.Tokens(), request.NumSamples == 1 ? seed : Rng.Hash(unchecked((long)seed), i), sampling))
            .ToList();
        var results = sampler.Engine.Generate(requests);
        return new SampleResponse(results.Select(r => new SampledSequence(r.Finish == FinishReason.Stop ? "stop" : "length", r.ResponseIds,
            Array.ConvertAll(r.LogProbs, v => (double)v))).ToList());
    }
}

using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pacs.Engine.Remote.Wire;

namespace Pacs.Engine.Remote;

/// <summary>
/// Rollouts on inference servers. <see cref="Generate"/> turns the requests into HTTP requests (one per prompt
/// asking for `n` samples where the protocol has `n` and consecutive requests share a prompt, else one per
/// sample), sends them through the <see cref="Dispatcher"/> and returns exactly one result per request, in order,
/// or throws naming the server and the request. <see cref="SyncWeights"/> writes the policy under `sync_dir` and
/// makes every server load it (SGLang and `pacs serve`: `/pause_generation`, `/update_weights_from_disk`,
/// `/continue_generation`; vLLM: `/collective_rpc` `reload_weights`, then `/reset_prefix_cache`). A LoRA policy
/// (one whose folder is a PEFT adapter) syncs only the adapter, loaded under <see cref="AdapterName"/> and sampled
/// by that name (vLLM: `/v1/load_lora_adapter` with load_inplace; SGLang: `/unload_lora_adapter` then
/// `/load_lora_adapter`; `pacs serve`: `/load_lora_adapter`, which replaces in place).
/// </summary>
public sealed class RemoteRollout : IRolloutEngine, IDisposable
{
    private readonly RemoteOptions _options;
    private readonly IWireFormat _wire;
    private readonly Dispatcher _dispatcher;
    private readonly SyncFolders _folders;
    private readonly bool[] _adapterLoaded;

    /// <summary>The name the servers hold the policy's LoRA adapter under (the `model` / `lora_path` requests name).</summary>
    public const string AdapterName = "pacs-policy";

    /// <summary>PEFT's config file: a synced folder holding it is an adapter, not full weights.</summary>
    private const string AdapterConfigFile = "adapter_config.json";

    /// <summary>Set once the servers hold the policy as an adapter: requests then name it.</summary>
    private volatile string? _adapter;

    public RemoteRollout(RemoteOptions options)
    {
        _options = options;
        _wire = options.Kind switch
        {
            RemoteEngineKind.OpenAi => new CompletionsWire(options.Model, supportsN: false),
            RemoteEngineKind.Vllm => new CompletionsWire(options.Model, supportsN: true),
            RemoteEngineKind.Sglang => new SglangWire(supportsN: true, fullSeed: false),
            _ => new SglangWire(supportsN: false, fullSeed: true),
        };
        _dispatcher = new Dispatcher(options, new ServerPool(options.Servers));
        _folders = new SyncFolders(options);
        _adapterLoaded = new bool[options.Servers.Count];
        Traits = new RolloutTraits(LogProbsMatchTrainer: false, Reproducible: options.Kind == RemoteEngineKind.Pacs);
    }

    public RolloutTraits Traits { get; }

    public long WeightVersion { get; private set; }

    /// <summary>The servers and how many requests each has answered.</summary>
    public ServerPool Pool => _dispatcher.Pool;

    /// <summary>Seconds the last <see cref="SyncWeights"/> took (writing the folder and the servers loading it).</summary>
    public double LastSyncSeconds { get; private set; }

    public IReadOnlyList<RolloutResult> Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancel = default) =>
        Task.Run(() => GenerateAsync(requests, cancel), cancel).GetAwaiter().GetResult();

    public void SyncWeights(ITrainableModel policy, long version)
    {
        var watch = Stopwatch.StartNew();
        if (_options.Kind != RemoteEngineKind.OpenAi)
        {
            string folder = _folders.Publish(policy, version);
            bool adapter = File.Exists(Path.Combine(folder, AdapterConfigFile));
            Task.Run(() => LoadOnEveryServer(folder, version, adapter)).GetAwaiter().GetResult();
            _adapter = adapter ? AdapterName : null;
        }
        WeightVersion = version;
        LastSyncSeconds = watch.Elapsed.TotalSeconds;
    }

    private async Task<RolloutResult[]> GenerateAsync(IReadOnlyList<RolloutRequest> requests, CancellationToken cancel)
    {
        long version = WeightVersion;
        var results = new RolloutResult?[requests.Count];
        var jobs = Plan(requests);
        using var failFast = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var tasks = jobs.Select((job, index) => RunJob(requests, job, index, jobs.Count, results, version, failFast)).ToArray();
        try
        {
            await Task.WhenAll(tasks);
        }
        catch (Exception) when (!cancel.IsCancellationRequested)
        {
            // The first real failure, not the cancellations it caused.
            throw tasks.Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException)
                ?? tasks.First(t => t.IsFaulted || t.IsCanceled).Exception!.InnerException!;
        }
        for (int i = 0; i < results.Length; i++)
            if (results[i] is null) throw new InvalidOperationException($"remote rollout: request {i} got no response (a bug in the dispatcher)");
        return results!;
    }

    /// <summary>Consecutive requests with one prompt and sampling share an HTTP request when the protocol has `n`.</summary>
    private List<(int Start, int Count)> Plan(IReadOnlyList<RolloutRequest> requests)
    {
        var jobs = new List<(int, int)>();
        for (int i = 0; i < requests.Count;)
        {
            int j = i + 1;
            if (_wire.SupportsN)
                while (j < requests.Count && SamePrompt(requests[i], requests[j])) j++;
            jobs.Add((i, j - i));
            i = j;
        }
        return jobs;
    }

    private static bool SamePrompt(RolloutRequest a, RolloutRequest b) =>
        Equals(a.Sampling, b.Sampling) && (ReferenceEquals(a.PromptIds, b.PromptIds) || a.PromptIds.AsSpan().SequenceEqual(b.PromptIds));

    private async Task RunJob(IReadOnlyList<RolloutRequest> requests, (int Start, int Count) job, int index, int jobCount,
        RolloutResult?[] results, long version, CancellationTokenSource failFast)
    {
        var first = requests[job.Start];
        string what = $"rollout request {index + 1} of {jobCount} (samples {job.Start}..{job.Start + job.Count - 1}, {first.PromptIds.Length} prompt tokens)";
        var body = _wire.Body(first, job.Count);
        if (_adapter is { } adapter) _wire.UseAdapter(body, adapter);
        string json = body.ToJsonString();
        try
        {
            var samples = await _dispatcher.PostAsync(_wire.Path, json, what, body => _wire.Parse(body, job.Count, first.Sampling), failFast.Token);
            for (int k = 0; k < job.Count; k++)
            {
                var sample = samples[k];
                int slot = job.Start + k;
                if (results[slot] is not null) throw new InvalidOperationException($"remote rollout: request {slot} answered twice (a bug in the dispatcher)");
                results[slot] = new RolloutResult(sample.Ids, sample.LogProbs, sample.Finish, version);
            }
        }
        catch
        {
            await failFast.CancelAsync();
            throw;
        }
    }

    private async Task LoadOnEveryServer(string folder, long version, bool adapter)
    {
        var servers = _dispatcher.Pool.Servers;
        await Task.WhenAll(Enumerable.Range(0, servers.Count).Select(s => adapter ? LoadAdapterOn(s, folder, version) : LoadOn(s, folder, version)));
    }

    private async Task LoadAdapterOn(int server, string folder, long version)
    {
        string what = $"adapter sync to version {version} ({folder})";
        var load = new JsonObject { ["lora_name"] = AdapterName, ["lora_path"] = folder };
        if (_options.Kind == RemoteEngineKind.Vllm)
        {
            load["load_inplace"] = true;
            await Post(server, "/v1/load_lora_adapter", load, what);
            // vLLM's prefix-cache keys carry the adapter's name, which an in-place reload keeps.
            await Post(server, "/reset_prefix_cache", new JsonObject(), what);
            return;
        }
        if (_options.Kind == RemoteEngineKind.Sglang && _adapterLoaded[server])
        {
            // SGLang refuses to load a name it already holds.
            await PostChecked(server, "/unload_lora_adapter", new JsonObject { ["lora_name"] = AdapterName }, what);
        }
        await PostChecked(server, "/load_lora_adapter", load, what);
        _adapterLoaded[server] = true;
    }

    private async Task LoadOn(int server, string folder, long version)
    {
        string what = $"weight sync to version {version} ({folder})";
        if (_options.Kind == RemoteEngineKind.Vllm)
        {
            await Post(server, "/collective_rpc", new JsonObject { ["method"] = "reload_weights" }, what);
            await Post(server, "/reset_prefix_cache", new JsonObject(), what);
            return;
        }
        await Post(server, "/pause_generation", new JsonObject(), what);
        try
        {
            var update = new JsonObject { ["model_path"] = folder, ["weight_version"] = version.ToString(System.Globalization.CultureInfo.InvariantCulture), ["flush_cache"] = true };
            await _dispatcher.PostAsync("/update_weights_from_disk", update.ToJsonString(), what, RequireSuccess, CancellationToken.None, only: server);
        }
        finally
        {
            await Post(server, "/continue_generation", new JsonObject(), what);
        }
    }

    private Task<bool> Post(int server, string path, JsonObject body, string what) =>
        _dispatcher.PostAsync(path, body.ToJsonString(), $"{what}, {path}", _ => true, CancellationToken.None, only: server);

    private Task<bool> PostChecked(int server, string path, JsonObject body, string what) =>
        _dispatcher.PostAsync(path, body.ToJsonString(), $"{what}, {path}", RequireSuccess, CancellationToken.None, only: server);

    /// <summary>
    /// SGLang answers `{"success": bool, "message": str}` (LoRA routes: `error_message`, io_struct.py
    /// LoadLoRAAdapterReqOutput); a refusal is a failure, with its message.
    /// </summary>
    private static bool RequireSuccess(string body)
    {
        var root = WireJson.Root(body);
        if (WireJson.Optional(root, "success") is { } success && success.ValueKind == JsonValueKind.False)
            throw new InvalidDataException($"the server refused the weights: {(WireJson.Optional(root, "message") ?? WireJson.Optional(root, "error_message"))?.ToString() ?? body}");
        return true;
    }

    public void Dispose() => _dispatcher.Dispose();
}

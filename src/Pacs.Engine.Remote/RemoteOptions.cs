namespace Pacs.Engine.Remote;

/// <summary>Which protocol the inference servers speak, and so how rollouts are requested and weights are pushed.</summary>
public enum RemoteEngineKind
{
    /// <summary>Any OpenAI-compatible `/v1/completions` with token-id prompts; one request per sample; no weight sync.</summary>
    OpenAi,

    /// <summary>vLLM's `/v1/completions` (with `n`, `return_token_ids`); weights reloaded by the dev-mode `/collective_rpc`.</summary>
    Vllm,

    /// <summary>SGLang's native `/generate` (with `n`); weights reloaded by `/update_weights_from_disk`.</summary>
    Sglang,

    /// <summary>`pacs serve`: SGLang's body, one request per sample with its own seed, so a run reproduces its local twin.</summary>
    Pacs,
}

/// <summary>How to reach the servers and how patient to be with them.</summary>
/// <param name="Kind">The servers' protocol.</param>
/// <param name="Servers">Base URLs (scheme, host, port; no path past the root).</param>
/// <param name="Model">The `model` field of OpenAI-style requests (empty: not sent).</param>
/// <param name="ApiKey">Sent as `Authorization: Bearer KEY` when not empty.</param>
/// <param name="RequestTimeout">One attempt of one HTTP request, body included.</param>
/// <param name="MaxInflight">Requests in flight over all servers at once.</param>
/// <param name="MaxRetries">Attempts after the first for a failed request.</param>
/// <param name="SyncDir">Shared folder the policy is written to for the servers to load (not used by <see cref="RemoteEngineKind.OpenAi"/>).</param>
public sealed record RemoteOptions(
    RemoteEngineKind Kind,
    IReadOnlyList<Uri> Servers,
    string Model,
    string ApiKey,
    TimeSpan RequestTimeout,
    int MaxInflight,
    int MaxRetries,
    string SyncDir)
{
    /// <summary>First back-off delay; later ones grow exponentially, with jitter.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Weight-sync folders kept under <see cref="SyncDir"/> (the newest ones; a server may still be reading the previous).</summary>
    public int KeepSyncedVersions { get; init; } = 2;

    /// <summary>Called on each synced folder before the servers are told to load it (e.g. to copy the tokenizer in).</summary>
    public Action<string>? CompleteSyncFolder { get; init; }

    /// <summary>
    /// Options from a config's `rollout.*` values: <paramref name="engine"/> names the protocol, the API key is read
    /// from the environment variable <paramref name="apiKeyEnv"/> names (never from the config itself).
    /// </summary>
    public static RemoteOptions From(string engine, IReadOnlyList<string> servers, string model, string apiKeyEnv,
        double requestTimeoutS, int maxInflight, int maxRetries, string syncDir)
    {
        var urls = servers.Select(s => Uri.TryCreate(s.EndsWith('/') ? s : s + "/", UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new ArgumentException($"rollout.servers: '{s}' is not an http(s) URL such as http://gpu1:8000")).ToList();
        string key = apiKeyEnv.Length == 0 ? "" : Environment.GetEnvironmentVariable(apiKeyEnv)
            ?? throw new ArgumentException($"rollout.api_key_env names the environment variable {apiKeyEnv}, which is not set");
        return new RemoteOptions(Parse(engine), urls, model, key, TimeSpan.FromSeconds(requestTimeoutS), maxInflight, maxRetries, syncDir);
    }

    /// <summary>The config spelling of <paramref name="kind"/>.</summary>
    public static string Name(RemoteEngineKind kind) => kind switch
    {
        RemoteEngineKind.OpenAi => "openai",
        RemoteEngineKind.Vllm => "vllm",
        RemoteEngineKind.Sglang => "sglang",
        _ => "pacs",
    };

    /// <summary>The kind named <paramref name="name"/> in a config (`openai`, `vllm`, `sglang`, `pacs`).</summary>
    public static RemoteEngineKind Parse(string name) => name switch
    {
        "openai" => RemoteEngineKind.OpenAi,
        "vllm" => RemoteEngineKind.Vllm,
        "sglang" => RemoteEngineKind.Sglang,
        "pacs" => RemoteEngineKind.Pacs,
        _ => throw new ArgumentException($"rollout.engine '{name}' is not a remote engine (openai, vllm, sglang, pacs)"),
    };
}

/// <summary>A remote rollout that could not be completed: the message names the server and the request.</summary>
public sealed class RemoteRolloutException(string message, Exception? inner = null) : IOException(message, inner);

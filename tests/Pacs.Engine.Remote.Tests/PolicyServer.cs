using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Pacs.Engine.Remote.Tests;

/// <summary>
/// A policy served over HTTP for the end-to-end tests: a base URL that speaks SGLang's protocol (what
/// `rollout.engine: sglang` and `pacs` send). The fake below is one; the real `pacs serve` is to be another, so the
/// tests take a <see cref="Start"/> function and never the fake's type.
/// </summary>
public interface IServedPolicy : IAsyncDisposable
{
    Uri Url { get; }

    /// <summary>The folders the server was told to load, in order.</summary>
    IReadOnlyList<string> LoadedFolders { get; }
}

/// <summary>
/// SGLang's `/generate`, `/pause_generation`, `/update_weights_from_disk`, `/continue_generation` and `/health` over
/// any <see cref="IRolloutEngine"/> loaded from a model folder (the managed engine's <see cref="ManagedBackend.LoadRollout"/>).
/// A request's samples are seeded with its `sampling_seed` (n = 1), or with Rng.Hash(sampling_seed, i) for sample i of n.
/// </summary>
public sealed class SglangPolicyServer : IServedPolicy
{
    private readonly Func<string, IRolloutEngine> _load;
    private readonly List<string> _loaded = [];
    private readonly Lock _gate = new();
    private IRolloutEngine _engine;
    private FakeServer _server = null!;
    private bool _paused;

    private SglangPolicyServer(Func<string, IRolloutEngine> load, string modelDir)
    {
        _load = load;
        _engine = load(modelDir);
    }

    public Uri Url => _server.Url;

    public IReadOnlyList<string> LoadedFolders
    {
        get
        {
            lock (_gate) return [.. _loaded];
        }
    }

    /// <summary>Answers a weight update with 500 when this returns true for the folder (a failing sync).</summary>
    public Func<string, bool> FailUpdate { get; set; } = _ => false;

    public static async Task<SglangPolicyServer> Start(string modelDir, Func<string, IRolloutEngine>? load = null)
    {
        var server = new SglangPolicyServer(load ?? (dir => ManagedBackend.Instance.LoadRollout(dir)), modelDir);
        server._server = await FakeServer.Start(server.Handle);
        return server;
    }

    private Task Handle(HttpContext context, JsonNode? body, int index) => context.Request.Path.Value switch
    {
        "/generate" => Generate(context, body!),
        "/pause_generation" => Pause(context, true),
        "/continue_generation" => Pause(context, false),
        "/update_weights_from_disk" => Update(context, body!),
        "/health" => FakeServer.Text(context, ""),
        _ => FakeServer.Text(context, "not found", 404),
    };

    private Task Pause(HttpContext context, bool paused)
    {
        lock (_gate) _paused = paused;
        return FakeServer.Json(context, new JsonObject());
    }

    private Task Update(HttpContext context, JsonNode body)
    {
        string path = body["model_path"]!.GetValue<string>();
        if (FailUpdate(path)) return FakeServer.Text(context, "out of memory loading weights", 500);
        var engine = _load(path);
        lock (_gate)
        {
            if (!_paused) return FakeServer.Json(context, new JsonObject { ["success"] = false, ["message"] = "not paused" });
            _engine = engine;
            _loaded.Add(path);
        }
        return FakeServer.Json(context, new JsonObject { ["success"] = true, ["message"] = "Succeeded to update model weights." });
    }

    private Task Generate(HttpContext context, JsonNode body)
    {
        var p = body["sampling_params"]!;
        int n = p["n"]!.GetValue<int>();
        ulong seed = p["sampling_seed"]!.GetValue<ulong>();
        int topK = p["top_k"]!.GetValue<int>();
        var sampling = new SamplingParams(p["temperature"]!.GetValue<float>(), p["top_p"]!.GetValue<float>(), topK < 0 ? 0 : topK,
            p["max_new_tokens"]!.GetValue<int>(), [.. p["stop_token_ids"]!.AsArray().Select(id => id!.GetValue<int>())]);
        int[] prompt = [.. body["input_ids"]!.AsArray().Select(id => id!.GetValue<int>())];
        IRolloutEngine engine;
        lock (_gate) engine = _engine;
        var requests = Enumerable.Range(0, n).Select(i => new RolloutRequest(prompt, n == 1 ? seed : Rng.Hash((long)seed, i), sampling)).ToList();
        IReadOnlyList<RolloutResult> results;
        lock (engine) results = engine.Generate(requests);
        var outputs = results.Select(r => (JsonNode)new JsonObject
        {
            ["text"] = "",
            ["output_ids"] = new JsonArray([.. r.ResponseIds.Select(id => (JsonNode)id)]),
            ["meta_info"] = new JsonObject
            {
                ["finish_reason"] = r.Finish == FinishReason.Stop
                    ? new JsonObject { ["type"] = "stop", ["matched"] = r.ResponseIds[^1] }
                    : new JsonObject { ["type"] = "length", ["length"] = r.ResponseIds.Length },
                ["completion_tokens"] = r.ResponseIds.Length,
                ["output_token_logprobs"] = new JsonArray([.. r.ResponseIds.Select((id, t) => (JsonNode)new JsonArray(r.LogProbs[t], id, null))]),
            },
        }).ToArray();
        return FakeServer.Json(context, n == 1 ? outputs[0] : new JsonArray(outputs));
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Pacs.Engine.Remote.Tests;

/// <summary>
/// A LoRA policy syncs only its PEFT adapter: the routes and bodies each server kind gets (vLLM
/// vllm/entrypoints/openai/protocol.py LoadLoRAAdapterRequest; SGLang python/sglang/srt/managers/io_struct.py
/// LoadLoRAAdapterReqInput, UnloadLoRAAdapterReqInput), and the adapter's name in every later sampling request.
/// </summary>
public sealed class AdapterSyncTests : IAsyncDisposable
{
    private static readonly SamplingParams Sampling = SamplingParams.Of(1f, maxTokens: 2, stopTokenIds: []);
    private readonly List<FakeServer> _servers = [];
    private readonly string _syncDir = Path.Combine(Path.GetTempPath(), "pacs-adapter-sync-" + Guid.NewGuid().ToString("N"));

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers) await server.DisposeAsync();
        if (Directory.Exists(_syncDir)) Directory.Delete(_syncDir, recursive: true);
    }

    /// <summary>A policy that saves itself as a PEFT adapter folder (the two files, placeholder contents).</summary>
    private sealed class AdapterPolicy : ITrainableModel
    {
        public void SaveHuggingFace(string dir)
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "adapter_config.json"), "{\"peft_type\": \"LORA\"}");
            File.WriteAllBytes(Path.Combine(dir, "adapter_model.safetensors"), [0]);
        }

        public ModelOutputKind OutputKind => ModelOutputKind.LogProbs;
        public long TrainableParameterCount => 1;
        public long StepCount => 0;
        public float[][] Score(IPackedRows rows, float temperature) => throw new NotSupportedException();
        public ITokenPass Forward(IPackedRows rows, float temperature, bool withEntropy = false, bool withGradients = true) => throw new NotSupportedException();
        public void ZeroGrad() => throw new NotSupportedException();
        public double ClipGradNorm(double maxNorm) => throw new NotSupportedException();
        public bool Step(double learningRate) => throw new NotSupportedException();
        public ITrainingSnapshot Snapshot() => throw new NotSupportedException();
        public void SaveState(string dir) => throw new NotSupportedException();
        public void LoadState(string dir) => throw new NotSupportedException();
    }

    /// <summary>Answers the LoRA routes with SGLang's success object, and one-token samples on both sampling routes.</summary>
    private static Task Answer(HttpContext context, JsonNode? body) => context.Request.Path.Value switch
    {
        "/generate" => FakeServer.Json(context, new JsonObject
        {
            ["output_ids"] = new JsonArray(3),
            ["meta_info"] = new JsonObject
            {
                ["finish_reason"] = new JsonObject { ["type"] = "length", ["length"] = 1 },
                ["output_token_logprobs"] = new JsonArray(new JsonArray(-0.5, 3, null)),
            },
        }),
        "/v1/completions" => FakeServer.Json(context, new JsonObject
        {
            ["choices"] = new JsonArray(Enumerable.Range(0, body!["n"]!.GetValue<int>()).Select(i => (JsonNode)new JsonObject
            {
                ["index"] = i,
                ["token_ids"] = new JsonArray(3),
                ["logprobs"] = new JsonObject { ["token_logprobs"] = new JsonArray(-0.5) },
                ["finish_reason"] = "length",
            }).ToArray()),
        }),
        _ => FakeServer.Json(context, new JsonObject { ["success"] = true, ["error_message"] = "" }),
    };

    private async Task<RemoteRollout> Engine(RemoteEngineKind kind)
    {
        var server = await FakeServer.Start((context, body, _) => Answer(context, body));
        _servers.Add(server);
        return new RemoteRollout(new RemoteOptions(kind, [server.Url], "base", "", TimeSpan.FromSeconds(10), 8, 0, _syncDir));
    }

    private async Task<(RemoteRollout Engine, FakeServer Server)> SyncTwice(RemoteEngineKind kind)
    {
        var engine = await Engine(kind);
        var policy = new AdapterPolicy();
        engine.SyncWeights(policy, 1);
        engine.SyncWeights(policy, 2);
        engine.Generate([new RolloutRequest([1, 2], 7, Sampling)]);
        return (engine, _servers[^1]);
    }

    private string Newest => Path.Combine(_syncDir, "v00000002");

    [Fact]
    public async Task Vllm_loads_the_adapter_in_place_resets_its_prefix_cache_and_samples_it_by_name()
    {
        var (engine, server) = await SyncTwice(RemoteEngineKind.Vllm);
        using var _ = engine;
        Assert.Equal(["/v1/load_lora_adapter", "/reset_prefix_cache", "/v1/load_lora_adapter", "/reset_prefix_cache", "/v1/completions"],
            server.Log.Select(e => e.Path));
        var load = JsonNode.Parse(server.Log[2].Body)!;
        Assert.Equal(RemoteRollout.AdapterName, load["lora_name"]!.GetValue<string>());
        Assert.Equal(Newest, load["lora_path"]!.GetValue<string>());
        Assert.True(load["load_inplace"]!.GetValue<bool>());
        Assert.Equal(RemoteRollout.AdapterName, JsonNode.Parse(server.Log[^1].Body)!["model"]!.GetValue<string>());
    }

    [Fact]
    public async Task Sglang_unloads_the_previous_adapter_before_loading_the_new_one_and_samples_it_by_lora_path()
    {
        var (engine, server) = await SyncTwice(RemoteEngineKind.Sglang);
        using var _ = engine;
        Assert.Equal(["/load_lora_adapter", "/unload_lora_adapter", "/load_lora_adapter", "/generate"], server.Log.Select(e => e.Path));
        Assert.Equal(RemoteRollout.AdapterName, JsonNode.Parse(server.Log[1].Body)!["lora_name"]!.GetValue<string>());
        var load = JsonNode.Parse(server.Log[2].Body)!.AsObject();
        Assert.Equal(["lora_name", "lora_path"], load.Select(p => p.Key).Order());
        Assert.Equal(Newest, load["lora_path"]!.GetValue<string>());
        Assert.Equal(RemoteRollout.AdapterName, JsonNode.Parse(server.Log[^1].Body)!["lora_path"]!.GetValue<string>());
    }

    [Fact]
    public async Task Pacs_serve_replaces_the_adapter_in_place_and_only_adapter_folders_are_written()
    {
        var (engine, server) = await SyncTwice(RemoteEngineKind.Pacs);
        using var _ = engine;
        Assert.Equal(["/load_lora_adapter", "/load_lora_adapter", "/generate"], server.Log.Select(e => e.Path));
        Assert.Equal(RemoteRollout.AdapterName, JsonNode.Parse(server.Log[^1].Body)!["lora_path"]!.GetValue<string>());
        Assert.Equal(["adapter_config.json", "adapter_model.safetensors"], Directory.GetFiles(Newest).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task A_refused_adapter_names_the_server_and_the_servers_message()
    {
        var server = await FakeServer.Start((context, _, _) => FakeServer.Json(context,
            new JsonObject { ["success"] = false, ["error_message"] = "LoRA rank 8 exceeds max_lora_rank 4" }));
        _servers.Add(server);
        using var engine = new RemoteRollout(new RemoteOptions(RemoteEngineKind.Sglang, [server.Url], "", "", TimeSpan.FromSeconds(10), 8, 0, _syncDir));
        var e = Assert.Throws<RemoteRolloutException>(() => engine.SyncWeights(new AdapterPolicy(), 1));
        Assert.Contains($"server {server.Url}", e.Message);
        Assert.Contains("adapter sync to version 1", e.Message);
        Assert.Contains("LoRA rank 8 exceeds max_lora_rank 4", e.Message);
    }
}

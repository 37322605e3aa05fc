using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Pacs.Engine.Remote.Tests;

/// <summary>Weight sync after an optimizer step: the folder under sync_dir and the calls every server gets.</summary>
public sealed class WeightSyncTests : IAsyncDisposable
{
    private readonly List<FakeServer> _servers = [];
    private readonly string _syncDir = Path.Combine(Path.GetTempPath(), "pacs-sync-" + Guid.NewGuid().ToString("N"));

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers) await server.DisposeAsync();
        if (Directory.Exists(_syncDir)) Directory.Delete(_syncDir, recursive: true);
    }

    /// <summary>A policy that only knows how to save itself: weights.txt holds its version.</summary>
    private sealed class SavedPolicy : ITrainableModel
    {
        public long Version { get; set; }

        public void SaveHuggingFace(string dir)
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "weights.txt"), Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        public ModelOutputKind OutputKind => ModelOutputKind.LogProbs;
        public long TrainableParameterCount => 1;
        public long StepCount => Version;
        public float[][] Score(IPackedRows rows, float temperature) => throw new NotSupportedException();
        public ITokenPass Forward(IPackedRows rows, float temperature, bool withEntropy = false, bool withGradients = true) => throw new NotSupportedException();
        public void ZeroGrad() => throw new NotSupportedException();
        public double ClipGradNorm(double maxNorm) => throw new NotSupportedException();
        public bool Step(double learningRate) => throw new NotSupportedException();
        public ITrainingSnapshot Snapshot() => throw new NotSupportedException();
        public void SaveState(string dir) => throw new NotSupportedException();
        public void LoadState(string dir) => throw new NotSupportedException();
    }

    private async Task<FakeServer> Server(Func<HttpContext, JsonNode?, Task>? handle = null)
    {
        var server = await FakeServer.Start((context, body, _) => handle?.Invoke(context, body)
            ?? FakeServer.Json(context, context.Request.Path == "/update_weights_from_disk" ? new JsonObject { ["success"] = true, ["message"] = "ok" } : new JsonObject()));
        _servers.Add(server);
        return server;
    }

    private RemoteRollout Engine(RemoteEngineKind kind, params FakeServer[] servers) =>
        new(new RemoteOptions(kind, [.. servers.Select(s => s.Url)], "", "", TimeSpan.FromSeconds(10), 8, 2, _syncDir)
        {
            RetryDelay = TimeSpan.FromMilliseconds(5),
            CompleteSyncFolder = dir => File.WriteAllText(Path.Combine(dir, "tokenizer.json"), "{}"),
        });

    [Theory]
    [InlineData(RemoteEngineKind.Sglang)]
    [InlineData(RemoteEngineKind.Pacs)]
    public async Task Sglang_and_pacs_servers_are_paused_loaded_from_a_complete_folder_and_continued(RemoteEngineKind kind)
    {
        FakeServer[] servers = [await Server(), await Server()];
        using var engine = Engine(kind, servers);
        var policy = new SavedPolicy();
        for (long version = 0; version < 4; version++)
        {
            policy.Version = version;
            engine.SyncWeights(policy, version);
            Assert.Equal(version, engine.WeightVersion);
        }
        string newest = Path.Combine(_syncDir, "v00000003");
        foreach (var server in servers)
        {
            var log = server.Log;
            Assert.Equal(12, log.Count);
            Assert.Equal(["/pause_generation", "/update_weights_from_disk", "/continue_generation"], log.Take(3).Select(e => e.Path));
            var update = JsonNode.Parse(log[^2].Body)!;
            Assert.Equal(newest, update["model_path"]!.GetValue<string>());
            Assert.Equal("3", update["weight_version"]!.GetValue<string>());
        }
        Assert.Equal("3", File.ReadAllText(Path.Combine(newest, "weights.txt")));
        Assert.True(File.Exists(Path.Combine(newest, "tokenizer.json")));
        // Old versions pruned (the newest two kept), nothing half-written left, `current` at the newest.
        Assert.Equal(["current", "v00000002", "v00000003"], Directory.EnumerateFileSystemEntries(_syncDir).Select(Path.GetFileName).Order());
        Assert.Equal("3", File.ReadAllText(Path.Combine(_syncDir, SyncFolders.CurrentLink, "weights.txt")));
    }

    [Fact]
    public async Task Vllm_reloads_through_collective_rpc_and_resets_its_prefix_cache()
    {
        var server = await Server();
        using var engine = Engine(RemoteEngineKind.Vllm, server);
        engine.SyncWeights(new SavedPolicy { Version = 5 }, 5);
        Assert.Equal(["/collective_rpc", "/reset_prefix_cache"], server.Log.Select(e => e.Path));
        Assert.Equal("reload_weights", JsonNode.Parse(server.Log[0].Body)!["method"]!.GetValue<string>());
        Assert.Equal("5", File.ReadAllText(Path.Combine(_syncDir, SyncFolders.CurrentLink, "weights.txt")));
    }

    [Fact]
    public async Task An_openai_server_gets_no_sync()
    {
        var server = await Server();
        using var engine = Engine(RemoteEngineKind.OpenAi, server);
        engine.SyncWeights(new SavedPolicy { Version = 2 }, 2);
        Assert.Equal(2, engine.WeightVersion);
        Assert.Empty(server.Log);
        Assert.False(Directory.Exists(_syncDir));
    }

    [Fact]
    public async Task A_failed_sync_names_the_server_and_still_lets_it_continue()
    {
        var healthy = await Server();
        var broken = await Server((context, _) => context.Request.Path == "/update_weights_from_disk"
            ? FakeServer.Text(context, "out of memory loading weights", 500)
            : FakeServer.Json(context, new JsonObject()));
        using var engine = Engine(RemoteEngineKind.Sglang, healthy, broken);
        var e = Assert.Throws<RemoteRolloutException>(() => engine.SyncWeights(new SavedPolicy { Version = 1 }, 1));
        Assert.Contains($"server {broken.Url}", e.Message);
        Assert.Contains("weight sync to version 1", e.Message);
        Assert.Contains("out of memory loading weights", e.Message);
        Assert.Equal(0, engine.WeightVersion);
        Assert.Equal("/continue_generation", broken.Log[^1].Path);

        var refusing = await Server((context, _) => FakeServer.Json(context, context.Request.Path == "/update_weights_from_disk"
            ? new JsonObject { ["success"] = false, ["message"] = "shape mismatch in model.layers.0" }
            : new JsonObject()));
        using var refused = Engine(RemoteEngineKind.Pacs, refusing);
        var r = Assert.Throws<RemoteRolloutException>(() => refused.SyncWeights(new SavedPolicy { Version = 1 }, 1));
        Assert.Contains("refused the weights: shape mismatch in model.layers.0", r.Message);
        Assert.Contains($"server {refusing.Url}", r.Message);
    }
}

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Pacs.Rl.Tests.Training;
using Pacs.Rl.Training;
using Pacs.Serve;

namespace Pacs.Engine.Remote.Tests;

/// <summary>
/// A LoRA run (rank 8) with rollouts from the real `pacs serve`: after every optimizer step only the adapter is
/// written under sync_dir and loaded through `/load_lora_adapter`, and the run gets the in-process LoRA run's
/// rewards and response lengths step for step (same seeds, same tokens).
/// </summary>
public sealed class ServedLoraEndToEndTests : IAsyncDisposable
{
    // A LoRA run trains only adapters on the layers, so the base's output layer must be able to peak (see TinyRun).
    private readonly TinyRun _run = new(initializerRange: 0.2);
    private WebApplication? _app;

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
        _run.Dispose();
    }

    private static readonly string[] Shape = ["trainer.steps=8", "trainer.eval_every=0", "trainer.save_every=0", "rollout.batch_prompts=4",
        "rollout.group_size=8", "rollout.max_response_tokens=4", "update.micro_batch_size=0", "update.mini_batches=1", "update.epochs=1",
        "model.lora.rank=8", "optim.lr=0.02"];

    private static List<Dictionary<string, double>> Steps(string dir) =>
        [.. MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Where(m => m["step"] > 0)];

    [Fact]
    public async Task A_lora_run_with_rollouts_from_pacs_serve_syncs_only_the_adapter_and_gets_the_local_runs_rewards()
    {
        string local = _run.RunDir("lora-local"), remote = _run.RunDir("lora-served"), sync = _run.RunDir("lora-sync");
        RlTrainer.Start(ManagedBackend.Instance, _run.Config("pacs", Shape), local, new LetterAtTask(2)).Run();

        _app = ServeApp.Build(ServedModel.Load(_run.ModelDir), new ServeOptions { Host = "127.0.0.1", Port = 0, MaxBatch = 16 });
        await _app.StartAsync();
        string server = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var config = _run.Config("pacs", [.. Shape, "rollout.engine=pacs", $"rollout.servers={server}", "rollout.sync_dir=" + sync, "rollout.request_timeout_s=60"]);
        var r = config.Rollout;
        var backend = new RemoteRolloutBackend(ManagedBackend.Instance,
            RemoteOptions.From(r.Engine, r.Servers, r.Model, r.ApiKeyEnv, r.RequestTimeoutS, r.MaxInflight, r.MaxRetries, r.SyncDir));
        RlTrainer.Start(backend, config, remote, new LetterAtTask(2)).Run();

        var (expected, actual) = (Steps(local), Steps(remote));
        Assert.Equal(8, actual.Count);
        Assert.Equal(expected.Select(m => m["reward/mean"]), actual.Select(m => m["reward/mean"]));
        Assert.Equal(expected.Select(m => m["response/length_mean"]), actual.Select(m => m["response/length_mean"]));
        // The server samples with a trained adapter (B no longer zero), held under the sync's name.
        var served = _app.Services.GetRequiredService<ServedModel>().Adapter;
        Assert.Equal(RemoteRollout.AdapterName, served?.Name);
        Assert.Contains(served!.Weights.Parameters, p => p.Key.Contains("lora_B", StringComparison.Ordinal) && p.Value.Data.Any(v => v != 0));
        string current = Path.Combine(sync, SyncFolders.CurrentLink);
        Assert.True(File.Exists(Path.Combine(current, "adapter_model.safetensors")));
        Assert.True(File.Exists(Path.Combine(current, "adapter_config.json")));
        Assert.False(File.Exists(Path.Combine(current, "model.safetensors")));
    }
}

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Pacs.Rl.Config;
using Pacs.Rl.Tests.Training;
using Pacs.Rl.Training;
using Pacs.Serve;

namespace Pacs.Engine.Remote.Tests;

/// <summary>
/// The remote engine against the real `pacs serve` (ServeApp on a 127.0.0.1 port, two of them), with weight sync
/// through `/update_weights_from_disk` after every optimizer step: the same rewards and response lengths, step for
/// step, as the run that samples in process (same seeds, so the same tokens).
/// </summary>
public sealed class ServedEndToEndTests : IAsyncDisposable
{
    private readonly TinyRun _run = new();
    private readonly List<WebApplication> _apps = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps) await app.DisposeAsync();
        _run.Dispose();
    }

    private async Task<string> Serve()
    {
        var app = ServeApp.Build(ServedModel.Load(_run.ModelDir), new ServeOptions { Host = "127.0.0.1", Port = 0, MaxBatch = 16 });
        _apps.Add(app);
        await app.StartAsync();
        return app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
    }

    private static readonly string[] Shape = ["trainer.steps=12", "trainer.eval_every=0", "trainer.save_every=0", "rollout.batch_prompts=4",
        "rollout.group_size=8", "rollout.max_response_tokens=4", "update.micro_batch_size=0", "update.mini_batches=1", "update.epochs=1", "optim.lr=0.01"];

    private static List<Dictionary<string, double>> Steps(string dir) =>
        [.. MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Where(m => m["step"] > 0)];

    [Theory]
    [InlineData("pacs")]
    [InlineData("grpo")]
    public async Task A_run_with_rollouts_from_pacs_serve_gets_the_local_runs_rewards(string algorithm)
    {
        string local = _run.RunDir("local-" + algorithm), remote = _run.RunDir("served-" + algorithm);
        RlTrainer.Start(ManagedBackend.Instance, _run.Config(algorithm, Shape), local, new LetterAtTask(2)).Run();

        string[] servers = [await Serve(), await Serve()];
        var config = _run.Config(algorithm, [.. Shape, "rollout.engine=pacs", $"rollout.servers={string.Join(",", servers)}",
            "rollout.sync_dir=" + _run.RunDir("sync-" + algorithm), "rollout.request_timeout_s=60"]);
        var r = config.Rollout;
        var backend = new RemoteRolloutBackend(ManagedBackend.Instance,
            RemoteOptions.From(r.Engine, r.Servers, r.Model, r.ApiKeyEnv, r.RequestTimeoutS, r.MaxInflight, r.MaxRetries, r.SyncDir));
        RlTrainer.Start(backend, config, remote, new LetterAtTask(2)).Run();

        var (expected, actual) = (Steps(local), Steps(remote));
        Assert.Equal(12, actual.Count);
        Assert.Equal(expected.Select(m => m["reward/mean"]), actual.Select(m => m["reward/mean"]));
        Assert.Equal(expected.Select(m => m["response/length_mean"]), actual.Select(m => m["response/length_mean"]));
        Assert.All(actual, m => Assert.InRange(m["rollout_corr/logp_abs_diff_max"], 0, 1e-4));
        Assert.All(actual, m => Assert.Equal(0, m["rollout/staleness_max"]));
    }

    [Fact]
    public async Task An_arith_pacs_run_with_rollouts_from_pacs_serve_gets_the_local_runs_rewards()
    {
        string local = _run.RunDir("arith-local"), remote = _run.RunDir("arith-served");
        RlTrainer.Start(ManagedBackend.Instance, _run.Config("pacs"), local).Run();

        string[] servers = [await Serve()];
        var config = _run.Config("pacs", "rollout.engine=pacs", $"rollout.servers={servers[0]}", "rollout.sync_dir=" + _run.RunDir("arith-sync"));
        var r = config.Rollout;
        var backend = new RemoteRolloutBackend(ManagedBackend.Instance,
            RemoteOptions.From(r.Engine, r.Servers, r.Model, r.ApiKeyEnv, r.RequestTimeoutS, r.MaxInflight, r.MaxRetries, r.SyncDir));
        RlTrainer.Start(backend, config, remote).Run();

        var (expected, actual) = (Steps(local), Steps(remote));
        Assert.Equal(4, actual.Count);
        foreach (var key in new[] { "reward/mean", "response/length_mean" })
            Assert.Equal(expected.Select(m => m[key]), actual.Select(m => m[key]));
    }
}

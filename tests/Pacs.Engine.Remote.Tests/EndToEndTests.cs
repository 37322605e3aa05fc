using Pacs.Rl.Config;
using Pacs.Rl.Tests.Training;
using Pacs.Rl.Training;

namespace Pacs.Engine.Remote.Tests;

/// <summary>
/// The trainer with rollouts on served policies and weight sync after every optimizer step, on LearningTests'
/// bandit with the tiny managed model. <see cref="Serve"/> starts the served policy from a model folder: the fake
/// SGLang-protocol server here; pointing it at a real `pacs serve` runs the same tests against it.
/// </summary>
public sealed class EndToEndTests : IAsyncDisposable
{
    public static Func<string, Task<SglangPolicyServer>> Serve { get; } = dir => SglangPolicyServer.Start(dir);

    private readonly TinyRun _run = new();
    private readonly List<SglangPolicyServer> _servers = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers) await server.DisposeAsync();
        _run.Dispose();
    }

    private async Task<SglangPolicyServer> Start()
    {
        var server = await Serve(_run.ModelDir);
        _servers.Add(server);
        return server;
    }

    private TrainConfig Bandit(string algorithm, string engine, IEnumerable<SglangPolicyServer> servers, string name, params string[] overrides) =>
        _run.Config(algorithm, ["trainer.steps=30", "trainer.eval_every=0", "trainer.save_every=0", "rollout.batch_prompts=4", "rollout.group_size=8",
            "rollout.max_response_tokens=4", "update.micro_batch_size=0", "update.mini_batches=1", "update.epochs=1", "optim.lr=0.01",
            $"rollout.engine={engine}", $"rollout.servers={string.Join(",", servers.Select(s => s.Url))}", "rollout.sync_dir=" + _run.RunDir("sync-" + name),
            "rollout.request_timeout_s=60", .. overrides]);

    /// <summary>What the CLI builds for a remote engine (TrainCommand), with short retry delays.</summary>
    private static IEngineBackend Backend(TrainConfig config)
    {
        var r = config.Rollout;
        if (r.Engine == RolloutEngineRules.Local) return ManagedBackend.Instance;
        var options = RemoteOptions.From(r.Engine, r.Servers, r.Model, r.ApiKeyEnv, r.RequestTimeoutS, r.MaxInflight, r.MaxRetries, r.SyncDir);
        return new RemoteRolloutBackend(ManagedBackend.Instance, options with { RetryDelay = TimeSpan.FromMilliseconds(10) });
    }

    private static List<Dictionary<string, double>> Steps(string dir) =>
        [.. MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Where(m => m["step"] > 0)];

    private static void AssertLearns(string what, IReadOnlyList<Dictionary<string, double>> steps)
    {
        var rewards = steps.Select(m => m["reward/mean"]).ToArray();
        double first = rewards[..5].Average(), last = rewards[^5..].Average();
        Assert.True(last > first + 0.3 && last > 0.6, $"{what}: reward {first:0.00} -> {last:0.00}: [{string.Join(", ", rewards.Select(r => r.ToString("0.00")))}]");
    }

    [Fact]
    public async Task The_bandit_learns_the_same_through_pacs_servers_as_in_process()
    {
        string local = _run.RunDir("local"), remote = _run.RunDir("remote");
        var localConfig = _run.Config("pacs", ["trainer.steps=30", "trainer.eval_every=0", "trainer.save_every=0", "rollout.batch_prompts=4", "rollout.group_size=8",
            "rollout.max_response_tokens=4", "update.micro_batch_size=0", "update.mini_batches=1", "update.epochs=1", "optim.lr=0.01"]);
        RlTrainer.Start(ManagedBackend.Instance, localConfig, local, new LetterAtTask(2)).Run();
        SglangPolicyServer[] servers = [await Start(), await Start()];
        var config = Bandit("pacs", "pacs", servers, "pacs");
        RlTrainer.Start(Backend(config), config, remote, new LetterAtTask(2)).Run();

        var (expected, actual) = (Steps(local), Steps(remote));
        AssertLearns("pacs served", actual);
        Assert.Equal(expected.Select(m => m["reward/mean"]), actual.Select(m => m["reward/mean"]));
        Assert.Equal(expected.Select(m => m["response/length_mean"]), actual.Select(m => m["response/length_mean"]));
        Assert.All(actual, m => Assert.InRange(m["rollout_corr/logp_abs_diff_max"], 0, 1e-4));
        Assert.All(actual, m => Assert.Equal(0, m["rollout/staleness_max"]));
        // Every optimizer step reached both servers: the initial sync and 30 updates.
        Assert.All(servers, s => Assert.Equal(31, s.LoadedFolders.Count));
    }

    [Fact]
    public async Task The_bandit_learns_through_sglang_servers_asking_for_whole_groups()
    {
        SglangPolicyServer[] servers = [await Start(), await Start()];
        var config = Bandit("grpo", "sglang", servers, "sglang", "algorithm.rollout_correction=tis_token");
        string dir = _run.RunDir("sglang");
        RlTrainer.Start(Backend(config), config, dir, new LetterAtTask(2)).Run();
        AssertLearns("grpo served by sglang", Steps(dir));
    }

    [Fact]
    public async Task A_failed_sync_fails_the_step_naming_the_server_and_resume_continues_from_the_last_checkpoint()
    {
        string full = _run.RunDir("full"), failed = _run.RunDir("failed");
        var healthy = await Start();
        var fullConfig = Bandit("grpo", "pacs", [healthy], "full", "trainer.steps=4", "trainer.save_every=2");
        RlTrainer.Start(Backend(fullConfig), fullConfig, full, new LetterAtTask(1)).Run();

        var flaky = await Start();
        // Both attempts (rollout.max_retries=1) at version 3 fail; the resumed run's succeed.
        int failures = 0;
        flaky.FailUpdate = folder => folder.EndsWith("v00000003", StringComparison.Ordinal) && ++failures <= 2;
        var config = Bandit("grpo", "pacs", [flaky], "failed", "trainer.steps=4", "trainer.save_every=2", "rollout.max_retries=1");
        var trainer = RlTrainer.Start(Backend(config), config, failed, new LetterAtTask(1));
        var e = Assert.Throws<RemoteRolloutException>(() => trainer.Run());
        Assert.Contains($"server {flaky.Url}", e.Message);
        Assert.Contains("weight sync to version 3", e.Message);
        Assert.Equal(2, Checkpointer.Find(failed)!.Step);

        var resumed = RlTrainer.Resume(Backend(config), failed, steps: null, log: null, task: new LetterAtTask(1));
        Assert.Equal(2, resumed.Step);
        resumed.Run();
        static List<string> Lines(string dir) => [.. Steps(dir).Select(m => string.Join(",", m.Where(kv => MetricsLog.IsDeterministic(kv.Key)).OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value:R}")))];
        Assert.Equal(Lines(full), Lines(failed));
    }
}

using Pacs.Rl.Tests.Training;
using Pacs.Cli;
using Pacs.Rl.Config;
using Pacs.Rl.Training;

namespace Pacs.Engine.Tinker.Tests;

/// <summary>
/// `pacs train` with `engine: tinker` against `pacs serve --tinker`'s server on a 127.0.0.1 port, and the same run on
/// the managed engine: 3 steps of arith PACS with the same seeds give the same metrics (the custom-loss path sends
/// the trainer's own gradient), and a killed tinker run resumes from its last saved state.
/// </summary>
public sealed class LoopbackTests : IDisposable
{
    private readonly TinyRun _model = new();

    public void Dispose() => _model.Dispose();

    private string[] TrainArgs(string outDir, params string[] extra) =>
    [
        "train", "--config", System.IO.Path.Combine(RunMetrics.RepoRoot(), "configs", "arith-pacs.yaml"), "--model", _model.ModelDir, "--out", outDir,
        "--steps", "3", "--seed", "11", "--set", "task.level=1", "task.eval_problems=4", "task.eval_samples=2", "rollout.batch_prompts=4",
        "rollout.group_size=4", "rollout.max_response_tokens=6", "optim.lr=0.01", "update.mini_batches=2", "update.micro_batch_size=4",
        "trainer.eval_every=3", "trainer.save_every=2", .. extra,
    ];

    private static (int Code, string Err) Pacs(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var stderr = new StringWriter();
        Console.SetOut(TextWriter.Null);
        Console.SetError(stderr);
        try
        {
            return (Program.Main(args), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    [Fact]
    public void Pacs_train_on_the_tinker_engine_repeats_the_managed_run_for_three_pacs_steps()
    {
        using var server = new LoopbackServer(_model.ModelDir, _model.RunDir("server-state"), socket: true);
        string local = _model.RunDir("local"), remote = _model.RunDir("tinker");
        var (localCode, localErr) = Pacs(TrainArgs(local));
        Assert.True(localCode == 0, localErr);
        var (code, err) = Pacs(TrainArgs(remote, "engine=tinker", $"tinker.base_url={server.Url}", "tinker.base_model=base", "tinker.lora_rank=0"));
        Assert.True(code == 0, err);

        var expected = RunMetrics.Read(local);
        Assert.Equal([0.0, 1, 2, 3], expected.Select(r => r["step"]));
        Assert.Contains("pacs/critic_accuracy", expected[1].Keys);
        Assert.Contains("actor/grad_norm", expected[1].Keys);
        RunMetrics.AssertSame(expected, RunMetrics.Read(remote), 0, "managed vs tinker");
        Assert.True(File.Exists(System.IO.Path.Combine(remote, "checkpoints", "step_000002", TinkerTrainingModel.StateFile)));
    }

    /// <summary>
    /// The tiny random model earns the same reward (0) on every response, so PACS (and every group-centred advantage)
    /// has no gradient and a fresh adapter (B = 0) would never move; AsymRE's baseline (mean - delta) leaves a gradient.
    /// </summary>
    private static readonly string[] Trained = ["algorithm.name=asymre", "optim.lr=0.05"];

    /// <summary>
    /// The LoRA twin: tinker.lora_rank = 4 against the server (alpha 32, every projection, A drawn from the seed the
    /// client sends: the one trainer.seed gives a local run) repeats the local run with model.lora.rank = 4, alpha 32,
    /// bit for bit (a server seed off by one fails at step 1: the second mini-batch sees B moved along a different A).
    /// </summary>
    [Fact]
    public void Pacs_train_on_the_tinker_engine_repeats_the_managed_lora_run_for_three_steps()
    {
        using var server = new LoopbackServer(_model.ModelDir, _model.RunDir("server-state"), socket: true);
        string local = _model.RunDir("local-lora"), remote = _model.RunDir("tinker-lora");
        var (localCode, localErr) = Pacs(TrainArgs(local, ["model.lora.rank=4", $"model.lora.alpha={TinkerServer.LoraAlpha}", .. Trained]));
        Assert.True(localCode == 0, localErr);
        var (code, err) = Pacs(TrainArgs(remote, ["engine=tinker", $"tinker.base_url={server.Url}", "tinker.base_model=base", "tinker.lora_rank=4", .. Trained]));
        Assert.True(code == 0, err);

        var expected = RunMetrics.Read(local);
        Assert.Equal([0.0, 1, 2, 3], expected.Select(r => r["step"]));
        Assert.True(expected.Skip(1).All(r => r["actor/grad_norm"] > 0), "the adapter gets a gradient every step");
        RunMetrics.AssertSame(expected, RunMetrics.Read(remote), 0, "managed LoRA vs tinker LoRA");
        Assert.NotEmpty(Directory.EnumerateFiles(local, "adapter_config.json", SearchOption.AllDirectories)); // the local run trained an adapter
    }

    [Fact]
    public void A_killed_tinker_run_resumes_from_its_last_saved_state_with_the_uninterrupted_metrics()
    {
        using var server = new LoopbackServer(_model.ModelDir, _model.RunDir("server-state"));
        TrainConfig Config() => global::Pacs.Cli.Commands.TrainCommand.Resolve(null, _model.ModelDir, 4, 11,
        [
            "algorithm.name=pacs", "task.level=1", "task.eval_problems=4", "task.eval_samples=2", "rollout.batch_prompts=4", "rollout.group_size=4",
            "rollout.max_response_tokens=6", "optim.lr=0.01", "update.mini_batches=2", "update.micro_batch_size=4", "trainer.eval_every=2",
            "trainer.save_every=2", "engine=tinker", "tinker.base_url=http://localhost", "tinker.base_model=base", "tinker.lora_rank=0",
        ]);
        TinkerBackend Backend() => new(EngineChoice.OptionsOf(Config().Tinker, Config().Trainer.Seed) with { RetryDelay = TimeSpan.Zero, HeartbeatInterval = TimeSpan.Zero }, server.Handler);

        string full = _model.RunDir("full");
        using (var backend = Backend())
            Assert.Equal(StopReason.Completed, RlTrainer.Start(backend, Config(), full).Run().Reason);
        var expected = RunMetrics.Read(full);

        // Killed after step 3 (the checkpoint is step 2's; the client process and its session are gone, the server stays).
        string killed = _model.RunDir("killed");
        using (var backend = Backend())
        {
            var trainer = RlTrainer.Start(backend, Config(), killed);
            trainer.StepCompleted += (step, _) => { if (step == 3) throw new OperationCanceledException("killed"); };
            Assert.Throws<OperationCanceledException>(() => trainer.Run());
        }
        using (var backend = Backend())
        {
            var resumed = RlTrainer.Resume(backend, killed);
            Assert.Equal(2, resumed.Step);
            Assert.Equal(StopReason.Completed, resumed.Run().Reason);
        }
        RunMetrics.AssertSame(expected, RunMetrics.Read(killed), 0, "uninterrupted vs resumed");
    }
}

/// <summary>`pacs serve` as the CLI parses it: with or without --tinker, a folder that is not a model fails before listening.</summary>
public sealed class ServeCommandTests
{
    private static (int Code, string Err) Pacs(params string[] args)
    {
        var oldErr = Console.Error;
        var stderr = new StringWriter();
        Console.SetError(stderr);
        try
        {
            return (Program.Main(args), stderr.ToString());
        }
        finally
        {
            Console.SetError(oldErr);
        }
    }

    [Fact]
    public void Serve_with_a_missing_model_is_one_error_line()
    {
        var (code, err) = Pacs("serve", "--model", "/nonexistent-model", "--port", "0");
        Assert.Equal(2, code);
        Assert.StartsWith("error: /nonexistent-model", err.Trim());
        Assert.DoesNotContain('\n', err.Trim());
        (code, err) = Pacs("serve", "--tinker", "--model", "/nonexistent-model", "--port", "0");
        Assert.Equal(2, code);
        Assert.Equal("error: /nonexistent-model: model directory not found", err.Trim());
        (code, err) = Pacs("serve", "--tinker", "--model", "/nonexistent-model", "--api-key-env", "HOME");
        Assert.Equal(2, code);
        Assert.Equal("error: --api-key-env: not supported with --tinker (the Tinker API server checks no key)", err.Trim());
    }
}

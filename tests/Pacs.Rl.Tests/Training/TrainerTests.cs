using Pacs.Rl.Algorithms;
using Pacs.Rl.Config;
using Pacs.Rl.Training;

namespace Pacs.Rl.Tests.Training;

public sealed class TrainerTests : IDisposable
{
    private readonly TinyRun _run = new();

    public void Dispose() => _run.Dispose();

    private static IReadOnlyList<KeyValuePair<string, Pacs.Tensors.Tensor>> Weights(RlTrainer trainer) => ((ManagedModel)trainer.Policy).Model.Parameters;

    private static List<Dictionary<string, double>> Deterministic(string runDir) =>
        MetricsLog.Read(Path.Combine(runDir, MetricsLog.FileName))
            .Select(r => r.Where(kv => MetricsLog.IsDeterministic(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value))
            .ToList();

    private static void AssertSameMetrics(List<Dictionary<string, double>> expected, List<Dictionary<string, double>> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Keys.Order(), actual[i].Keys.Order());
            foreach (var (k, v) in expected[i])
                Assert.True(v.Equals(actual[i][k]), $"step {expected[i]["step"]}: {k} = {v:R} uninterrupted vs {actual[i][k]:R} resumed");
        }
    }

    [Theory]
    [InlineData("pacs")]
    [InlineData("grpo")]
    [InlineData("ppo")]
    [InlineData("ppo", "model.lora.rank=4")] // the critic: a LoRA adapter and a value head of its own
    [InlineData("ppo", "model.lora.rank=4;critic.full_finetune=true")]
    public void Killed_and_resumed_run_repeats_the_uninterrupted_metrics(string algorithm, string extra = "")
    {
        string[] overrides = extra.Split(';', StringSplitOptions.RemoveEmptyEntries);
        string name = algorithm + (extra.Length > 0 ? "-" + extra.Replace('=', '_').Replace(';', '-') : "");
        string full = _run.RunDir(name + "-full");
        var outcome = RlTrainer.Start(ManagedBackend.Instance, _run.Config(algorithm, overrides), full).Run();
        Assert.Equal(StopReason.Completed, outcome.Reason);
        var expected = Deterministic(full);
        Assert.Equal([0.0, 1, 2, 3, 4], expected.Select(r => r["step"]));
        Assert.Contains("val/pass@1", expected[0].Keys); // trainer.val_before_train: the starting point
        Assert.Contains("val/pass@1", expected[2].Keys);
        Assert.Contains("actor/grad_norm", expected[1].Keys);
        Assert.Contains("actor/entropy", expected[1].Keys);
        if (algorithm == "pacs") Assert.Contains("pacs/critic_accuracy", expected[1].Keys);
        if (algorithm == "ppo") Assert.Contains("critic/vf_loss", expected[1].Keys);
        if (algorithm == "ppo") AssertCriticCheckpoint(full, lora: extra.Contains("lora") && !extra.Contains("full_finetune=true"));

        // Killed after step 3 (checkpoint at step 2, step 3's metrics already written): the exception stands for the kill.
        string killed = _run.RunDir(name + "-killed");
        var trainer = RlTrainer.Start(ManagedBackend.Instance, _run.Config(algorithm, overrides), killed);
        trainer.StepCompleted += (step, _) => { if (step == 3) throw new OperationCanceledException("killed"); };
        Assert.Throws<OperationCanceledException>(() => trainer.Run());
        Assert.Equal(4, MetricsLog.Read(Path.Combine(killed, MetricsLog.FileName)).Count);

        var resumed = RlTrainer.Resume(ManagedBackend.Instance, killed);
        Assert.Equal(2, resumed.Step);
        Assert.Equal(StopReason.Completed, resumed.Run().Reason);
        AssertSameMetrics(expected, Deterministic(killed));
    }

    /// <summary>A LoRA critic's checkpoint holds its adapter and value head alone; a full one, every weight.</summary>
    private static void AssertCriticCheckpoint(string runDir, bool lora)
    {
        string checkpoint = Directory.GetDirectories(Path.Combine(runDir, RunFiles.CheckpointsDir)).Order().Last();
        var files = Directory.GetFiles(Path.Combine(checkpoint, "critic", Pacs.Engine.CheckpointLayout.ModelFolder)).Select(Path.GetFileName).ToList();
        if (lora)
            Assert.Equal([Pacs.Models.PeftAdapter.ConfigFileName, Pacs.Models.PeftAdapter.WeightsFileName, ManagedModel.ValueHeadFile], files.Order());
        else
            Assert.Contains("model.safetensors", files);
    }

    [Fact]
    public void Cancellation_saves_and_resume_with_more_steps_continues()
    {
        string dir = _run.RunDir("cancel");
        using var cts = new CancellationTokenSource();
        var trainer = RlTrainer.Start(ManagedBackend.Instance, _run.Config("grpo", "trainer.save_every=0"), dir);
        trainer.StepCompleted += (step, _) => { if (step == 1) cts.Cancel(); };
        var outcome = trainer.Run(cts.Token);
        Assert.Equal(StopReason.Cancelled, outcome.Reason);
        Assert.Equal(1, outcome.LastStep);
        var resumed = RlTrainer.Resume(ManagedBackend.Instance, dir, steps: 2);
        Assert.Equal(StopReason.Completed, resumed.Run().Reason);
        Assert.Equal([0.0, 1.0, 2.0], MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Select(r => r["step"]));
        Assert.Contains("steps: 2", File.ReadAllText(Path.Combine(dir, RunFiles.ConfigFile)));
    }

    [Fact]
    public void A_run_without_a_checkpoint_resumes_from_step_0_with_its_saved_config_and_repeats_a_fresh_run()
    {
        string full = _run.RunDir("full"), killed = _run.RunDir("no-checkpoint");
        RlTrainer.Start(ManagedBackend.Instance, _run.Config("grpo", "trainer.steps=2", "trainer.save_every=0"), full).Run();
        // Killed after step 1, before its only (final) checkpoint: config.yaml and metrics.jsonl, nothing else.
        var trainer = RlTrainer.Start(ManagedBackend.Instance, _run.Config("grpo", "trainer.steps=2", "trainer.save_every=0"), killed);
        trainer.StepCompleted += (step, _) => { if (step == 1) throw new OperationCanceledException("killed"); };
        Assert.Throws<OperationCanceledException>(() => trainer.Run());
        Assert.False(Directory.Exists(Path.Combine(killed, RunFiles.CheckpointsDir)));

        var log = new List<string>();
        var resumed = RlTrainer.Resume(ManagedBackend.Instance, killed, log: log.Add);
        Assert.Equal(0, resumed.Step);
        Assert.Contains(log, l => l.Contains("restarting from step 0"));
        Assert.Equal(StopReason.Completed, resumed.Run().Reason);
        AssertSameMetrics(Deterministic(full), Deterministic(killed));
    }

    [Fact]
    public void Resume_of_a_folder_that_is_not_a_run_says_so()
    {
        var e = Assert.Throws<FileNotFoundException>(() => RlTrainer.Resume(ManagedBackend.Instance, _run.ModelDir));
        Assert.Contains("not a `pacs train` run folder", e.Message);
        Assert.Contains("--model", e.Message);
    }

    [Fact]
    public void Consecutive_nan_losses_skip_steps_then_stop_the_run()
    {
        string dir = _run.RunDir("nan");
        var trainer = RlTrainer.Start(ManagedBackend.Instance, _run.Config("pacs", "trainer.max_nan_skips=2", "trainer.eval_every=0"), dir);
        var before = Weights(trainer)[0].Value.Data.ToArray();
        trainer.LossHook = (_, output) => output with { Loss = double.NaN };
        var outcome = trainer.Run();
        Assert.Equal(StopReason.TooManyNanSkips, outcome.Reason);
        Assert.Equal(2, outcome.LastStep);
        Assert.Contains("trainer.max_nan_skips", outcome.Message);
        Assert.Equal(before, Weights(trainer)[0].Value.Data);
        Assert.All(MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)), r => Assert.Equal(1.0, r["train/nan_skipped"]));
    }

    [Fact]
    public void Bad_configs_fail_before_any_work_naming_the_key()
    {
        string dir = _run.RunDir("bad");
        var group = Assert.Throws<ArgumentException>(() => RlTrainer.Start(ManagedBackend.Instance, _run.Config("grpo", "rollout.group_size=1", "update.micro_batch_size=0"), dir));
        Assert.Contains("rollout.group_size", group.Message);
        var split = Assert.Throws<ArgumentException>(() => RlTrainer.Start(ManagedBackend.Instance, _run.Config("pacs", "update.micro_batch_size=6"), dir));
        Assert.Contains("update.micro_batch_size", split.Message);
        var model = Assert.Throws<DirectoryNotFoundException>(() => RlTrainer.Start(ManagedBackend.Instance, _run.Config("pacs", "model.dir=" + Path.Combine(_run.Root, "nope")), dir));
        Assert.Contains("model.dir", model.Message);
        var promptSplit = Assert.Throws<ArgumentException>(() => RlTrainer.Start(ManagedBackend.Instance, _run.Config("pacs", "task.prompt_split=test"), dir));
        Assert.Contains("task.prompt_split", promptSplit.Message);
        var noRl = Assert.Throws<ArgumentException>(() => RlTrainer.Start(ManagedBackend.Instance, _run.Config("pacs", "task.name=math500", "task.level=0", "task.prompt_split=rl"), dir));
        Assert.Contains("task.prompt_split", noRl.Message);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void AStarPo_estimates_each_prompts_value_once_and_keeps_it_in_the_run()
    {
        string dir = _run.RunDir("astar");
        var trainer = RlTrainer.Start(ManagedBackend.Instance, _run.Config("astar_po", "trainer.steps=2", "trainer.eval_every=0", "algorithm.value_samples=3"), dir);
        trainer.Run();
        var lines = File.ReadAllLines(Path.Combine(dir, OptimalValueStage.FileName));
        Assert.Equal(2 * 4, lines.Length); // 4 new prompts per step, each estimated once
        Assert.All(lines, line => Assert.InRange(System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("v_star").GetDouble(), 0, 1));
        var metrics = MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName));
        Assert.Contains(metrics, m => m.ContainsKey("astar/v_star_mean"));
        File.AppendAllText(Path.Combine(dir, OptimalValueStage.FileName), "not json\n");
        var error = Assert.Throws<InvalidDataException>(() => new OptimalValueStage(trainer.Rollout, null!, null!, new(), dir, 0));
        Assert.Contains("line 9", error.Message);
    }

    [Theory]
    [InlineData("grpo", 3)]
    [InlineData("gspo", 3)]
    [InlineData("cispo", 3)]
    [InlineData("dapo", 3)]
    [InlineData("asymre", 3)]
    [InlineData("vineppo", 3)]
    [InlineData("rebel", 4)]
    [InlineData("pacs", 4)]
    public void Micro_batching_gives_the_same_update_as_one_pass(string algorithm, int microBatch)
    {
        // Gradient accumulation over micro-batches must equal the whole mini-batch at once (up to float rounding).
        string a = _run.RunDir($"micro-a-{algorithm}"), b = _run.RunDir($"micro-b-{algorithm}");
        var one = RlTrainer.Start(ManagedBackend.Instance, _run.Config(algorithm, "trainer.steps=1", "update.micro_batch_size=0", "update.epochs=1", "update.mini_batches=1", "trainer.eval_every=0"), a);
        var many = RlTrainer.Start(ManagedBackend.Instance, _run.Config(algorithm, "trainer.steps=1", $"update.micro_batch_size={microBatch}", "update.epochs=1", "update.mini_batches=1", "trainer.eval_every=0"), b);
        one.Run();
        many.Run();
        var ma = MetricsLog.Read(Path.Combine(a, MetricsLog.FileName))[0];
        var mb = MetricsLog.Read(Path.Combine(b, MetricsLog.FileName))[0];
        Assert.Equal(ma["reward/mean"], mb["reward/mean"]);
        Assert.Equal(ma["actor/grad_norm"], mb["actor/grad_norm"], 4);
        for (int p = 0; p < Weights(one).Count; p++)
        {
            var x = Weights(one)[p].Value.Data;
            var y = Weights(many)[p].Value.Data;
            for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= 1e-5 + 1e-4 * Math.Abs(x[i]), $"{Weights(one)[p].Key}[{i}]: {x[i]} vs {y[i]}");
        }
    }
}

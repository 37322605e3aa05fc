using Pacs.Rl.Algorithms;
using Pacs.Rl.Training;

namespace Pacs.Rl.Tests.Engine;

/// <summary>The trainer through the engine seam, on the in-memory <see cref="TableBackend"/>: no transformer is loaded.</summary>
public sealed class SeamTrainerTests : IDisposable
{
    private readonly Training.TinyRun _run = new();

    public void Dispose() => _run.Dispose();

    public static TheoryData<string> Algorithms() => [.. AlgorithmRegistry.Names];

    private Rl.Config.TrainConfig Bandit(string algorithm, params string[] overrides) => _run.Config(algorithm,
        [
            "trainer.steps=30", "trainer.eval_every=0", "trainer.save_every=0", "rollout.batch_prompts=4", "rollout.group_size=8",
            "rollout.max_response_tokens=4", "update.micro_batch_size=0", "update.mini_batches=1", "update.epochs=1", "optim.lr=0.5", .. overrides,
        ]);

    private static double[] Rewards(string runDir) =>
        MetricsLog.Read(Path.Combine(runDir, MetricsLog.FileName)).Where(m => m["step"] > 0).Select(m => m["reward/mean"]).ToArray();

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void Every_algorithm_learns_the_table_bandit(string algorithm)
    {
        string dir = _run.RunDir(algorithm);
        RlTrainer.Start(new TableBackend(), Bandit(algorithm), dir, new Training.LetterAtTask(2)).Run();
        var rewards = Rewards(dir);
        double first = rewards[..5].Average(), last = rewards[^5..].Average();
        Assert.True(last > first + 0.3 && last > 0.6, $"{algorithm}: reward {first:0.00} -> {last:0.00}: [{string.Join(", ", rewards.Select(r => r.ToString("0.00")))}]");
    }

    [Fact]
    public void A_non_finite_loss_in_a_later_mini_batch_undoes_the_steps_already_taken()
    {
        var backend = new TableBackend();
        var trainer = RlTrainer.Start(backend, Bandit("grpo", "trainer.steps=2", "update.mini_batches=2", "trainer.max_nan_skips=5"), _run.RunDir("nan"), new Training.LetterAtTask(0));
        var policy = (TableModel)trainer.Policy;
        double[]? before = null;
        long stepsBefore = -1;
        int calls = 0;
        trainer.LossHook = (step, output) =>
        {
            calls++;
            if (step == 2 && before is null) (before, stepsBefore) = ((double[])policy.Theta.Clone(), policy.StepCount);
            // Step 2's second mini-batch: its first already took an optimizer step.
            return step == 2 && calls == 4 ? output with { Loss = double.NaN } : output;
        };
        trainer.Run();
        Assert.Equal(4, calls);
        Assert.Equal(before, policy.Theta);
        Assert.Equal(stepsBefore, policy.StepCount);
        Assert.Equal([0.0, 1.0], MetricsLog.Read(Path.Combine(_run.RunDir("nan"), MetricsLog.FileName)).Select(m => m["train/nan_skipped"]));
    }

    [Fact]
    public void Critic_warm_up_trains_the_critic_alone_without_a_policy_backward()
    {
        var trainer = RlTrainer.Start(new TableBackend(), Bandit("ppo", "trainer.steps=2", "critic.warmup_steps=2"), _run.RunDir("warmup"), new Training.LetterAtTask(0));
        var policy = (TableModel)trainer.Policy;
        trainer.Run();
        Assert.All(policy.Theta, t => Assert.Equal(0.0, t));
        Assert.Equal(0, policy.StepCount);
        Assert.All(MetricsLog.Read(Path.Combine(_run.RunDir("warmup"), MetricsLog.FileName)).Where(m => m["step"] > 0), m => Assert.True(m["critic/grad_norm"] > 0));
    }

    [Fact]
    public void A_step_packs_each_row_once_for_old_log_probs_reference_and_critic()
    {
        var backend = new TableBackend();
        // PPO with a reference (the KL metric) and a critic: three no-grad passes over the rollout, one update pass.
        RlTrainer.Start(backend, Bandit("ppo", "trainer.steps=1", "trainer.track_ref_kl=true"), _run.RunDir("pack"), new Training.LetterAtTask(0)).Run();
        Assert.Equal(2 * 4 * 8, backend.PackedRows);
    }

    [Fact]
    public void Rollouts_are_resynced_after_every_optimizer_step()
    {
        var backend = new TableBackend();
        var trainer = RlTrainer.Start(backend, Bandit("grpo", "trainer.steps=3", "update.mini_batches=2", "update.epochs=2"), _run.RunDir("sync"), new Training.LetterAtTask(0));
        trainer.Run();
        Assert.Equal(12, trainer.Policy.StepCount);
        var rollout = (TableRollout)trainer.Rollout;
        Assert.Equal(12, rollout.WeightVersion);
        Assert.Equal(1 + 12, rollout.SyncCount);
        var metrics = MetricsLog.Read(Path.Combine(_run.RunDir("sync"), MetricsLog.FileName));
        Assert.All(metrics.Where(m => m["step"] > 0), m => Assert.True(m.ContainsKey("time/sync")));
    }

    /// <summary>Deterministic metrics of every logged step, one string per step.</summary>
    private static List<string> Lines(string dir) => MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName))
        .Select(m => string.Join(",", m.Where(kv => MetricsLog.IsDeterministic(kv.Key)).OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value:R}"))).ToList();

    /// <summary>3 steps with and without `trainer.logprobs_from_update`: the policy's no-grad passes, metrics and weights of each.</summary>
    private (int ScoreCalls, List<string> Metrics, double[] Theta)[] WithAndWithoutLogProbsFromUpdate(string algorithm, params string[] settings) =>
        [.. new[] { false, true }.Select(fromUpdate =>
        {
            string dir = _run.RunDir($"{algorithm}-{string.Join("-", settings)}-{fromUpdate}");
            var trainer = RlTrainer.Start(new TableBackend(), Bandit(algorithm, ["trainer.steps=3", $"trainer.logprobs_from_update={(fromUpdate ? "true" : "false")}", .. settings]),
                dir, new Training.LetterAtTask(2));
            trainer.Run();
            var policy = (TableModel)trainer.Policy;
            return (policy.ScoreCalls, Lines(dir), policy.Theta);
        })];

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void On_policy_steps_take_the_old_log_probs_from_the_update_and_change_no_result(string algorithm)
    {
        // reinforce_plus_plus puts a KL penalty in its reward by default, which needs the old log-probs in Prepare.
        var runs = WithAndWithoutLogProbsFromUpdate(algorithm, algorithm == "reinforce_plus_plus" ? ["algorithm.kl_in_reward_coef=0"] : []);
        var (separate, fromUpdate) = (runs[0], runs[1]);
        Assert.Equal(3, separate.ScoreCalls);
        Assert.Equal(0, fromUpdate.ScoreCalls);
        Assert.Equal(separate.Metrics, fromUpdate.Metrics);
        Assert.Equal(separate.Theta, fromUpdate.Theta);
    }

    [Theory]
    [InlineData("grpo", "update.epochs=2")]
    [InlineData("grpo", "update.mini_batches=2")]
    [InlineData("grpo", "algorithm.rollout_correction=tis_token")]
    [InlineData("reinforce_plus_plus", "algorithm.kl_in_reward_coef=0.01")]
    [InlineData("ppo", "algorithm.kl_in_reward_coef=0.01")]
    public void Steps_that_need_the_old_log_probs_before_the_update_keep_their_own_pass(string algorithm, string setting)
    {
        var runs = WithAndWithoutLogProbsFromUpdate(algorithm, setting);
        Assert.True(runs[0].ScoreCalls >= 3, $"{runs[0].ScoreCalls} passes");
        Assert.Equal(runs[0].ScoreCalls, runs[1].ScoreCalls);
        Assert.Equal(runs[0].Metrics, runs[1].Metrics);
        Assert.Equal(runs[0].Theta, runs[1].Theta);
    }

    [Fact]
    public void Engine_log_probs_that_differ_from_the_trainers_need_recomputation()
    {
        var e = Assert.Throws<ArgumentException>(() => RlTrainer.Start(new TableBackend(), Bandit("pacs", "trainer.recompute_logprobs=false"), _run.RunDir("norecompute"), new Training.LetterAtTask(0)));
        Assert.Contains("trainer.recompute_logprobs", e.Message);
    }

    [Fact]
    public void Killed_and_resumed_run_through_the_seam_repeats_the_metrics()
    {
        string full = _run.RunDir("full"), killed = _run.RunDir("killed");
        RlTrainer.Start(new TableBackend(), Bandit("pacs", "trainer.steps=4", "trainer.save_every=2", "update.mini_batches=2"), full, new Training.LetterAtTask(1)).Run();
        var trainer = RlTrainer.Start(new TableBackend(), Bandit("pacs", "trainer.steps=4", "trainer.save_every=2", "update.mini_batches=2"), killed, new Training.LetterAtTask(1));
        trainer.StepCompleted += (step, _) => { if (step == 3) throw new OperationCanceledException("killed"); };
        Assert.Throws<OperationCanceledException>(() => trainer.Run());
        var resumed = RlTrainer.Resume(new TableBackend(), killed, steps: null, log: null, task: new Training.LetterAtTask(1));
        Assert.Equal(2, resumed.Step);
        resumed.Run();
        Assert.Equal(Lines(full), Lines(killed));
    }
}

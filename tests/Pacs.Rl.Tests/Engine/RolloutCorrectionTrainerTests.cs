using Pacs.Rl.Algorithms;
using Pacs.Rl.Config;
using Pacs.Rl.Training;

namespace Pacs.Rl.Tests.Engine;

/// <summary>`algorithm.rollout_correction` and the mismatch metrics through the trainer, on the table bandit.</summary>
public sealed class RolloutCorrectionTrainerTests : IDisposable
{
    private readonly Training.TinyRun _run = new();

    public void Dispose() => _run.Dispose();

    public static TheoryData<string> Algorithms() => [.. AlgorithmRegistry.Names];

    private TrainConfig Bandit(string algorithm, params string[] overrides) => _run.Config(algorithm,
        [
            "trainer.steps=3", "trainer.eval_every=0", "trainer.save_every=0", "rollout.batch_prompts=4", "rollout.group_size=8",
            "rollout.max_response_tokens=4", "update.micro_batch_size=0", "update.mini_batches=1", "update.epochs=1", "optim.lr=0.5", .. overrides,
        ]);

    /// <summary>The sampler's log-probs equal the trainer's, so rho = 1 > 0.5 masks every token: no algorithm may move the policy.</summary>
    [Theory]
    [MemberData(nameof(Algorithms))]
    public void Masked_importance_weights_gate_every_algorithms_gradient(string algorithm)
    {
        string dir = _run.RunDir(algorithm);
        var trainer = RlTrainer.Start(new TableBackend(), Bandit(algorithm, "algorithm.rollout_correction=mis_token", "algorithm.rollout_correction_threshold=0.5"), dir, new Training.LetterAtTask(2));
        trainer.Run();
        Assert.All(((TableModel)trainer.Policy).Theta, t => Assert.Equal(0.0, t));
        var metrics = MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Where(m => m["step"] > 0).ToList();
        Assert.All(metrics, m => Assert.Equal(0, m["rollout_corr/weight_mean"]));
        Assert.All(metrics, m => Assert.Equal(1, m["rollout_corr/ratio_fraction_high"]));
    }

    [Fact]
    public void Every_step_reports_the_mismatch_and_the_staleness()
    {
        string dir = _run.RunDir("metrics");
        RlTrainer.Start(new TableBackend(), Bandit("grpo", "update.mini_batches=2"), dir, new Training.LetterAtTask(2)).Run();
        var metrics = MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Where(m => m["step"] > 0).ToList();
        Assert.Equal(3, metrics.Count);
        foreach (var m in metrics)
        {
            Assert.InRange(m["rollout_corr/logp_abs_diff_max"], 0, 1e-5);
            Assert.InRange(m["rollout_corr/seq_ratio_mean"], 1 - 1e-4, 1 + 1e-4);
            Assert.Equal(0, m["rollout/staleness_max"]);
            Assert.False(m.ContainsKey("rollout_corr/weight_mean"));
        }
    }

    [Fact]
    public void A_correction_needs_recomputed_log_probs()
    {
        var e = Assert.Throws<ArgumentException>(() => TrainConfigValidator.Validate(Bandit("grpo", "algorithm.rollout_correction=tis_token", "trainer.recompute_logprobs=false")));
        Assert.Contains("algorithm.rollout_correction", e.Message);
        e = Assert.Throws<ArgumentException>(() => TrainConfigValidator.Validate(Bandit("grpo", "algorithm.rollout_correction_threshold=0")));
        Assert.Contains("algorithm.rollout_correction_threshold", e.Message);
    }
}

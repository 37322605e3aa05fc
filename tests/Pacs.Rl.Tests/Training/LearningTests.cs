using Pacs.Rewards;
using Pacs.Rl.Training;

namespace Pacs.Rl.Tests.Training;

/// <summary>
/// End to end: the trainer must raise the reward on a task a tiny random model can learn in a few steps. This is the
/// check that the whole loop (sampling, scoring, log-prob alignment, the sign of the update) points the right way;
/// the algorithm tests alone cannot catch a trainer that ascends the wrong objective.
/// </summary>
public sealed class LearningTests : IDisposable
{
    private readonly TinyRun _run = new();
    private readonly Lazy<TinyRun> _loraRun = new(() => new TinyRun(initializerRange: 0.2));

    public void Dispose()
    {
        _run.Dispose();
        if (_loraRun.IsValueCreated) _loraRun.Value.Dispose();
    }

    [Theory]
    [InlineData("pacs", 0)]
    [InlineData("pacs", 2)]
    [InlineData("grpo", 0)]
    [InlineData("grpo", 2)]
    [InlineData("dr_grpo", 2)]
    [InlineData("rloo", 2)]
    [InlineData("reinforce_plus_plus", 2)]
    [InlineData("ppo", 2)]
    [InlineData("gspo", 2)]
    [InlineData("cispo", 2)]
    [InlineData("dapo", 2)]
    [InlineData("rebel", 2)]
    [InlineData("asymre", 2)]
    [InlineData("astar_po", 2)]
    [InlineData("vineppo", 2)]
    [InlineData("pacs", 2, "rollout.pods_keep=4")]
    [InlineData("grpo", 2, "rollout.pods_keep=4")]
    [InlineData("pacs", 2, "model.lora.rank=8;optim.lr=0.02")]
    [InlineData("grpo", 2, "model.lora.rank=8;optim.lr=0.02")]
    [InlineData("ppo", 2, "model.lora.rank=8;optim.lr=0.02")]
    public void Reward_rises_on_a_learnable_bandit(string algorithm, int position, string extra = "")
    {
        // LoRA (rank 8) trains adapters on a frozen base whose output layer must be able to peak (see TinyRun).
        var run = extra.Contains("model.lora") ? _loraRun.Value : _run;
        var config = run.Config(algorithm, ["trainer.steps=30", "trainer.eval_every=0", "trainer.save_every=0",
            "rollout.batch_prompts=4", "rollout.group_size=8", $"rollout.max_response_tokens={position + 2}", "update.micro_batch_size=0",
            "update.mini_batches=1", "update.epochs=1", "optim.lr=0.01", .. extra.Split(';', StringSplitOptions.RemoveEmptyEntries)]);
        string dir = run.RunDir($"{algorithm}-{position}{(extra.Length > 0 ? "-" + extra.Replace('=', '_').Replace(';', '-') : "")}");
        RlTrainer.Start(ManagedBackend.Instance, config, dir, new LetterAtTask(position)).Run();
        // reward/mean is over the rollouts trained on; with PODS those are a max-variance subset, so read all of them.
        var rewards = MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Where(m => m.ContainsKey("reward/mean_all_rollouts")).Select(m => m["reward/mean_all_rollouts"]).ToArray();
        double first = rewards[..5].Average(), last = rewards[^5..].Average();
        Assert.True(last > first + 0.3 && last > 0.6, $"{algorithm}, position {position}: reward {first:0.00} in the first 5 steps, {last:0.00} in the last 5: [{string.Join(", ", rewards.Select(r => r.ToString("0.00")))}]");
    }
}

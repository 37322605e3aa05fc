using Pacs.Rewards;
using Pacs.Rewards.Datasets;
using Pacs.Rl.Tests.Engine;
using Pacs.Rl.Training;

namespace Pacs.Rl.Tests.Data;

/// <summary>What DAPO made standard: dynamic sampling, overlong reward shaping, masking of truncated responses.</summary>
public sealed class DapoOptionsTests : IDisposable
{
    private readonly Training.TinyRun _run = new();

    public void Dispose() => _run.Dispose();

    /// <summary>A batch of groups of two whose rewards are given per group: true = mixed (1, 0), false = uniform (1, 1).</summary>
    private static SampledBatch Groups(params bool[] mixed) => new(
        [.. mixed.Select((_, i) => (long)i)],
        [.. mixed.Select((_, i) => new Problem($"p{i}", "x", "1"))],
        [.. mixed.Select(_ => new[] { 1 })],
        [.. mixed.SelectMany(_ => new[] { new RolloutResult([1], [0f], FinishReason.Stop, 0), new RolloutResult([2], [0f], FinishReason.Stop, 0) })],
        [.. mixed.SelectMany(m => m ? new[] { 1f, 0f } : [1f, 1f])],
        2);

    [Fact]
    public void Dynamic_sampling_fills_the_batch_with_mixed_groups_drawing_as_often_as_needed()
    {
        var draws = new[] { Groups(true, false, false), Groups(false, true, false), Groups(true, true, true) };
        var outcome = DynamicSampling.Fill(d => draws[d], prompts: 3, group: 2, maxDraws: 10);
        Assert.NotNull(outcome.Batch);
        Assert.Equal(3, outcome.Draws);
        Assert.Equal(5, outcome.MixedFound);
        Assert.Equal(["p0", "p1", "p0"], outcome.Batch!.Problems.Select(p => p.Id));
        Assert.Equal(3, outcome.Batch.MixedGroups().Count);
        Assert.Equal(6, outcome.Batch.Results.Length);
    }

    [Fact]
    public void The_draw_cap_ends_the_step_when_mixed_groups_do_not_exist()
    {
        int calls = 0;
        var outcome = DynamicSampling.Fill(_ => { calls++; return Groups(false, false); }, prompts: 2, group: 2, maxDraws: 4);
        Assert.Null(outcome.Batch);
        Assert.Equal(4, calls);
        Assert.Equal(0, outcome.MixedFound);
    }

    [Fact]
    public void A_trainer_step_with_no_mixed_group_says_so_and_does_not_update()
    {
        var messages = new List<string>();
        var config = _run.Config("grpo", "trainer.steps=1", "trainer.eval_every=0", "trainer.save_every=0", "rollout.batch_prompts=2",
            "rollout.group_size=2", "rollout.max_response_tokens=3", "update.micro_batch_size=0", "update.mini_batches=1", "update.epochs=1",
            "rollout.filter_groups=true", "rollout.max_draw_batches=3");
        var dir = _run.RunDir("dyn");
        var trainer = RlTrainer.Start(new TableBackend(), config, dir, new DatasetTask("always", [new Problem("a", "x", "1")], []));
        trainer.Message += messages.Add;
        trainer.Run();
        Assert.Contains(messages, m => m.Contains("dynamic sampling drew 3 batches (rollout.max_draw_batches) and found 0 of 2 groups", StringComparison.Ordinal));
        var step = MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Single(m => m["step"] == 1);
        Assert.Equal(1, step["train/update_skipped"]);
        Assert.Equal(0, trainer.Policy.StepCount);
    }

    [Fact]
    public void With_dynamic_sampling_every_trained_batch_holds_only_mixed_groups()
    {
        var config = _run.Config("grpo", "trainer.steps=4", "trainer.eval_every=0", "trainer.save_every=0", "rollout.batch_prompts=4",
            "rollout.group_size=4", "rollout.max_response_tokens=3", "update.micro_batch_size=0", "update.mini_batches=1", "update.epochs=1",
            "rollout.filter_groups=true", "rollout.max_draw_batches=20");
        var dir = _run.RunDir("dynmixed");
        RlTrainer.Start(new TableBackend(), config, dir, new Training.LetterAtTask(0)).Run();
        var steps = MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Where(m => m["step"] > 0).ToList();
        Assert.Equal(4, steps.Count);
        Assert.All(steps, m => Assert.Equal(0.0, m["reward/all_equal_group_fraction"]));
        Assert.All(steps, m => Assert.True(m["rollout/mixed_groups_found"] >= 4 && m["rollout/draws"] >= 1));
        Assert.Contains(steps, m => m["rollout/draws"] > 1); // some groups were uniform and more prompts were drawn
    }

    [Theory]
    [InlineData(1f, 10, 1f)]      // shorter than max - buffer: untouched
    [InlineData(1f, 12, 1f)]      // exactly at the start of the buffer
    [InlineData(1f, 14, 0.5f)]    // half-way into a buffer of 4 with penalty 1
    [InlineData(1f, 16, 0f)]      // at the budget: the whole penalty
    [InlineData(0f, 16, 0f)]      // never below 0
    public void Overlong_shaping_is_dapos_linear_penalty(float reward, int length, float expected) =>
        Assert.Equal(expected, OverlongShaping.Apply(reward, length, maxTokens: 16, buffer: 4, penalty: 1.0), 6);

    [Fact]
    public void Masked_truncated_responses_give_no_gradient()
    {
        // The table policy never stops (no stop id at these lengths), so every response is cut at the budget.
        var config = _run.Config("grpo", "trainer.steps=1", "trainer.eval_every=0", "trainer.save_every=0", "rollout.batch_prompts=2",
            "rollout.group_size=4", "rollout.max_response_tokens=3", "update.micro_batch_size=0", "update.mini_batches=1", "update.epochs=1",
            "reward.mask_truncated=true");
        var dir = _run.RunDir("mask");
        RlTrainer.Start(new TableBackend(), config, dir, new Training.LetterAtTask(0)).Run();
        var step = MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Single(m => m["step"] == 1);
        Assert.Equal(1.0, step["response/masked_fraction"]);
        Assert.Equal(0.0, step["actor/grad_norm"]);
    }
}

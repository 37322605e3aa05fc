using Pacs.Rewards;
using Pacs.Rewards.Datasets;
using Pacs.Rl.Config;
using Pacs.Rl.Data;
using Pacs.Rl.Tests.Engine;
using Pacs.Rl.Training;

namespace Pacs.Rl.Tests.Data;

/// <summary>The prompt path before step 1: prompts that do not fit are dropped and counted, never found mid-run.</summary>
public sealed class PromptPathTests : IDisposable
{
    private readonly Training.TinyRun _run = new();

    public void Dispose() => _run.Dispose();

    /// <summary>Problems whose prompts are 'x' repeated: the char tokenizer makes one token per character (+ BOS).</summary>
    private static DatasetTask Lengths(params int[] lengths) => new("lengths",
        [.. lengths.Select((n, i) => new Problem($"p{i}", new string('x', n), "1"))], [new Problem("t0", "x", "1"), new Problem("t1", new string('x', 90), "1")]);

    private TrainConfig Config(params string[] overrides) => _run.Config("grpo",
        ["trainer.steps=1", "trainer.eval_every=0", "trainer.save_every=0", "rollout.batch_prompts=2", "rollout.group_size=2",
         "rollout.max_response_tokens=4", "update.micro_batch_size=0", "update.mini_batches=1", "update.epochs=1", .. overrides]);

    [Fact]
    public void Long_prompts_are_dropped_before_step_1_and_counted_in_one_line()
    {
        var messages = new List<string>();
        var trainer = RlTrainer.Start(new TableBackend(), Config("data.max_prompt_tokens=20"), _run.RunDir("filter"), Lengths(5, 50, 10, 30, 8));
        trainer.Message += messages.Add;
        trainer.Run();
        string report = Assert.Single(messages, m => m.StartsWith("prompts of", StringComparison.Ordinal));
        Assert.Contains("data.max_prompt_tokens = 20 tokens", report);
        Assert.Contains("train 5 prompts, 2 dropped longer than 20 tokens (longest 51: p1)", report);
        Assert.Contains("test 2 prompts, 1 dropped", report);
    }

    [Fact]
    public void Without_max_prompt_tokens_the_limit_is_the_context_minus_the_response_budget()
    {
        var config = Config("rollout.max_response_tokens=100");
        Assert.Equal((28, "context 128 - rollout.max_response_tokens 100"), PromptBudget.Of(config, 128));
        var e = Assert.Throws<ArgumentException>(() => PromptBudget.Of(Config("rollout.max_response_tokens=128"), 128));
        Assert.Contains("rollout.max_response_tokens=128", e.Message);
        Assert.Contains("data.max_prompt_tokens", e.Message);
        // An explicit limit may leave responses less than their budget: they stop at the context (counted as clipped).
        Assert.Equal(127, PromptBudget.Of(Config("data.max_prompt_tokens=500"), 128).Limit);
    }

    [Fact]
    public void When_every_prompt_is_too_long_the_run_stops_before_training_naming_the_longest()
    {
        var e = Assert.Throws<ArgumentException>(() => RlTrainer.Start(new TableBackend(), Config("data.max_prompt_tokens=3"), _run.RunDir("none"), Lengths(10, 12)));
        Assert.Contains("all 2 Train prompts are longer than 3 tokens", e.Message);
        Assert.Contains("p1", e.Message);
    }

    [Fact]
    public void A_generated_prompt_that_does_not_fit_is_named_by_its_problem_id()
    {
        var trainer = RlTrainer.Start(new TableBackend(), Config("data.max_prompt_tokens=10"), _run.RunDir("gen"), new LongPromptGenerator());
        var e = Assert.Throws<InvalidDataException>(() => trainer.Run());
        Assert.Contains("problem gen-0: prompt of 41 tokens is longer than 10 (data.max_prompt_tokens)", e.Message);
    }

    [Fact]
    public void A_run_without_a_validation_set_says_so_once()
    {
        var messages = new List<string>();
        var trainer = RlTrainer.Start(new TableBackend(), Config("trainer.eval_every=1", "trainer.steps=2"), _run.RunDir("noval"),
            new DatasetTask("trainonly", [new Problem("a", "x", "1"), new Problem("b", "y", "1")], []));
        trainer.Message += messages.Add;
        trainer.Run();
        Assert.Single(messages, m => m.StartsWith("no validation set", StringComparison.Ordinal));
    }

    private sealed class LongPromptGenerator : ITask
    {
        public string Name => "gen";

        public Problem Get(Split split, long index) => new($"gen-{index}", new string('y', 40), "1");

        public long Count(Split split) => split == Split.Train ? long.MaxValue : 0;

        public Verdict Verify(Problem problem, string response) => new(false, null, "never");
    }
}

using Pacs.Rewards;
using Pacs.Rl.Algorithms;
using Pacs.Rl.Training;
using Pacs.Text;

namespace Pacs.Rl.Tests.Training;

/// <summary>
/// The memory knobs of a run (rollout.max_batch_rows, model.gradient_checkpointing, model.logits_chunk_rows) change no
/// result of a LoRA run: every deterministic metric, validation included, and the trained adapter are the same to the
/// bit as with all three off.
/// </summary>
public sealed class MemoryKnobRunTests : IDisposable
{
    private readonly TinyRun _run = new(initializerRange: 0.2);

    public void Dispose() => _run.Dispose();

    private static List<Dictionary<string, double>> Deterministic(string runDir) =>
        MetricsLog.Read(Path.Combine(runDir, MetricsLog.FileName))
            .Select(r => r.Where(kv => MetricsLog.IsDeterministic(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value))
            .ToList();

    private (List<Dictionary<string, double>> Metrics, float[][] Adapter) Train(string name, string algorithm, params string[] knobs) =>
        Train(name, algorithm, [], knobs);

    private (List<Dictionary<string, double>> Metrics, float[][] Adapter) Train(string name, string algorithm, List<string> messages, params string[] knobs)
    {
        string dir = _run.RunDir(name);
        var trainer = RlTrainer.Start(ManagedBackend.Instance, _run.Config(algorithm, ["model.lora.rank=4", "optim.lr=0.02", .. knobs]), dir);
        trainer.Message += messages.Add;
        Assert.Equal(StopReason.Completed, trainer.Run().Reason);
        var adapter = ((ManagedModel)trainer.Policy).Adapter!.Parameters.Select(p => (float[])p.Value.Data.Clone()).ToArray();
        return (Deterministic(dir), adapter);
    }

    [Theory]
    [InlineData("pacs")]
    [InlineData("grpo")]
    [InlineData("vineppo")] // its value rollouts go through rollout.max_batch_rows too
    [InlineData("astar_po")] // and so do its samples of V*
    public void Memory_knobs_change_no_metric_of_a_lora_run(string algorithm)
    {
        var plain = Train(algorithm + "-plain", algorithm, "rollout.max_batch_rows=0", "model.gradient_checkpointing=false", "model.logits_chunk_rows=0");
        // 16 rollouts in batches of 5 (the last one short), validation's 8 in batches of 2 problems x 2 samples.
        var bounded = Train(algorithm + "-bounded", algorithm, "rollout.max_batch_rows=5", "model.gradient_checkpointing=true", "model.logits_chunk_rows=3");
        Assert.Contains("val/pass@1", plain.Metrics[2].Keys);
        AssertSameRun(plain, bounded, "with the knobs");
    }

    /// <summary>
    /// trainer.logprobs_from_update (on by default) takes an on-policy step's old log-probs from the update's forward:
    /// the managed engine's no-grad pass gives the same bits, so nothing else changes (PPO: its critic's values are
    /// still scored in a pass of their own).
    /// </summary>
    [Theory]
    [InlineData("pacs")]
    [InlineData("grpo")]
    [InlineData("ppo")]
    public void Old_log_probs_from_the_update_change_no_metric_of_a_lora_run(string algorithm)
    {
        // One optimizer step per batch: the update's forward runs on the weights that sampled the rollouts.
        string[] onPolicy = ["update.mini_batches=1", "update.epochs=1"];
        List<string> separateLog = [], fromUpdateLog = [];
        var separate = Train(algorithm + "-separate", algorithm, separateLog, [.. onPolicy, "trainer.logprobs_from_update=false"]);
        var fromUpdate = Train(algorithm + "-from-update", algorithm, fromUpdateLog, [.. onPolicy, "trainer.logprobs_from_update=true"]);
        Assert.DoesNotContain(separateLog, m => m.Contains("trainer.logprobs_from_update"));
        Assert.Single(fromUpdateLog, m => m.Contains("trainer.logprobs_from_update"));
        AssertSameRun(separate, fromUpdate, "from the update");
    }

    private static void AssertSameRun((List<Dictionary<string, double>> Metrics, float[][] Adapter) expected,
        (List<Dictionary<string, double>> Metrics, float[][] Adapter) actual, string how)
    {
        Assert.Equal(expected.Metrics.Count, actual.Metrics.Count);
        for (int i = 0; i < expected.Metrics.Count; i++)
        {
            Assert.Equal(expected.Metrics[i].Keys.Order(), actual.Metrics[i].Keys.Order());
            foreach (var (k, v) in expected.Metrics[i])
                Assert.True(v.Equals(actual.Metrics[i][k]), $"step {expected.Metrics[i]["step"]}: {k} = {v:R} plain vs {actual.Metrics[i][k]:R} {how}");
        }
        Assert.Equal(expected.Adapter, actual.Adapter);
    }

    [Fact]
    public void Rollouts_in_batches_come_back_in_request_order_one_call_per_batch()
    {
        var engine = new CountingRollout();
        var sampling = SamplingParams.Of(1f, 4, []);
        var requests = Enumerable.Range(0, 12).Select(i => new RolloutRequest([i], (ulong)i, sampling)).ToList();
        var results = RolloutBatches.Generate(engine, requests, maxRows: 5);
        Assert.Equal([5, 5, 2], engine.Calls);
        Assert.Equal(Enumerable.Range(0, 12), results.Select(r => r.ResponseIds[0]));
        Assert.Equal(12, RolloutBatches.Generate(engine, requests, maxRows: 0).Length);
        Assert.Equal(12, engine.Calls[^1]);
    }

    [Fact]
    public void Negative_memory_knobs_are_refused_naming_the_key()
    {
        Assert.Contains("rollout.max_batch_rows must be >= 0", Assert.Throws<ArgumentException>(() =>
            RlTrainer.Start(ManagedBackend.Instance, _run.Config("pacs", "rollout.max_batch_rows=-1"), _run.RunDir("bad-rows"))).Message);
        Assert.Contains("model.logits_chunk_rows must be >= 0", Assert.Throws<ArgumentException>(() =>
            RlTrainer.Start(ManagedBackend.Instance, _run.Config("pacs", "model.logits_chunk_rows=-2"), _run.RunDir("bad-chunk"))).Message);
    }

    [Fact]
    public void Value_stages_ask_for_at_most_max_batch_rows_rollouts_at_once()
    {
        var tokenizer = new CharTokenizer();
        var task = new LetterAtTask(0);
        var sampling = SamplingParams.Of(1f, 4, []);
        Problem[] problems = [task.Get(Split.Train, 0), task.Get(Split.Train, 1), task.Get(Split.Train, 2)];
        int[][] prompts = [[5], [6], [7]];

        // A*-PO: 3 new prompts x 3 samples of V* = 9 rollouts, asked 4 at a time.
        var astarEngine = new CountingRollout();
        Directory.CreateDirectory(_run.RunDir("astar-rows"));
        var astar = new OptimalValueStage(astarEngine, tokenizer, task, new AStarPoOptions { ValueSamples = 3 }, _run.RunDir("astar-rows"), seed: 0, maxBatchRows: 4);
        Assert.Equal(3, astar.ForRows([0, 1, 2], problems, prompts, group: 1, sampling).Length);
        Assert.Equal([4, 4, 1], astarEngine.Calls);

        // VinePPO: 3 responses with no newline have one state each (token 0), x 2 continuations = 6, asked 4 at a time.
        var vineEngine = new CountingRollout();
        var vine = new VineValueStage(vineEngine, tokenizer, task, new VinePpoOptions { McRollouts = 2 }, seed: 0, maxBatchRows: 4);
        var (advantages, states) = vine.Advantages(step: 1, problems, prompts, [[8, 9], [8], [9, 8]], [1f, 0f, 1f], group: 1, sampling);
        Assert.Equal(3, states);
        Assert.Equal(3, advantages.Length);
        Assert.Equal([4, 2], vineEngine.Calls);
    }

    /// <summary>Answers each request with its prompt's first id, and records how many requests each call had.</summary>
    private sealed class CountingRollout : IRolloutEngine
    {
        public List<int> Calls { get; } = [];

        public RolloutTraits Traits { get; } = new(LogProbsMatchTrainer: false, Reproducible: true);

        public long WeightVersion => 0;

        public IReadOnlyList<RolloutResult> Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancel = default)
        {
            Calls.Add(requests.Count);
            return [.. requests.Select(r => new RolloutResult([r.PromptIds[0]], [0f], FinishReason.Length, 0))];
        }

        public void SyncWeights(ITrainableModel policy, long version)
        {
        }
    }
}

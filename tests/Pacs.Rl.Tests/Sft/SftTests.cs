using Pacs.Eval;
using Pacs.Rl.Sft;
using Pacs.Rl.Training;
using Pacs.Text;

namespace Pacs.Rl.Tests.Sft;

public class SftTests
{
    private static SftOptions Tiny(int steps) => new()
    {
        Task = "arith",
        Seed = 3,
        Steps = steps,
        BatchSize = 8,
        WarmupSteps = 2,
        LearningRate = 1e-2,
        HiddenSize = 32,
        Layers = 1,
        Heads = 2,
        KvHeads = 1,
        IntermediateSize = 64,
        MaxPositions = 96,
        CheckpointEvery = 10,
    };

    [Fact]
    public void Pack_feeds_every_token_and_targets_only_the_response_tokens()
    {
        var batch = SftBatch.Pack(ManagedBackend.Instance, [([1, 10, 11], [20, 21, 2]), ([1, 12], [22, 2])], padId: 0);
        var packed = (PackedSequences)batch.Rows;
        Assert.Equal(6, packed.SeqLen);
        Assert.Equal([6, 4], packed.ValidLengths);
        Assert.Equal([1, 10, 11, 20, 21, 2, 1, 12, 22, 2, 0, 0], packed.Tokens);
        // Row 0: position 2 (last prompt token) predicts 20, 3 predicts 21, 4 predicts EOS; 5 is the extra pad position.
        Assert.Equal([4, 3], batch.Rows.ResponseLengths);
        Assert.Equal(5, batch.TargetCount);
    }

    [Fact]
    public void Loss_is_the_mean_negative_log_prob_of_the_targets_and_skips_the_extra_position()
    {
        var (loss, grad) = SftLoss.Compute([[-1f, -2f, -3f, -100f], [-4f, -100f]], targetCount: 4);
        Assert.Equal(2.5, loss, 6);
        Assert.Equal([-0.25f, -0.25f, -0.25f, 0f], grad[0]);
        Assert.Equal([-0.25f, 0f], grad[1]);
    }

    [Fact]
    public void A_few_steps_on_a_tiny_model_decrease_the_loss_and_write_a_loadable_model()
    {
        string dir = Path.Combine(Path.GetTempPath(), "pacs-sft-" + Guid.NewGuid().ToString("N"));
        try
        {
            var trainer = new SftTrainer(Tiny(steps: 20), ManagedBackend.Instance);
            var fixedBatch = trainer.BatchAt(1000);
            double before = trainer.Loss(fixedBatch);
            trainer.Train(dir);
            double after = trainer.Loss(fixedBatch);
            Assert.True(after < before - 0.5, $"held-out batch loss {before:0.000} -> {after:0.000}");

            var metrics = MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName));
            Assert.Equal(20, metrics.Count);
            Assert.True(metrics[^1]["loss"] < metrics[0]["loss"]);
            Assert.True(Directory.Exists(Path.Combine(dir, "checkpoints", Checkpointer.DirName(10))));

            var saved = ManagedBackend.Instance.LoadPolicy(dir, new TrainingSettings(new OptimizerSettings()));
            Assert.Equal(((ManagedModel)trainer.Model).Model.Parameters[0].Value.Data, ((ManagedModel)saved).Model.Parameters[0].Value.Data);
            var sampler = RolloutSampler.ForModel(ManagedBackend.Instance, dir, SamplingParams.Of(1f, 12, stopTokenIds: []));
            var responses = sampler.Sample([new SampleRequest("12+3=", 1), new SampleRequest("12+3=", 1), new SampleRequest("12+3=", 2)]);
            Assert.Equal(responses[0], responses[1]);
            Assert.All(responses, r => Assert.InRange(r.Length, 0, 12));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Rejects_bad_options()
    {
        Assert.Throws<ArgumentException>(() => new SftTrainer(Tiny(steps: 0), ManagedBackend.Instance));
        Assert.Throws<ArgumentException>(() => new SftTrainer(Tiny(steps: 10) with { HiddenSize = 30, Heads = 4 }, ManagedBackend.Instance));
        Assert.Throws<ArgumentException>(() => new SftTrainer(Tiny(steps: 10) with { Task = "nope" }, ManagedBackend.Instance));
    }
}

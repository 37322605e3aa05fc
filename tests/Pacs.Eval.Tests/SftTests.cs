using Pacs.Models;
using Pacs.Rewards.Tasks;
using Pacs.Rl.Sft;
using Pacs.Rl.Training;

namespace Pacs.Eval.Tests;

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
    public void Pack_targets_only_the_response_tokens()
    {
        var batch = SftBatch.Pack([([1, 10, 11], [20, 21, 2]), ([1, 12], [22, 2])], padId: 0);
        Assert.Equal(6, batch.SeqLen);
        Assert.Equal([6, 4], batch.ValidLengths);
        Assert.Equal([1, 10, 11, 20, 21, 2, 1, 12, 22, 2, 0, 0], batch.Tokens);
        // Row 0: position 2 (last prompt token) predicts 20, 3 predicts 21, 4 predicts EOS.
        Assert.Equal([-1, -1, 20, 21, 2, -1, -1, 22, 2, -1, -1, -1], batch.Targets);
        Assert.Equal(5, batch.TargetCount);
    }

    [Fact]
    public void A_few_steps_on_a_tiny_model_decrease_the_loss_and_write_a_loadable_model()
    {
        string dir = Path.Combine(Path.GetTempPath(), "pacs-sft-" + Guid.NewGuid().ToString("N"));
        try
        {
            var trainer = new SftTrainer(Tiny(steps: 20));
            var fixedBatch = trainer.BatchAt(1000);
            double before;
            using (Pacs.Tensors.Autograd.NoGrad()) before = trainer.Loss(fixedBatch).Item();
            trainer.Train(dir);
            double after;
            using (Pacs.Tensors.Autograd.NoGrad()) after = trainer.Loss(fixedBatch).Item();
            Assert.True(after < before - 0.5, $"held-out batch loss {before:0.000} -> {after:0.000}");

            var metrics = MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName));
            Assert.Equal(20, metrics.Count);
            Assert.True(metrics[^1]["loss"] < metrics[0]["loss"]);
            Assert.True(Directory.Exists(Path.Combine(dir, "checkpoints", Checkpointer.DirName(10))));

            var (model, tokenizer) = ModelDirectory.Load(dir);
            Assert.Equal(trainer.Model.Parameters[0].Value.Data, model.Parameters[0].Value.Data);
            var sampler = new GeneratorSampler(model, tokenizer, new SamplingOptions(MaxNewTokens: 12));
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
        Assert.Throws<ArgumentException>(() => new SftTrainer(Tiny(steps: 0)));
        Assert.Throws<ArgumentException>(() => new SftTrainer(Tiny(steps: 10) with { HiddenSize = 30, Heads = 4 }));
        Assert.Throws<ArgumentException>(() => new SftTrainer(Tiny(steps: 10) with { Task = "nope" }));
    }
}

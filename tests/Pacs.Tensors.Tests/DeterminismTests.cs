using Pacs.Tensors.Kernels;

namespace Pacs.Tensors.Tests;

public class DeterminismTests
{
    private static (float Loss, float[][] Grads, float[] LogProbs) TrainingStep(int threads)
    {
        int saved = Parallelism.MaxDegree;
        Parallelism.MaxDegree = threads;
        try
        {
            int batch = 4, time = 48, vocab = 40;
            var model = new TinyDecoder(vocab, hidden: 64, layers: 2, heads: 4, kvHeads: 2, mlp: 96, maxPositions: time, seed: 5);
            var rng = new Random(9);
            var ids = Enumerable.Range(0, batch * time).Select(_ => rng.Next(vocab)).ToArray();
            var targets = ids.Skip(1).Append(-1).ToArray();
            var logits = model.Logits(ids, batch, time, validLengths: [48, 30, 41, 12]);
            var logProbs = Ops.GatherLogProbs(logits, targets.Select(t => Math.Max(t, 0)).ToArray(), 0.8f);
            var entropy = Ops.Entropy(logits, 0.8f);
            var mask = targets.Select(t => t < 0 ? 0f : 1f).ToArray();
            var loss = Ops.Add(Ops.CrossEntropy(logits, targets), Ops.Scale(Ops.MaskedMean(Ops.Add(logProbs, entropy), mask), 0.1f));
            float value = loss.Item();
            float[] lp = (float[])logProbs.Data.Clone();
            loss.Backward();
            return (value, model.Parameters().Select(p => (float[])p.Grad!.Clone()).ToArray(), lp);
        }
        finally
        {
            Parallelism.MaxDegree = saved;
        }
    }

    [Fact]
    public void Training_step_is_bit_identical_for_any_thread_count()
    {
        var one = TrainingStep(1);
        var many = TrainingStep(Math.Max(4, Environment.ProcessorCount));
        Assert.Equal(BitConverter.SingleToInt32Bits(one.Loss), BitConverter.SingleToInt32Bits(many.Loss));
        Assert.Equal(one.LogProbs, many.LogProbs);
        Assert.Equal(one.Grads.Length, many.Grads.Length);
        for (int p = 0; p < one.Grads.Length; p++)
        {
            Assert.Contains(one.Grads[p], g => g != 0f);
            for (int i = 0; i < one.Grads[p].Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(one.Grads[p][i]) == BitConverter.SingleToInt32Bits(many.Grads[p][i]),
                    $"parameter {p} element {i}: {one.Grads[p][i]} vs {many.Grads[p][i]}");
        }
    }

    [Fact]
    public void Decoder_gradient_matches_finite_differences()
    {
        int batch = 2, time = 5, vocab = 11;
        var model = new TinyDecoder(vocab, hidden: 8, layers: 1, heads: 2, kvHeads: 1, mlp: 12, maxPositions: time, seed: 3);
        var rng = new Random(4);
        var ids = Enumerable.Range(0, batch * time).Select(_ => rng.Next(vocab)).ToArray();
        var l = model.Layers[0];
        GradCheck.Check(() => model.Logits(ids, batch, time, [5, 3]), [model.Embed, l.Wq, l.Wk, l.Wv, l.Wo, l.Gate, l.Down, l.AttnNorm],
            maxChecks: 12);
    }
}

public class CheckpointTests
{
    [Fact]
    public void Checkpointed_layers_give_the_same_gradients()
    {
        int batch = 2, time = 9, vocab = 13;
        var rng = new Random(3);
        var ids = Enumerable.Range(0, batch * time).Select(_ => rng.Next(vocab)).ToArray();
        var targets = ids.Skip(1).Append(-1).ToArray();
        float[][] Run(bool checkpoint)
        {
            var model = new TinyDecoder(vocab, hidden: 16, layers: 2, heads: 4, kvHeads: 2, mlp: 24, maxPositions: time, seed: 8);
            var loss = Ops.CrossEntropy(model.Logits(ids, batch, time, [9, 6], checkpoint), targets);
            loss.Backward();
            return model.Parameters().Select(p => p.Grad!).ToArray();
        }
        var plain = Run(false);
        var checkpointed = Run(true);
        for (int p = 0; p < plain.Length; p++) Assert.Equal(plain[p], checkpointed[p]);
    }

    [Fact]
    public void Checkpoint_gradient_matches_finite_differences()
    {
        var rng = new Random(5);
        var x = GradCheck.Param(rng, 3, 4);
        var w = GradCheck.Param(rng, 4, 4);
        var norm = GradCheck.Param(rng, 4);
        GradCheck.Check(() => Ops.Checkpoint(t => Ops.Linear(Ops.SwiGlu(Ops.RmsNorm(t[0], norm, 1e-5f), t[0]), w), x), [x, w, norm]);
    }
}

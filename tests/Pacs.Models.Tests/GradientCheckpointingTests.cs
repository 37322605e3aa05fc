using Pacs.Tensors;

namespace Pacs.Models.Tests;

/// <summary><see cref="Transformer.GradientCheckpointing"/> and <see cref="TensorScope"/> change memory, not results.</summary>
public class GradientCheckpointingTests
{
    private static (float Loss, float[][] Grads) Step(Transformer model, bool pooled)
    {
        model.ZeroGrad();
        int batch = 3, seqLen = 11, v = model.Config.VocabSize;
        var rng = new Random(17);
        var tokens = Enumerable.Range(0, batch * seqLen).Select(_ => rng.Next(v)).ToArray();
        var targets = tokens.Skip(1).Append(-1).ToArray();
        int[] lengths = [11, 7, 4];
        for (int b = 0; b < batch; b++)
            for (int t = lengths[b] - 1; t < seqLen; t++) targets[b * seqLen + t] = -1;
        using var scope = pooled ? TensorScope.Begin(new TensorPool()) : null;
        var (logProbs, entropy) = model.TokenLogProbs(tokens, batch, seqLen, targets, temperature: 0.9f, lengths, withEntropy: true);
        var mask = targets.Select(t => t < 0 ? 0f : 1f).ToArray();
        var loss = Ops.Sub(Ops.MaskedMean(entropy!, mask), Ops.MaskedMean(logProbs, mask));
        float value = loss.Item();
        loss.Backward();
        return (value, model.Parameters.Select(p => (float[])p.Value.Grad!.Clone()).ToArray());
    }

    [Theory]
    [InlineData("llama_tied_gqa")]
    [InlineData("qwen2_bias_untied")]
    [InlineData("qwen3_qknorm")]
    [InlineData("llama3_rope_scaling")]
    public void Checkpointed_layers_give_bit_identical_gradients(string fixture)
    {
        var model = Transformer.Load(TestPaths.Fixture(fixture));
        Assert.False(model.GradientCheckpointing);
        var plain = Step(model, pooled: false);
        model.GradientCheckpointing = true;
        var checkpointed = Step(model, pooled: false);
        var pooledCheckpointed = Step(model, pooled: true);
        model.GradientCheckpointing = false;
        var pooled = Step(model, pooled: true);
        foreach (var other in new[] { checkpointed, pooledCheckpointed, pooled })
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(plain.Loss), BitConverter.SingleToInt32Bits(other.Loss));
            for (int p = 0; p < plain.Grads.Length; p++)
                Assert.Equal(plain.Grads[p].Select(BitConverter.SingleToInt32Bits), other.Grads[p].Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Contains(plain.Grads, g => g.Any(x => x != 0f));
    }

    [Fact]
    public void Checkpointing_does_not_change_inference()
    {
        var model = Transformer.Load(TestPaths.Fixture("llama_tied_gqa"));
        int[] tokens = [1, 2, 3, 4, 5, 6];
        float[] plain, checkpointed;
        using (Autograd.NoGrad()) plain = model.Forward(tokens, 2, 3).Data;
        model.GradientCheckpointing = true;
        using (Autograd.NoGrad()) checkpointed = model.Forward(tokens, 2, 3).Data;
        Assert.Equal(plain, checkpointed);
    }
}

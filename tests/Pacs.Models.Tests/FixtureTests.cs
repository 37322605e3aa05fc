using System.Text.Json;
using Pacs.Tensors;

namespace Pacs.Models.Tests;

/// <summary>Logits, log-probs, entropy and every parameter gradient against tools/make_model_fixtures.py (PyTorch).</summary>
public class FixtureTests
{
    private sealed record Fixture(int[] Tokens, int Batch, int SeqLen, int[] ValidLengths, int[] Targets, float[] LossMask,
        float Temperature, double Loss);

    private static Fixture ReadFixture(string dir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "fixture.json")));
        var r = doc.RootElement;
        int[] Ints(string k) => r.GetProperty(k).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        return new Fixture(Ints("tokens"), r.GetProperty("batch").GetInt32(), r.GetProperty("seq_len").GetInt32(), Ints("valid_lengths"),
            Ints("targets"), r.GetProperty("loss_mask").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray(),
            (float)r.GetProperty("temperature").GetDouble(), r.GetProperty("loss").GetDouble());
    }

    /// <summary>max |actual - expected| over the selected elements, relative to max |expected|.</summary>
    private static void AssertClose(float[] expected, float[] actual, string what, double tolerance = 1e-4, Func<int, bool>? select = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (select is not null && !select(i)) continue;
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }
        Assert.True(maxRef > 0, $"{what}: nothing to compare");
        Assert.True(maxDiff <= tolerance * maxRef, $"{what}: max diff {maxDiff:E3} vs max |expected| {maxRef:E3} (relative {maxDiff / maxRef:E3})");
    }

    [Theory]
    [InlineData("llama_tied_gqa")]
    [InlineData("qwen2_bias_untied")]
    [InlineData("qwen3_qknorm")]
    [InlineData("llama3_rope_scaling")]
    public void RandomModelMatchesPyTorchLogitsAndGradients(string name)
    {
        string dir = TestPaths.Fixture(name);
        var f = ReadFixture(dir);
        var model = Transformer.Load(dir);
        using var expected = SafetensorsFile.Open(Path.Combine(dir, "expected.safetensors"));
        int vocab = model.Config.VocabSize;
        bool ValidRow(int row) => row % f.SeqLen < f.ValidLengths[row / f.SeqLen];

        var logits = model.Forward(f.Tokens, f.Batch, f.SeqLen, f.ValidLengths);
        Assert.Equal(new[] { f.Batch * f.SeqLen, vocab }, logits.Shape);
        AssertClose(expected.ReadFloat32("logits"), logits.Data, name + " logits", select: i => ValidRow(i / vocab));

        var (logProbs, entropy) = model.TokenLogProbs(f.Tokens, f.Batch, f.SeqLen, f.Targets, f.Temperature, f.ValidLengths, withEntropy: true);
        AssertClose(expected.ReadFloat32("logprobs"), logProbs.Data, name + " logprobs", select: ValidRow);
        AssertClose(expected.ReadFloat32("entropy"), entropy!.Data, name + " entropy", select: ValidRow);

        var loss = Ops.Scale(Ops.MaskedMean(logProbs, f.LossMask), -1f);
        Assert.Equal(f.Loss, loss.Item(), 1e-4 * Math.Abs(f.Loss));
        model.ZeroGrad();
        loss.Backward();
        foreach (var (param, tensor) in model.Parameters)
            AssertClose(expected.ReadFloat32("grad." + param), tensor.Grad ?? new float[tensor.Numel], $"{name} grad {param}");
    }

    [Theory]
    [InlineData("stories260K")]
    [InlineData("verl-tiny-llama-bf16")]
    public void RealCheckpointMatchesPyTorch(string name)
    {
        var f = ReadFixture(TestPaths.Fixture(name));
        var model = Transformer.Load(TestPaths.Models(name));
        using var expected = SafetensorsFile.Open(Path.Combine(TestPaths.Fixture(name), "expected.safetensors"));
        int vocab = model.Config.VocabSize;
        bool ValidRow(int row) => row % f.SeqLen < f.ValidLengths[row / f.SeqLen];
        using (Autograd.NoGrad())
        {
            var logits = model.Forward(f.Tokens, f.Batch, f.SeqLen, f.ValidLengths);
            AssertClose(expected.ReadFloat32("logits"), logits.Data, name + " logits", select: i => ValidRow(i / vocab));
            var (logProbs, entropy) = model.TokenLogProbs(f.Tokens, f.Batch, f.SeqLen, f.Targets, f.Temperature, f.ValidLengths, withEntropy: true);
            AssertClose(expected.ReadFloat32("logprobs"), logProbs.Data, name + " logprobs", select: ValidRow);
            AssertClose(expected.ReadFloat32("entropy"), entropy!.Data, name + " entropy", select: ValidRow);
        }
    }

    [Fact]
    public void BF16CheckpointKeepsItsUntiedHead()
    {
        var model = Transformer.Load(TestPaths.Models("verl-tiny-llama-bf16"), TensorDtype.Float32);
        Assert.False(model.Config.TieWordEmbeddings);
        Assert.NotSame(model.Embed, model.LmHead);
        Assert.Contains(model.Parameters, p => p.Key == "lm_head.weight");
        // BF16 values widen exactly: the low 16 bits of every float32 are zero.
        Assert.All(model.LmHead.Data, v => Assert.Equal(0u, BitConverter.SingleToUInt32Bits(v) & 0xFFFF));
        Assert.Equal([1], model.GenerationConfig!.EosTokenIds);
    }
}

using Pacs.Tensors;
using Pacs.Tensors.Kernels;

namespace Pacs.Models.Tests;

/// <summary>
/// bfloat16 weights: a model whose large weights are bf16 computes exactly what the float32 model computes on the
/// bf16-rounded weights (the kernels widen exactly and run the float32 arithmetic), in the autograd forward and
/// backward and in the KV-cache decoder; a BF16 checkpoint loads as bf16 with no float32 copy and saves as BF16.
/// </summary>
public class BFloat16ModelTests
{
    /// <summary>A bf16 model from the fixture (rounded from its F32 weights) and the float32 model on the same values.</summary>
    private static (Transformer Bf16, Transformer Float32) Pair(string fixture)
    {
        var bf16 = Transformer.Load(TestPaths.Fixture(fixture), TensorDtype.BFloat16);
        var f32 = Transformer.Load(TestPaths.Fixture(fixture), TensorDtype.Float32);
        f32.CopyWeightsFrom(bf16); // widens the rounded weights; norms and biases are float32 in both
        return (bf16, f32);
    }

    /// <summary>
    /// Odd sizes (hidden 40, MLP 52: vector loops with scalar tails, ragged GEMM panels) and seeded bf16 weights;
    /// the float32 twin gets the same values.
    /// </summary>
    private static (Transformer Bf16, Transformer Float32) OddPair(string modelType)
    {
        var config = new ModelConfig
        {
            ModelType = modelType,
            VocabSize = 70,
            HiddenSize = 40,
            NumHiddenLayers = 2,
            NumAttentionHeads = 5,
            NumKeyValueHeads = 1,
            HeadDim = 8,
            IntermediateSize = 52,
            MaxPositionEmbeddings = 64,
            TieWordEmbeddings = modelType != "qwen2",
            QkvBias = modelType == "qwen2",
            QkNorm = modelType == "qwen3",
            InitializerRange = 0.2,
        };
        var bf16 = new Transformer(config, seed: 11, TensorDtype.BFloat16);
        var f32 = new Transformer(config, seed: 12);
        f32.CopyWeightsFrom(bf16);
        return (bf16, f32);
    }

    public static TheoryData<string> Fixtures => new() { "llama_tied_gqa", "qwen2_bias_untied", "qwen3_qknorm" };

    public static TheoryData<string> Architectures => new() { "llama", "qwen2", "qwen3" };

    private static void AssertBitEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string label)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{label}: element {i} is {actual[i]} with bf16 weights, {expected[i]} with float32 ones ({Math.Abs(actual[i] - expected[i]):E2} apart)");
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Bf16ForwardAndBackwardEqualFloat32OnRoundedWeights(string fixture)
    {
        var (bf16, f32) = Pair(fixture);
        AssertForwardAndBackwardAgree(bf16, f32, fixture);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Bf16ForwardAndBackwardEqualFloat32AtOddSizes(string modelType)
    {
        var (bf16, f32) = OddPair(modelType);
        AssertForwardAndBackwardAgree(bf16, f32, modelType + " odd sizes");
    }

    /// <summary>
    /// Logits, and the gradients of a loss with respect to the norm weights: those flow through every frozen bf16
    /// projection as x gradients (dy W), the path LoRA on a bf16 base trains through.
    /// </summary>
    private static void AssertForwardAndBackwardAgree(Transformer bf16, Transformer f32, string label)
    {
        int[] tokens = [1, 5, 9, 13, 2, 7, 3, 11, 4, 6, 8, 10];
        int[] targets = [5, 9, 13, 2, 7, 3, -1, 4, 6, 8, 10, 12];
        int[] valid = [6, 5];
        float[] Loss(Transformer model)
        {
            model.ZeroGrad();
            var (logProbs, _) = model.TokenLogProbs(tokens, 2, 6, targets, validLengths: valid);
            var loss = Ops.Sum(logProbs);
            loss.Backward();
            return [loss.Item()];
        }
        using (Autograd.NoGrad())
            AssertBitEqual(f32.Forward(tokens, 2, 6, valid).Data, bf16.Forward(tokens, 2, 6, valid).Data, label + " logits");
        AssertBitEqual(Loss(f32), Loss(bf16), label + " loss");
        for (int i = 0; i < f32.Parameters.Count; i++)
        {
            var (name, p16) = bf16.Parameters[i];
            if (p16.Dtype == TensorDtype.BFloat16)
            {
                Assert.Null(p16.Grad);
                continue;
            }
            AssertBitEqual(f32.Parameters[i].Value.Grad!, p16.Grad!, $"{label} grad {name}");
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Bf16KvCacheDecodeEqualsFloat32OnRoundedWeights(string fixture)
    {
        var (bf16, f32) = Pair(fixture);
        AssertDecodeAgrees(bf16, f32, fixture);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Bf16KvCacheDecodeEqualsFloat32AtOddSizes(string modelType)
    {
        var (bf16, f32) = OddPair(modelType);
        AssertDecodeAgrees(bf16, f32, modelType + " odd sizes");
    }

    /// <summary>
    /// Prompt logits through the prefill GEMM, then sampled decoding (one row and five rows per step) through the
    /// dot-product kernels: the float32 generator reads its weights in place too (no panels), so the two agree to the bit.
    /// </summary>
    private static void AssertDecodeAgrees(Transformer bf16, Transformer f32, string label)
    {
        int[] prompt = [1, 4, 8, 15, 16, 23, 42 % bf16.Config.VocabSize];
        var g16 = new Generator(bf16);
        var g32 = new Generator(f32) { UsePanels = false };
        Assert.False(g16.UsePanels);
        AssertBitEqual(g32.PromptLogits(prompt), g16.PromptLogits(prompt), label + " prompt logits");
        var options = new SamplingOptions(Temperature: 1.3f, MaxNewTokens: 12, StopTokenIds: []);
        var requests = Enumerable.Range(0, 5).Select(i => new GenerationRequest([1, 2 + i, 3 + 2 * i], (ulong)(40 + i))).ToList();
        foreach (var batch in new[] { requests.Take(1).ToList(), requests })
        {
            var expected = g32.Generate(batch, options);
            var actual = g16.Generate(batch, options);
            for (int r = 0; r < batch.Count; r++)
            {
                Assert.Equal(expected[r].Tokens, actual[r].Tokens);
                AssertBitEqual(expected[r].LogProbs, actual[r].LogProbs, $"{label} request {r} of {batch.Count} log-probs");
            }
        }
    }

    [Fact]
    public void Bf16CheckpointLoadsAsBf16WithNoFloat32Copy()
    {
        string dir = TestPaths.Models("verl-tiny-llama-bf16");
        var model = Transformer.Load(dir);
        Assert.Equal(TensorDtype.BFloat16, model.WeightDtype);
        foreach (var (name, t) in model.Parameters)
        {
            var expected = name.EndsWith("norm.weight", StringComparison.Ordinal) ? TensorDtype.Float32 : TensorDtype.BFloat16;
            Assert.True(expected == t.Dtype, $"{name} is {t.Dtype}, expected {expected}");
        }
        Assert.Throws<InvalidOperationException>(() => model.LmHead.Data);

        // Everything allocated while loading: the bf16 weights (2 bytes each) plus small change, not a float32 copy.
        Transformer.Load(dir);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var again = Transformer.Load(dir);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(again.ParameterBytes < 0.6 * again.ParameterCount * sizeof(float), $"{again.ParameterBytes} bytes of parameters");
        Assert.True(allocated <= 1.2 * again.ParameterBytes, $"allocated {allocated} bytes for {again.ParameterBytes} bytes of bf16 weights");

        // The checkpoint's bits, as they are.
        using var file = SafetensorsFile.Open(Path.Combine(dir, SafetensorsCheckpoint.SingleFileName));
        var bits = new ushort[model.LmHead.Numel];
        file.ReadInto("lm_head.weight", bits);
        Assert.Equal(bits, model.LmHead.BFloat16Data);
    }

    [Fact]
    public void Bf16CheckpointLoadedAsFloat32IsWidenedAndTrainable()
    {
        string dir = TestPaths.Models("verl-tiny-llama-bf16");
        var bf16 = Transformer.Load(dir);
        var f32 = Transformer.Load(dir, TensorDtype.Float32);
        Assert.Equal(TensorDtype.Float32, f32.WeightDtype);
        Assert.All(f32.Parameters, p => Assert.True(p.Value.RequiresGrad));
        Assert.Equal(BFloat16.ToSingleArray(bf16.LmHead.BFloat16Data), f32.LmHead.Data);
    }

    [Fact]
    public void Bf16ModelSavesBf16TensorsAndReloadsBitForBit()
    {
        var (bf16, _) = OddPair("qwen2");
        string dir = TestPaths.TempDir();
        try
        {
            bf16.Save(dir);
            using (var file = SafetensorsFile.Open(Path.Combine(dir, SafetensorsCheckpoint.SingleFileName)))
                Assert.All(file.Entries.Values, e => Assert.Equal(SafetensorsDtype.BF16, e.Dtype));
            Assert.Contains("\"torch_dtype\": \"bfloat16\"", File.ReadAllText(Path.Combine(dir, ModelConfig.FileName)));
            var back = Transformer.Load(dir);
            Assert.Equal(TensorDtype.BFloat16, back.WeightDtype);
            for (int i = 0; i < bf16.Parameters.Count; i++)
            {
                var (name, t) = bf16.Parameters[i];
                var u = back.Parameters[i].Value;
                if (t.Dtype == TensorDtype.BFloat16) Assert.Equal(t.BFloat16Data, u.BFloat16Data);
                else Assert.Equal(t.Data, u.Data); // norms and biases: bf16-representable here (ones and zeros)
                Assert.Equal(name, back.Parameters[i].Key);
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Float32CheckpointLoadsAsFloat32UnlessBf16IsAsked()
    {
        string dir = TestPaths.Fixture("llama_tied_gqa");
        Assert.Equal(TensorDtype.Float32, Transformer.Load(dir).WeightDtype);
        var rounded = Transformer.Load(dir, TensorDtype.BFloat16);
        var exact = Transformer.Load(dir);
        Assert.Equal(BFloat16.RoundArray(exact.Embed.Data), rounded.Embed.BFloat16Data);
    }
}

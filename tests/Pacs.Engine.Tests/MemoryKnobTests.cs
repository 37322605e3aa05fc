using Pacs.Models;
using Pacs.Tensors;

namespace Pacs.Engine.Tests;

/// <summary>
/// The memory knobs behind the seam change no result: logits taken in chunks of response positions
/// (`model.logits_chunk_rows`), activation recomputation (`model.gradient_checkpointing`), and a rollout engine that
/// drops its KV cache after every call. A LoRA policy on a bf16 base gives the same log-probs, entropy and adapter
/// gradients to the bit; a full fine-tune the same log-probs, and gradients within rounding.
/// </summary>
public sealed class MemoryKnobTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pacs-memory-" + Guid.NewGuid().ToString("N"));

    private static readonly ModelConfig Config = new()
    {
        ModelType = "qwen2",
        VocabSize = 40,
        HiddenSize = 16,
        NumHiddenLayers = 3,
        NumAttentionHeads = 2,
        NumKeyValueHeads = 1,
        HeadDim = 8,
        IntermediateSize = 32,
        MaxPositionEmbeddings = 32,
        QkvBias = true,
        TieWordEmbeddings = true,
        EosTokenIds = [2],
        InitializerRange = 0.3,
    };

    public MemoryKnobTests() => new Transformer(Config, seed: 9, TensorDtype.BFloat16).Save(BaseDir);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private string BaseDir => Path.Combine(_dir, "base");

    private static IPackedRows Rows() =>
        ManagedBackend.Instance.Pack([[1, 5, 6], [1, 7], [1, 9, 4, 3, 12]], [[8, 9, 2, 30, 31], [3, 2], [11, 17, 19]], padId: 0);

    private static float[][] Upstream(IPackedRows rows) =>
        [.. rows.ResponseLengths.Select((n, r) => Enumerable.Range(0, n).Select(j => 0.1f * (j + 1) - 0.2f * r).ToArray())];

    private ManagedModel Policy(int chunkRows, bool checkpointing, int loraRank)
    {
        var lora = loraRank > 0 ? new LoraSettings(loraRank, 2 * loraRank, 0, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], Seed: 4) : null;
        var settings = new TrainingSettings(new OptimizerSettings(), checkpointing, WeightDtype.Auto, lora, chunkRows);
        var policy = (ManagedModel)ManagedBackend.Instance.LoadPolicy(BaseDir, settings);
        // A trained adapter (B != 0), so the adapter's path matters.
        if (policy.Adapter is { } adapter)
            foreach (var (_, p) in adapter.Parameters)
                for (int i = 0; i < p.Data.Length; i++) p.Data[i] = 0.05f * MathF.Sin(i + p.Data.Length);
        return policy;
    }

    /// <summary>Log-probs and entropy of a gradient pass, the reference's scores, and every trainable gradient.</summary>
    private static (float[][] LogProbs, float[][] Entropy, float[][] Reference, float[][] Grads) Pass(ManagedModel policy)
    {
        var rows = Rows();
        policy.ZeroGrad();
        float[][] logProbs, entropy;
        using (var pass = policy.Forward(rows, 0.9f, withEntropy: true))
        {
            (logProbs, entropy) = (pass.Outputs, pass.Entropy!);
            pass.Backward(Upstream(rows));
        }
        var reference = (policy.FrozenBase ?? policy).Score(rows, 0.9f);
        var parameters = policy.Adapter is { } a ? a.Parameters : policy.Model.Parameters;
        var grads = parameters.Select(p => (float[])p.Value.Grad!.Clone()).ToArray();
        return (logProbs, entropy, reference, grads);
    }

    private static void AssertBitEqual(float[][] expected, float[][] actual, string label)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int r = 0; r < expected.Length; r++)
        {
            Assert.Equal(expected[r].Length, actual[r].Length);
            for (int i = 0; i < expected[r].Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[r][i]) == BitConverter.SingleToInt32Bits(actual[r][i]),
                    $"{label}[{r}][{i}]: {actual[r][i]:R} vs {expected[r][i]:R}");
        }
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(4, true)]
    [InlineData(256, false)]
    public void A_lora_pass_on_a_bf16_base_is_the_same_to_the_bit_with_chunked_logits_and_recomputation(int chunkRows, bool checkpointing)
    {
        var whole = Pass(Policy(chunkRows: 0, checkpointing: false, loraRank: 4));
        var knobs = Pass(Policy(chunkRows, checkpointing, loraRank: 4));
        AssertBitEqual(whole.LogProbs, knobs.LogProbs, "log-probs");
        AssertBitEqual(whole.Entropy, knobs.Entropy, "entropy");
        AssertBitEqual(whole.Reference, knobs.Reference, "reference log-probs");
        AssertBitEqual(whole.Grads, knobs.Grads, "adapter gradients");
    }

    [Fact]
    public void A_full_fine_tune_has_the_same_log_probs_and_its_tied_head_gradient_within_rounding()
    {
        var whole = Pass(Policy(chunkRows: 0, checkpointing: false, loraRank: 0));
        var knobs = Pass(Policy(chunkRows: 3, checkpointing: true, loraRank: 0));
        AssertBitEqual(whole.LogProbs, knobs.LogProbs, "log-probs");
        AssertBitEqual(whole.Entropy, knobs.Entropy, "entropy");
        for (int p = 0; p < whole.Grads.Length; p++)
            for (int i = 0; i < whole.Grads[p].Length; i++)
                Assert.True(Math.Abs(whole.Grads[p][i] - knobs.Grads[p][i]) <= 1e-6 + 1e-5 * Math.Abs(whole.Grads[p][i]),
                    $"parameter {p} element {i}: {knobs.Grads[p][i]} vs {whole.Grads[p][i]}");
    }

    [Fact]
    public void The_rollout_engine_drops_its_cache_after_sampling_and_samples_the_same_again()
    {
        var policy = Policy(chunkRows: 0, checkpointing: false, loraRank: 4);
        var rollout = ManagedBackend.Instance.CreateRollout(policy);
        var sampling = SamplingParams.Of(1f, 6, []);
        RolloutRequest[] requests = [.. Enumerable.Range(0, 5).Select(i => new RolloutRequest([1, 5 + i, 6], (ulong)(100 + i), sampling))];
        var once = rollout.Generate(requests);
        var again = rollout.Generate(requests);
        var alone = requests.Select(r => rollout.Generate([r])[0]).ToList();
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(once[i].ResponseIds, again[i].ResponseIds);
            Assert.Equal(once[i].LogProbs, again[i].LogProbs);
            Assert.Equal(once[i].ResponseIds, alone[i].ResponseIds);
            Assert.Equal(once[i].LogProbs, alone[i].LogProbs);
        }
        var generator = new Generator(policy.Model);
        generator.Generate([new GenerationRequest([1, 5, 6], 3)], new SamplingOptions(MaxNewTokens: 4, StopTokenIds: []));
        Assert.True(generator.ReleaseBuffers() > 0);
        Assert.Equal(0, generator.ReleaseBuffers());
    }
}

using Pacs.Models;
using Pacs.Tensors;

namespace Pacs.Engine.Tests;

/// <summary>
/// `model.dtype` behind the seam: frozen models (reference, evaluation) keep a BF16 checkpoint in bfloat16, the policy
/// trains float32 masters of the same values, so the frozen reference scores exactly what the fresh policy scores.
/// </summary>
public sealed class WeightDtypeTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pacs-dtype-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static readonly ModelConfig Config = new()
    {
        ModelType = "qwen2",
        VocabSize = 24,
        HiddenSize = 16,
        NumHiddenLayers = 1,
        NumAttentionHeads = 2,
        NumKeyValueHeads = 1,
        HeadDim = 8,
        IntermediateSize = 32,
        MaxPositionEmbeddings = 32,
        QkvBias = true,
        EosTokenIds = [2],
        InitializerRange = 0.3,
    };

    /// <summary>A model folder whose weights are stored as BF16 (or F32).</summary>
    private string Folder(string name, TensorDtype weights)
    {
        string dir = Path.Combine(_dir, name);
        new Transformer(Config, seed: 5, weights).Save(dir);
        return dir;
    }

    private static IPackedRows Rows() => ManagedBackend.Instance.Pack([[1, 5, 6], [1, 7]], [[8, 9, 2], [3, 2]], padId: 0);

    [Fact]
    public void A_bf16_checkpoint_stays_bf16_when_frozen_and_trains_as_float32_with_the_same_scores()
    {
        string dir = Folder("bf16", TensorDtype.BFloat16);
        var settings = new TrainingSettings(new OptimizerSettings());
        var reference = (ManagedScorer)ManagedBackend.Instance.LoadFrozen(dir);
        var policy = (ManagedModel)ManagedBackend.Instance.LoadPolicy(dir, settings);
        Assert.Equal(TensorDtype.BFloat16, reference.Model.WeightDtype);
        Assert.Equal(TensorDtype.Float32, policy.Model.WeightDtype);
        Assert.All(policy.Model.Parameters, p => Assert.True(p.Value.RequiresGrad));
        var rows = Rows();
        Assert.Equal(policy.Score(rows, 1f), reference.Score(rows, 1f));

        // Asked for float32, the frozen copy is widened; the policy is the same either way.
        Assert.Equal(TensorDtype.Float32, ((ManagedScorer)ManagedBackend.Instance.LoadFrozen(dir, WeightDtype.Float32)).Model.WeightDtype);
    }

    [Fact]
    public void Bfloat16_asked_of_a_float32_checkpoint_rounds_the_frozen_copy_and_the_policy_alike()
    {
        string dir = Folder("f32", TensorDtype.Float32);
        var settings = new TrainingSettings(new OptimizerSettings(), Dtype: WeightDtype.Bfloat16);
        var reference = (ManagedScorer)ManagedBackend.Instance.LoadFrozen(dir, WeightDtype.Bfloat16);
        var policy = (ManagedModel)ManagedBackend.Instance.LoadPolicy(dir, settings);
        Assert.Equal(TensorDtype.BFloat16, reference.Model.WeightDtype);
        Assert.Equal(TensorDtype.Float32, policy.Model.WeightDtype);
        Assert.Equal(policy.Score(Rows(), 1f), reference.Score(Rows(), 1f));
        Assert.Equal(TensorDtype.Float32, ((ManagedScorer)ManagedBackend.Instance.LoadFrozen(dir)).Model.WeightDtype);
    }

    [Fact]
    public void A_bf16_rollout_engine_samples_what_the_float32_policy_samples()
    {
        string dir = Folder("bf16-rollout", TensorDtype.BFloat16);
        var policy = ManagedBackend.Instance.LoadPolicy(dir, new TrainingSettings(new OptimizerSettings()));
        var fromPolicy = ManagedBackend.Instance.CreateRollout(policy);
        fromPolicy.SyncWeights(policy, 0);
        var frozen = ManagedBackend.Instance.LoadRollout(dir);
        var sampling = SamplingParams.Of(1f, 8, stopTokenIds: []);
        var requests = new[] { new RolloutRequest([1, 5, 6], 9, sampling), new RolloutRequest([1, 7], 10, sampling) };
        var a = fromPolicy.Generate(requests);
        var b = frozen.Generate(requests);
        for (int i = 0; i < requests.Length; i++)
        {
            // The float32 policy's small model decodes through repacked panels (another summation order): same tokens,
            // log-probs equal to float32 rounding.
            Assert.Equal(a[i].ResponseIds, b[i].ResponseIds);
            for (int t = 0; t < a[i].LogProbs.Length; t++) Assert.Equal(a[i].LogProbs[t], b[i].LogProbs[t], 1e-5);
        }
    }
}

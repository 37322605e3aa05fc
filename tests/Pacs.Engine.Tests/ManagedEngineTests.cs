using Pacs.Models;
using Pacs.Tensors;

namespace Pacs.Engine.Tests;

/// <summary>The managed engine behind the seam: passes, optimizer state, snapshots, checkpoints, critic, rollouts.</summary>
public sealed class ManagedEngineTests : IDisposable
{
    private static readonly TrainingSettings Settings = new(new OptimizerSettings(WeightDecay: 0.01));
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pacs-engine-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static ModelSpec Spec => new()
    {
        VocabSize = 24,
        HiddenSize = 16,
        Layers = 1,
        Heads = 2,
        KvHeads = 1,
        IntermediateSize = 32,
        MaxPositions = 32,
        BosTokenId = 1,
        EosTokenIds = [2],
        PadTokenId = 0,
    };

    private static ManagedModel NewPolicy(ulong seed = 7) => (ManagedModel)ManagedBackend.Instance.CreatePolicy(Spec, seed, Settings);

    private static IPackedRows Rows() => ManagedBackend.Instance.Pack([[1, 5, 6], [1, 7], [1, 9, 4, 3]], [[8, 9, 2], [3, 2], [11]], padId: 0);

    private static float[][] Ones(IPackedRows rows) => [.. rows.ResponseLengths.Select(n => Enumerable.Repeat(-0.25f, n).ToArray())];

    private static float[][] Weights(ManagedModel model) => [.. model.Model.Parameters.Select(p => (float[])p.Value.Data.Clone())];

    private static void TrainOneStep(ManagedModel model, double lr = 1e-2)
    {
        var rows = Rows();
        model.ZeroGrad();
        using (var pass = model.Forward(rows, 1f)) pass.Backward(Ones(rows));
        model.ClipGradNorm(1.0);
        Assert.True(model.Step(lr));
    }

    [Fact]
    public void A_pass_returns_one_output_per_response_token_and_its_backward_reaches_the_weights()
    {
        var model = NewPolicy();
        var rows = Rows();
        using var pass = model.Forward(rows, 0.7f, withEntropy: true);
        Assert.Equal([3, 2, 1], pass.Outputs.Select(r => r.Length));
        Assert.All(pass.Outputs.SelectMany(r => r), lp => Assert.True(lp < 0));
        Assert.All(pass.Entropy!.SelectMany(r => r), h => Assert.InRange(h, 0, Math.Log(24) + 1e-4));
        model.ZeroGrad();
        pass.Backward(Ones(rows));
        Assert.True(model.ClipGradNorm(0) > 0);
        // The no-grad score of the same rows equals the training pass's outputs.
        Assert.Equal(pass.Outputs, model.Score(rows, 0.7f));
    }

    [Fact]
    public void A_pass_without_gradients_refuses_backward_and_does_not_switch_later_passes_off()
    {
        var model = NewPolicy();
        var rows = Rows();
        using var frozen = model.Forward(rows, 1f, withGradients: false);
        Assert.Throws<InvalidOperationException>(() => frozen.Backward(Ones(rows)));
        using var trained = model.Forward(rows, 1f);
        model.ZeroGrad();
        trained.Backward(Ones(rows));
        Assert.True(model.ClipGradNorm(0) > 0);
    }

    [Fact]
    public void The_sft_layout_gives_the_fused_cross_entropy_gradient_bit_for_bit()
    {
        // SFT feeds prompt + response and targets the response (a trailing pad makes the last token an input); the
        // gradient of -mean log p through the seam must equal Ops.CrossEntropy's on the same causal-LM batch.
        var seam = NewPolicy(3);
        var fused = NewPolicy(3);
        int[][] prompts = [[1, 5, 6], [1, 7]], responses = [[8, 9, 2], [3, 2]];
        var rows = ManagedBackend.Instance.Pack(prompts, [.. responses.Select(r => (int[])[.. r, 0])], padId: 0);
        int count = responses.Sum(r => r.Length);
        seam.ZeroGrad();
        using (var pass = seam.Forward(rows, 1f))
            pass.Backward([.. pass.Outputs.Select(r => r.Select((_, j) => j < r.Length - 1 ? -(1f / count) : 0f).ToArray())]);

        int seqLen = 6;
        var tokens = new int[2 * seqLen];
        var targets = Enumerable.Repeat(-1, 2 * seqLen).ToArray();
        for (int b = 0; b < 2; b++)
        {
            int[] full = [.. prompts[b], .. responses[b]];
            full.CopyTo(tokens, b * seqLen);
            for (int j = 0; j < responses[b].Length; j++) targets[b * seqLen + prompts[b].Length - 1 + j] = responses[b][j];
        }
        fused.ZeroGrad();
        using (TensorScope.Begin())
        {
            var logits = fused.Model.Forward(tokens, 2, seqLen, [6, 4]);
            Ops.CrossEntropy(logits, targets).Backward();
        }
        for (int p = 0; p < seam.Model.Parameters.Count; p++)
            Assert.Equal(fused.Model.Parameters[p].Value.Grad, seam.Model.Parameters[p].Value.Grad);
    }

    [Fact]
    public void A_snapshot_restores_weights_and_optimizer_state_exactly()
    {
        var model = NewPolicy();
        TrainOneStep(model);
        var snapshot = model.Snapshot();
        var weights = Weights(model);
        TrainOneStep(model);
        TrainOneStep(model);
        snapshot.Restore();
        Assert.Equal(weights, Weights(model));
        Assert.Equal(1, model.StepCount);
        // The restored optimizer continues exactly as the original would have.
        var twin = NewPolicy();
        TrainOneStep(twin);
        TrainOneStep(twin);
        TrainOneStep(model);
        Assert.Equal(Weights(twin), Weights(model));
    }

    [Fact]
    public void Saved_state_resumes_the_same_trajectory()
    {
        var model = NewPolicy();
        TrainOneStep(model);
        TrainOneStep(model);
        string dir = Path.Combine(_dir, "state");
        model.SaveState(dir);
        Assert.True(File.Exists(Path.Combine(dir, CheckpointLayout.ModelFolder, "config.json")));
        var resumed = NewPolicy(seed: 99);
        resumed.LoadState(dir);
        Assert.Equal(2, resumed.StepCount);
        TrainOneStep(model);
        TrainOneStep(resumed);
        Assert.Equal(Weights(model), Weights(resumed));
    }

    /// <summary>
    /// The critic computes its values from the head row alone; they and every gradient are those of the full logits'
    /// column, to the bit.
    /// </summary>
    [Fact]
    public void A_critics_values_and_gradients_are_those_of_its_head_rows_logits()
    {
        string baseDir = Path.Combine(_dir, "base-values");
        NewPolicy().SaveHuggingFace(baseDir);
        var critic = (ManagedModel)ManagedBackend.Instance.CreateCritic(baseDir, headRow: 5, Settings);
        var head = critic.Model.LmHead;
        int hidden = head.Shape[1];
        for (int e = 0; e < hidden; e++) head.Data[5 * hidden + e] = MathF.Sin(e + 1f); // a head that is not yet zero
        var packed = PackedSequences.Build([[1, 5, 6], [1, 7], [1, 9, 4, 3]], [[8, 9, 2], [3, 2], [11]], padId: 0);
        float[][] upstream = [.. packed.ResponseLengths.Select((n, r) => Enumerable.Range(0, n).Select(t => 0.5f - r + 0.25f * t).ToArray())];
        float[][] Grads() => [.. critic.Model.Parameters.Select(p => (float[])(p.Value.Grad ?? new float[p.Value.Numel]).Clone())];

        critic.ZeroGrad();
        float[][] values;
        using (var pass = critic.Forward(packed, 1f))
        {
            values = pass.Outputs;
            pass.Backward(upstream);
        }
        var grads = Grads();
        critic.ZeroGrad();
        using (TensorScope.Begin())
        {
            var logits = critic.Model.Forward(packed.Tokens, packed.Batch, packed.SeqLen, packed.ValidLengths); // [B*T, V]
            var column = Ops.Reshape(Ops.Slice(logits, 1, 5, 1), packed.Batch * packed.SeqLen);
            Assert.Equal(packed.Extract(column.Data), values);
            column.Backward(packed.Scatter(upstream, 1.0));
        }
        Assert.Equal(Grads(), grads);
        Assert.Contains(grads, g => g.Any(v => v != 0));
    }

    [Fact]
    public void A_fresh_critic_values_every_position_at_zero_and_learns_them()
    {
        string baseDir = Path.Combine(_dir, "base");
        NewPolicy().SaveHuggingFace(baseDir);
        var critic = ManagedBackend.Instance.CreateCritic(baseDir, headRow: 0, Settings);
        Assert.Equal(ModelOutputKind.Values, critic.OutputKind);
        var rows = Rows();
        Assert.All(critic.Score(rows, 1f).SelectMany(r => r), v => Assert.Equal(0f, v));
        for (int i = 0; i < 3; i++)
        {
            critic.ZeroGrad();
            using (var pass = critic.Forward(rows, 1f)) pass.Backward([.. pass.Outputs.Select(r => r.Select(v => v - 1f).ToArray())]); // d/dv of (v - 1)^2 / 2
            critic.Step(0.05);
        }
        Assert.All(critic.Score(rows, 1f).SelectMany(r => r), v => Assert.True(v > 0.05f, $"value {v}"));
    }

    [Fact]
    public void Rollouts_follow_request_order_report_why_they_ended_and_carry_the_weight_version()
    {
        var policy = NewPolicy();
        var rollout = ManagedBackend.Instance.CreateRollout(policy);
        Assert.True(rollout.Traits.LogProbsMatchTrainer);
        rollout.SyncWeights(policy, 5);
        var short3 = SamplingParams.Of(1f, 3, stopTokenIds: []);
        var long6 = SamplingParams.Of(1f, 6, stopTokenIds: []);
        var requests = new[]
        {
            new RolloutRequest([1, 5], 11, short3), new RolloutRequest([1, 6], 12, long6), new RolloutRequest([1, 5], 11, long6),
        };
        var results = rollout.Generate(requests);
        Assert.Equal([3, 6, 6], results.Select(r => r.ResponseIds.Length));
        Assert.All(results, r => Assert.Equal(FinishReason.Length, r.Finish));
        Assert.All(results, r => Assert.Equal(5, r.WeightVersion));
        // A response depends only on its request: the same prompt and seed give the same tokens whatever the batch.
        Assert.Equal(results[0].ResponseIds, results[2].ResponseIds[..3]);
        var alone = rollout.Generate([requests[1]]);
        Assert.Equal(results[1].ResponseIds, alone[0].ResponseIds);
        Assert.Equal(results[1].LogProbs, alone[0].LogProbs);

        // Stop ids end a response (kept as its last token).
        var stopAll = SamplingParams.Of(1f, 6, stopTokenIds: [.. Enumerable.Range(0, 24)]);
        var stopped = rollout.Generate([new RolloutRequest([1, 5], 3, stopAll)])[0];
        Assert.Equal(FinishReason.Stop, stopped.Finish);
        Assert.Single(stopped.ResponseIds);
    }

    [Fact]
    public void A_response_cut_at_the_context_limit_is_clipped_not_stopped()
    {
        // A prompt of 28 tokens in a context of 32, with a budget of 10: the context ends the response first.
        var rollout = ManagedBackend.Instance.CreateRollout(NewPolicy());
        int[] prompt = [1, .. Enumerable.Repeat(5, 27)];
        var result = rollout.Generate([new RolloutRequest(prompt, 4, SamplingParams.Of(1f, 10, stopTokenIds: []))])[0];
        Assert.Equal(FinishReason.ContextLimit, result.Finish);
        Assert.True(result.Clipped);
        Assert.InRange(result.ResponseIds.Length, 1, 32 - prompt.Length + 1);
    }

    [Fact]
    public void Foreign_rows_and_missing_folders_get_clear_errors()
    {
        var model = NewPolicy();
        var foreign = new ForeignRows();
        Assert.Contains("packed by its own backend", Assert.Throws<ArgumentException>(() => model.Forward(foreign, 1f)).Message);
        Assert.Contains("model directory not found", Assert.Throws<DirectoryNotFoundException>(() => ManagedBackend.Instance.LoadFrozen(Path.Combine(_dir, "nope"))).Message);
    }

    private sealed class ForeignRows : IPackedRows
    {
        public int Count => 0;

        public IReadOnlyList<int> ResponseLengths => [];

        public long TotalTokens => 0;
    }
}

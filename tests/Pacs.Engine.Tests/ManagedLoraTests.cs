using Pacs.Models;

namespace Pacs.Engine.Tests;

/// <summary>A LoRA policy behind the seam: frozen base, adapter-only state, the adapter-off reference, PEFT checkpoints.</summary>
public sealed class ManagedLoraTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pacs-engine-lora-" + Guid.NewGuid().ToString("N"));

    public ManagedLoraTests()
    {
        var config = new ModelConfig
        {
            VocabSize = 24,
            HiddenSize = 16,
            NumHiddenLayers = 2,
            NumAttentionHeads = 2,
            NumKeyValueHeads = 1,
            HeadDim = 8,
            IntermediateSize = 32,
            MaxPositionEmbeddings = 32,
            BosTokenId = 1,
            EosTokenIds = [2],
            PadTokenId = 0,
            InitializerRange = 0.2,
        };
        new Transformer(config, seed: 5).Save(BaseDir);
    }

    private string BaseDir => Path.Combine(_dir, "base");

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static TrainingSettings Settings(double dropout = 0) =>
        new(new OptimizerSettings(WeightDecay: 0.01), Lora: new LoraSettings(4, 8, dropout, ["q_proj", "v_proj", "down_proj"], Seed: 3));

    private ManagedModel NewPolicy(double dropout = 0) => (ManagedModel)ManagedBackend.Instance.LoadPolicy(BaseDir, Settings(dropout));

    private static IPackedRows Rows() => ManagedBackend.Instance.Pack([[1, 5, 6], [1, 7], [1, 9, 4, 3]], [[8, 9, 2], [3, 2], [11]], padId: 0);

    private static float[][] Grad(IPackedRows rows) => [.. rows.ResponseLengths.Select(n => Enumerable.Repeat(-0.25f, n).ToArray())];

    private static void TrainOneStep(ManagedModel model)
    {
        var rows = Rows();
        model.ZeroGrad();
        using (var pass = model.Forward(rows, 1f)) pass.Backward(Grad(rows));
        model.ClipGradNorm(1.0);
        Assert.True(model.Step(1e-2));
    }

    private static float[][] AdapterWeights(ManagedModel model) => [.. model.Adapter!.Parameters.Select(p => (float[])p.Value.Data.Clone())];

    [Fact]
    public void Only_the_adapter_trains_and_the_frozen_base_is_the_reference()
    {
        var policy = NewPolicy();
        var rows = Rows();
        var initial = ManagedBackend.Instance.LoadFrozen(BaseDir).Score(rows, 1f);
        // A fresh adapter is the base, bit for bit.
        Assert.Equal(initial, policy.Score(rows, 1f));
        Assert.Equal(2 * 3 * 2, policy.Adapter!.Parameters.Count);
        Assert.Equal(policy.Adapter.ParameterCount, policy.TrainableParameterCount);
        var baseWeights = policy.Model.Parameters.Select(p => (float[])p.Value.Data.Clone()).ToList();
        TrainOneStep(policy);
        TrainOneStep(policy);
        Assert.All(policy.Model.Parameters, p => Assert.Null(p.Value.Grad));
        Assert.Equal(baseWeights, policy.Model.Parameters.Select(p => p.Value.Data));
        Assert.NotEqual(initial, policy.Score(rows, 1f));
        // The reference shares the policy's base (no copy) and scores it with the adapter off.
        var reference = Assert.IsType<ManagedScorer>(policy.FrozenBase);
        Assert.Same(policy.Model, reference.Model);
        Assert.Equal(initial, reference.Score(rows, 1f));
    }

    [Fact]
    public void Checkpoints_hold_the_adapter_alone_and_resume_the_same_trajectory()
    {
        var policy = NewPolicy(dropout: 0.1);
        TrainOneStep(policy);
        TrainOneStep(policy);
        string state = Path.Combine(_dir, "state");
        policy.SaveState(state);
        string model = Path.Combine(state, CheckpointLayout.ModelFolder);
        Assert.Equal([PeftAdapter.ConfigFileName, PeftAdapter.WeightsFileName], Directory.GetFiles(model).Select(Path.GetFileName).Order());
        Assert.Equal(Path.GetFullPath(BaseDir), PeftAdapter.ReadConfig(model).BaseModel);

        var resumed = NewPolicy(dropout: 0.1);
        resumed.LoadState(state);
        Assert.Equal(2, resumed.StepCount);
        Assert.Equal(policy.Adapter!.DropoutPasses, resumed.Adapter!.DropoutPasses);
        TrainOneStep(policy);
        TrainOneStep(resumed);
        Assert.Equal(AdapterWeights(policy), AdapterWeights(resumed));
    }

    [Fact]
    public void A_saved_adapter_samples_and_scores_like_the_policy_and_merges()
    {
        var policy = NewPolicy();
        TrainOneStep(policy);
        string adapterDir = Path.Combine(_dir, "adapter");
        policy.SaveHuggingFace(adapterDir);
        var requests = new[] { new RolloutRequest([1, 5, 6], 4, SamplingParams.Of(1f, 8, [])), new RolloutRequest([1, 9], 5, SamplingParams.Of(1f, 8, [])) };
        var fromPolicy = ManagedBackend.Instance.CreateRollout(policy).Generate(requests);
        var fromFolder = ManagedBackend.Instance.LoadRollout(adapterDir).Generate(requests);
        Assert.Equal(fromPolicy.Select(r => r.ResponseIds), fromFolder.Select(r => r.ResponseIds));
        Assert.Equal(fromPolicy.Select(r => r.LogProbs), fromFolder.Select(r => r.LogProbs));
        var rows = Rows();
        Assert.Equal(policy.Score(rows, 1f), ManagedBackend.Instance.LoadFrozen(adapterDir).Score(rows, 1f));

        var merged = Transformer.Load(BaseDir);
        PeftAdapter.Load(adapterDir, merged).MergeInto(merged);
        string mergedDir = Path.Combine(_dir, "merged");
        merged.Save(mergedDir);
        var mergedScores = ManagedBackend.Instance.LoadFrozen(mergedDir).Score(rows, 1f);
        var policyScores = policy.Score(rows, 1f);
        for (int r = 0; r < rows.Count; r++)
            for (int j = 0; j < policyScores[r].Length; j++)
                Assert.True(Math.Abs(policyScores[r][j] - mergedScores[r][j]) <= 1e-5, $"row {r} token {j}: {policyScores[r][j]} vs merged {mergedScores[r][j]}");
    }

    private ManagedModel NewCritic(TrainingSettings settings) => (ManagedModel)ManagedBackend.Instance.CreateCritic(BaseDir, headRow: 0, settings);

    /// <summary>One critic step towards values of 0.5 everywhere (the gradient of 0.5 * (v - 0.5)^2).</summary>
    private static void TrainCriticStep(ManagedModel critic)
    {
        var rows = Rows();
        critic.ZeroGrad();
        using (var pass = critic.Forward(rows, 1f)) pass.Backward([.. pass.Outputs.Select(v => v.Select(x => x - 0.5f).ToArray())]);
        Assert.True(critic.Step(1e-2));
    }

    [Fact]
    public void A_lora_critic_trains_its_adapter_and_value_head_on_a_frozen_base()
    {
        var rows = Rows();
        var critic = NewCritic(Settings());
        var full = NewCritic(Settings() with { Lora = null });
        // Both start with every value 0 (a zero head).
        Assert.All(critic.Score(rows, 1f), v => Assert.All(v, x => Assert.Equal(0f, x)));
        Assert.Equal(full.Score(rows, 1f), critic.Score(rows, 1f));
        Assert.Equal(ModelOutputKind.Values, critic.OutputKind);
        Assert.Equal(critic.Adapter!.ParameterCount + 16, critic.TrainableParameterCount);
        var baseWeights = critic.Model.Parameters.Select(p => (float[])p.Value.Data.Clone()).ToList();
        for (int i = 0; i < 3; i++) TrainCriticStep(critic);
        Assert.All(critic.Model.Parameters, p => Assert.Null(p.Value.Grad));
        Assert.Equal(baseWeights, critic.Model.Parameters.Select(p => p.Value.Data));
        Assert.All(critic.Score(rows, 1f), v => Assert.All(v, x => Assert.True(x > 0.01f, $"value {x} did not move towards 0.5")));
        // The adapter trained too (B starts at zero and is the only way the layers change).
        Assert.Contains(critic.Adapter.Parameters, p => p.Key.Contains("lora_B") && p.Value.Data.Any(x => x != 0));
    }

    [Fact]
    public void A_lora_critic_gives_the_values_of_a_full_critic_on_its_merged_weights()
    {
        var critic = NewCritic(Settings());
        for (int i = 0; i < 3; i++) TrainCriticStep(critic);
        string state = Path.Combine(_dir, "critic");
        critic.SaveHuggingFace(state);
        // The same function written as a full critic: the adapter merged into the base, the value head as row 0.
        var merged = Transformer.Load(BaseDir);
        PeftAdapter.Load(state, merged).MergeInto(merged);
        string mergedDir = Path.Combine(_dir, "critic-merged");
        merged.Save(mergedDir);
        var full = NewCriticFrom(mergedDir);
        using (var head = SafetensorsFile.Open(Path.Combine(state, ManagedModel.ValueHeadFile)))
            head.ReadInto(ManagedModel.ValueHeadName, full.Model.LmHead.Data.AsSpan(0, 16));
        var rows = Rows();
        var expected = full.Score(rows, 1f);
        var actual = critic.Score(rows, 1f);
        for (int r = 0; r < rows.Count; r++)
            for (int j = 0; j < expected[r].Length; j++)
                Assert.True(Math.Abs(expected[r][j] - actual[r][j]) <= 1e-5, $"row {r} token {j}: {actual[r][j]} vs merged {expected[r][j]}");

        static ManagedModel NewCriticFrom(string dir) => (ManagedModel)ManagedBackend.Instance.CreateCritic(dir, headRow: 0, Settings() with { Lora = null });
    }

    [Fact]
    public void A_lora_critic_checkpoint_holds_adapter_and_value_head_and_resumes_the_same_trajectory()
    {
        var critic = NewCritic(Settings(dropout: 0.1));
        TrainCriticStep(critic);
        TrainCriticStep(critic);
        string state = Path.Combine(_dir, "critic-state");
        critic.SaveState(state);
        string model = Path.Combine(state, CheckpointLayout.ModelFolder);
        Assert.Equal([PeftAdapter.ConfigFileName, PeftAdapter.WeightsFileName, ManagedModel.ValueHeadFile],
            Directory.GetFiles(model).Select(Path.GetFileName).Order());

        var resumed = NewCritic(Settings(dropout: 0.1));
        resumed.LoadState(state);
        var rows = Rows();
        Assert.Equal(critic.Score(rows, 1f), resumed.Score(rows, 1f));
        TrainCriticStep(critic);
        TrainCriticStep(resumed);
        Assert.Equal(AdapterWeights(critic), AdapterWeights(resumed));
        Assert.Equal(critic.Score(rows, 1f), resumed.Score(rows, 1f));

        // A missing value head, or one of another shape, is refused, naming the file.
        File.Delete(Path.Combine(model, ManagedModel.ValueHeadFile));
        Assert.Contains(ManagedModel.ValueHeadFile, Assert.Throws<FileNotFoundException>(() => NewCritic(Settings(dropout: 0.1)).LoadState(state)).Message);
        SafetensorsFile.Write(Path.Combine(model, ManagedModel.ValueHeadFile), [new NamedArray(ManagedModel.ValueHeadName, [1, 8], new float[8])]);
        var e = Assert.Throws<InvalidDataException>(() => NewCritic(Settings(dropout: 0.1)).LoadState(state));
        Assert.Contains(ManagedModel.ValueHeadFile, e.Message);
    }

    [Fact]
    public void A_lora_critic_shares_the_policys_frozen_base_and_both_train_as_if_apart()
    {
        var policy = NewPolicy();
        var critic = (ManagedModel)ManagedBackend.Instance.CreateCritic(BaseDir, headRow: 0, Settings(), policy);
        Assert.NotSame(policy.Model, critic.Model);
        Assert.Same(policy.Model.Layers[1].DownProj, critic.Model.Layers[1].DownProj);
        Assert.Same(policy.Model.Embed, critic.Model.Embed);
        Assert.NotSame(policy.Adapter, critic.Adapter);
        // Each trains as it does with a base of its own, to the bit.
        var alonePolicy = NewPolicy();
        var aloneCritic = NewCritic(Settings());
        Assert.NotSame(alonePolicy.Model.Embed, aloneCritic.Model.Embed);
        for (int i = 0; i < 2; i++)
        {
            TrainOneStep(policy);
            TrainCriticStep(critic);
            TrainOneStep(alonePolicy);
            TrainCriticStep(aloneCritic);
        }
        var rows = Rows();
        Assert.Equal(alonePolicy.Score(rows, 1f), policy.Score(rows, 1f));
        Assert.Equal(aloneCritic.Score(rows, 1f), critic.Score(rows, 1f));
        Assert.Equal(AdapterWeights(alonePolicy), AdapterWeights(policy));

        // No sharing with a policy that trains its base, or one of another precision: those load the base again.
        var fullPolicy = ManagedBackend.Instance.LoadPolicy(BaseDir, Settings() with { Lora = null });
        var own = (ManagedModel)ManagedBackend.Instance.CreateCritic(BaseDir, headRow: 0, Settings(), fullPolicy);
        Assert.NotSame(((ManagedModel)fullPolicy).Model.Embed, own.Model.Embed);
        var bf16 = (ManagedModel)ManagedBackend.Instance.CreateCritic(BaseDir, headRow: 0, Settings() with { Dtype = WeightDtype.Bfloat16 }, policy);
        Assert.NotSame(policy.Model.Embed, bf16.Model.Embed);
        var e = Assert.Throws<InvalidOperationException>(() => ((ManagedModel)fullPolicy).Model.ShareFrozenWeights());
        Assert.Contains("is trained", e.Message);
    }

    [Fact]
    public void A_checkpoint_of_other_lora_settings_is_refused()
    {
        var policy = NewPolicy();
        string state = Path.Combine(_dir, "state");
        policy.SaveState(state);
        var other = (ManagedModel)ManagedBackend.Instance.LoadPolicy(BaseDir,
            new TrainingSettings(new OptimizerSettings(), Lora: new LoraSettings(8, 8, 0, ["q_proj"], 3)));
        var e = Assert.Throws<InvalidDataException>(() => other.LoadState(state));
        Assert.Contains("is not this run's model.lora", e.Message);
    }
}

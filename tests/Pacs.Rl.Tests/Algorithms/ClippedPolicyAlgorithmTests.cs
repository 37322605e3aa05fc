using Pacs.Rl.Algorithms;

namespace Pacs.Rl.Tests.Algorithms;

public class ClippedPolicyAlgorithmTests
{
    [Fact]
    public void PolicyLossMatchesThePyTorchPortOfVerl()
    {
        var root = AlgorithmFixtures.Load("policy_loss.json");
        int checkedConfigs = 0;
        foreach (var fixture in root.GetProperty("fixtures").EnumerateArray())
        {
            var name = fixture.GetProperty("name").GetString()!;
            var options = new GrpoOptions
            {
                ClipEpsLow = fixture.GetProperty("clip_eps_low").GetDouble(),
                ClipEpsHigh = fixture.GetProperty("clip_eps_high").GetDouble(),
                DualClipC = fixture.GetProperty("dual_clip_c").GetDouble(),
                LossAggMode = ConfigEnum.Parse<LossAggMode>(fixture.GetProperty("loss_agg_mode").GetString()!, "loss_agg_mode"),
                LossNormalizer = fixture.TryGetProperty("loss_normalizer", out var n) ? n.GetDouble() : 0,
                KlLossCoef = fixture.GetProperty("kl_loss_coef").GetDouble(),
                KlLossType = ConfigEnum.Parse<KlEstimator>(fixture.GetProperty("kl_loss_type").GetString()!, "kl_loss_type"),
            };
            var old = AlgorithmFixtures.Ragged(fixture.GetProperty("old_log_probs"));
            var batch = new PolicyBatch(1, new float[old.Length], old)
            {
                LogProbs = AlgorithmFixtures.Ragged(fixture.GetProperty("log_probs")),
                RefLogProbs = AlgorithmFixtures.Ragged(fixture.GetProperty("ref_log_probs")),
                Advantages = AlgorithmFixtures.Ragged(fixture.GetProperty("advantages")),
            };
            var output = new GrpoAlgorithm(options).Loss(batch);
            AlgorithmFixtures.AssertClose(fixture.GetProperty("loss").GetDouble(), output.Loss, 1e-6, $"{name} loss");
            var expected = AlgorithmFixtures.RaggedDouble(fixture.GetProperty("grad_log_probs"));
            for (int r = 0; r < expected.Length; r++)
                for (int t = 0; t < expected[r].Length; t++)
                    AlgorithmFixtures.AssertClose(expected[r][t], output.GradLogProbs[r][t], 1e-6, $"{name} grad[{r}][{t}]");
            Assert.InRange(output.Metrics["actor/pg_clipfrac"], 1e-9, 1);
            checkedConfigs++;
        }
        Assert.Equal(4, checkedConfigs);
    }

    [Theory]
    [InlineData("grpo")]
    [InlineData("dr_grpo")]
    [InlineData("rloo")]
    [InlineData("reinforce_plus_plus")]
    public void OutcomeAlgorithmsGradientMatchesFiniteDifferences(string name)
    {
        var rng = new Random(3);
        int[] lengths = [3, 2, 4, 1, 2, 5];
        var old = AlgorithmFixtures.RandomLogProbs(rng, lengths);
        var batch = new PolicyBatch(3, [1f, 0f, 0f, 1f, 1f, 0f], old) { RefLogProbs = AlgorithmFixtures.Perturb(rng, old, 0.2) };
        var options = AlgorithmRegistry.DefaultOptions(name);
        ((ClippedPolicyOptions)options).KlLossCoef = 0.05;
        // Small steps from π_old keep every ratio inside the clip range, away from the kinks.
        ((ClippedPolicyOptions)options).ClipEpsLow = 0.5;
        ((ClippedPolicyOptions)options).ClipEpsHigh = 0.5;
        var algorithm = AlgorithmRegistry.Create(name, options);
        Assert.True(algorithm.NeedsReference);
        algorithm.Prepare(batch);
        var current = AlgorithmFixtures.Perturb(rng, old, 0.1);
        batch.LogProbs = current;
        var output = algorithm.Loss(batch);
        Assert.Equal(0, output.Metrics["actor/pg_clipfrac"]);
        AlgorithmFixtures.AssertFiniteDifferences(current, output.GradLogProbs, () => algorithm.Loss(batch).Loss);
    }

    [Fact]
    public void GrpoPrepareBroadcastsGroupAdvantagesAndReportsUniformGroups()
    {
        var batch = new PolicyBatch(2, [1f, 0f, 1f, 1f], [[-1f, -1f], [-1f], [-2f], [-3f, -1f, -1f]]);
        var metrics = AlgorithmRegistry.Create("grpo").Prepare(batch);
        // Group [1, 0]: mean ½, unbiased std sqrt(½); group [1, 1]: zero advantages.
        float a = (float)(0.5 / (Math.Sqrt(0.5) + 1e-6));
        Assert.Equal([a, a], batch.Advantages![0]);
        Assert.Equal([-a], batch.Advantages[1]);
        Assert.Equal([0f, 0f, 0f], batch.Advantages[3]);
        Assert.Equal(0.5, metrics["reward/uniform_group_fraction"]);
        Assert.Equal(0.75, metrics["reward/mean"]);
    }

    [Fact]
    public void OnPolicyFirstStepGradientIsMinusAdvantageTimesTokenWeight()
    {
        // ρ = 1 at the first mini-batch: d loss / d log π = −A w_r; token-mean over 3 tokens.
        var batch = new PolicyBatch(2, [1f, 0f], [[-1f, -2f], [-0.5f]]);
        var algorithm = AlgorithmRegistry.Create("rloo");
        algorithm.Prepare(batch);
        batch.LogProbs = AlgorithmFixtures.Clone(batch.OldLogProbs);
        var output = algorithm.Loss(batch);
        Assert.Equal([-1f / 3, -1f / 3], output.GradLogProbs[0]);
        Assert.Equal([1f / 3], output.GradLogProbs[1]);
        Assert.Equal(-(1.0 + 1 - 1) / 3, output.Loss, 6);
        Assert.Equal(1, output.Metrics["actor/ratio_mean"]);
        Assert.Equal(0, output.Metrics["actor/ppo_kl"]);
    }

    [Fact]
    public void PpoValueGradientMatchesFiniteDifferencesAndPrepareSetsReturns()
    {
        var rng = new Random(5);
        int[] lengths = [3, 2, 4];
        var old = AlgorithmFixtures.RandomLogProbs(rng, lengths);
        var oldValues = AlgorithmFixtures.Perturb(rng, lengths.Select(n => new float[n]).ToArray(), 0.5);
        var batch = new PolicyBatch(1, [1f, 0f, 1f], old) { OldValues = oldValues };
        var algorithm = AlgorithmRegistry.Create("ppo", new PpoOptions { ValueClip = 10, Lambda = 0.9, Gamma = 0.99 });
        Assert.True(algorithm.NeedsCritic);
        algorithm.Prepare(batch);
        // Last token: A = r − V (before whitening) and return = r.
        Assert.Equal(1f, batch.Returns![0][^1], 5);
        batch.LogProbs = AlgorithmFixtures.Perturb(rng, old, 0.05);
        var values = AlgorithmFixtures.Perturb(rng, oldValues, 0.3);
        batch.Values = values;
        var output = algorithm.Loss(batch);
        Assert.NotNull(output.GradValues);
        AlgorithmFixtures.AssertFiniteDifferences(values, output.GradValues!, () => algorithm.Loss(batch).Loss);
        Assert.Throws<ArgumentException>(() => algorithm.Prepare(new PolicyBatch(1, [1f], [[-1f]])));
    }

    [Fact]
    public void ReinforcePlusPlusNeedsTheReferenceForItsKlPenalty()
    {
        var algorithm = AlgorithmRegistry.Create("reinforce_plus_plus");
        Assert.True(algorithm.NeedsReference);
        var batch = new PolicyBatch(1, [1f, 0f], [[-1f, -1f], [-2f]]);
        Assert.Throws<ArgumentException>(() => algorithm.Prepare(batch));
        var noKl = AlgorithmRegistry.Create("reinforce_plus_plus", new ReinforcePlusPlusOptions { KlInRewardCoef = 0 });
        Assert.False(noKl.NeedsReference);
        noKl.Prepare(batch);
        // Returns [[1, 1], [0]]: mean ⅔, unbiased var ⅓.
        Assert.Equal((1 - 2.0 / 3) / Math.Sqrt(1.0 / 3 + 1e-8), batch.Advantages![0][0], 5);
    }

    [Fact]
    public void LossRequiresPreparedAdvantagesAndCurrentLogProbs()
    {
        var algorithm = AlgorithmRegistry.Create("grpo");
        var batch = new PolicyBatch(2, [1f, 0f], [[-1f], [-1f]]) { LogProbs = [[-1f], [-1f]] };
        Assert.Contains("advantages", Assert.Throws<ArgumentException>(() => algorithm.Loss(batch)).Message);
        algorithm.Prepare(batch);
        batch.LogProbs = [[-1f, -2f], [-1f]];
        Assert.Contains("log_probs row 0", Assert.Throws<ArgumentException>(() => algorithm.Loss(batch)).Message);
    }

    [Fact]
    public void SelectGroupsKeepsWholeGroupsAndSharesRows()
    {
        var batch = new PolicyBatch(2, [1f, 0f, 0f, 0f, 1f, 1f], [[-1f], [-2f], [-3f], [-4f], [-5f], [-6f]]);
        var mini = batch.SelectGroups([2, 0]);
        Assert.Equal(2, mini.GroupSize);
        Assert.Equal([1f, 1f, 1f, 0f], mini.Rewards);
        Assert.Same(batch.OldLogProbs[4], mini.OldLogProbs[0]);
        Assert.Throws<ArgumentException>(() => batch.SelectGroups([3]));
    }
}

public class MicroBatchTotalsTests
{
    [Theory]
    [InlineData("pacs", "token-mean")]
    [InlineData("grpo", "token-mean")]
    [InlineData("grpo", "seq-mean-token-mean")]
    [InlineData("dr_grpo", "seq-mean-token-sum-norm")]
    [InlineData("ppo", "seq-mean-token-sum")]
    public void MicroBatchLossesAndGradientsAddUpToTheMiniBatch(string name, string aggregation)
    {
        var rng = new Random(17);
        int[] lengths = [3, 2, 4, 1, 2, 5, 6, 1];
        var old = AlgorithmFixtures.RandomLogProbs(rng, lengths);
        var whole = new PolicyBatch(2, [1f, 0f, 0f, 0f, 1f, 1f, 0f, 1f], old)
        {
            OldValues = AlgorithmFixtures.Perturb(rng, lengths.Select(n => new float[n]).ToArray(), 0.5),
        };
        var options = AlgorithmRegistry.DefaultOptions(name);
        if (options is ClippedPolicyOptions clipped) clipped.LossAggMode = ConfigEnum.Parse<LossAggMode>(aggregation, "loss_agg_mode");
        var algorithm = AlgorithmRegistry.Create(name, options);
        algorithm.Prepare(whole);
        whole.LogProbs = AlgorithmFixtures.Perturb(rng, old, 0.3);
        whole.Values = AlgorithmFixtures.Perturb(rng, whole.OldValues, 0.3);
        var expected = algorithm.Loss(whole);

        var totals = MiniBatchTotals.Of(whole);
        double loss = 0;
        foreach (var groups in new[] { new[] { 0, 1 }, new[] { 2 }, new[] { 3 } })
        {
            var micro = whole.SelectGroups(groups);
            micro.Totals = totals;
            var output = algorithm.Loss(micro);
            loss += output.Loss;
            for (int k = 0; k < micro.Count; k++)
            {
                int row = groups[k / 2] * 2 + k % 2;
                for (int t = 0; t < lengths[row]; t++)
                {
                    Assert.Equal(expected.GradLogProbs[row][t], output.GradLogProbs[k][t], 6);
                    if (expected.GradValues is not null) Assert.Equal(expected.GradValues[row][t], output.GradValues![k][t], 6);
                }
            }
        }
        Assert.Equal(expected.Loss, loss, 9);
    }
}

public class AdvantageValueFixtureTests
{
    private static void AssertRagged(double[][] expected, float[][] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int r = 0; r < expected.Length; r++)
        {
            Assert.Equal(expected[r].Length, actual[r].Length);
            for (int t = 0; t < expected[r].Length; t++)
                AlgorithmFixtures.AssertClose(expected[r][t], actual[r][t], tolerance, $"{what}[{r}][{t}]");
        }
    }

    [Fact]
    public void PpoGaeAndValueLossMatchThePyTorchPortOfVerl()
    {
        var f = AlgorithmFixtures.Load("advantage_value.json");
        var batch = new PolicyBatch(1, AlgorithmFixtures.Floats(f.GetProperty("rewards")), AlgorithmFixtures.Ragged(f.GetProperty("old_log_probs")))
        {
            RefLogProbs = AlgorithmFixtures.Ragged(f.GetProperty("ref_log_probs")),
            OldValues = AlgorithmFixtures.Ragged(f.GetProperty("old_values")),
        };
        var options = new PpoOptions
        {
            KlInRewardCoef = f.GetProperty("kl_in_reward_coef").GetDouble(),
            Gamma = f.GetProperty("gamma").GetDouble(),
            Lambda = f.GetProperty("lam").GetDouble(),
            ValueClip = f.GetProperty("value_clip").GetDouble(),
            ValueLossCoef = f.GetProperty("value_loss_coef").GetDouble(),
        };
        var ppo = new PpoAlgorithm(options);
        ppo.Prepare(batch);
        AssertRagged(AlgorithmFixtures.RaggedDouble(f.GetProperty("gae_advantages")), batch.Advantages!, 1e-5, "GAE advantage");
        AssertRagged(AlgorithmFixtures.RaggedDouble(f.GetProperty("gae_returns")), batch.Returns!, 1e-5, "GAE return");

        batch.LogProbs = AlgorithmFixtures.Clone(batch.OldLogProbs);
        batch.Values = AlgorithmFixtures.Ragged(f.GetProperty("values"));
        var output = ppo.Loss(batch);
        AlgorithmFixtures.AssertClose(f.GetProperty("vf_loss").GetDouble(), output.Metrics["critic/vf_loss"], 1e-5, "value loss");
        AssertRagged(AlgorithmFixtures.RaggedDouble(f.GetProperty("grad_values")), output.GradValues!, 1e-5, "d loss / d value");
        Assert.InRange(output.Metrics["critic/vf_clipfrac"], 1e-9, 1);
    }

    [Fact]
    public void ReinforcePlusPlusMatchesThePyTorchPortOfVerl()
    {
        var f = AlgorithmFixtures.Load("advantage_value.json");
        var batch = new PolicyBatch(1, AlgorithmFixtures.Floats(f.GetProperty("rewards")), AlgorithmFixtures.Ragged(f.GetProperty("old_log_probs")))
        {
            RefLogProbs = AlgorithmFixtures.Ragged(f.GetProperty("ref_log_probs")),
        };
        var options = new ReinforcePlusPlusOptions { KlInRewardCoef = f.GetProperty("kl_in_reward_coef").GetDouble(), Gamma = f.GetProperty("gamma").GetDouble() };
        new ReinforcePlusPlusAlgorithm(options).Prepare(batch);
        AssertRagged(AlgorithmFixtures.RaggedDouble(f.GetProperty("reinforce_pp_advantages")), batch.Advantages!, 1e-5, "REINFORCE++ advantage");
    }
}

using Pacs.Rl.Algorithms;

namespace Pacs.Rl.Tests.Algorithms;

public class PacsLossTests
{
    private static PacsOptions Options(string psi = "rloo", string proxy = "sum", string weights = "balanced", double beta = 1, string reference = "rollout") =>
        new()
        {
            Psi = ConfigEnum.Parse<PacsPsi>(psi, "psi"),
            Proxy = ConfigEnum.Parse<PacsProxy>(proxy, "proxy"),
            Weights = ConfigEnum.Parse<PacsWeights>(weights, "weights"),
            Beta = beta,
            Reference = ConfigEnum.Parse<PacsReference>(reference, "reference"),
        };

    [Fact]
    public void HandComputedTwoResponseGroup()
    {
        // r̂ = [0.5, −0.5]; RLOO ψ = [1, −1]; labels [1, 0]: both BCE terms are log(1 + e^−1).
        float[][] old = [[0f], [0f]];
        float[][] current = [[0.5f], [-0.5f]];
        var result = PacsLoss.Compute(current, old, [1f, 0f], 2, Options(weights: "none"));
        Assert.Equal(Math.Log(1 + Math.Exp(-1)), result.Loss, 12);
        AlgorithmFixtures.AssertAll([1.0, -1.0], result.Psi, 12);
        // dL/dψ = [(σ(1) − 1)/2, σ(−1)/2] = [−g, g]; dL/dr̂_0 = g_0 − g_1 = −2g.
        double g = PacsLoss.Sigmoid(-1) / 2;
        Assert.Equal(-2 * g, result.GradLogProbs[0][0], 6);
        Assert.Equal(2 * g, result.GradLogProbs[1][0], 6);
    }

    [Fact]
    public void BalancedWeightsFollowClassFrequenciesPerGroup()
    {
        // k = 1 of G = 4 correct: positives 4/(2·1) = 2, negatives 4/(2·3) = 2/3; the uniform group weighs 1.
        var w = PacsLoss.BceWeights([1f, 0f, 0f, 0f, 1f, 1f, 1f, 1f], 4, PacsWeights.Balanced);
        AlgorithmFixtures.AssertAll([2, 2.0 / 3, 2.0 / 3, 2.0 / 3, 1, 1, 1, 1], w, 12);
        Assert.Equal([1, 0, 0, 0], PacsLoss.BceWeights([1f, 0f, 0f, 0f], 4, PacsWeights.PositiveOnly));
        Assert.Equal([0, 1, 1, 1], PacsLoss.BceWeights([1f, 0f, 0f, 0f], 4, PacsWeights.NegativeOnly));
        Assert.Equal([1, 1, 1, 1], PacsLoss.BceWeights([1f, 0f, 0f, 0f], 4, PacsWeights.None));
    }

    [Fact]
    public void FirstOnPolicyStepHandValues()
    {
        // π_θ = π_old ⇒ r̂ = ψ = 0, σ(ψ) = ½. Balanced weights [2, ⅔, ⅔, ⅔]: δ = w (y − ½) = [1, −⅓, −⅓, −⅓].
        // dL/dr̂_0 = −¼ [1 − (−⅓)] = −⅓; dL/dr̂_neg = −¼ [−⅓ − (1 − ⅓ − ⅓)/3] = 1/9; β = 1, two tokens each.
        float[][] logProbs = [[-1f, -2f], [-0.5f, -0.25f], [-3f, -1f], [-2f, -2f]];
        var result = PacsLoss.Compute(logProbs, AlgorithmFixtures.Clone(logProbs), [1f, 0f, 0f, 0f], 4, Options());
        Assert.Equal(Math.Log(2) * (2 + 3 * 2.0 / 3) / 4, result.Loss, 12);
        Assert.All(result.GradLogProbs[0], g => Assert.Equal(-1.0 / 3, g, 6));
        for (int i = 1; i < 4; i++) Assert.All(result.GradLogProbs[i], g => Assert.Equal(1.0 / 9, g, 6));
    }

    [Theory]
    [InlineData("rloo", "sum", "balanced", 1.0)]
    [InlineData("rloo", "sum", "none", 2.0)]
    [InlineData("rloo", "mean", "negative_only", 0.7)]
    [InlineData("grpo", "sum", "balanced", 1.0)]
    [InlineData("grpo", "mean", "none", 1.5)]
    [InlineData("none", "sum", "positive_only", 0.5)]
    public void GradientMatchesFiniteDifferences(string psi, string proxy, string weights, double beta)
    {
        var rng = new Random(7);
        int[] lengths = [3, 1, 4, 2, 5, 2];
        var old = AlgorithmFixtures.RandomLogProbs(rng, lengths);
        var current = AlgorithmFixtures.Perturb(rng, old, 0.1);
        float[] labels = [1f, 0f, 0f, 1f, 1f, 1f];
        var options = Options(psi, proxy, weights, beta);
        var result = PacsLoss.Compute(current, old, labels, 3, options);
        AlgorithmFixtures.AssertFiniteDifferences(current, result.GradLogProbs, () => PacsLoss.Compute(current, old, labels, 3, options).Loss);
    }

    [Fact]
    public void GradientIsMinusBetaOverROfLeaveOneOutCentredDeltas()
    {
        // ∇L = −(β/R) Σ_i [δ_i − mean_{j≠i} δ_j] ∇ log π(o_i), δ_i = w_i (y_i − σ(ψ_i)): checked per token.
        var rng = new Random(11);
        int[] lengths = [2, 3, 1, 4, 2, 2, 3, 1];
        var old = AlgorithmFixtures.RandomLogProbs(rng, lengths);
        var current = AlgorithmFixtures.Perturb(rng, old, 0.2);
        float[] labels = [1f, 0f, 0f, 1f, 0f, 0f, 0f, 1f];
        const double beta = 1.7;
        const int groupSize = 4;
        var result = PacsLoss.Compute(current, old, labels, groupSize, Options(beta: beta));
        int count = labels.Length;
        var delta = new double[count];
        for (int i = 0; i < count; i++) delta[i] = result.Weights[i] * (labels[i] - PacsLoss.Sigmoid(result.Psi[i]));
        for (int i = 0; i < count; i++)
        {
            int start = i / groupSize * groupSize;
            double others = 0;
            for (int j = start; j < start + groupSize; j++) if (j != i) others += delta[j];
            double expected = -beta / count * (delta[i] - others / (groupSize - 1));
            Assert.All(result.GradLogProbs[i], g => Assert.Equal(expected, g, 6));
        }
        // Sign: a correct response that the critic under-rates gets a negative loss gradient (descent raises log π).
        Assert.True(result.GradLogProbs[0][0] < 0);
    }

    [Fact]
    public void GrpoScoreWithEqualProxiesHasAFiniteGradient()
    {
        float[][] logProbs = [[-1f], [-2f], [-3f]];
        var result = PacsLoss.Compute(logProbs, AlgorithmFixtures.Clone(logProbs), [1f, 0f, 0f], 3, Options(psi: "grpo"));
        Assert.All(result.GradLogProbs.SelectMany(row => row), g => Assert.True(float.IsFinite(g)));
        Assert.True(result.GradLogProbs[0][0] < 0);
    }

    [Fact]
    public void MatchesThePyTorchPortOfTheReleasedCode()
    {
        var root = AlgorithmFixtures.Load("pacs_loss.json");
        int checkedConfigs = 0;
        foreach (var fixture in root.GetProperty("fixtures").EnumerateArray())
        {
            var name = fixture.GetProperty("name").GetString()!;
            var o = fixture.GetProperty("options");
            var options = new PacsOptions
            {
                Beta = o.GetProperty("beta").GetDouble(),
                Reference = ConfigEnum.Parse<PacsReference>(o.GetProperty("reference").GetString()!, "reference"),
                Proxy = ConfigEnum.Parse<PacsProxy>(o.GetProperty("proxy").GetString()!, "proxy"),
                Psi = ConfigEnum.Parse<PacsPsi>(o.GetProperty("psi").GetString()!, "psi"),
                Weights = ConfigEnum.Parse<PacsWeights>(o.GetProperty("weights").GetString()!, "weights"),
                PsiNormByStd = !o.TryGetProperty("psi_norm_by_std", out var norm) || norm.GetBoolean(),
            };
            var labels = AlgorithmFixtures.Floats(fixture.GetProperty("labels"));
            var batch = new PolicyBatch(fixture.GetProperty("group_size").GetInt32(), labels, AlgorithmFixtures.Ragged(fixture.GetProperty("old_log_probs")))
            {
                LogProbs = AlgorithmFixtures.Ragged(fixture.GetProperty("log_probs")),
                RefLogProbs = AlgorithmFixtures.Ragged(fixture.GetProperty("ref_log_probs")),
            };
            var output = new PacsAlgorithm(options).Loss(batch);
            AlgorithmFixtures.AssertClose(fixture.GetProperty("loss").GetDouble(), output.Loss, 1e-9, $"{name} loss");
            var expected = AlgorithmFixtures.RaggedDouble(fixture.GetProperty("grad_log_probs"));
            for (int r = 0; r < expected.Length; r++)
            {
                Assert.Equal(expected[r].Length, output.GradLogProbs[r].Length);
                for (int t = 0; t < expected[r].Length; t++)
                    AlgorithmFixtures.AssertClose(expected[r][t], output.GradLogProbs[r][t], 1e-6, $"{name} grad[{r}][{t}]");
            }
            checkedConfigs++;
        }
        Assert.Equal(7, checkedConfigs);
    }

    [Fact]
    public void AlgorithmReportsCriticCalibration()
    {
        // ψ = [1, −1 | −1, 1]: group 1 is classified right (σ(1) > ½ for the correct one), group 2 wrong.
        float[][] old = [[0f], [0f], [0f], [0f]];
        var batch = new PolicyBatch(2, [1f, 0f, 1f, 0f], old) { LogProbs = [[0.5f], [-0.5f], [-0.5f], [0.5f]] };
        var algorithm = (PacsAlgorithm)AlgorithmRegistry.Create("pacs");
        var metrics = algorithm.Loss(batch).Metrics;
        Assert.Equal(0.5, metrics["pacs/critic_accuracy"], 12);
        Assert.Equal((PacsLoss.Sigmoid(1) + PacsLoss.Sigmoid(-1)) / 2, metrics["pacs/score_correct_mean"], 12);
        Assert.Equal(0, metrics["reward/uniform_group_fraction"]);
        Assert.True(algorithm.NeedsWholeGroups);
        Assert.False(algorithm.NeedsReference);
    }

    [Fact]
    public void InitialReferenceUsesRefLogProbsAndIsRequired()
    {
        var algorithm = new PacsAlgorithm(new PacsOptions { Reference = PacsReference.Initial });
        Assert.True(algorithm.NeedsReference);
        var batch = new PolicyBatch(2, [1f, 0f], [[-1f], [-1f]]) { LogProbs = [[-1f], [-1f]] };
        var error = Assert.Throws<ArgumentException>(() => algorithm.Loss(batch));
        Assert.Contains("ref_log_probs", error.Message);
        batch.RefLogProbs = [[-1.5f], [-0.5f]];
        // r̂ = [0.5, −0.5] against the initial model even though π_θ = π_old.
        Assert.Equal(Math.Log(1 + Math.Exp(-1)), algorithm.Loss(batch).Loss, 12);
    }

    [Fact]
    public void RejectsBadOptionsAndPartialGroups()
    {
        Assert.Throws<ArgumentException>(() => ConfigEnum.Parse<PacsPsi>("gae", "psi"));
        Assert.Throws<ArgumentException>(() => ConfigEnum.Parse<PacsWeights>("question", "weights"));
        Assert.Throws<ArgumentException>(() => new PacsAlgorithm(new PacsOptions { Beta = 0 }));
        Assert.Throws<ArgumentException>(() => PacsLoss.Compute([[-1f], [-1f], [-1f]], [[-1f], [-1f], [-1f]], [1f, 0f, 0f], 2, new PacsOptions()));
        var rows = new PolicyBatch(2, [1f, 0f, 1f, 1f], [[-1f], [-1f], [-1f], [-1f]]).SelectRows([0, 2]);
        rows.LogProbs = [[-1f], [-1f]];
        Assert.Throws<ArgumentException>(() => new PacsAlgorithm(new PacsOptions()).Loss(rows));
    }
}

using Pacs.Rl.Algorithms;

namespace Pacs.Rl.Tests.Algorithms;

public class RolloutCorrectionTests
{
    // Row 0: old - rollout = [0.5, -1, 0] (sum -0.5); row 1: [1, 0] (sum 1).
    private static readonly float[][] Old = [[-1.0f, -2.0f, -0.5f], [-0.25f, -3f]];
    private static readonly float[][] Rollout = [[-1.5f, -1.0f, -0.5f], [-1.25f, -3f]];

    private static void Close(double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 5);
    }

    [Fact]
    public void Token_weights_are_truncated_or_masked_ratios()
    {
        double e5 = Math.Exp(0.5), em1 = Math.Exp(-1), e1 = Math.Exp(1);
        var tis = RolloutCorrection.Weights(RolloutCorrectionMode.TisToken, 1.5, Old, Rollout)!;
        Close([1.5, em1, 1], tis[0]);
        Close([1.5, 1], tis[1]);
        var mis = RolloutCorrection.Weights(RolloutCorrectionMode.MisToken, 1.5, Old, Rollout)!;
        Close([0, em1, 1], mis[0]);
        Close([0, 1], mis[1]);
        var wide = RolloutCorrection.Weights(RolloutCorrectionMode.TisToken, 10, Old, Rollout)!;
        Close([e5, em1, 1], wide[0]);
        Close([e1, 1], wide[1]);
    }

    [Fact]
    public void Sequence_weights_are_the_product_of_ratios_on_every_token()
    {
        double seq0 = Math.Exp(-0.5);
        var tis = RolloutCorrection.Weights(RolloutCorrectionMode.TisSequence, 1.5, Old, Rollout)!;
        Close([seq0, seq0, seq0], tis[0]);
        Close([1.5, 1.5], tis[1]);
        var mis = RolloutCorrection.Weights(RolloutCorrectionMode.MisSequence, 1.5, Old, Rollout)!;
        Close([seq0, seq0, seq0], mis[0]);
        Close([0, 0], mis[1]);
    }

    [Fact]
    public void Off_means_no_weights_and_log_ratios_are_bounded()
    {
        Assert.Null(RolloutCorrection.Weights(RolloutCorrectionMode.None, 2, Old, Rollout));
        var huge = RolloutCorrection.Weights(RolloutCorrectionMode.TisToken, 1e12, [[0f]], [[-50f]])!;
        Assert.Equal(Math.Exp(RolloutCorrection.LogRatioBound), huge[0][0], 1e3);
        var e = Assert.Throws<ArgumentException>(() => RolloutCorrection.Weights(RolloutCorrectionMode.TisToken, 2, Old, [[-1f], [-1f, -1f]]));
        Assert.Contains("response 0", e.Message);
    }

    [Fact]
    public void Mismatch_metrics_match_a_hand_computation()
    {
        var m = RolloutCorrection.Metrics(Old, Rollout, RolloutCorrectionMode.TisToken, 1.5);
        double[] deltas = [0.5, -1, 0, 1, 0];
        Assert.Equal(deltas.Average(Math.Abs), m["rollout_corr/logp_abs_diff_mean"], 6);
        Assert.Equal(1, m["rollout_corr/logp_abs_diff_max"], 6);
        Assert.Equal(-deltas.Average(), m["rollout_corr/kl"], 6);
        Assert.Equal(deltas.Average(d => Math.Exp(d) - d - 1), m["rollout_corr/k3_kl"], 6);
        Assert.Equal(deltas.Average(d => Math.Exp(2 * d)) - 1, m["rollout_corr/chi2_token"], 5);
        double s0 = Math.Exp(-0.5), s1 = Math.Exp(1);
        Assert.Equal((s0 + s1) / 2, m["rollout_corr/seq_ratio_mean"], 5);
        Assert.Equal(s0, m["rollout_corr/seq_ratio_min"], 5);
        Assert.Equal(s1, m["rollout_corr/seq_ratio_max"], 5);
        Assert.Equal((s0 * s0 + s1 * s1) / 2 - 1, m["rollout_corr/chi2_seq"], 5);
        Assert.Equal((1.5 + Math.Exp(-1) + 1 + 1.5 + 1) / 5, m["rollout_corr/weight_mean"], 5);
        Assert.Equal(2 / 5.0, m["rollout_corr/ratio_fraction_high"], 6);
        Assert.False(RolloutCorrection.Metrics(Old, Rollout, RolloutCorrectionMode.None, 1.5).ContainsKey("rollout_corr/weight_mean"));
    }

    /// <summary>
    /// The corrected gradient w_t dL/dlogp_t is the gradient of the weighted surrogate sum_t w_t l_t with w detached,
    /// where l_t = -A_t exp(logp_t - old_t) / N is GRPO's per-token term inside the clip range (token-mean, no KL).
    /// </summary>
    [Fact]
    public void Weighted_gradient_is_the_gradient_of_the_weighted_per_token_loss()
    {
        var rng = new Random(5);
        int[] lengths = [3, 2, 4, 2];
        var old = AlgorithmFixtures.RandomLogProbs(rng, lengths);
        var rollout = AlgorithmFixtures.Perturb(rng, old, 0.3);
        var batch = new PolicyBatch(2, [1f, 0f, 0f, 1f], old);
        var algorithm = new GrpoAlgorithm(new GrpoOptions { ClipEpsLow = 0.5, ClipEpsHigh = 0.5 });
        algorithm.Prepare(batch);
        var current = AlgorithmFixtures.Perturb(rng, old, 0.1);
        batch.LogProbs = current;
        var output = algorithm.Loss(batch);
        var weights = RolloutCorrection.Weights(RolloutCorrectionMode.TisToken, 1.2, old, rollout)!;
        Assert.Contains(weights.SelectMany(w => w), w => w == 1.2f);
        int n = lengths.Sum();
        double Surrogate(bool weighted)
        {
            double loss = 0;
            for (int r = 0; r < current.Length; r++)
                for (int t = 0; t < current[r].Length; t++)
                    loss -= (weighted ? weights[r][t] : 1) * batch.Advantages![r][t] * Math.Exp(current[r][t] - (double)old[r][t]) / n;
            return loss;
        }
        Assert.Equal(Surrogate(weighted: false), output.Loss, 5);
        RolloutCorrection.Apply(output.GradLogProbs, weights);
        AlgorithmFixtures.AssertFiniteDifferences(current, output.GradLogProbs, () => Surrogate(weighted: true));
    }
}

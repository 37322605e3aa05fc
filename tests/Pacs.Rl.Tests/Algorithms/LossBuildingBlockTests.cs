using Pacs.Rl.Algorithms;

namespace Pacs.Rl.Tests.Algorithms;

public class LossBuildingBlockTests
{
    private static readonly double[][] s_tokenLoss = [[1, 2, 3], [4]];

    [Theory]
    [InlineData("token-mean", 0, 2.5)]               // 10 / 4 tokens
    [InlineData("seq-mean-token-sum", 0, 5)]         // (6 + 4) / 2
    [InlineData("seq-mean-token-mean", 0, 3)]        // (2 + 4) / 2
    [InlineData("seq-mean-token-sum-norm", 5, 1)]    // (6/5 + 4/5) / 2
    [InlineData("seq-mean-token-sum-norm", 0, 10.0 / 6)] // normaliser = longest response (3)
    public void AggregationModes(string mode, double normalizer, double expected)
    {
        Assert.Equal(expected, LossAggregation.Aggregate(s_tokenLoss, ConfigEnum.Parse<LossAggMode>(mode, "loss_agg_mode"), normalizer), 12);
    }

    [Fact]
    public void AggregationRejectsUnknownModesAndEmptyBatchesGiveZero()
    {
        Assert.Throws<ArgumentException>(() => ConfigEnum.Parse<LossAggMode>("token-sum", "loss_agg_mode"));
        Assert.Equal(0, LossAggregation.Aggregate([[], []], LossAggMode.TokenMean));
    }

    [Fact]
    public void KlEstimatorsMatchHandValues()
    {
        // log π = −1, log π_ref = −1.5: k1 = 0.5, k2 = 0.125, k3 = e^−0.5 + 0.5 − 1.
        Assert.Equal((0.5, 1.0), KlEstimators.Evaluate(Kl("k1"), -1, -1.5));
        Assert.Equal((0.5, 1.0), KlEstimators.Evaluate(Kl("abs"), -1, -1.5));
        Assert.Equal((0.125, 0.5), KlEstimators.Evaluate(Kl("k2"), -1, -1.5));
        var (k3, g3) = KlEstimators.Evaluate(Kl("low_var_kl"), -1, -1.5);
        Assert.Equal(Math.Exp(-0.5) - 0.5, k3, 12);
        Assert.Equal(1 - Math.Exp(-0.5), g3, 12);
        // k3 is clamped at 10 (log-ratio −15 → e^15 ≫ 10), with no gradient there.
        Assert.Equal((10.0, 0.0), KlEstimators.Evaluate(Kl("k3"), 0, -15));
        Assert.Throws<ArgumentException>(() => Kl("k4"));
    }

    [Theory]
    [InlineData("k1")]
    [InlineData("abs")]
    [InlineData("k2")]
    [InlineData("k3")]
    public void KlGradientsMatchFiniteDifferences(string name)
    {
        foreach (var (logp, refLogp) in new[] { (-1.0, -1.5), (-2.0, -0.7), (-0.3, -0.31) })
        {
            const double h = 1e-6;
            double numeric = (KlEstimators.Evaluate(Kl(name), logp + h, refLogp).Value - KlEstimators.Evaluate(Kl(name), logp - h, refLogp).Value) / (2 * h);
            Assert.Equal(numeric, KlEstimators.Evaluate(Kl(name), logp, refLogp).Grad, 6);
        }
    }

    [Fact]
    public void ClippedSurrogateHandValues()
    {
        double log15 = Math.Log(1.5);
        // A > 0, ratio 1.5 > 1.2: clipped at −1.2, no gradient.
        var up = PolicyLoss.Token(log15, 0, 1, 0.2, 0.2, 3);
        Assert.Equal(-1.2, up.Loss, 12);
        Assert.Equal(0, up.Grad);
        Assert.True(up.Clipped);
        // Clip-higher ε_high = 0.6 lets ratio 1.5 through: −1.5, gradient −A ρ.
        var higher = PolicyLoss.Token(log15, 0, 1, 0.2, 0.6, 3);
        Assert.Equal(-1.5, higher.Loss, 12);
        Assert.Equal(-1.5, higher.Grad, 12);
        // A < 0, ratio 1.5: the pessimistic branch is unclipped, loss 1.5, gradient 1.5.
        var down = PolicyLoss.Token(log15, 0, -1, 0.2, 0.2, 3);
        Assert.Equal(1.5, down.Loss, 12);
        Assert.Equal(1.5, down.Grad, 12);
        Assert.False(down.Clipped);
        // A < 0, ratio 4 > c = 3: dual clip bounds the loss at 3 with no gradient.
        var dual = PolicyLoss.Token(Math.Log(4), 0, -1, 0.2, 0.2, 3);
        Assert.Equal(3, dual.Loss, 12);
        Assert.Equal(0, dual.Grad);
        Assert.True(dual.DualClipped);
        Assert.Equal(4, PolicyLoss.Token(Math.Log(4), 0, -1, 0.2, 0.2, 0).Loss, 12);
        // A > 0, ratio 0.5 < 0.8: the unclipped branch is the max, −0.5 A with gradient −A ρ.
        var low = PolicyLoss.Token(Math.Log(0.5), 0, 2, 0.2, 0.2, 3);
        Assert.Equal(-1.0, low.Loss, 12);
        Assert.Equal(-1.0, low.Grad, 12);
    }

    [Fact]
    public void ValueLossHandValues()
    {
        // v = 1, v_old = 0, R = 2, c = 0.5: v_clip = 0.5; (v − R)² = 1 < (v_clip − R)² = 2.25 → clipped branch, no gradient.
        var (loss, grad, clipped) = ValueLoss.Token(1, 0, 2, 0.5);
        Assert.Equal(1.125, loss, 12);
        Assert.Equal(0, grad);
        Assert.True(clipped);
        // v = 0.2 inside the clip range: ½ (0.2 − 2)², gradient v − R.
        var inside = ValueLoss.Token(0.2, 0, 2, 0.5);
        Assert.Equal(0.5 * 1.8 * 1.8, inside.Loss, 12);
        Assert.Equal(-1.8, inside.Grad, 12);
        // v = 3 moved past the target: the unclipped loss is larger and keeps its gradient.
        var past = ValueLoss.Token(3, 2.8, 2, 0.1);
        Assert.Equal(0.5, past.Loss, 12);
        Assert.Equal(1, past.Grad, 12);
    }

    private static KlEstimator Kl(string name) => ConfigEnum.Parse<KlEstimator>(name, "kl estimator");
}

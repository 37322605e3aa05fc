using Pacs.Rl.Algorithms;

namespace Pacs.Rl.Tests.Algorithms;

public class AdvantageEstimatorTests
{
    [Fact]
    public void GrpoDividesByTheUnbiasedGroupStd()
    {
        // Group [1, 0, 0, 1]: mean 0.5, unbiased std sqrt((4 × 0.25) / 3) = sqrt(1/3).
        var a = AdvantageEstimators.Grpo([1, 0, 0, 1, 1, 1, 1, 1], groupSize: 4);
        double expected = 0.5 / (Math.Sqrt(1.0 / 3) + 1e-6);
        AlgorithmFixtures.AssertAll([expected, -expected, -expected, expected, 0, 0, 0, 0], a, 12);
    }

    [Fact]
    public void GrpoBiasedStdAndDrGrpoWithoutStd()
    {
        var biased = AdvantageEstimators.Grpo([1, 0, 0, 1], 4, normByStd: true, unbiasedStd: false);
        Assert.Equal(0.5 / (0.5 + 1e-6), biased[0], 12);
        var drGrpo = AdvantageEstimators.Grpo([1, 0, 0, 0], 4, normByStd: false);
        AlgorithmFixtures.AssertAll([0.75, -0.25, -0.25, -0.25], drGrpo, 12);
    }

    [Fact]
    public void RlooSubtractsTheMeanOfTheOthers()
    {
        var a = AdvantageEstimators.Rloo([1, 0, 0, 0, 2, 4], groupSize: 3);
        // Groups of 3: [1, 0, 0] → [1 − 0, 0 − 0.5, 0 − 0.5]; [0, 2, 4] → [0 − 3, 2 − 2, 4 − 1].
        AlgorithmFixtures.AssertAll([1, -0.5, -0.5, -3, 0, 3], a, 12);
    }

    [Fact]
    public void SingletonGroupsKeepTheReward()
    {
        AlgorithmFixtures.AssertAll([0.7, 0.2], AdvantageEstimators.Grpo([0.7, 0.2], 1), 12);
        AlgorithmFixtures.AssertAll([0.7, 0.2], AdvantageEstimators.Rloo([0.7, 0.2], 1), 12);
    }

    [Fact]
    public void ReinforcePlusPlusWhitensDiscountedReturnsOverTheBatch()
    {
        // γ = 1: returns [[1, 1, 1], [0, 0]]; mean 0.6, unbiased var (3 × 0.16 + 2 × 0.36) / 4 = 0.3.
        var a = AdvantageEstimators.ReinforcePlusPlus([[0, 0, 1], [0, 0]], gamma: 1);
        double s = Math.Sqrt(0.3 + 1e-8);
        AlgorithmFixtures.AssertAll([0.4 / s, 0.4 / s, 0.4 / s], a[0], 10);
        AlgorithmFixtures.AssertAll([-0.6 / s, -0.6 / s], a[1], 10);

        // γ = 0.5: returns [0.25, 0.5, 1] before whitening; mean 7/12.
        var discounted = AdvantageEstimators.ReinforcePlusPlus([[0, 0, 1]], gamma: 0.5);
        double mean = 1.75 / 3, var = (Math.Pow(0.25 - mean, 2) + Math.Pow(0.5 - mean, 2) + Math.Pow(1 - mean, 2)) / 2;
        Assert.Equal((0.25 - mean) / Math.Sqrt(var + 1e-8), discounted[0][0], 10);
    }

    [Fact]
    public void GaeMatchesHandComputation()
    {
        // r = [0, 1], V = [0.5, 0.8], γ = 1, λ = 0.5: δ1 = 1 − 0.8 = 0.2, δ0 = 0.8 − 0.5 = 0.3, A0 = 0.3 + 0.5 × 0.2.
        var (adv, ret) = AdvantageEstimators.Gae([[0, 1]], [[0.5f, 0.8f]], gamma: 1, lambda: 0.5, whiten: false);
        Assert.Equal(0.4, adv[0][0], 6);
        Assert.Equal(0.2, adv[0][1], 6);
        Assert.Equal(0.9, ret[0][0], 6);
        Assert.Equal(1.0, ret[0][1], 6);
        // γ = 0.9, λ = 1: A1 = 1 − 0.8 = 0.2; A0 = (0.9 × 0.8 − 0.5) + 0.9 × 0.2 = 0.4.
        var (adv2, _) = AdvantageEstimators.Gae([[0, 1]], [[0.5f, 0.8f]], gamma: 0.9, lambda: 1, whiten: false);
        Assert.Equal(0.4, adv2[0][0], 6);
    }

    [Fact]
    public void OutcomeTokenRewardsPutTheRewardLastAndPenaliseKl()
    {
        var plain = AdvantageEstimators.OutcomeTokenRewards([1f, 0f], [[-1f, -2f], []]);
        Assert.Equal([0, 1], plain[0]);
        Assert.Empty(plain[1]);
        // k1 = old − ref = [0.5, −1]; r_t = −0.1 k1_t, plus the outcome on the last token.
        var penalised = AdvantageEstimators.OutcomeTokenRewards([1f], [[-1f, -2f]], [[-1.5f, -1f]], klCoef: 0.1);
        AlgorithmFixtures.AssertAll([-0.05, 1.1], penalised[0], 10);
    }

    [Fact]
    public void UniformGroupFractionCountsAllEqualGroups()
    {
        Assert.Equal(2.0 / 3, AdvantageEstimators.UniformGroupFraction([1f, 1f, 0f, 1f, 0f, 0f], 2), 12);
        Assert.Throws<ArgumentException>(() => AdvantageEstimators.UniformGroupFraction([1f, 1f, 0f], 2));
    }
}

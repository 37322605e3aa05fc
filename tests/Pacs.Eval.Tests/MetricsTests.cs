namespace Pacs.Eval.Tests;

public class MetricsTests
{
    [Theory]
    [InlineData(16, 0, 1, 0.0)]
    [InlineData(16, 16, 1, 1.0)]
    [InlineData(16, 4, 1, 0.25)]
    [InlineData(4, 1, 2, 0.5)] // 1 - C(3,2)/C(4,2) = 1 - 3/6
    [InlineData(5, 2, 2, 0.7)] // 1 - C(3,2)/C(5,2) = 1 - 3/10
    [InlineData(10, 3, 4, 1.0 - 35.0 / 210.0)] // C(7,4)=35, C(10,4)=210
    [InlineData(4, 3, 2, 1.0)] // n - c < k: every pair holds a correct one
    public void Pass_at_k_matches_hand_values(int n, int c, int k, double expected) =>
        Assert.Equal(expected, Metrics.PassAtK(n, c, k), 12);

    [Fact]
    public void Pass_at_k_equals_the_share_of_k_subsets_that_hold_a_correct_sample()
    {
        for (int n = 1; n <= 12; n++)
            for (int c = 0; c <= n; c++)
                for (int k = 1; k <= n; k++)
                {
                    // Brute force: samples 0..c-1 are correct; enumerate every k-subset of n as a bitmask.
                    int hits = 0, subsets = 0;
                    for (int mask = 0; mask < 1 << n; mask++)
                    {
                        if (System.Numerics.BitOperations.PopCount((uint)mask) != k) continue;
                        subsets++;
                        if ((mask & ((1 << c) - 1)) != 0) hits++;
                    }
                    Assert.Equal((double)hits / subsets, Metrics.PassAtK(n, c, k), 12);
                }
    }

    [Fact]
    public void Pass_at_k_is_stable_for_large_n()
    {
        double p = Metrics.PassAtK(1024, 1, 1);
        Assert.Equal(1.0 / 1024, p, 14);
        double q = Metrics.PassAtK(1000, 10, 500);
        Assert.InRange(q, 0.999, 1.0);
        Assert.False(double.IsNaN(Metrics.PassAtK(5000, 2500, 2500)));
    }

    [Fact]
    public void Pass_at_k_rejects_impossible_counts()
    {
        Assert.Throws<ArgumentException>(() => Metrics.PassAtK(4, 5, 1));
        Assert.Throws<ArgumentException>(() => Metrics.PassAtK(4, 1, 5));
        Assert.Throws<ArgumentException>(() => Metrics.PassAtK(0, 0, 1));
    }

    [Theory]
    [InlineData(1, new[] { 1 })]
    [InlineData(4, new[] { 1, 2, 4 })]
    [InlineData(16, new[] { 1, 2, 4, 8, 16 })]
    [InlineData(10, new[] { 1, 2, 4, 8, 10 })]
    public void Reported_ks_are_powers_of_two_and_n(int n, int[] expected) =>
        Assert.Equal(expected, Metrics.ReportedKs(n));

    [Fact]
    public void Avg_at_n_is_the_correct_share() =>
        Assert.Equal(0.375, Metrics.AvgAtN([true, false, true, false, false, true, false, false]));

    [Fact]
    public void Maj_at_n_follows_the_most_common_answer()
    {
        Assert.Equal(1.0, Metrics.MajAtN([("5", true), ("5", true), ("6", false)]));
        Assert.Equal(0.0, Metrics.MajAtN([("6", false), ("5", true), ("6", false)]));
        // Unanswered samples do not vote, even when they are the most common outcome.
        Assert.Equal(1.0, Metrics.MajAtN([(null, false), (null, false), (null, false), ("5", true)]));
        Assert.Equal(0.0, Metrics.MajAtN([(null, false), (null, false)]));
    }

    [Fact]
    public void Maj_at_n_scores_ties_as_a_uniform_random_tie_break()
    {
        Assert.Equal(0.5, Metrics.MajAtN([("5", true), ("6", false)]));
        Assert.Equal(1.0 / 3, Metrics.MajAtN([("5", true), ("6", false), ("7", false), ("6", false), ("5", true), ("7", false)]), 12);
        // A tie below the top does not matter.
        Assert.Equal(1.0, Metrics.MajAtN([("5", true), ("5", true), ("6", false), ("7", false)]));
    }
}

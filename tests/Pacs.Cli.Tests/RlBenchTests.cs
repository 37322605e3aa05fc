using Pacs.Cli.Bench;

namespace Pacs.Cli.Tests;

public sealed class RlBenchTests
{
    [Fact]
    public void Rl_bench_measures_both_algorithms_on_the_same_shapes()
    {
        var rl = RlBench.Run(repeats: 1);
        Assert.Equal(["grpo", "pacs"], rl.MedianSplit.Keys.Order());
        foreach (var (algorithm, s) in rl.MedianSplit)
        {
            Assert.True(s.Rollout > 0 && s.LogProb > 0 && s.Update > 0, algorithm);
            Assert.True(s.Rollout + s.Score + s.LogProb + s.Update <= s.Step + 1e-6, $"{algorithm}: the parts exceed the step");
            Assert.True(s.RolloutTokensPerSecond > 0 && s.UpdateTokensPerSecond > 0, algorithm);
        }
        Assert.True(rl.RawGenerateTokensPerSecond.Median > 0 && rl.RawTrainTokensPerSecond.Median > 0);
        Assert.Single(rl.PacsOverGrpoUpdate.Runs);
        Assert.Equal(rl.MedianSplit["pacs"].Update / rl.MedianSplit["grpo"].Update, rl.PacsOverGrpoUpdate.Median, 6);
    }
}

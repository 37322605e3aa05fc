using Pacs.Cli.Commands;
using Pacs.Eval;
using Pacs.Rewards;

namespace Pacs.Cli.Tests;

public class MethodComparisonTests
{
    /// <summary>A report whose problem i has correct[i] of <paramref name="samples"/> samples right.</summary>
    private static EvalReport Report(int samples, params int[] correct) =>
        EvalReport.From("arith", samples, correct.Select((c, i) => new ProblemResult(new Problem($"p{i}", "q", "a"),
            Enumerable.Range(0, samples).Select(s => new Rollout($"p{i}", s, 0, "", new Verdict(s < c, null, ""))).ToList())).ToList());

    [Fact]
    public void EvaluationStandardErrorIsTheSpreadOverProblems()
    {
        // Per-problem rates 1, 0, 0.5, 0.5: mean 0.5, sample variance 1/6, SE sqrt(1/6 / 4).
        var report = Report(2, 2, 0, 1, 1);
        Assert.Equal(0.5, report.PassAt(1), 12);
        Assert.Equal(Math.Sqrt(1.0 / 6 / 4), MethodComparison.EvalStdErr(report), 12);
        var single = MethodComparison.Pass1([report]);
        Assert.Equal(MethodComparison.EvalStdErr(report), single.StdErr, 12);
    }

    [Fact]
    public void SeedsGiveTheStandardErrorOfTheMeanAndDifferencesAddVariances()
    {
        var seeds = new List<EvalReport> { Report(4, 1, 1), Report(4, 2, 2), Report(4, 3, 3) };
        var pass = MethodComparison.Pass1(seeds);
        Assert.Equal(0.5, pass.Mean, 12);
        Assert.Equal(0.25 / Math.Sqrt(3), pass.StdErr, 12);
        var (difference, se) = MethodComparison.Difference(pass, new Pass1Estimate(0.25, 0.1, 1));
        Assert.Equal(0.25, difference, 12);
        Assert.Equal(Math.Sqrt(0.25 * 0.25 / 3 + 0.01), se, 12);
    }

    [Fact]
    public void PairedDifferenceCancelsTheSpreadOverProblems()
    {
        // Problem rates 1, 0.5, 0 for the base and +0.25 on every problem for the method: no spread, SE 0.
        var (difference, se) = MethodComparison.PairedDifference([Report(4, 4, 3, 1)], Report(4, 3, 2, 0));
        Assert.Equal(0.25, difference, 12);
        Assert.Equal(0, se, 12);
        // Two seeds are averaged per problem first: (1 + 0.5)/2 − 0.5 = 0.25 and (0 + 0.5)/2 − 0 = 0.25.
        (difference, se) = MethodComparison.PairedDifference([Report(2, 2, 0), Report(2, 1, 1)], Report(2, 1, 0));
        Assert.Equal(0.25, difference, 12);
        Assert.Equal(0, se, 12);
        Assert.Throws<ArgumentException>(() => MethodComparison.PairedDifference([Report(2, 1)], Report(2, 1, 0)));
    }

    [Fact]
    public void TablesHaveOneRowPerMethodAndCompareWithPacs()
    {
        var evals = new Dictionary<string, List<EvalReport>> { ["pacs"] = [Report(2, 2, 1), Report(2, 2, 2)], ["grpo"] = [Report(2, 1, 1), Report(2, 0, 1)] };
        var table = MethodComparison.Table(new Dictionary<string, double> { ["pacs"] = 1e-4, ["grpo"] = 3e-5 }, evals, Report(2, 1, 0));
        var lines = table.Trim().Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("| grpo | 3e-5 | 2 | 0.375 +- 0.125 | +0.125 +- 0.280 | +0.4 | 0.375 | +0.3 |", lines[4]);
        Assert.EndsWith("| -0.500 +- 0.177 |", lines[4]);
        Assert.Equal(1e-4, MethodComparison.CommonRate(new Dictionary<string, double> { ["a"] = 1e-4, ["b"] = 1e-4, ["c"] = 3e-5 }));
        Assert.Equal(3e-5, MethodComparison.CommonRate(new Dictionary<string, double> { ["a"] = 1e-4, ["c"] = 3e-5 }));
    }

    [Fact]
    public void MethodListsAcceptAlgorithmsPodsAblationsAndAll()
    {
        var methods = MethodComparison.Parse("pacs, gspo,grpo+pods,pacs_weights_none", groupSize: 8);
        Assert.Equal(["pacs", "gspo", "grpo+pods", "pacs_weights_none"], methods.Select(m => m.Label));
        Assert.Equal(["rollout.pods_keep=4"], methods[2].Overrides);
        Assert.Equal("pacs", methods[3].Algorithm);
        Assert.Equal(Pacs.Rl.Algorithms.AlgorithmRegistry.Names, MethodComparison.Parse("all", 8).Select(m => m.Label));
        Assert.Contains("dpo", Assert.Throws<ArgumentException>(() => MethodComparison.Parse("pacs,dpo", 8)).Message);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => MethodComparison.Parse("pacs,pacs", 8)).Message);
    }
}

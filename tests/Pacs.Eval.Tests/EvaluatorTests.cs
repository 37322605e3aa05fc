using System.Text.Json;
using Pacs.Rewards;
using Pacs.Rewards.Tasks;

namespace Pacs.Eval.Tests;

public class EvaluatorTests
{
    /// <summary>Answers a problem correctly when its seed is even, else with a fixed wrong answer.</summary>
    private sealed class SeedParitySampler(ITask task) : IResponseSampler
    {
        public int Calls { get; private set; }

        public IReadOnlyList<string> Sample(IReadOnlyList<SampleRequest> requests)
        {
            Calls++;
            return requests.Select(r =>
            {
                var gold = long.Parse(Answer(r.Prompt));
                return r.Seed % 2 == 0 ? $"\\boxed{{{gold}}}" : $"\\boxed{{{gold + 1}}}";
            }).ToList();
        }

        private string Answer(string prompt) =>
            Enumerable.Range(0, 100).Select(i => task.Get(Split.Test, i)).First(p => p.Prompt == prompt).Answer;
    }

    [Fact]
    public void Reports_metrics_that_match_the_verdicts_and_does_not_depend_on_batching()
    {
        var task = new ArithTask(seed: 1);
        var small = Evaluator.Run(task, new SeedParitySampler(task), new EvalOptions { Samples = 4, Problems = 6, Seed = 5, BatchSize = 4 });
        var large = Evaluator.Run(task, new SeedParitySampler(task), new EvalOptions { Samples = 4, Problems = 6, Seed = 5, BatchSize = 64 });
        Assert.Equal(small.Named(), large.Named());
        Assert.Equal(6, small.Problems.Count);
        Assert.All(small.Problems, p => Assert.Equal(4, p.Rollouts.Count));

        foreach (var p in small.Problems)
            foreach (var r in p.Rollouts)
                Assert.Equal(r.Seed % 2 == 0, r.Verdict.Correct);
        double expectedPass1 = small.Problems.Average(p => p.Correct / 4.0);
        Assert.Equal(expectedPass1, small.PassAt(1), 12);
        Assert.Equal(expectedPass1, small.AvgAtN, 12);
        Assert.Equal(small.Problems.Average(p => p.Correct > 0 ? 1.0 : 0.0), small.PassAt(4), 12);
        Assert.True(small.PassAt(4) >= small.PassAt(2) && small.PassAt(2) >= small.PassAt(1));
    }

    [Fact]
    public void Seeds_differ_per_problem_and_sample()
    {
        var seeds = new HashSet<ulong>();
        for (int p = 0; p < 50; p++)
            for (int s = 0; s < 16; s++)
                seeds.Add(Evaluator.SampleSeed(7, p, s));
        Assert.Equal(800, seeds.Count);
        Assert.NotEqual(Evaluator.SampleSeed(7, 0, 0), Evaluator.SampleSeed(8, 0, 0));
    }

    [Fact]
    public void Writes_metrics_json_and_one_rollout_line_per_response()
    {
        var task = new ArithTask(seed: 2);
        var report = Evaluator.Run(task, new SeedParitySampler(task), new EvalOptions { Samples = 2, Problems = 3, Seed = 1 });
        string dir = Path.Combine(Path.GetTempPath(), "pacs-eval-" + Guid.NewGuid().ToString("N"));
        try
        {
            Evaluator.Write(report, dir, new Dictionary<string, string> { ["model"] = "fake" });
            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, Evaluator.MetricsFileName)));
            Assert.Equal("arith", metrics.RootElement.GetProperty("task").GetString());
            Assert.Equal("fake", metrics.RootElement.GetProperty("model").GetString());
            Assert.Equal(report.PassAt(1), metrics.RootElement.GetProperty("pass@1").GetDouble(), 12);
            Assert.Equal(report.MajAtN, metrics.RootElement.GetProperty("maj@2").GetDouble(), 12);
            var lines = File.ReadAllLines(Path.Combine(dir, Evaluator.RolloutsFileName));
            Assert.Equal(6, lines.Length);
            using var first = JsonDocument.Parse(lines[0]);
            Assert.Equal(report.Problems[0].Rollouts[0].Response, first.RootElement.GetProperty("response").GetString());
            Assert.Equal(report.Problems[0].Rollouts[0].Verdict.Correct, first.RootElement.GetProperty("correct").GetBoolean());
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}

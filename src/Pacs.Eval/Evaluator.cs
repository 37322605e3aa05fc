using System.Globalization;
using System.Text;
using System.Text.Json;
using Pacs.Engine;
using Pacs.Rewards;

namespace Pacs.Eval;

/// <summary>One response to draw: a prompt and the seed of its own sampling stream.</summary>
public sealed record SampleRequest(string Prompt, ulong Seed, string? System = null);

/// <summary>Draws one response per request (a model with a tokenizer and sampling settings, or a test double).</summary>
public interface IResponseSampler
{
    IReadOnlyList<string> Sample(IReadOnlyList<SampleRequest> requests);
}

/// <summary>What to evaluate: how many held-out problems, how many samples each, the seed of the sampling streams.</summary>
public sealed record EvalOptions
{
    public int Samples { get; init; } = 16;
    public int Problems { get; init; } = 200;
    public ulong Seed { get; init; }
    /// <summary>Requests handed to the sampler at once (whole problems are never split across calls).</summary>
    public int BatchSize { get; init; } = 64;

    public void Validate()
    {
        if (Samples < 1) throw new ArgumentException($"eval: --samples must be >= 1, got {Samples}");
        if (Problems < 1) throw new ArgumentException($"eval: --problems must be >= 1, got {Problems}");
        if (BatchSize < 1) throw new ArgumentException($"eval: batch size must be >= 1, got {BatchSize}");
    }
}

public sealed record Rollout(string ProblemId, int Sample, ulong Seed, string Response, Verdict Verdict);

public sealed record ProblemResult(Problem Problem, IReadOnlyList<Rollout> Rollouts)
{
    public int Correct => Rollouts.Count(r => r.Verdict.Correct);
}

/// <summary>Aggregates over problems: mean pass@k for the reported k, avg@n and maj@n.</summary>
public sealed record EvalReport(string Task, int Samples, IReadOnlyList<ProblemResult> Problems,
    IReadOnlyList<(int K, double PassAtK)> PassAtK, double AvgAtN, double MajAtN)
{
    public double PassAt(int k) => PassAtK.First(p => p.K == k).PassAtK;

    public static EvalReport From(string task, int samples, IReadOnlyList<ProblemResult> problems)
    {
        if (problems.Count == 0) throw new ArgumentException("eval: no problems to report on");
        var passAtK = Metrics.ReportedKs(samples)
            .Select(k => (k, problems.Average(p => Metrics.PassAtK(samples, p.Correct, k))))
            .ToList();
        double avg = problems.Average(p => Metrics.AvgAtN(p.Rollouts.Select(r => r.Verdict.Correct).ToList()));
        double maj = problems.Average(p => Metrics.MajAtN(p.Rollouts.Select(r => (r.Verdict.Extracted, r.Verdict.Correct)).ToList()));
        return new EvalReport(task, samples, problems, passAtK, avg, maj);
    }

    /// <summary>The metrics as name/value pairs: pass@k..., avg@n, maj@n.</summary>
    public IReadOnlyList<KeyValuePair<string, double>> Named()
    {
        var named = PassAtK.Select(p => new KeyValuePair<string, double>($"pass@{p.K}", p.PassAtK)).ToList();
        named.Add(new($"avg@{Samples}", AvgAtN));
        named.Add(new($"maj@{Samples}", MajAtN));
        return named;
    }
}

/// <summary>
/// Samples n responses for each of the first held-out (test split) problems of a task, verifies them, and reports
/// pass@k / avg@n / maj@n. Every response has its own seed, derived from (seed, problem, sample), so results do
/// not depend on the batch size.
/// </summary>
public static class Evaluator
{
    public const string MetricsFileName = "eval_metrics.json";
    public const string RolloutsFileName = "rollouts.jsonl";

    public static EvalReport Run(ITask task, IResponseSampler sampler, EvalOptions options, Action<int, int>? progress = null)
    {
        options.Validate();
        long available = task.Count(Split.Test);
        int problemCount = (int)System.Math.Min(options.Problems, available);
        if (problemCount == 0) throw new ArgumentException($"eval: task '{task.Name}' has no test problems");
        int perBatch = System.Math.Max(1, options.BatchSize / options.Samples);
        var results = new List<ProblemResult>(problemCount);
        for (int start = 0; start < problemCount; start += perBatch)
        {
            int count = System.Math.Min(perBatch, problemCount - start);
            var problems = Enumerable.Range(start, count).Select(i => task.Get(Split.Test, i)).ToList();
            var requests = new List<SampleRequest>(count * options.Samples);
            for (int p = 0; p < count; p++)
                for (int s = 0; s < options.Samples; s++)
                    requests.Add(new SampleRequest(problems[p].Prompt, SampleSeed(options.Seed, start + p, s), problems[p].System));
            var responses = sampler.Sample(requests);
            if (responses.Count != requests.Count)
                throw new InvalidOperationException($"sampler returned {responses.Count} responses for {requests.Count} requests");
            for (int p = 0; p < count; p++)
            {
                var rollouts = new List<Rollout>(options.Samples);
                for (int s = 0; s < options.Samples; s++)
                {
                    int r = p * options.Samples + s;
                    rollouts.Add(new Rollout(problems[p].Id, s, requests[r].Seed, responses[r], task.Verify(problems[p], responses[r])));
                }
                results.Add(new ProblemResult(problems[p], rollouts));
            }
            progress?.Invoke(results.Count, problemCount);
        }
        return EvalReport.From(task.Name, options.Samples, results);
    }

    /// <summary>The seed of sample <paramref name="sample"/> of problem <paramref name="problem"/> (SplitMix64 finaliser of the triple).</summary>
    public static ulong SampleSeed(ulong seed, int problem, int sample) =>
        Rng.Mix(seed ^ ((ulong)(uint)problem << 32 | (uint)sample) * 0x9E3779B97F4A7C15UL);

    /// <summary>Writes <see cref="MetricsFileName"/> and <see cref="RolloutsFileName"/> into <paramref name="outDir"/>.</summary>
    public static void Write(EvalReport report, string outDir, IReadOnlyDictionary<string, string>? info = null)
    {
        Directory.CreateDirectory(outDir);
        using (var stream = new MemoryStream())
        {
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteString("task", report.Task);
                foreach (var (key, value) in info ?? new Dictionary<string, string>()) w.WriteString(key, value);
                w.WriteNumber("problems", report.Problems.Count);
                w.WriteNumber("samples", report.Samples);
                foreach (var (name, value) in report.Named()) w.WriteNumber(name, value);
                w.WriteEndObject();
            }
            AtomicFile.WriteAllBytes(Path.Combine(outDir, MetricsFileName), stream.ToArray());
        }
        using (var stream = new MemoryStream())
        {
            foreach (var problem in report.Problems)
                foreach (var r in problem.Rollouts)
                {
                    using (var w = new Utf8JsonWriter(stream))
                    {
                        w.WriteStartObject();
                        w.WriteString("problem_id", r.ProblemId);
                        w.WriteString("prompt", problem.Problem.Prompt);
                        w.WriteString("answer", problem.Problem.Answer);
                        w.WriteNumber("sample", r.Sample);
                        w.WriteString("seed", r.Seed.ToString(CultureInfo.InvariantCulture));
                        w.WriteString("response", r.Response);
                        w.WriteBoolean("correct", r.Verdict.Correct);
                        if (r.Verdict.Extracted is null) w.WriteNull("extracted");
                        else w.WriteString("extracted", r.Verdict.Extracted);
                        w.WriteString("reason", r.Verdict.Reason);
                        w.WriteEndObject();
                    }
                    stream.WriteByte((byte)'\n');
                }
            AtomicFile.WriteAllBytes(Path.Combine(outDir, RolloutsFileName), stream.ToArray());
        }
    }

    /// <summary>A plain-text table of the metrics (for logs; the CLI renders its own).</summary>
    public static string FormatTable(EvalReport report)
    {
        var sb = new StringBuilder();
        foreach (var (name, value) in report.Named())
            sb.Append(CultureInfo.InvariantCulture, $"{name,-10} {value:0.000}\n");
        return sb.ToString();
    }
}

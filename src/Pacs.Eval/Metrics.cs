namespace Pacs.Eval;

/// <summary>Pure functions for sampling-based accuracy: pass@k, avg@n, maj@n.</summary>
public static class Metrics
{
    /// <summary>
    /// Unbiased pass@k from n samples of which c are correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), computed as
    /// 1 - prod_{i=n-c+1}^{n} (1 - k/i), which never forms a large binomial.
    /// </summary>
    public static double PassAtK(int n, int c, int k)
    {
        if (n < 1) throw new ArgumentException($"pass@k: need n >= 1 samples, got {n}");
        if (c < 0 || c > n) throw new ArgumentException($"pass@k: correct count {c} is outside 0..{n}");
        if (k < 1 || k > n) throw new ArgumentException($"pass@k: k = {k} is outside 1..{n}");
        if (n - c < k) return 1.0;
        double allWrong = 1.0;
        for (int i = n - c + 1; i <= n; i++) allWrong *= 1.0 - (double)k / i;
        return 1.0 - allWrong;
    }

    /// <summary>The k reported for n samples: 1, 2, 4, ... up to n, and n itself.</summary>
    public static IReadOnlyList<int> ReportedKs(int n)
    {
        if (n < 1) throw new ArgumentException($"need n >= 1 samples, got {n}");
        var ks = new List<int>();
        for (int k = 1; k <= n; k *= 2) ks.Add(k);
        if (ks[^1] != n) ks.Add(n);
        return ks;
    }

    /// <summary>avg@n of one problem: the share of its samples that are correct.</summary>
    public static double AvgAtN(IReadOnlyList<bool> correct)
    {
        if (correct.Count == 0) throw new ArgumentException("avg@n: no samples");
        return (double)correct.Count(c => c) / correct.Count;
    }

    /// <summary>
    /// maj@n of one problem: samples vote with their extracted answers (null = no answer, no vote); the most voted
    /// answer decides. An answer counts as correct when any of its samples was verified correct. Ties are scored as
    /// the expectation of a uniform random tie-break: the share of the tied answers that are correct. No votes: 0.
    /// </summary>
    public static double MajAtN(IReadOnlyList<(string? Extracted, bool Correct)> samples)
    {
        var votes = new Dictionary<string, (int Count, bool Correct)>(StringComparer.Ordinal);
        foreach (var (extracted, correct) in samples)
        {
            if (extracted is null) continue;
            var (count, anyCorrect) = votes.GetValueOrDefault(extracted);
            votes[extracted] = (count + 1, anyCorrect || correct);
        }
        if (votes.Count == 0) return 0.0;
        int top = votes.Values.Max(v => v.Count);
        var tied = votes.Values.Where(v => v.Count == top).ToList();
        return (double)tied.Count(v => v.Correct) / tied.Count;
    }
}

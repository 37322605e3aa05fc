using System.Text.Json;
using Pacs.Rewards.Math;

namespace Pacs.Rewards.Tests;

/// <summary>The (gold, response, expected) table: hand-written format cases plus every MATH500/AIME/AMC gold boxed
/// (equal) and paired with another problem's differing gold (not equal).</summary>
public class VerifierTableTests
{
    public static IEnumerable<(bool Expected, string Gold, string Response, string Where)> HandWritten()
    {
        int lineNumber = 0;
        foreach (var line in File.ReadLines(RepoFiles.Path("tests", "Pacs.Rewards.Tests", "Data", "verifier_cases.tsv")))
        {
            lineNumber++;
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var parts = line.Split('\t');
            if (parts.Length != 3) throw new InvalidDataException($"verifier_cases.tsv:{lineNumber}: expected 3 tab-separated fields");
            yield return (parts[0] == "1", parts[1], parts[2].Replace("\\n####", "\n####"), $"verifier_cases.tsv:{lineNumber}");
        }
    }

    public static List<(string Id, string Answer)> Golds(string file) =>
        File.ReadLines(RepoFiles.Path("data", file)).Select(l => JsonDocument.Parse(l).RootElement)
            .Select(r => (r.GetProperty("id").GetString()!, r.GetProperty("answer").GetString()!)).ToList();

    public static IEnumerable<(bool Expected, string Gold, string Response, string Where)> FromBenchmarks()
    {
        foreach (var file in new[] { "math500.jsonl", "aime24.jsonl", "aime25.jsonl", "amc23.jsonl" })
        {
            var golds = Golds(file);
            for (int i = 0; i < golds.Count; i++)
            {
                var (id, gold) = golds[i];
                yield return (true, gold, $"Working through the problem step by step we reach the result.\nThe final answer is $\\boxed{{{gold}}}$.", $"{file} {id} boxed");
                // the next problem whose gold is written differently (MATH500 repeats some answers, e.g. 30^\circ)
                for (int k = 1; k < golds.Count; k++)
                {
                    var other = golds[(i + k) % golds.Count].Answer;
                    if (Normalization.Key(other) == Normalization.Key(gold) || KnownSameValue(gold, other)) continue;
                    yield return (false, gold, $"So \\boxed{{{other}}}.", $"{file} {id} vs {other}");
                    break;
                }
            }
        }
    }

    /// <summary>Golds of different problems that are the same value spelled differently (5 and x=5 in MATH500).</summary>
    private static bool KnownSameValue(string a, string b) =>
        Normalization.Key(a).Replace("x=", "") == Normalization.Key(b).Replace("x=", "");

    [Fact]
    public void HandWrittenTableHasOver200Cases() => Assert.True(HandWritten().Count() >= 200);

    [Fact]
    public void TableHasAtLeast500Cases() => Assert.True(HandWritten().Count() + FromBenchmarks().Count() >= 500);

    [Fact]
    public void EveryHandWrittenCasePasses()
    {
        var failures = HandWritten().Where(c => MathVerifier.Verify(c.Response, c.Gold).Correct != c.Expected)
            .Select(c => $"{c.Where}: expected {c.Expected} for gold [{c.Gold}] response [{c.Response}]: {MathVerifier.Verify(c.Response, c.Gold)}")
            .ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void EveryBenchmarkGoldCasePasses()
    {
        var failures = FromBenchmarks().Where(c => MathVerifier.Verify(c.Response, c.Gold).Correct != c.Expected)
            .Select(c => $"{c.Where}: expected {c.Expected}: {MathVerifier.Verify(c.Response, c.Gold)}")
            .ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}

using Pacs.Rl.Training;

namespace Pacs.Engine.Tinker.Tests;

internal static class RunMetrics
{
    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Pacs.sln"))) dir = dir.Parent;
        return dir!.FullName;
    }

    /// <summary>The metrics of every logged step, machine-dependent keys (time/, perf/) left out.</summary>
    public static List<Dictionary<string, double>> Read(string runDir) =>
        MetricsLog.Read(System.IO.Path.Combine(runDir, MetricsLog.FileName))
            .Select(r => r.Where(kv => MetricsLog.IsDeterministic(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value))
            .ToList();

    /// <summary>
    /// Same steps, same keys, and every value equal within <paramref name="relative"/> of max(<paramref name="floor"/>,
    /// |value|) (0: bit for bit); <paramref name="skip"/> names a key whose values may differ.
    /// </summary>
    public static void AssertSame(List<Dictionary<string, double>> expected, List<Dictionary<string, double>> actual, double relative, string what, double floor = 1e-6, string? skip = null)
    {
        Assert.Equal(expected.Select(r => r["step"]), actual.Select(r => r["step"]));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Keys.Order(), actual[i].Keys.Order());
            foreach (var (key, value) in expected[i])
            {
                if (key == skip) continue;
                double other = actual[i][key];
                bool same = value.Equals(other) || Math.Abs(value - other) <= relative * Math.Max(floor, Math.Abs(value));
                Assert.True(same, $"{what}: step {expected[i]["step"]} {key} = {value:R} vs {other:R}");
            }
        }
    }
}

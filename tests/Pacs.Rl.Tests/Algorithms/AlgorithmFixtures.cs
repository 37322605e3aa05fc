using System.Text.Json;

namespace Pacs.Rl.Tests.Algorithms;

/// <summary>Fixture loading (tests/fixtures/rl, written by tools/make_pacs_fixtures.py) and numeric helpers.</summary>
internal static class AlgorithmFixtures
{
    public static JsonElement Load(string file)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pacs.sln"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException("Pacs.sln not found above " + AppContext.BaseDirectory);
        var path = Path.Combine(dir.FullName, "tests", "fixtures", "rl", file);
        return JsonDocument.Parse(File.ReadAllText(path)).RootElement;
    }

    public static float[] Floats(JsonElement array) => array.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    public static float[][] Ragged(JsonElement array) => array.EnumerateArray().Select(Floats).ToArray();

    public static double[][] RaggedDouble(JsonElement array) =>
        array.EnumerateArray().Select(row => row.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();

    public static float[][] Clone(float[][] rows) => rows.Select(row => (float[])row.Clone()).ToArray();

    /// <summary>Random log-probs in (−4, 0) rounded to multiples of 2^-12, so x ± 2^-10 is exact in float32.</summary>
    public static float[][] RandomLogProbs(Random rng, int[] lengths) =>
        lengths.Select(n => Enumerable.Range(0, n).Select(_ => -MathF.Round((float)rng.NextDouble() * 4 * 4096) / 4096 - 1f / 4096).ToArray()).ToArray();

    public static float[][] Perturb(Random rng, float[][] rows, double scale) =>
        rows.Select(row => row.Select(v => v + MathF.Round((float)((rng.NextDouble() * 2 - 1) * scale) * 4096) / 4096).ToArray()).ToArray();

    /// <summary>
    /// Checks <paramref name="analytic"/> against central differences of <paramref name="loss"/> with respect to every
    /// element of <paramref name="inputs"/> (perturbed in place and restored), step 2^-10.
    /// </summary>
    public static void AssertFiniteDifferences(float[][] inputs, float[][] analytic, Func<double> loss, double tolerance = 2e-4)
    {
        const float h = 1f / 1024;
        for (int r = 0; r < inputs.Length; r++)
        {
            for (int t = 0; t < inputs[r].Length; t++)
            {
                float saved = inputs[r][t];
                inputs[r][t] = saved + h;
                double plus = loss();
                inputs[r][t] = saved - h;
                double minus = loss();
                inputs[r][t] = saved;
                double numeric = (plus - minus) / (2.0 * h);
                double scale = Math.Max(1, Math.Abs(numeric));
                Assert.True(Math.Abs(numeric - analytic[r][t]) <= tolerance * scale,
                    $"d loss / d input[{r}][{t}]: analytic {analytic[r][t]}, finite difference {numeric}");
            }
        }
    }

    /// <summary>Element-wise Assert.Equal(double, double, digits) over two sequences of the same length.</summary>
    public static void AssertAll(double[] expected, IEnumerable<double> actual, int digits)
    {
        var got = actual.ToArray();
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], got[i], digits);
    }

    public static void AssertClose(double expected, double actual, double tolerance, string what)
    {
        Assert.True(Math.Abs(expected - actual) <= tolerance * Math.Max(1, Math.Abs(expected)), $"{what}: expected {expected}, got {actual}");
    }
}

using System.Globalization;
using System.Text.Json;
using Pacs.Rl.Algorithms;
using Pacs.Rl.Config;
using Pacs.Rl.Training;

namespace Pacs.Rl.Tests.Algorithms;

/// <summary>GSPO, CISPO, DAPO, REBEL, AsymRE (issue 15) against tools/make_algorithm_fixtures.py and finite differences; PODS selection.</summary>
public class NewObjectiveTests
{
    public static TheoryData<string> FixtureNames() =>
        [.. AlgorithmFixtures.Load("algorithms.json").GetProperty("fixtures").EnumerateArray().Select(f => f.GetProperty("name").GetString()!)];

    [Theory]
    [MemberData(nameof(FixtureNames))]
    public void LossAndGradientMatchThePyTorchPortOfTheReference(string name)
    {
        var fixture = AlgorithmFixtures.Load("algorithms.json").GetProperty("fixtures").EnumerateArray().Single(f => f.GetProperty("name").GetString() == name);
        var algorithm = FromFixture(fixture);
        var batch = new PolicyBatch(fixture.GetProperty("group_size").GetInt32(), AlgorithmFixtures.Floats(fixture.GetProperty("rewards")),
            AlgorithmFixtures.Ragged(fixture.GetProperty("old_log_probs")))
        {
            RefLogProbs = AlgorithmFixtures.Ragged(fixture.GetProperty("ref_log_probs")),
        };
        if (fixture.TryGetProperty("optimal_values", out var optimalValues))
        {
            // A*-PO: stage 1's V* from the initial policy's sample rewards, then stage 2 on it.
            double beta1 = fixture.GetProperty("options").GetProperty("beta1").GetDouble();
            var perPrompt = fixture.GetProperty("value_sample_rewards").EnumerateArray()
                .Select(row => AStarPoAlgorithm.OptimalValue([.. row.EnumerateArray().Select(v => v.GetDouble())], beta1)).ToArray();
            var expectedValues = optimalValues.EnumerateArray().Select(v => v.GetDouble()).ToArray();
            for (int r = 0; r < expectedValues.Length; r++) AlgorithmFixtures.AssertClose(expectedValues[r], perPrompt[r / batch.GroupSize], 1e-12, $"{name} V*[{r}]");
            batch.OptimalValues = [.. expectedValues.Select(v => (float)v)];
        }
        algorithm.Prepare(batch);
        if (fixture.GetProperty("advantages").ValueKind == JsonValueKind.Array)
        {
            var expected = fixture.GetProperty("advantages").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            for (int r = 0; r < expected.Length; r++)
                foreach (var a in batch.Advantages![r]) AlgorithmFixtures.AssertClose(expected[r], a, 1e-6, $"{name} advantage[{r}]");
        }
        batch.LogProbs = AlgorithmFixtures.Ragged(fixture.GetProperty("log_probs"));
        var output = algorithm.Loss(batch);
        AlgorithmFixtures.AssertClose(fixture.GetProperty("loss").GetDouble(), output.Loss, 1e-6, $"{name} loss");
        var grad = AlgorithmFixtures.RaggedDouble(fixture.GetProperty("grad_log_probs"));
        Assert.Contains(grad, row => row.Any(g => g != 0));
        for (int r = 0; r < grad.Length; r++)
            for (int t = 0; t < grad[r].Length; t++)
                AlgorithmFixtures.AssertClose(grad[r][t], output.GradLogProbs[r][t], 1e-6, $"{name} grad[{r}][{t}]");
    }

    /// <summary>Builds the algorithm through the config binder, as a YAML `algorithm:` section would.</summary>
    private static IRlAlgorithm FromFixture(JsonElement fixture)
    {
        var config = new TrainConfig();
        ConfigBinder.Set(config, "algorithm.name=" + fixture.GetProperty("algorithm").GetString());
        foreach (var option in fixture.GetProperty("options").EnumerateObject())
        {
            string value = option.Value.ValueKind == JsonValueKind.Number ? option.Value.GetDouble().ToString("R", CultureInfo.InvariantCulture) : option.Value.GetString()!;
            ConfigBinder.Set(config, $"algorithm.{option.Name}={value}");
        }
        return config.Algorithm.Create();
    }

    [Theory]
    [InlineData("gspo")]
    [InlineData("dapo")]
    [InlineData("rebel")]
    [InlineData("asymre")]
    [InlineData("astar_po")]
    [InlineData("vineppo")]
    public void GradientMatchesFiniteDifferences(string name)
    {
        var rng = new Random(11);
        int[] lengths = [3, 2, 4, 1, 2, 5, 3, 2];
        var old = AlgorithmFixtures.RandomLogProbs(rng, lengths);
        var batch = new PolicyBatch(4, [1f, 0f, 0f, 1f, 1f, 0f, 1f, 1f], old)
        {
            RefLogProbs = AlgorithmFixtures.Perturb(rng, old, 0.2),
            OptimalValues = [0.2f, 0.2f, 0.2f, 0.2f, 0.9f, 0.9f, 0.9f, 0.9f],
        };
        var options = AlgorithmRegistry.DefaultOptions(name);
        if (options is AStarPoOptions astar) astar.Beta2 = 0.5;
        if (options is ClippedPolicyOptions clipped)
        {
            clipped.KlLossCoef = 0.05;
            // Steps small enough that every ratio stays inside the clip range, away from the kinks.
            (clipped.ClipEpsLow, clipped.ClipEpsHigh) = (0.5, 0.5);
        }
        var algorithm = AlgorithmRegistry.Create(name, options);
        // VinePPO's advantages come from the trainer's Monte-Carlo stage; any values exercise the loss.
        if (name == "vineppo") batch.Advantages = AlgorithmFixtures.Perturb(rng, lengths.Select(n => new float[n]).ToArray(), 1.0);
        algorithm.Prepare(batch);
        var current = AlgorithmFixtures.Perturb(rng, old, 0.02);
        batch.LogProbs = current;
        var output = algorithm.Loss(batch);
        if (output.Metrics.TryGetValue("actor/pg_clipfrac", out var clipFraction)) Assert.Equal(0, clipFraction);
        AlgorithmFixtures.AssertFiniteDifferences(current, output.GradLogProbs, () => algorithm.Loss(batch).Loss);
    }

    [Fact]
    public void CispoGradientIsTheDerivativeWithTheWeightHeldConstant()
    {
        // The weight is stop-gradient: moving log π and log π_old together leaves it unchanged, so the central
        // difference of the loss along that direction is the analytic gradient (KL term included).
        var rng = new Random(12);
        int[] lengths = [3, 2, 4, 1, 2, 5];
        var old = AlgorithmFixtures.RandomLogProbs(rng, lengths);
        var rewards = new float[] { 1, 0, 0, 1, 1, 0 };
        var reference = AlgorithmFixtures.Perturb(rng, old, 0.2);
        var current = AlgorithmFixtures.Perturb(rng, old, 0.5);
        var offset = current.Select((row, r) => row.Select((v, t) => v - old[r][t]).ToArray()).ToArray();
        var algorithm = AlgorithmRegistry.Create("cispo", new CispoOptions { ClipEpsLow = 0.2, KlLossCoef = 0.05, LossAggMode = LossAggMode.SeqMeanTokenMean });
        double LossAt(float[][] logProbs)
        {
            var shiftedOld = logProbs.Select((row, r) => row.Select((v, t) => v - offset[r][t]).ToArray()).ToArray();
            var batch = new PolicyBatch(3, rewards, shiftedOld) { RefLogProbs = reference, LogProbs = logProbs };
            algorithm.Prepare(batch);
            return algorithm.Loss(batch).Loss;
        }
        var full = new PolicyBatch(3, rewards, old) { RefLogProbs = reference, LogProbs = current };
        algorithm.Prepare(full);
        var output = algorithm.Loss(full);
        Assert.InRange(output.Metrics["actor/pg_clipfrac"], 1e-9, 1 - 1e-9);
        AlgorithmFixtures.AssertFiniteDifferences(current, output.GradLogProbs, () => LossAt(current));
    }

    [Fact]
    public void RebelMicroBatchesAddUpToTheMiniBatch()
    {
        var rng = new Random(13);
        int[] lengths = [3, 2, 4, 1, 2, 5, 3, 2];
        var old = AlgorithmFixtures.RandomLogProbs(rng, lengths);
        var batch = new PolicyBatch(4, [1f, 0f, 0f, 1f, 1f, 1f, 0f, 1f], old) { LogProbs = AlgorithmFixtures.Perturb(rng, old, 0.1) };
        var algorithm = AlgorithmRegistry.Create("rebel");
        var whole = algorithm.Loss(batch);
        var totals = MiniBatchTotals.Of(batch);
        double sum = 0;
        foreach (var group in new[] { 0, 1 })
        {
            var micro = batch.SelectGroups([group]);
            micro.Totals = totals;
            var part = algorithm.Loss(micro);
            sum += part.Loss;
            for (int k = 0; k < 4; k++) Assert.Equal(whole.GradLogProbs[group * 4 + k], part.GradLogProbs[k]);
        }
        Assert.Equal(whole.Loss, sum, 12);
        Assert.Contains("even", Assert.Throws<ArgumentException>(() => algorithm.Prepare(new PolicyBatch(3, [1f, 0f, 1f], [[-1f], [-1f], [-1f]]))).Message);
    }

    [Fact]
    public void GspoSequenceRatioIsClippedAsAWhole()
    {
        // One response of 4 tokens whose mean log-ratio is 0.1: ratio e^0.1 > 1 + 4e-4 with A > 0 → clipped, no gradient;
        // the same response with A < 0 takes the unclipped branch: d L / d log π_t = −A s / (R T) on every token.
        var old = new float[][] { [-1f, -1f, -1f, -1f], [-1f, -1f, -1f, -1f] };
        var batch = new PolicyBatch(2, [1f, 0f], old) { LogProbs = [[-0.9f, -0.8f, -1.1f, -0.8f], [-0.9f, -0.8f, -1.1f, -0.8f]] };
        var algorithm = AlgorithmRegistry.Create("gspo");
        algorithm.Prepare(batch);
        var output = algorithm.Loss(batch);
        Assert.All(output.GradLogProbs[0], g => Assert.Equal(0f, g));
        double a = batch.Advantages![1][0];
        double s = Math.Exp((0.1 + 0.2 - 0.1 + 0.2) / 4);
        Assert.True(a < 0);
        Assert.All(output.GradLogProbs[1], g => Assert.Equal(-a * s / (2 * 4), g, 5));
    }

    [Fact]
    public void AStarValueIsTheSoftMaxOfTheInitialPolicysRewards()
    {
        // β₁ → large: the mean; β₁ small: the max; no overflow at β₁ = 1e-3.
        Assert.Equal(0.25, AStarPoAlgorithm.OptimalValue([1, 0, 0, 0], 0), 12);
        Assert.Equal(0.5 * Math.Log((Math.Exp(2) + 3) / 4), AStarPoAlgorithm.OptimalValue([1, 0, 0, 0], 0.5), 12);
        Assert.Equal(1 + 1e-3 * Math.Log(0.25), AStarPoAlgorithm.OptimalValue([1, 0, 0, 0], 1e-3), 12);
        var algorithm = AlgorithmRegistry.Create("astar_po");
        Assert.True(algorithm.NeedsReference);
        var batch = new PolicyBatch(1, [1f], [[-1f]]) { RefLogProbs = [[-1f]] };
        Assert.Contains("optimal_values", Assert.Throws<ArgumentException>(() => algorithm.Prepare(batch)).Message);
    }

    [Fact]
    public void VinePpoStepAdvantagesMatchTheReleasedCode()
    {
        int cases = 0;
        foreach (var fixture in AlgorithmFixtures.Load("algorithms.json").GetProperty("vineppo").EnumerateArray())
        {
            var starts = fixture.GetProperty("step_starts").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            var values = fixture.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            var got = VinePpoAlgorithm.StepAdvantages(starts, values, fixture.GetProperty("reward").GetDouble(), fixture.GetProperty("length").GetInt32());
            AlgorithmFixtures.AssertAll(fixture.GetProperty("advantages").EnumerateArray().Select(v => v.GetDouble()).ToArray(), got.Select(v => (double)v), 6);
            cases++;
        }
        Assert.Equal(4, cases);
        // Two steps, values 0.5 then 1, reward 1: the first step earned +0.5, the last 0.
        Assert.Equal([0.5f, 0.5f, 0f], VinePpoAlgorithm.StepAdvantages([0, 2], [0.5, 1.0], 1, 3));
        Assert.Throws<ArgumentException>(() => VinePpoAlgorithm.StepAdvantages([1], [0.5], 1, 3));
        Assert.Contains("advantages", Assert.Throws<ArgumentException>(() => AlgorithmRegistry.Create("vineppo").Prepare(new PolicyBatch(1, [1f], [[-1f]]))).Message);
    }

    [Fact]
    public void AsymReShiftsTheGroupMeanBaseline()
    {
        var batch = new PolicyBatch(4, [1f, 0f, 0f, 0f], [[-1f], [-1f], [-1f], [-1f]]);
        AlgorithmRegistry.Create("asymre").Prepare(batch);
        // mean 0.25, δV −0.1: baseline 0.15.
        Assert.Equal(0.85f, batch.Advantages![0][0], 6);
        Assert.Equal(-0.15f, batch.Advantages[1][0], 6);
    }

    [Fact]
    public void PodsKeepsTheMaxVarianceSubsetOfEachGroup()
    {
        var rng = new Random(14);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = rng.Next(2, 9), m = rng.Next(1, n + 1);
            var rewards = Enumerable.Range(0, 2 * n).Select(_ => trial % 2 == 0 ? rng.Next(2) : (float)Math.Round(rng.NextDouble(), 2)).Select(v => (float)v).ToArray();
            var kept = PodsSelection.MaxVariance(rewards, n, m);
            Assert.Equal(2 * m, kept.Length);
            for (int g = 0; g < 2; g++)
            {
                var rows = kept[(g * m)..((g + 1) * m)];
                Assert.All(rows, r => Assert.InRange(r, g * n, g * n + n - 1));
                Assert.Equal(rows.Order(), rows);
                double best = Subsets(Enumerable.Range(g * n, n).ToArray(), m).Max(s => Variance(s.Select(r => (double)rewards[r])));
                Assert.Equal(best, Variance(rows.Select(r => (double)rewards[r])), 9);
            }
        }
        // Binary rewards, 3 of 8 correct, keep 4: two correct and two wrong (variance ¼).
        var picked = PodsSelection.MaxVariance([1, 0, 0, 1, 0, 0, 1, 0], 8, 4);
        Assert.Equal(2, picked.Count(r => r is 0 or 3 or 6));
        Assert.Throws<ArgumentException>(() => PodsSelection.MaxVariance([1, 0], 2, 3));
    }

    private static double Variance(IEnumerable<double> values)
    {
        var list = values.ToList();
        double mean = list.Average();
        return list.Sum(v => (v - mean) * (v - mean)) / list.Count;
    }

    private static IEnumerable<int[]> Subsets(int[] items, int size)
    {
        if (size == 0) { yield return []; yield break; }
        for (int i = 0; i <= items.Length - size; i++)
            foreach (var rest in Subsets(items[(i + 1)..], size - 1)) yield return [items[i], .. rest];
    }
}

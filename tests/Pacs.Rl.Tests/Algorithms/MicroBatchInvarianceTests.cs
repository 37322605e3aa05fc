using Pacs.Rl.Algorithms;

namespace Pacs.Rl.Tests.Algorithms;

/// <summary>
/// Gradient accumulation is exact: for every registered algorithm and every loss aggregation, the losses and
/// gradients of a mini-batch's micro-batches (one group each, normalised by the mini-batch's totals) add up to the
/// whole mini-batch's.
/// </summary>
public class MicroBatchInvarianceTests
{
    public static TheoryData<string, string> Cases()
    {
        var cases = new TheoryData<string, string>();
        foreach (var name in AlgorithmRegistry.Names)
        {
            if (AlgorithmRegistry.DefaultOptions(name) is ClippedPolicyOptions)
                foreach (var mode in LossAggregation.Modes) cases.Add(name, ConfigEnum.Name(mode));
            else
                cases.Add(name, "");
        }
        return cases;
    }

    /// <summary>3 groups of 4 with ragged lengths, mixed rewards, and log-probs up to ±<paramref name="spread"/>/2 off the rollout's (ratios clip).</summary>
    internal static PolicyBatch RandomBatch(int seed, double spread = 0.4)
    {
        var random = new Random(seed);
        const int groups = 3, size = 4, rows = groups * size;
        var lengths = Enumerable.Range(0, rows).Select(_ => random.Next(1, 8)).ToArray();
        float[][] Rows(double scale, double offset) =>
            [.. lengths.Select(t => Enumerable.Range(0, t).Select(_ => (float)(offset + scale * random.NextDouble())).ToArray())];
        var old = Rows(2, -3);
        var rewards = Enumerable.Range(0, rows).Select(r => r % size == 0 ? 1f : r % size == 3 ? 0f : random.Next(2)).ToArray();
        return new PolicyBatch(size, rewards, old)
        {
            LogProbs = [.. old.Select(row => row.Select(x => x + (float)(spread * (random.NextDouble() - 0.5))).ToArray())],
            RefLogProbs = Rows(2, -3),
            OldValues = Rows(1, -0.5),
            Values = Rows(1, -0.5),
            // What trainer stages provide to the algorithms that need them (VinePPO's step advantages, A*-PO's V*);
            // the others compute their own advantages in Prepare.
            Advantages = Rows(2, -1),
            OptimalValues = [.. Enumerable.Range(0, rows).Select(_ => (float)random.NextDouble())],
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Micro_batches_of_one_group_add_up_to_the_mini_batch(string name, string lossAggMode)
    {
        var options = AlgorithmRegistry.DefaultOptions(name);
        if (options is ClippedPolicyOptions clipped)
        {
            clipped.LossAggMode = ConfigEnum.Parse<LossAggMode>(lossAggMode, "loss_agg_mode");
            clipped.KlLossCoef = 0.1;
        }
        var algorithm = AlgorithmRegistry.Create(name, options);
        var batch = RandomBatch(17);
        algorithm.Prepare(batch);
        var whole = algorithm.Loss(batch);

        var totals = MiniBatchTotals.Of(batch);
        double loss = 0;
        var grad = batch.OldLogProbs.Select(row => new double[row.Length]).ToArray();
        var gradValues = batch.OldLogProbs.Select(row => new double[row.Length]).ToArray();
        for (int g = 0; g < batch.GroupCount; g++)
        {
            var micro = batch.SelectGroups([g]);
            micro.Totals = totals;
            var output = algorithm.Loss(micro);
            loss += output.Loss;
            for (int i = 0; i < micro.Count; i++)
                for (int t = 0; t < micro.TokenCount(i); t++)
                {
                    grad[g * batch.GroupSize + i][t] += output.GradLogProbs[i][t];
                    if (output.GradValues is not null) gradValues[g * batch.GroupSize + i][t] += output.GradValues[i][t];
                }
        }

        AssertClose(whole.Loss, loss, whole.Loss, "loss");
        AssertRowsClose(whole.GradLogProbs, grad, "d loss / d log-prob");
        if (whole.GradValues is not null) AssertRowsClose(whole.GradValues, gradValues, "d loss / d value");
    }

    private static void AssertRowsClose(float[][] expected, double[][] actual, string what)
    {
        double scale = expected.SelectMany(row => row).Select(x => Math.Abs((double)x)).DefaultIfEmpty(0).Max();
        Assert.True(scale > 0, $"{what}: the whole batch's gradient is all zero, so the check would prove nothing");
        for (int r = 0; r < expected.Length; r++)
            for (int t = 0; t < expected[r].Length; t++) AssertClose(expected[r][t], actual[r][t], scale, $"{what} [{r}][{t}]");
    }

    private static void AssertClose(double expected, double actual, double scale, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-6 * Math.Max(1e-12, Math.Abs(scale)), $"{what}: whole {expected:R}, micro-batches {actual:R}");
}

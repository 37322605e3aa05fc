namespace Pacs.Rl.Algorithms;

/// <summary>How per-token losses become one scalar (verl core_algos.agg_loss's loss_agg_mode).</summary>
public enum LossAggMode
{
    /// <summary>Mean over all tokens of the batch (DAPO): long responses weigh more.</summary>
    [ConfigName("token-mean")]
    TokenMean,

    /// <summary>Sum over a response's tokens, mean over responses.</summary>
    [ConfigName("seq-mean-token-sum")]
    SeqMeanTokenSum,

    /// <summary>Mean over a response's tokens, mean over responses (original GRPO).</summary>
    [ConfigName("seq-mean-token-mean")]
    SeqMeanTokenMean,

    /// <summary>
    /// Dr.GRPO: sum over a response's tokens divided by a constant (the generation budget), mean over responses.
    /// verl divides the batch's token sum by the padded length without the mean over responses; we keep the
    /// Dr.GRPO paper's (1/R) so the scale does not depend on the mini-batch size.
    /// </summary>
    [ConfigName("seq-mean-token-sum-norm")]
    SeqMeanTokenSumNorm,
}

/// <summary>
/// How a [R][T_r] matrix of per-token losses becomes one scalar (verl core_algos.agg_loss). Every mode is linear, so
/// it is expressed as one weight per response applied to each of its tokens: loss = Σ_r w_r Σ_t l[r][t], and
/// d loss / d l[r][t] = w_r.
/// </summary>
public static class LossAggregation
{
    public static IReadOnlyList<LossAggMode> Modes { get; } = Enum.GetValues<LossAggMode>();

    /// <summary>
    /// Per-response token weight w_r. <paramref name="normalizer"/> is the constant of seq-mean-token-sum-norm;
    /// 0 uses the longest response of the batch (verl's behaviour). Responses without tokens get weight 0, and a
    /// batch without tokens gets all zeros rather than NaN.
    /// </summary>
    /// <param name="totals">Counts of the whole mini-batch when <paramref name="lengths"/> is one micro-batch of it.</param>
    public static double[] RowWeights(LossAggMode mode, IReadOnlyList<int> lengths, double normalizer = 0, MiniBatchTotals? totals = null)
    {
        var weights = new double[lengths.Count];
        if (lengths.Count == 0) return weights;
        long totalTokens = 0;
        int longest = 0;
        foreach (var t in lengths)
        {
            totalTokens += t;
            longest = Math.Max(longest, t);
        }
        double rows = lengths.Count;
        if (totals is not null)
        {
            if (totals.Responses < lengths.Count || totals.Tokens < totalTokens || totals.LongestResponse < longest)
                throw new ArgumentException($"mini-batch totals {totals} are smaller than the batch's own ({lengths.Count} responses, {totalTokens} tokens, longest {longest})");
            rows = totals.Responses;
            totalTokens = totals.Tokens;
            longest = totals.LongestResponse;
        }
        if (totalTokens == 0) return weights;
        for (int r = 0; r < lengths.Count; r++)
        {
            weights[r] = mode switch
            {
                LossAggMode.TokenMean => 1.0 / totalTokens,
                LossAggMode.SeqMeanTokenSum => 1.0 / rows,
                LossAggMode.SeqMeanTokenMean => lengths[r] == 0 ? 0 : 1.0 / (rows * lengths[r]),
                LossAggMode.SeqMeanTokenSumNorm => 1.0 / (rows * (normalizer > 0 ? normalizer : longest)),
                _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown loss aggregation"),
            };
        }
        return weights;
    }

    /// <summary>Aggregates per-token losses: Σ_r w_r Σ_t tokenLoss[r][t].</summary>
    public static double Aggregate(double[][] tokenLoss, LossAggMode mode, double normalizer = 0)
    {
        var weights = RowWeights(mode, tokenLoss.Select(row => row.Length).ToArray(), normalizer);
        double loss = 0;
        for (int r = 0; r < tokenLoss.Length; r++)
        {
            double sum = 0;
            foreach (var l in tokenLoss[r]) sum += l;
            loss += weights[r] * sum;
        }
        return loss;
    }
}

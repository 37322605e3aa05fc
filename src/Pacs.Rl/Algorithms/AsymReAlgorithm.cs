using System.ComponentModel;

namespace Pacs.Rl.Algorithms;

/// <summary>
/// Options of AsymRE (Asymmetric REINFORCE, Arnal et al. 2025, arXiv 2506.20520). The clip knobs of
/// <see cref="ClippedPolicyOptions"/> do not apply (REINFORCE has no ratio); the KL loss and the aggregation do.
/// </summary>
public sealed class AsymReOptions : ClippedPolicyOptions
{
    public AsymReOptions()
    {
        LossAggMode = LossAggMode.SeqMeanTokenSum;
    }

    [Description("δV, added to the group-mean baseline; negative (the default, −0.1) weighs positive rewards more, which the paper finds keeps off-policy training stable.")]
    public double BaselineShift { get; set; } = -0.1;

    internal override void Validate(string algorithm)
    {
        base.Validate(algorithm);
        if (!double.IsFinite(BaselineShift)) throw new ArgumentException($"algorithm {algorithm}: baseline_shift must be finite, got {BaselineShift}");
    }
}

/// <summary>
/// AsymRE: REINFORCE with a shifted baseline, A_i = r_i − (mean of the group's rewards + δV), and the plain
/// policy-gradient surrogate l_{i,t} = −A_i log π_{i,t} (no importance ratio even when the data is off-policy), so
/// d l / d log π_{i,t} = −A_i. The advantage follows Trinity-RFT's port (modelscope/Trinity-RFT, ASYMREAdvantageFn,
/// registered as "asymre": baseline = group mean + asymre_baseline_shift, default −0.1; a group of one gets baseline
/// 0); the authors' own code is not in the search index, so that the group mean is their
/// V estimate could not be confirmed from it. The default aggregation (seq-mean-token-sum) makes the loss the paper's
/// −(1/R) Σ_i A_i log π(o_i) with log π(o_i) the sequence log-probability.
/// </summary>
public sealed class AsymReAlgorithm(AsymReOptions options) : ClippedPolicyAlgorithm("asymre", options)
{
    public AsymReOptions Options { get; } = options;

    public override IReadOnlyDictionary<string, double> Prepare(PolicyBatch batch)
    {
        var perResponse = new double[batch.Count];
        for (int start = 0; start < batch.Count; start += batch.GroupSize)
        {
            double baseline = 0;
            if (batch.GroupSize > 1)
            {
                for (int i = start; i < start + batch.GroupSize; i++) baseline += batch.Rewards[i];
                baseline = baseline / batch.GroupSize + Options.BaselineShift;
            }
            for (int i = start; i < start + batch.GroupSize; i++) perResponse[i] = batch.Rewards[i] - baseline;
        }
        batch.Advantages = AdvantageEstimators.Broadcast(perResponse, batch.OldLogProbs);
        var metrics = RewardMetrics(batch);
        AddAdvantageMetrics(metrics, batch.Advantages);
        return metrics;
    }

    protected override ClippedTokenLoss[][] TokenLosses(PolicyBatch batch, float[][] logProbs, float[][] advantages) =>
        EachToken(logProbs, (r, t) =>
        {
            double ratio = Math.Exp(Math.Clamp((double)logProbs[r][t] - batch.OldLogProbs[r][t], -20, 20));
            return new ClippedTokenLoss(-advantages[r][t] * logProbs[r][t], -advantages[r][t], ratio, false, false);
        });
}

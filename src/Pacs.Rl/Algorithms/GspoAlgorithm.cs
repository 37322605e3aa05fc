namespace Pacs.Rl.Algorithms;

/// <summary>
/// Options of GSPO (Group Sequence Policy Optimization, Zheng et al. 2025, Qwen team, arXiv 2507.18071). Defaults
/// are the paper's (v2, section 5.1): ε_low 3e-4, ε_high 4e-4 (a sequence ratio moves far less than a token ratio),
/// no KL loss, no dual clip, the GRPO group advantage, and verl's fixed seq-mean-token-mean aggregation.
/// </summary>
public sealed class GspoOptions : GrpoOptions
{
    public GspoOptions()
    {
        ClipEpsLow = 3e-4;
        ClipEpsHigh = 4e-4;
        DualClipC = 0;
        LossAggMode = LossAggMode.SeqMeanTokenMean;
    }
}

/// <summary>
/// GSPO: the importance ratio of a whole response, s_i = (π_θ(o_i)/π_old(o_i))^(1/|o_i|) = exp(mean_t log ρ_{i,t}),
/// clipped as in PPO, with the GRPO group advantage. Follows verl's compute_policy_loss_gspo (volcengine/verl,
/// verl/trainer/ppo/core_algos.py), the "GSPO-token" form:
/// <code>
///   log s_{i,t} = sg[mean_t (log π − log π_old)] + log π_{i,t} − sg[log π_{i,t}]     (clamped above at 10)
///   l_{i,t} = max(−A_{i,t} s_{i,t}, −A_{i,t} clip(s_{i,t}, 1 − ε_low, 1 + ε_high))
///   L = seq-mean-token-mean(l)                                                    (verl forces this mode)
/// </code>
/// The value of s_{i,t} is s_i for every token; its derivative with respect to log π_{i,t} is s_i (straight-through),
/// so on the unclipped branch d L / d log π_{i,t} = −A_i s_i / (R |o_i|), which is exactly the gradient of the
/// sequence-level GSPO objective −(1/R) Σ_i A_i s_i (d s_i / d log π_{i,t} = s_i / |o_i|) when A is the same on every
/// token. Where s_i is clipped (or its log clamped at 10) the response gets no gradient. The loss aggregation is
/// configurable here (verl ignores loss_agg_mode for GSPO); the default matches verl.
/// </summary>
public sealed class GspoAlgorithm(GspoOptions options) : GrpoAlgorithm(options, "gspo")
{
    /// <summary>verl clamps the sequence log-ratio above at 10 "for numerical stability" (no lower clamp).</summary>
    public const double MaxLogRatio = 10;

    /// <summary>None: the ratio is the sequence's, which no built-in loss (all token-level) computes.</summary>
    public override BuiltInLoss? BuiltInForm(PolicyBatch miniBatch) => null;

    public override bool HasBuiltInForm => false;

    protected override ClippedTokenLoss[][] TokenLosses(PolicyBatch batch, float[][] logProbs, float[][] advantages)
    {
        var losses = new ClippedTokenLoss[batch.Count][];
        for (int r = 0; r < batch.Count; r++)
        {
            int length = logProbs[r].Length;
            losses[r] = new ClippedTokenLoss[length];
            if (length == 0) continue;
            double sum = 0;
            for (int t = 0; t < length; t++) sum += (double)logProbs[r][t] - batch.OldLogProbs[r][t];
            double meanLogRatio = sum / length;
            bool clamped = meanLogRatio > MaxLogRatio;
            double logRatio = Math.Min(meanLogRatio, MaxLogRatio);
            for (int t = 0; t < length; t++)
                losses[r][t] = PolicyLoss.Surrogate(logRatio, !clamped, advantages[r][t], Options.ClipEpsLow, Options.ClipEpsHigh, Options.DualClipC);
        }
        return losses;
    }
}

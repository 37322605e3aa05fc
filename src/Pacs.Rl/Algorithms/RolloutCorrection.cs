namespace Pacs.Rl.Algorithms;

/// <summary>`algorithm.rollout_correction`: how the trainer corrects for rollouts sampled by a policy whose log-probs differ from its own.</summary>
public enum RolloutCorrectionMode
{
    /// <summary>No correction (the mismatch is still measured).</summary>
    None,

    /// <summary>Truncated IS per token: w_t = min(rho_t, C).</summary>
    TisToken,

    /// <summary>Truncated IS per sequence: w = min(prod_t rho_t, C) on every token of the response.</summary>
    TisSequence,

    /// <summary>Masked IS per token: w_t = rho_t when rho_t &lt;= C, else 0 (the token gets no gradient).</summary>
    MisToken,

    /// <summary>Masked IS per sequence: w = prod_t rho_t when it is &lt;= C, else 0 (the response gets no gradient).</summary>
    MisSequence,
}

/// <summary>
/// The rollout engine's log-probs against the trainer's (verl's rollout correction, `docs/algo/rollout_corr.md` and
/// `verl/trainer/ppo/rollout_corr_helper.py`; TRL's `vllm_importance_sampling_*`), as pure functions over plain
/// arrays. With rho_t = pi_old(t) / pi_rollout(t) = exp(old_t - rollout_t) (the trainer's recomputed log-prob over
/// the sampler's), the weights correct the off-policy gap between the sampler and the policy the loss assumes sampled:
/// each token's loss gradient is multiplied by its weight (as verl multiplies the per-token loss by the detached IS
/// weight), for every algorithm. Log-ratios are bounded to [-20, 20] before exponentiating, as verl does.
/// </summary>
public static class RolloutCorrection
{
    /// <summary>Bound on a token's or a sequence's log-ratio before exp (verl's safety bound).</summary>
    public const double LogRatioBound = 20;

    /// <summary>[R][T_r] weights of each token; null for <see cref="RolloutCorrectionMode.None"/>.</summary>
    public static float[][]? Weights(RolloutCorrectionMode mode, double threshold, float[][] oldLogProbs, float[][] rolloutLogProbs)
    {
        if (mode == RolloutCorrectionMode.None) return null;
        if (!(threshold > 0)) throw new ArgumentException($"algorithm.rollout_correction_threshold must be > 0, got {threshold}");
        Check(oldLogProbs, rolloutLogProbs);
        bool perToken = mode is RolloutCorrectionMode.TisToken or RolloutCorrectionMode.MisToken;
        bool truncate = mode is RolloutCorrectionMode.TisToken or RolloutCorrectionMode.TisSequence;
        var weights = new float[oldLogProbs.Length][];
        for (int r = 0; r < oldLogProbs.Length; r++)
        {
            int length = oldLogProbs[r].Length;
            weights[r] = new float[length];
            double sequenceWeight = Weight(SequenceLogRatio(oldLogProbs[r], rolloutLogProbs[r]), threshold, truncate);
            for (int t = 0; t < length; t++)
                weights[r][t] = (float)(perToken ? Weight(Bound(oldLogProbs[r][t] - (double)rolloutLogProbs[r][t]), threshold, truncate) : sequenceWeight);
        }
        return weights;
    }

    /// <summary>Multiplies each token's loss gradient by its weight, in place.</summary>
    public static void Apply(float[][] gradLogProbs, IReadOnlyList<float[]> weights)
    {
        for (int r = 0; r < gradLogProbs.Length; r++)
            for (int t = 0; t < gradLogProbs[r].Length; t++) gradLogProbs[r][t] *= weights[r][t];
    }

    /// <summary>
    /// How far the sampler's log-probs are from the trainer's: |delta log p| per token (mean, max), KL(rollout || old)
    /// (k1: mean(rollout - old)) and k3 (mean(rho - log rho - 1)), chi-squared at token and sequence level
    /// (mean(rho^2) - 1), the sequence ratio prod_t rho_t (mean, min, max), and with a correction the mean weight and
    /// the fraction of tokens whose governing ratio (the token's or its sequence's) exceeds the threshold, i.e. whose
    /// weight was truncated or masked. Keys are `rollout_corr/*`.
    /// </summary>
    public static Dictionary<string, double> Metrics(float[][] oldLogProbs, float[][] rolloutLogProbs, RolloutCorrectionMode mode, double threshold)
    {
        Check(oldLogProbs, rolloutLogProbs);
        var weights = Weights(mode, threshold, oldLogProbs, rolloutLogProbs);
        bool perToken = mode is RolloutCorrectionMode.TisToken or RolloutCorrectionMode.MisToken;
        double absSum = 0, absMax = 0, k1 = 0, k3 = 0, chi2Token = 0, weightSum = 0;
        long tokens = 0, cut = 0;
        double seqSum = 0, seqMin = double.PositiveInfinity, seqMax = double.NegativeInfinity, seqSquares = 0;
        for (int r = 0; r < oldLogProbs.Length; r++)
        {
            for (int t = 0; t < oldLogProbs[r].Length; t++)
            {
                double delta = oldLogProbs[r][t] - (double)rolloutLogProbs[r][t];
                double rho = Math.Exp(Bound(delta));
                absSum += Math.Abs(delta);
                absMax = Math.Max(absMax, Math.Abs(delta));
                k1 -= delta;
                k3 += rho - Bound(delta) - 1;
                chi2Token += rho * rho;
                if (weights is not null)
                {
                    weightSum += weights[r][t];
                    if ((perToken ? Bound(delta) : SequenceLogRatio(oldLogProbs[r], rolloutLogProbs[r])) > Math.Log(threshold)) cut++;
                }
                tokens++;
            }
            double sequence = Math.Exp(Bound(SequenceLogRatio(oldLogProbs[r], rolloutLogProbs[r])));
            seqSum += sequence;
            seqSquares += sequence * sequence;
            seqMin = Math.Min(seqMin, sequence);
            seqMax = Math.Max(seqMax, sequence);
        }
        int rows = oldLogProbs.Length;
        var metrics = new Dictionary<string, double>();
        if (tokens == 0 || rows == 0) return metrics;
        metrics["rollout_corr/logp_abs_diff_mean"] = absSum / tokens;
        metrics["rollout_corr/logp_abs_diff_max"] = absMax;
        metrics["rollout_corr/kl"] = k1 / tokens;
        metrics["rollout_corr/k3_kl"] = k3 / tokens;
        metrics["rollout_corr/chi2_token"] = chi2Token / tokens - 1;
        metrics["rollout_corr/chi2_seq"] = seqSquares / rows - 1;
        metrics["rollout_corr/seq_ratio_mean"] = seqSum / rows;
        metrics["rollout_corr/seq_ratio_min"] = seqMin;
        metrics["rollout_corr/seq_ratio_max"] = seqMax;
        if (weights is not null)
        {
            metrics["rollout_corr/weight_mean"] = weightSum / tokens;
            metrics["rollout_corr/ratio_fraction_high"] = cut / (double)tokens;
        }
        return metrics;
    }

    private static double Weight(double logRatio, double threshold, bool truncate)
    {
        double rho = Math.Exp(logRatio);
        return truncate ? Math.Min(rho, threshold) : rho <= threshold ? rho : 0;
    }

    private static double SequenceLogRatio(float[] old, float[] rollout)
    {
        double sum = 0;
        for (int t = 0; t < old.Length; t++) sum += old[t] - (double)rollout[t];
        return Bound(sum);
    }

    private static double Bound(double logRatio) => Math.Clamp(logRatio, -LogRatioBound, LogRatioBound);

    private static void Check(float[][] old, float[][] rollout)
    {
        if (old.Length != rollout.Length) throw new ArgumentException($"rollout correction: {old.Length} responses of trainer log-probs but {rollout.Length} of rollout log-probs");
        for (int r = 0; r < old.Length; r++)
            if (old[r].Length != rollout[r].Length)
                throw new ArgumentException($"rollout correction: response {r} has {old[r].Length} trainer log-probs but {rollout[r].Length} rollout log-probs");
    }
}

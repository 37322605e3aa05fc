namespace Pacs.Rl.Algorithms;

/// <summary>Per-token estimators of KL(pi || pi_ref) (verl's kl_penalty names; k1/k2/k3 are accepted too).</summary>
public enum KlEstimator
{
    /// <summary>k1 = log pi - log pi_ref.</summary>
    [ConfigName("kl", "k1")]
    K1,

    /// <summary>|k1|.</summary>
    [ConfigName("abs")]
    Abs,

    /// <summary>k2 = 1/2 k1^2.</summary>
    [ConfigName("mse", "k2")]
    K2,

    /// <summary>k3 = exp(-k1) + k1 - 1: unbiased, non-negative, low variance.</summary>
    [ConfigName("low_var_kl", "k3")]
    K3,
}

/// <summary>
/// Per-token estimators of KL(π_θ || π_ref) from the sampled token's log-probs (Schulman, "Approximating KL
/// divergence"; verl core_algos.kl_penalty), each with its derivative with respect to log π_θ.
/// </summary>
public static class KlEstimators
{
    /// <summary>
    /// Value and d value / d logProb of one token's KL estimate.
    /// k1 = log π − log π_ref; abs = |k1|; k2 = ½ k1²; k3 = exp(−k1) + k1 − 1 (unbiased, non-negative, low
    /// variance), with verl's clamps: the log-ratio to [−20, 20] and k3 to [−10, 10] (gradient 0 where clamped).
    /// </summary>
    public static (double Value, double Grad) Evaluate(KlEstimator estimator, double logProb, double refLogProb)
    {
        double diff = logProb - refLogProb;
        return estimator switch
        {
            KlEstimator.K1 => (diff, 1),
            KlEstimator.Abs => (Math.Abs(diff), Math.Sign(diff)),
            KlEstimator.K2 => (0.5 * diff * diff, diff),
            KlEstimator.K3 => LowVarianceKl(logProb, refLogProb),
            _ => throw new ArgumentOutOfRangeException(nameof(estimator), estimator, "unknown KL estimator"),
        };
    }

    private static (double Value, double Grad) LowVarianceKl(double logProb, double refLogProb)
    {
        double logRatio = refLogProb - logProb;
        bool ratioClamped = logRatio < -20 || logRatio > 20;
        logRatio = Math.Clamp(logRatio, -20, 20);
        double ratio = Math.Exp(logRatio);
        double kld = ratio - logRatio - 1;
        if (kld > 10) return (10, 0);
        if (kld < -10) return (-10, 0);
        return (kld, ratioClamped ? 0 : 1 - ratio);
    }
}

namespace Pacs.Rl.Algorithms;

/// <summary>
/// Per-token estimators of KL(π_θ || π_ref) from the sampled token's log-probs (Schulman, "Approximating KL
/// divergence"; verl core_algos.kl_penalty), each with its derivative with respect to log π_θ.
/// </summary>
public static class KlEstimators
{
    /// <summary>Names accepted by <see cref="Evaluate"/>; verl's spellings and the k-names are aliases.</summary>
    public static IReadOnlyList<string> Names { get; } = ["k1", "kl", "abs", "k2", "mse", "k3", "low_var_kl"];

    public static void Validate(string name, string context)
    {
        if (!Names.Contains(name))
            throw new ArgumentException($"{context}: KL estimator '{name}' is not one of {string.Join(", ", Names)}");
    }

    /// <summary>
    /// Value and d value / d logProb of one token's KL estimate.
    /// k1 = log π − log π_ref; abs = |k1|; k2 = ½ k1²; k3 = exp(−k1) + k1 − 1 (unbiased, non-negative, low
    /// variance), with verl's clamps: the log-ratio to [−20, 20] and k3 to [−10, 10] (gradient 0 where clamped).
    /// </summary>
    public static (double Value, double Grad) Evaluate(string name, double logProb, double refLogProb)
    {
        double diff = logProb - refLogProb;
        switch (name)
        {
            case "k1" or "kl":
                return (diff, 1);
            case "abs":
                return (Math.Abs(diff), Math.Sign(diff));
            case "k2" or "mse":
                return (0.5 * diff * diff, diff);
            case "k3" or "low_var_kl":
                return LowVarianceKl(logProb, refLogProb);
            default:
                throw new ArgumentException($"KL estimator '{name}' is not one of {string.Join(", ", Names)}");
        }
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

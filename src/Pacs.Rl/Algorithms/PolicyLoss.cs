namespace Pacs.Rl.Algorithms;

/// <summary>One token of the PPO clipped surrogate: its loss, d loss / d log π, and what the clipping did.</summary>
public readonly record struct ClippedTokenLoss(double Loss, double Grad, double Ratio, bool Clipped, bool DualClipped);

/// <summary>The PPO clipped surrogate (verl core_algos.compute_policy_loss, "vanilla").</summary>
public static class PolicyLoss
{
    /// <summary>
    /// ρ = exp(log π − log π_old) (log-ratio clamped to [−20, 20]);
    /// l = max(−A ρ, −A clip(ρ, 1 − ε_low, 1 + ε_high)) (clip-higher when ε_high &gt; ε_low, DAPO);
    /// dual clip (Ye et al. 2020) for A &lt; 0: l = min(l, −A c) when <paramref name="dualClipC"/> &gt; 1 (0 = off).
    /// The gradient follows the branch that is selected: −A ρ on the unclipped branch, 0 where the ratio is clipped.
    /// </summary>
    public static ClippedTokenLoss Token(double logProb, double oldLogProb, double advantage, double epsLow, double epsHigh, double dualClipC)
    {
        double logRatio = logProb - oldLogProb;
        bool logRatioClamped = logRatio < -20 || logRatio > 20;
        return Surrogate(Math.Clamp(logRatio, -20, 20), !logRatioClamped, advantage, epsLow, epsHigh, dualClipC);
    }

    /// <summary>
    /// The clipped surrogate of a (possibly clamped) log-ratio, with d loss / d log-ratio; <paramref name="ratioGradient"/>
    /// false means the log-ratio was clamped, so no gradient flows through the ratio. Token-level PPO passes
    /// log π − log π_old; GSPO passes the sequence's mean log-ratio, whose straight-through derivative with respect to
    /// each token's log π is 1.
    /// </summary>
    public static ClippedTokenLoss Surrogate(double logRatio, bool ratioGradient, double advantage, double epsLow, double epsHigh, double dualClipC)
    {
        double ratio = Math.Exp(logRatio);
        double unclipped = -advantage * ratio;
        double clippedRatio = Math.Clamp(ratio, 1 - epsLow, 1 + epsHigh);
        double clipped = -advantage * clippedRatio;
        double gradUnclipped = ratioGradient ? -advantage * ratio : 0;
        // Inside [1 - eps_low, 1 + eps_high] both branches are the same function, so ties need no tie-break.
        double loss, grad;
        bool isClipped = clipped > unclipped;
        if (isClipped)
        {
            loss = clipped;
            grad = clippedRatio == ratio ? gradUnclipped : 0;
        }
        else
        {
            loss = unclipped;
            grad = gradUnclipped;
        }
        bool dualClipped = false;
        if (dualClipC > 0 && advantage < 0)
        {
            double bound = -advantage * dualClipC;
            if (loss > bound)
            {
                loss = bound;
                grad = 0;
                dualClipped = true;
            }
        }
        return new ClippedTokenLoss(loss, grad, ratio, isClipped, dualClipped);
    }

    public static void ValidateClip(double epsLow, double epsHigh, double dualClipC, string context)
    {
        if (!(epsLow >= 0 && epsLow < 1)) throw new ArgumentException($"{context}: clip_eps_low must be in [0, 1), got {epsLow}");
        if (!(epsHigh >= 0)) throw new ArgumentException($"{context}: clip_eps_high must be >= 0, got {epsHigh}");
        if (dualClipC != 0 && !(dualClipC > 1)) throw new ArgumentException($"{context}: dual_clip_c must be 0 (off) or > 1, got {dualClipC}");
    }
}

/// <summary>Clipped value loss of PPO (verl core_algos.compute_value_loss).</summary>
public static class ValueLoss
{
    /// <summary>
    /// One token: v_clip = clip(v, v_old − c, v_old + c); l = ½ max((v − R)², (v_clip − R)²) (the ½ of verl's
    /// 0.5 × agg_loss folded in). Returns the loss, d l / d v, and whether the clipped branch won.
    /// </summary>
    public static (double Loss, double Grad, bool Clipped) Token(double value, double oldValue, double target, double clip)
    {
        double clippedValue = Math.Clamp(value, oldValue - clip, oldValue + clip);
        double unclippedLoss = (value - target) * (value - target);
        double clippedLoss = (clippedValue - target) * (clippedValue - target);
        if (clippedLoss > unclippedLoss)
            return (0.5 * clippedLoss, clippedValue == value ? value - target : 0, true);
        return (0.5 * unclippedLoss, value - target, false);
    }
}

namespace Pacs.Rl.Algorithms;

/// <summary>
/// Options of CISPO (Clipped IS-weight Policy Optimization, MiniMax-M1, arXiv 2506.13585). The paper imposes no lower
/// bound on the weight ("setting ε_low^IS to a large value") and tunes only ε_high^IS without publishing it; the
/// defaults ε_low 1 (weight ≥ 0, i.e. no bound) and ε_high 0.28 are those of Trinity-RFT's port
/// (modelscope/Trinity-RFT, CISPOPolicyLossFn: clip_range_low 1.0, clip_range_high 0.28), not the authors', whose
/// training code is not public. Token-mean aggregation (the paper's 1/Σ|o_i|), GRPO group advantage,
/// no KL loss, no dual clip.
/// </summary>
public sealed class CispoOptions : GrpoOptions
{
    public CispoOptions()
    {
        ClipEpsLow = 1.0;
        ClipEpsHigh = 0.28;
        DualClipC = 0;
        LossAggMode = LossAggMode.TokenMean;
    }

    /// <summary>The weight, not the surrogate, is clipped, so ε_low = 1 (no lower bound) is allowed; dual clip does not apply.</summary>
    internal override void ValidateClipRange(string algorithm)
    {
        if (!(ClipEpsLow >= 0 && ClipEpsLow <= 1)) throw new ArgumentException($"algorithm {algorithm}: clip_eps_low must be in [0, 1], got {ClipEpsLow}");
        if (!(ClipEpsHigh >= 0)) throw new ArgumentException($"algorithm {algorithm}: clip_eps_high must be >= 0, got {ClipEpsHigh}");
        if (DualClipC != 0) throw new ArgumentException($"algorithm {algorithm}: dual_clip_c does not apply to cispo (it clips the weight, not the surrogate); set it to 0");
    }
}

/// <summary>
/// CISPO: REINFORCE on every token, weighted by the clipped, stop-gradient importance ratio, so no token loses its
/// gradient to clipping. Follows verl's compute_policy_loss_cispo (volcengine/verl, verl/trainer/ppo/core_algos.py;
/// the MiniMax-M1 authors released no training code, so the details below are verl's):
/// <code>
///   ρ = exp(clamp(log π − log π_old, −20, 20));   ŵ = sg[clip(ρ, 1 − ε_low, 1 + ε_high)]
///   l_{i,t} = −ŵ_{i,t} A_{i,t} log π_{i,t};       L = agg(l)  (token-mean)
/// </code>
/// d l / d log π_{i,t} = −ŵ_{i,t} A_{i,t}: the weight is a constant of the backward pass. The loss value contains
/// log π itself (it is a surrogate whose gradient, not value, is meaningful).
/// </summary>
public sealed class CispoAlgorithm(CispoOptions options) : GrpoAlgorithm(options, "cispo")
{
    /// <summary>
    /// The Tinker API's `cispo` loss, −sg(clip(r, lo, hi)) A' log p with lo = 1 − ε_low, hi = 1 + ε_high and
    /// A' = A × w_r, when there is no KL loss. Ours clamps the log-ratio at ±20 first (verl): the weights differ only
    /// where a token's log-ratio is below −20 and lo is 0 (then by less than e^−20 A').
    /// </summary>
    public override BuiltInLoss? BuiltInForm(PolicyBatch miniBatch) =>
        !HasBuiltInForm ? null
            : new BuiltInLoss(BuiltInLossKind.Cispo, miniBatch.OldLogProbs, WeightedAdvantages(miniBatch), 1 - Options.ClipEpsLow, 1 + Options.ClipEpsHigh);

    /// <summary>No dual clip applies to CISPO: only a KL loss rules the built-in form out.</summary>
    public override bool HasBuiltInForm => !(Options.KlLossCoef > 0);

    protected override ClippedTokenLoss[][] TokenLosses(PolicyBatch batch, float[][] logProbs, float[][] advantages) =>
        EachToken(logProbs, (r, t) =>
        {
            double ratio = Math.Exp(Math.Clamp((double)logProbs[r][t] - batch.OldLogProbs[r][t], -20, 20));
            double weight = Math.Clamp(ratio, 1 - Options.ClipEpsLow, 1 + Options.ClipEpsHigh);
            double a = advantages[r][t];
            return new ClippedTokenLoss(-weight * a * logProbs[r][t], -weight * a, ratio, weight != ratio, false);
        });
}

using System.ComponentModel;

namespace Pacs.Rl.Algorithms;

/// <summary>Options of REINFORCE++ (Hu 2025).</summary>
public sealed class ReinforcePlusPlusOptions : ClippedPolicyOptions
{
    [Description("Discount γ of the token-level return-to-go.")]
    public double Gamma { get; set; } = 1.0;

    [Description("Coefficient of the per-token KL(π_old ‖ π_ref) penalty folded into the token rewards; 0 = none (and no reference model).")]
    public double KlInRewardCoef { get; set; } = 0.001;

    [Description("KL estimator of the in-reward penalty: k1/kl, abs, k2/mse, k3/low_var_kl.")]
    public KlEstimator KlInRewardType { get; set; } = KlEstimator.K1;

    internal override void Validate(string algorithm)
    {
        base.Validate(algorithm);
        if (!(Gamma >= 0 && Gamma <= 1)) throw new ArgumentException($"algorithm {algorithm}: gamma must be in [0, 1], got {Gamma}");
        if (!(KlInRewardCoef >= 0)) throw new ArgumentException($"algorithm {algorithm}: kl_in_reward_coef must be >= 0, got {KlInRewardCoef}");
    }
}

/// <summary>
/// REINFORCE++: token rewards (outcome on the last token, −coef × KL on every token), discounted returns, whitened
/// over the whole batch (no critic, no groups), optimised with the PPO clipped surrogate.
/// </summary>
public sealed class ReinforcePlusPlusAlgorithm(ReinforcePlusPlusOptions options) : ClippedPolicyAlgorithm("reinforce_plus_plus", options)
{
    public ReinforcePlusPlusOptions Options { get; } = options;

    public override bool NeedsReference => base.NeedsReference || Options.KlInRewardCoef > 0;

    /// <summary>The in-reward KL penalty is taken at the old log-probs.</summary>
    public override bool PrepareReadsOldLogProbs => Options.KlInRewardCoef != 0;

    /// <summary>The built-in `ppo` loss when dual_clip_c and kl_loss_coef are 0 (the in-reward KL acts before the loss).</summary>
    public override BuiltInLoss? BuiltInForm(PolicyBatch miniBatch) => PpoForm(miniBatch);

    public override bool HasBuiltInForm => HasPpoForm;

    public override IReadOnlyDictionary<string, double> Prepare(PolicyBatch batch)
    {
        var refLogProbs = Options.KlInRewardCoef > 0 ? batch.Require(batch.RefLogProbs, "ref_log_probs", Name) : null;
        var tokenRewards = AdvantageEstimators.OutcomeTokenRewards(batch.Rewards, batch.OldLogProbs, refLogProbs, Options.KlInRewardCoef, Options.KlInRewardType);
        batch.Advantages = AdvantageEstimators.ToFloat(AdvantageEstimators.ReinforcePlusPlus(tokenRewards, Options.Gamma));
        var metrics = RewardMetrics(batch);
        AddAdvantageMetrics(metrics, batch.Advantages);
        return metrics;
    }
}

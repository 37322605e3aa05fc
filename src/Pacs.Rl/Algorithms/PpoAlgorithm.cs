using System.ComponentModel;

namespace Pacs.Rl.Algorithms;

/// <summary>Options of PPO with a learned critic (Schulman et al. 2017; Ouyang et al. 2022).</summary>
public sealed class PpoOptions : ClippedPolicyOptions
{
    [Description("Discount γ of GAE.")]
    public double Gamma { get; set; } = 1.0;

    [Description("GAE λ (1 = Monte-Carlo returns minus the value baseline).")]
    public double Lambda { get; set; } = 0.95;

    [Description("Whiten the GAE advantages over the batch.")]
    public bool WhitenAdvantages { get; set; } = true;

    [Description("Value clipping range c: the new value prediction is kept within ±c of the rollout value.")]
    public double ValueClip { get; set; } = 0.5;

    [Description("Weight of the value loss added to the policy loss (only scales the critic's gradient).")]
    public double ValueLossCoef { get; set; } = 0.5;

    [Description("Coefficient of the per-token KL(π_old ‖ π_ref) penalty in the token rewards; 0 = none.")]
    public double KlInRewardCoef { get; set; }

    [Description("KL estimator of the in-reward penalty: k1/kl, abs, k2/mse, k3/low_var_kl.")]
    public KlEstimator KlInRewardType { get; set; } = KlEstimator.K1;

    internal override void Validate(string algorithm)
    {
        base.Validate(algorithm);
        if (!(Gamma >= 0 && Gamma <= 1)) throw new ArgumentException($"algorithm {algorithm}: gamma must be in [0, 1], got {Gamma}");
        if (!(Lambda >= 0 && Lambda <= 1)) throw new ArgumentException($"algorithm {algorithm}: lambda must be in [0, 1], got {Lambda}");
        if (!(ValueClip > 0)) throw new ArgumentException($"algorithm {algorithm}: value_clip must be > 0, got {ValueClip}");
        if (!(ValueLossCoef >= 0)) throw new ArgumentException($"algorithm {algorithm}: value_loss_coef must be >= 0, got {ValueLossCoef}");
        if (!(KlInRewardCoef >= 0)) throw new ArgumentException($"algorithm {algorithm}: kl_in_reward_coef must be >= 0, got {KlInRewardCoef}");
    }
}

/// <summary>
/// PPO: GAE advantages from the rollout critic values, clipped surrogate for the policy and clipped value loss for
/// the critic; loss = policy loss + value_loss_coef × value loss.
/// </summary>
public sealed class PpoAlgorithm(PpoOptions options) : ClippedPolicyAlgorithm("ppo", options)
{
    public PpoOptions Options { get; } = options;

    public override bool NeedsCritic => true;

    public override bool NeedsReference => base.NeedsReference || Options.KlInRewardCoef > 0;

    /// <summary>The in-reward KL penalty is taken at the old log-probs.</summary>
    public override bool PrepareReadsOldLogProbs => Options.KlInRewardCoef != 0;

    public override IReadOnlyDictionary<string, double> Prepare(PolicyBatch batch)
    {
        var oldValues = batch.Require(batch.OldValues, "old_values", Name);
        var refLogProbs = Options.KlInRewardCoef > 0 ? batch.Require(batch.RefLogProbs, "ref_log_probs", Name) : null;
        var tokenRewards = AdvantageEstimators.OutcomeTokenRewards(batch.Rewards, batch.OldLogProbs, refLogProbs, Options.KlInRewardCoef, Options.KlInRewardType);
        var (advantages, returns) = AdvantageEstimators.Gae(tokenRewards, oldValues, Options.Gamma, Options.Lambda, Options.WhitenAdvantages);
        batch.Advantages = AdvantageEstimators.ToFloat(advantages);
        batch.Returns = AdvantageEstimators.ToFloat(returns);
        var metrics = RewardMetrics(batch);
        AddAdvantageMetrics(metrics, batch.Advantages);
        var allReturns = batch.Returns.SelectMany(row => row).ToArray();
        metrics["critic/returns_mean"] = allReturns.Length > 0 ? allReturns.Average(v => (double)v) : 0;
        return metrics;
    }

    public override LossOutput Loss(PolicyBatch miniBatch)
    {
        var (policyLoss, gradLogProbs, metrics) = PolicyTerm(miniBatch);
        var values = miniBatch.Require(miniBatch.Values, "values", Name);
        var oldValues = miniBatch.Require(miniBatch.OldValues, "old_values", Name);
        var returns = miniBatch.Require(miniBatch.Returns, "returns (call Prepare first)", Name);
        var weights = LossAggregation.RowWeights(Options.LossAggMode, miniBatch.Lengths, Options.LossNormalizer, miniBatch.Totals);
        var gradValues = new float[miniBatch.Count][];
        double valueLoss = 0, errorSum = 0;
        long tokens = 0, clipped = 0;
        for (int r = 0; r < miniBatch.Count; r++)
        {
            gradValues[r] = new float[values[r].Length];
            for (int t = 0; t < values[r].Length; t++)
            {
                var (loss, grad, isClipped) = ValueLoss.Token(values[r][t], oldValues[r][t], returns[r][t], Options.ValueClip);
                valueLoss += weights[r] * loss;
                gradValues[r][t] = (float)(Options.ValueLossCoef * weights[r] * grad);
                errorSum += values[r][t] - returns[r][t];
                tokens++;
                if (isClipped) clipped++;
            }
        }
        metrics["critic/vf_loss"] = valueLoss;
        metrics["critic/vf_clipfrac"] = tokens > 0 ? clipped / (double)tokens : 0;
        metrics["critic/value_error_mean"] = tokens > 0 ? errorSum / tokens : 0;
        return new LossOutput(policyLoss + Options.ValueLossCoef * valueLoss, gradLogProbs, gradValues, metrics);
    }
}

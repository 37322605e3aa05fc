using System.ComponentModel;

namespace Pacs.Rl.Algorithms;

/// <summary>Knobs shared by the algorithms that optimise the PPO clipped surrogate (GRPO, Dr.GRPO, RLOO, REINFORCE++, PPO).</summary>
public class ClippedPolicyOptions
{
    [Description("Lower clip range ε_low: the ratio is clipped below at 1 − ε_low.")]
    public double ClipEpsLow { get; set; } = 0.2;

    [Description("Upper clip range ε_high: the ratio is clipped above at 1 + ε_high (DAPO clip-higher uses 0.28).")]
    public double ClipEpsHigh { get; set; } = 0.2;

    [Description("Dual-clip constant c > 1 bounding the loss of negative-advantage tokens at −A c; 0 turns it off.")]
    public double DualClipC { get; set; } = 3.0;

    [Description("token-mean, seq-mean-token-sum, seq-mean-token-mean or seq-mean-token-sum-norm.")]
    public LossAggMode LossAggMode { get; set; } = LossAggMode.TokenMean;

    [Description("Constant divisor of seq-mean-token-sum-norm (set it to the generation budget, max response tokens); 0 = longest response in the mini-batch.")]
    public double LossNormalizer { get; set; }

    [Description("Coefficient of the KL(π_θ ‖ π_ref) loss term (GRPO's β, e.g. 0.001–0.04); 0 = no KL loss and no reference model.")]
    public double KlLossCoef { get; set; }

    [Description("Per-token KL estimator of the KL loss: k1/kl, abs, k2/mse, k3/low_var_kl.")]
    public KlEstimator KlLossType { get; set; } = KlEstimator.K3;

    internal virtual void Validate(string algorithm)
    {
        ValidateClipRange(algorithm);
        if (!(LossNormalizer >= 0)) throw new ArgumentException($"algorithm {algorithm}: loss_normalizer must be >= 0, got {LossNormalizer}");
        if (!(KlLossCoef >= 0)) throw new ArgumentException($"algorithm {algorithm}: kl_loss_coef must be >= 0, got {KlLossCoef}");
    }

    /// <summary>Checks clip_eps_low/high and dual_clip_c (an objective that clips something else may widen the ranges).</summary>
    internal virtual void ValidateClipRange(string algorithm) =>
        PolicyLoss.ValidateClip(ClipEpsLow, ClipEpsHigh, DualClipC, $"algorithm {algorithm}");
}

/// <summary>
/// Base of the clipped-surrogate algorithms: subclasses compute <see cref="PolicyBatch.Advantages"/> in
/// <see cref="Prepare"/>; the loss is agg(per-token policy loss) + kl_loss_coef × agg(KL estimator) (+ the value loss
/// for PPO). The per-token policy loss is the PPO clip unless a subclass overrides <see cref="TokenLosses"/> (GSPO's
/// sequence ratio, CISPO's clipped weight, REINFORCE's −A log π).
/// </summary>
public abstract class ClippedPolicyAlgorithm : IRlAlgorithm
{
    private readonly ClippedPolicyOptions _options;

    protected ClippedPolicyAlgorithm(string name, ClippedPolicyOptions options)
    {
        Name = name;
        _options = options;
        options.Validate(name);
    }

    public string Name { get; }

    public bool NeedsWholeGroups => false;

    public virtual bool NeedsCritic => false;

    public virtual bool NeedsReference => _options.KlLossCoef > 0;

    /// <summary>1: advantages from the batch (or a critic); group-relative estimators override it.</summary>
    public virtual int MinGroupSize => 1;

    /// <summary>The importance ratio pi / pi_old is taken against the rollout policy's log-probs.</summary>
    public bool NeedsExactOldLogProbs => true;

    /// <summary>Advantages from rewards (and values) alone; a KL penalty in the reward reads the old log-probs.</summary>
    public virtual bool PrepareReadsOldLogProbs => false;

    public abstract IReadOnlyDictionary<string, double> Prepare(PolicyBatch batch);

    public virtual LossOutput Loss(PolicyBatch miniBatch)
    {
        var (loss, grad, metrics) = PolicyTerm(miniBatch);
        return new LossOutput(loss, grad, null, metrics);
    }

    /// <summary>No built-in form unless the algorithm states one (a subclass with its own token loss must not inherit PPO's).</summary>
    public virtual BuiltInLoss? BuiltInForm(PolicyBatch miniBatch) => null;

    public virtual bool HasBuiltInForm => false;

    /// <summary>Whether <see cref="PpoForm"/> gives a loss: no dual clip and no KL loss.</summary>
    protected bool HasPpoForm => !(_options.DualClipC > 0 || _options.KlLossCoef > 0);

    /// <summary>
    /// The Tinker API's `ppo` loss with lo = 1 − ε_low, hi = 1 + ε_high and per-token advantages A × w_r (w_r ≥ 0 the
    /// aggregation's row weight, which moves inside the min), when this loss is exactly that: no dual clip and no KL
    /// loss. The built-in takes the ratio's log unclamped where ours clamps it at ±20 (verl), the one difference.
    /// </summary>
    protected BuiltInLoss? PpoForm(PolicyBatch miniBatch) =>
        !HasPpoForm ? null
            : new BuiltInLoss(BuiltInLossKind.Ppo, miniBatch.OldLogProbs, WeightedAdvantages(miniBatch), 1 - _options.ClipEpsLow, 1 + _options.ClipEpsHigh);

    /// <summary>
    /// [R][T_r] advantages times the loss aggregation's row weight (of the whole mini-batch when <see cref="PolicyBatch.Totals"/>
    /// is set): a built-in loss sums its token terms, ours weighs them, and each term is positively homogeneous in A.
    /// </summary>
    protected float[][] WeightedAdvantages(PolicyBatch miniBatch)
    {
        var advantages = miniBatch.Require(miniBatch.Advantages, "advantages (call Prepare first)", Name);
        var weights = LossAggregation.RowWeights(_options.LossAggMode, miniBatch.Lengths, _options.LossNormalizer, miniBatch.Totals);
        return [.. advantages.Select((row, r) => Array.ConvertAll(row, a => (float)(a * weights[r])))];
    }

    /// <summary>The policy part of the loss (clipped surrogate + KL loss) with its gradient and metrics.</summary>
    protected (double Loss, float[][] Grad, Dictionary<string, double> Metrics) PolicyTerm(PolicyBatch batch)
    {
        var logProbs = batch.Require(batch.LogProbs, "log_probs", Name);
        var advantages = batch.Require(batch.Advantages, "advantages (call Prepare first)", Name);
        var refLogProbs = _options.KlLossCoef > 0 ? batch.Require(batch.RefLogProbs, "ref_log_probs", Name) : null;
        var weights = LossAggregation.RowWeights(_options.LossAggMode, batch.Lengths, _options.LossNormalizer, batch.Totals);

        var tokenLosses = TokenLosses(batch, logProbs, advantages);
        var grad = new float[batch.Count][];
        double pgLoss = 0, klLoss = 0, ratioSum = 0, approxKl = 0;
        double ratioMin = double.PositiveInfinity, ratioMax = double.NegativeInfinity;
        long tokens = 0, clipped = 0, dualClipped = 0;
        for (int r = 0; r < batch.Count; r++)
        {
            grad[r] = new float[logProbs[r].Length];
            for (int t = 0; t < logProbs[r].Length; t++)
            {
                var token = tokenLosses[r][t];
                double g = weights[r] * token.Grad;
                pgLoss += weights[r] * token.Loss;
                if (refLogProbs is not null)
                {
                    var (kl, klGrad) = KlEstimators.Evaluate(_options.KlLossType, logProbs[r][t], refLogProbs[r][t]);
                    klLoss += weights[r] * kl;
                    g += _options.KlLossCoef * weights[r] * klGrad;
                }
                grad[r][t] = (float)g;
                tokens++;
                ratioSum += token.Ratio;
                ratioMin = Math.Min(ratioMin, token.Ratio);
                ratioMax = Math.Max(ratioMax, token.Ratio);
                approxKl += batch.OldLogProbs[r][t] - logProbs[r][t];
                if (token.Clipped) clipped++;
                if (token.DualClipped) dualClipped++;
            }
        }
        double loss = pgLoss + _options.KlLossCoef * klLoss;
        var metrics = new Dictionary<string, double>
        {
            ["actor/pg_loss"] = pgLoss,
            ["actor/pg_clipfrac"] = tokens > 0 ? clipped / (double)tokens : 0,
            ["actor/pg_clipfrac_lower"] = tokens > 0 ? dualClipped / (double)tokens : 0,
            ["actor/ppo_kl"] = tokens > 0 ? approxKl / tokens : 0,
            ["actor/ratio_mean"] = tokens > 0 ? ratioSum / tokens : 1,
            ["actor/ratio_min"] = tokens > 0 ? ratioMin : 1,
            ["actor/ratio_max"] = tokens > 0 ? ratioMax : 1,
        };
        if (refLogProbs is not null) metrics["actor/kl_loss"] = klLoss;
        return (loss, grad, metrics);
    }

    /// <summary>
    /// The per-token policy loss l[r][t] with d l / d log π[r][t] (before aggregation). Default: the PPO clipped
    /// surrogate of each token's own ratio.
    /// </summary>
    protected virtual ClippedTokenLoss[][] TokenLosses(PolicyBatch batch, float[][] logProbs, float[][] advantages) =>
        EachToken(logProbs, (r, t) => PolicyLoss.Token(logProbs[r][t], batch.OldLogProbs[r][t], advantages[r][t], _options.ClipEpsLow, _options.ClipEpsHigh, _options.DualClipC));

    /// <summary>A [R][T_r] table of per-token losses, each computed from its own token by <paramref name="token"/>(r, t).</summary>
    protected static ClippedTokenLoss[][] EachToken(float[][] logProbs, Func<int, int, ClippedTokenLoss> token)
    {
        var losses = new ClippedTokenLoss[logProbs.Length][];
        for (int r = 0; r < logProbs.Length; r++)
        {
            losses[r] = new ClippedTokenLoss[logProbs[r].Length];
            for (int t = 0; t < logProbs[r].Length; t++) losses[r][t] = token(r, t);
        }
        return losses;
    }

    /// <summary>Metrics every group-based Prepare reports.</summary>
    protected static Dictionary<string, double> RewardMetrics(PolicyBatch batch)
    {
        double mean = batch.Count > 0 ? batch.Rewards.Average(r => (double)r) : 0;
        return new Dictionary<string, double>
        {
            ["reward/mean"] = mean,
            ["reward/uniform_group_fraction"] = AdvantageEstimators.UniformGroupFraction(batch.Rewards, batch.GroupSize),
            ["response/length_mean"] = batch.Count > 0 ? batch.TotalTokens / (double)batch.Count : 0,
        };
    }

    protected static void AddAdvantageMetrics(Dictionary<string, double> metrics, float[][] advantages)
    {
        var all = advantages.SelectMany(row => row).ToArray();
        metrics["advantage/mean"] = all.Length > 0 ? all.Average(a => (double)a) : 0;
        metrics["advantage/max"] = all.Length > 0 ? all.Max() : 0;
        metrics["advantage/min"] = all.Length > 0 ? all.Min() : 0;
    }
}

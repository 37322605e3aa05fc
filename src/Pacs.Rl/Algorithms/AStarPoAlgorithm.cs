using System.ComponentModel;

namespace Pacs.Rl.Algorithms;

/// <summary>
/// Options of A*-PO (Brantley, Chen, Gao et al. 2025, "Accelerating RL for LLM Reasoning with Optimal Advantage
/// Regression", arXiv 2505.20686). Defaults are the released MATH script's (ZhaolinGao/A-PO, scripts/apo_math.sh:
/// beta1=0.5, beta2=1e-3, num_gen_to_use=8).
/// </summary>
public sealed class AStarPoOptions
{
    [Description("β₁ of stage 1: V*(x) = β₁ log mean_j exp(r_j/β₁) over the initial policy's samples; 0 = their plain mean (the released code's beta1 == 0 branch).")]
    public double Beta1 { get; set; } = 0.5;

    [Description("β₂ of stage 2: the regression of β₂ log(π/π_ref) + V*(x) onto r.")]
    public double Beta2 { get; set; } = 1e-3;

    [Description("Samples of the initial policy per prompt for V*(x) (num_gen_to_use); drawn once per prompt and cached in the run directory.")]
    public int ValueSamples { get; set; } = 8;

    public void Validate()
    {
        if (!(Beta1 >= 0) || !double.IsFinite(Beta1)) throw new ArgumentException($"algorithm astar_po: beta1 must be finite and >= 0, got {Beta1}");
        if (!(Beta2 > 0) || !double.IsFinite(Beta2)) throw new ArgumentException($"algorithm astar_po: beta2 must be finite and > 0, got {Beta2}");
        if (ValueSamples < 1) throw new ArgumentException($"algorithm astar_po: value_samples must be >= 1, got {ValueSamples}");
    }
}

/// <summary>
/// A*-PO, stage 2: least squares of the implied optimal advantage onto the reward. Follows the released
/// compute_policy_loss (ZhaolinGao/A-PO, verl/trainer/apo/core_algos.py):
/// <code>
///   ref_log_prob = (ref_log_probs * response_mask).sum(dim=-1)
///   log_prob = (log_probs * response_mask).sum(dim=-1)
///   reward = (token_level_rewards * response_mask).sum(dim=-1)
///   loss = (beta2 * (log_prob - ref_log_prob) + v_star - reward) ** 2;  loss.mean()
/// </code>
/// With e_i = β₂ Σ_t (log π − log π_ref) + V*(x_i) − r_i over R responses: L = (1/R) Σ_i e_i²,
/// d L / d log π_{i,t} = 2 β₂ e_i / R. Stage 1 (V*, <see cref="OptimalValue"/>) needs samples of the initial policy,
/// which the trainer draws (Training/OptimalValueStage) and passes in <see cref="PolicyBatch.OptimalValues"/>; the
/// released code reads them from a dataset prepared offline (verl/utils/dataset/rl_dataset.py, _process_values).
/// </summary>
public sealed class AStarPoAlgorithm : IRlAlgorithm
{
    public AStarPoAlgorithm(AStarPoOptions options)
    {
        options.Validate();
        Options = options;
    }

    public AStarPoOptions Options { get; }

    public string Name => "astar_po";

    /// <summary>Each response is regressed on its own against V*(x): no group needed.</summary>
    public int MinGroupSize => 1;

    /// <summary>The log-ratio is taken against the frozen initial model, not the rollout policy.</summary>
    public bool NeedsExactOldLogProbs => false;

    /// <summary>Its loss is against the reference; the old log-probs are only the rows' lengths.</summary>
    public bool PrepareReadsOldLogProbs => false;

    public bool NeedsWholeGroups => false;

    public bool NeedsCritic => false;

    public bool NeedsReference => true;

    /// <summary>
    /// V*(x) from the rewards of the initial policy's samples (rl_dataset.py, _process_values):
    /// β₁ log mean exp(r/β₁), or the mean when β₁ = 0. Computed as max + β₁ log mean exp((r − max)/β₁) so a small β₁
    /// does not overflow.
    /// </summary>
    public static double OptimalValue(IReadOnlyList<double> rewards, double beta1)
    {
        if (rewards.Count == 0) throw new ArgumentException("astar_po: V* needs at least one sample");
        if (beta1 == 0) return rewards.Average();
        double max = rewards.Max();
        return max + beta1 * Math.Log(rewards.Average(r => Math.Exp((r - max) / beta1)));
    }

    public IReadOnlyDictionary<string, double> Prepare(PolicyBatch batch)
    {
        batch.Require(batch.RefLogProbs, "ref_log_probs", Name);
        var values = RequireValues(batch);
        return new Dictionary<string, double>
        {
            ["reward/mean"] = batch.Count > 0 ? batch.Rewards.Average(r => (double)r) : 0,
            ["response/length_mean"] = batch.Count > 0 ? batch.TotalTokens / (double)batch.Count : 0,
            ["astar/v_star_mean"] = values.Length > 0 ? values.Average(v => (double)v) : 0,
        };
    }

    public LossOutput Loss(PolicyBatch miniBatch)
    {
        var logProbs = miniBatch.Require(miniBatch.LogProbs, "log_probs", Name);
        var refLogProbs = miniBatch.Require(miniBatch.RefLogProbs, "ref_log_probs", Name);
        var values = RequireValues(miniBatch);
        double divisor = miniBatch.Totals?.Responses ?? miniBatch.Count;
        var grad = new float[miniBatch.Count][];
        double loss = 0, logRatioSum = 0;
        for (int r = 0; r < miniBatch.Count; r++)
        {
            double logRatio = 0;
            for (int t = 0; t < logProbs[r].Length; t++) logRatio += (double)logProbs[r][t] - refLogProbs[r][t];
            double residual = Options.Beta2 * logRatio + values[r] - miniBatch.Rewards[r];
            loss += residual * residual / divisor;
            grad[r] = new float[logProbs[r].Length];
            Array.Fill(grad[r], (float)(2 * Options.Beta2 * residual / divisor));
            logRatioSum += logRatio;
        }
        var metrics = new Dictionary<string, double>
        {
            ["actor/astar_loss"] = loss,
            ["astar/log_ratio_mean"] = miniBatch.Count > 0 ? logRatioSum / miniBatch.Count : 0,
        };
        return new LossOutput(loss, grad, null, metrics);
    }

    private float[] RequireValues(PolicyBatch batch)
    {
        var values = batch.OptimalValues ?? throw new ArgumentException($"algorithm {Name}: policy batch field optimal_values (V* of stage 1) is required but not set");
        if (values.Length != batch.Count) throw new ArgumentException($"algorithm {Name}: optimal_values has {values.Length} entries, expected {batch.Count}");
        return values;
    }
}

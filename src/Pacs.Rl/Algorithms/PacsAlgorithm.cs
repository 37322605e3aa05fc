using System.ComponentModel;

namespace Pacs.Rl.Algorithms;

/// <summary>pi_ref of the PACS reward proxy.</summary>
public enum PacsReference
{
    /// <summary>The policy that sampled this step (the released code's old_log_prob).</summary>
    Rollout,

    /// <summary>The frozen starting model.</summary>
    Initial,
}

/// <summary>The PACS reward proxy.</summary>
public enum PacsProxy
{
    /// <summary>beta * sum_t (log pi_theta - log pi_ref) (reward_method 1).</summary>
    Sum,

    /// <summary>beta * mean_t log pi_theta, reference-free (reward_method 2).</summary>
    Mean,
}

/// <summary>The PACS score psi from the proxies of a group.</summary>
public enum PacsPsi
{
    /// <summary>The proxy minus the mean of the other G-1.</summary>
    Rloo,

    /// <summary>(proxy - mean) / (std + epsilon).</summary>
    Grpo,

    /// <summary>The proxy itself.</summary>
    None,
}

/// <summary>The PACS BCE weights.</summary>
public enum PacsWeights
{
    /// <summary>Per-group class balance: with k of G correct, positives weigh G/(2k) and negatives G/(2(G-k)).</summary>
    Balanced,

    /// <summary>All 1.</summary>
    None,

    /// <summary>Only correct responses.</summary>
    PositiveOnly,

    /// <summary>Only wrong responses.</summary>
    NegativeOnly,
}

/// <summary>
/// Options of PACS (Li et al. 2025, arXiv 2509.02522, "Implicit Actor Critic Coupling via a Supervised Learning
/// Framework for RLVR"). Defaults are those of the released scripts (scripts/pacs/pacs_beta_1.0.sh:
/// reward_method=1, adv_estimator=rloo, use_weight=True, weight_mode=question, beta=1.0).
/// </summary>
public sealed class PacsOptions
{
    [Description("β: scale of the reward proxy r̂ = β log(π_θ/π_ref) (the paper's main runs use 1.0 and 2.0).")]
    public double Beta { get; set; } = 1.0;

    [Description("π_ref of the reward proxy: \"rollout\" = the policy that sampled this step (released code's old_log_prob), \"initial\" = the frozen starting model.")]
    public PacsReference Reference { get; set; } = PacsReference.Rollout;

    [Description("\"sum\" = β Σ_t (log π_θ − log π_ref) (reward_method 1); \"mean\" = β mean_t log π_θ, reference-free (reward_method 2).")]
    public PacsProxy Proxy { get; set; } = PacsProxy.Sum;

    [Description("Score ψ from the proxies of a group: \"rloo\" = r̂_i − mean of the other G−1, \"grpo\" = (r̂ − mean)/(std + ε), \"none\" = r̂.")]
    public PacsPsi Psi { get; set; } = PacsPsi.Rloo;

    [Description("Whether the \"grpo\" score divides by the group std (norm_adv_by_std_in_grpo).")]
    public bool PsiNormByStd { get; set; } = true;

    [Description("ε of the \"grpo\" score.")]
    public double PsiEpsilon { get; set; } = 1e-6;

    [Description("BCE weights: \"balanced\" = inside a group with k of G correct, positives weigh G/(2k) and negatives G/(2(G−k)), uniform groups 1 (sklearn's class_weight=\"balanced\" per question); \"none\"; \"positive_only\"; \"negative_only\".")]
    public PacsWeights Weights { get; set; } = PacsWeights.Balanced;

    public void Validate()
    {
        if (!double.IsFinite(Beta) || Beta == 0) throw new ArgumentException($"algorithm pacs: beta must be finite and non-zero, got {Beta}");
        if (!(PsiEpsilon >= 0)) throw new ArgumentException($"algorithm pacs: psi_epsilon must be >= 0, got {PsiEpsilon}");
    }
}

/// <summary>Everything <see cref="PacsLoss.Compute"/> derives, per response ([R]) and in total.</summary>
public sealed record PacsLossResult(double Loss, float[][] GradLogProbs, double[] Proxy, double[] Psi, double[] Weights);

/// <summary>
/// The PACS loss as a pure function, following the released compute_pacs_loss (ritzz-ai/PACS,
/// src/pacs/pacs_core_algos.py):
/// <code>
///   reward = beta * (log_prob - old_log_prob).sum(dim=-1, keepdim=True)          # reward_method "1"
///   advantage = compute_rloo_outcome_advantage(reward, rollout_n)                 # ψ
///   pacs_loss = BCEWithLogitsLoss(weight=weight)(advantage, score)                # mean over the micro-batch
/// </code>
/// i.e. L = (1/R) Σ_i w_i BCE(ψ_i, y_i), BCE(x, y) = −[y log σ(x) + (1 − y) log(1 − σ(x))], R = responses in the
/// batch (whole groups). Gradient: ∂L/∂ψ_i = w_i (σ(ψ_i) − y_i)/R = −δ_i/R with δ_i = w_i (y_i − σ(ψ_i)); for the
/// RLOO score ∂L/∂r̂_i = −(1/R)[δ_i − mean_{j≠i} δ_j] and ∂r̂_i/∂log π(o_{i,t}) = β, so
/// ∇_θ L = −(β/R) Σ_i [δ_i − mean_{j≠i} δ_j] ∇ log π(o_i): the loss gradient (descent goes against it).
/// <para>Deviations, all at the level of the plain arrays: the released code sums the log-ratio (reward_method 1) or
/// the log-prob (reward_method 2, then ÷ response length) over the padded response length without the response
/// mask; rows here hold only response tokens, which is the paper's sum over the response. For the "grpo" score at a group whose proxies are all equal (std = 0, e.g. the first on-policy
/// update, where log π_θ = log π_old) torch's std backward is 0/0; we take the std's derivative there as 0.</para>
/// </summary>
public static class PacsLoss
{
    /// <param name="logProbs">[R][T_r] current policy log-probs of the response tokens.</param>
    /// <param name="referenceLogProbs">[R][T_r] π_ref log-probs (rollout or initial model); unused for the "mean" proxy.</param>
    /// <param name="labels">[R] verifier rewards y_i (0/1; fractional values act as soft BCE targets).</param>
    /// <param name="groupSize">G, responses per prompt; R must be a multiple of it.</param>
    /// <param name="lossDivisor">R of the 1/R mean: the responses of the whole mini-batch when these rows are one micro-batch of it; 0 = this batch's count.</param>
    public static PacsLossResult Compute(float[][] logProbs, float[][]? referenceLogProbs, float[] labels, int groupSize, PacsOptions options, int lossDivisor = 0)
    {
        options.Validate();
        int count = labels.Length;
        if (lossDivisor != 0 && lossDivisor < count) throw new ArgumentException($"pacs loss: loss divisor {lossDivisor} is smaller than the batch ({count} responses)");
        double divisor = lossDivisor > 0 ? lossDivisor : count;
        if (logProbs.Length != count) throw new ArgumentException($"pacs loss: log_probs has {logProbs.Length} rows, labels {count}");
        if (groupSize < 1 || count % groupSize != 0) throw new ArgumentException($"pacs loss: {count} responses do not split into whole groups of {groupSize}");
        if (options.Psi != PacsPsi.None && groupSize < 2) throw new ArgumentException($"pacs loss: psi '{ConfigEnum.Name(options.Psi)}' needs group_size >= 2, got {groupSize}");
        bool sum = options.Proxy == PacsProxy.Sum;
        if (sum)
        {
            if (referenceLogProbs is null) throw new ArgumentException("pacs loss: proxy 'sum' needs reference log-probs");
            for (int r = 0; r < count; r++)
                if (referenceLogProbs[r].Length != logProbs[r].Length)
                    throw new ArgumentException($"pacs loss: reference log-probs row {r} has {referenceLogProbs[r].Length} tokens, log_probs {logProbs[r].Length}");
        }

        // Reward proxy r̂_i and d r̂_i / d log π(o_{i,t}) (the same for every token of a response).
        var proxy = new double[count];
        var proxyTokenGrad = new double[count];
        for (int r = 0; r < count; r++)
        {
            double total = 0;
            for (int t = 0; t < logProbs[r].Length; t++)
                total += sum ? (double)logProbs[r][t] - referenceLogProbs![r][t] : logProbs[r][t];
            if (sum)
            {
                proxy[r] = options.Beta * total;
                proxyTokenGrad[r] = options.Beta;
            }
            else
            {
                if (logProbs[r].Length == 0) throw new ArgumentException($"pacs loss: proxy 'mean' is undefined for response {r}, which has no tokens");
                proxy[r] = options.Beta * total / logProbs[r].Length;
                proxyTokenGrad[r] = options.Beta / logProbs[r].Length;
            }
        }

        var psi = options.Psi switch
        {
            PacsPsi.Rloo => AdvantageEstimators.Rloo(proxy, groupSize),
            PacsPsi.Grpo => AdvantageEstimators.Grpo(proxy, groupSize, options.PsiNormByStd, unbiasedStd: true, options.PsiEpsilon),
            _ => (double[])proxy.Clone(),
        };
        var weights = BceWeights(labels, groupSize, options.Weights);

        // L = (1/R) Σ w_i BCE(ψ_i, y_i); dL/dψ_i = w_i (σ(ψ_i) − y_i) / R.
        double loss = 0;
        var gradPsi = new double[count];
        for (int i = 0; i < count; i++)
        {
            double x = psi[i], y = labels[i];
            double bce = Math.Max(x, 0) - x * y + Math.Log(1 + Math.Exp(-Math.Abs(x)));
            loss += weights[i] * bce / divisor;
            gradPsi[i] = weights[i] * (Sigmoid(x) - y) / divisor;
        }

        var gradProxy = PsiBackward(gradPsi, proxy, psi, groupSize, options);
        var grad = new float[count][];
        for (int r = 0; r < count; r++)
        {
            grad[r] = new float[logProbs[r].Length];
            Array.Fill(grad[r], (float)(gradProxy[r] * proxyTokenGrad[r]));
        }
        return new PacsLossResult(loss, grad, proxy, psi, weights);
    }

    /// <summary>
    /// Per-response BCE weights (released compute_weight). "balanced" is sklearn's compute_class_weight("balanced")
    /// inside each group: weight of label value c = G / (n_classes × count(c)); groups with one label value weigh 1.
    /// "positive_only"/"negative_only" keep responses whose label is exactly 1 / exactly 0.
    /// </summary>
    public static double[] BceWeights(float[] labels, int groupSize, PacsWeights mode)
    {
        var weights = new double[labels.Length];
        Array.Fill(weights, 1.0);
        switch (mode)
        {
            case PacsWeights.None:
                break;
            case PacsWeights.PositiveOnly:
                for (int i = 0; i < labels.Length; i++) weights[i] = labels[i] == 1 ? 1 : 0;
                break;
            case PacsWeights.NegativeOnly:
                for (int i = 0; i < labels.Length; i++) weights[i] = labels[i] == 0 ? 1 : 0;
                break;
            case PacsWeights.Balanced:
                for (int start = 0; start < labels.Length; start += groupSize)
                {
                    var counts = new Dictionary<float, int>();
                    for (int i = start; i < start + groupSize; i++)
                        counts[labels[i]] = counts.GetValueOrDefault(labels[i]) + 1;
                    if (counts.Count < 2) continue;
                    for (int i = start; i < start + groupSize; i++)
                        weights[i] = groupSize / ((double)counts.Count * counts[labels[i]]);
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown PACS weights");
        }
        return weights;
    }

    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    // Back-propagates dL/dψ to dL/dr̂ through the group score.
    private static double[] PsiBackward(double[] gradPsi, double[] proxy, double[] psi, int groupSize, PacsOptions options)
    {
        int count = gradPsi.Length;
        var gradProxy = new double[count];
        if (options.Psi == PacsPsi.None)
        {
            Array.Copy(gradPsi, gradProxy, count);
            return gradProxy;
        }
        for (int start = 0; start < count; start += groupSize)
        {
            double groupGrad = 0;
            for (int i = start; i < start + groupSize; i++) groupGrad += gradPsi[i];
            if (options.Psi == PacsPsi.Rloo)
            {
                // ψ_i = r̂_i − (Σ_g r̂ − r̂_i)/(G−1) ⇒ dL/dr̂_i = g_i − (Σ_g g − g_i)/(G−1).
                for (int i = start; i < start + groupSize; i++)
                    gradProxy[i] = gradPsi[i] - (groupGrad - gradPsi[i]) / (groupSize - 1);
                continue;
            }
            // "grpo": ψ_j = d_j / s' with d_j = r̂_j − mean, s' = std + ε (or 1 without std):
            // dL/dr̂_i = (g_i − mean g)/s' − (Σ_j g_j d_j) / s'² · ds/dr̂_i, ds/dr̂_i = d_i / ((G−1) std).
            var (mean, std) = AdvantageEstimators.MeanStd(proxy, start, groupSize, unbiased: true);
            double scale = options.PsiNormByStd ? std + options.PsiEpsilon : 1;
            double meanGrad = groupGrad / groupSize;
            double gradDotD = 0;
            for (int j = start; j < start + groupSize; j++) gradDotD += gradPsi[j] * (proxy[j] - mean);
            for (int i = start; i < start + groupSize; i++)
            {
                double g = (gradPsi[i] - meanGrad) / scale;
                if (options.PsiNormByStd && std > 0)
                    g -= gradDotD / (scale * scale) * (proxy[i] - mean) / ((groupSize - 1) * std);
                gradProxy[i] = g;
            }
        }
        return gradProxy;
    }
}

/// <summary>
/// PACS as an <see cref="IRlAlgorithm"/>: the policy is both actor and critic; the BCE loss of ψ against the 0/1
/// reward needs every response of a group, so mini-batches must hold whole groups. No KL, entropy or clipping.
/// </summary>
public sealed class PacsAlgorithm : IRlAlgorithm
{
    public PacsAlgorithm(PacsOptions options)
    {
        options.Validate();
        Options = options;
    }

    public PacsOptions Options { get; }

    public string Name => "pacs";

    public bool NeedsWholeGroups => true;

    public bool NeedsCritic => false;

    public bool NeedsReference => Options.Proxy == PacsProxy.Sum && Options.Reference == PacsReference.Initial;

    /// <summary>A score centred in its group (rloo, grpo) needs a group; `psi: none` scores each response alone.</summary>
    public int MinGroupSize => Options.Psi == PacsPsi.None ? 1 : 2;

    /// <summary>The sum proxy against the rollout policy is log pi - log pi_old: the first update's proxy is 0 only with the trainer's own log-probs.</summary>
    public bool NeedsExactOldLogProbs => Options.Proxy == PacsProxy.Sum && Options.Reference == PacsReference.Rollout;

    /// <summary>The proxy reads them in the loss only.</summary>
    public bool PrepareReadsOldLogProbs => false;

    public IReadOnlyDictionary<string, double> Prepare(PolicyBatch batch)
    {
        if (Options.Psi != PacsPsi.None && batch.GroupSize < 2)
            throw new ArgumentException($"algorithm pacs: psi '{ConfigEnum.Name(Options.Psi)}' needs group_size >= 2, got {batch.GroupSize}");
        if (NeedsReference) batch.Require(batch.RefLogProbs, "ref_log_probs", Name);
        return new Dictionary<string, double>
        {
            ["reward/mean"] = batch.Count > 0 ? batch.Rewards.Average(r => (double)r) : 0,
            ["reward/uniform_group_fraction"] = AdvantageEstimators.UniformGroupFraction(batch.Rewards, batch.GroupSize),
            ["response/length_mean"] = batch.Count > 0 ? batch.TotalTokens / (double)batch.Count : 0,
        };
    }

    public LossOutput Loss(PolicyBatch miniBatch)
    {
        var logProbs = miniBatch.Require(miniBatch.LogProbs, "log_probs", Name);
        float[][]? reference = Options.Proxy == PacsProxy.Mean ? null
            : Options.Reference == PacsReference.Initial ? miniBatch.Require(miniBatch.RefLogProbs, "ref_log_probs", Name)
            : miniBatch.OldLogProbs;
        var result = PacsLoss.Compute(logProbs, reference, miniBatch.Rewards, miniBatch.GroupSize, Options, miniBatch.Totals?.Responses ?? 0);
        return new LossOutput(result.Loss, result.GradLogProbs, null, Metrics(miniBatch, logProbs, result));
    }

    private static Dictionary<string, double> Metrics(PolicyBatch batch, float[][] logProbs, PacsLossResult result)
    {
        // The implicit critic: σ(ψ_i) is the predicted probability that response i is correct.
        double correctSum = 0, wrongSum = 0;
        int correctCount = 0, wrongCount = 0, hits = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            double p = PacsLoss.Sigmoid(result.Psi[i]);
            bool correct = batch.Rewards[i] >= 0.5f;
            if (correct) { correctSum += p; correctCount++; }
            else { wrongSum += p; wrongCount++; }
            if ((p > 0.5) == correct) hits++;
        }
        double ratioSum = 0, approxKl = 0, ratioMin = double.PositiveInfinity, ratioMax = double.NegativeInfinity;
        long tokens = 0;
        for (int r = 0; r < batch.Count; r++)
        {
            for (int t = 0; t < logProbs[r].Length; t++)
            {
                double logRatio = (double)logProbs[r][t] - batch.OldLogProbs[r][t];
                double ratio = Math.Exp(logRatio);
                ratioSum += ratio;
                ratioMin = Math.Min(ratioMin, ratio);
                ratioMax = Math.Max(ratioMax, ratio);
                approxKl -= logRatio;
                tokens++;
            }
        }
        return new Dictionary<string, double>
        {
            ["actor/pacs_loss"] = result.Loss,
            ["pacs/proxy_mean"] = result.Proxy.Length > 0 ? result.Proxy.Average() : 0,
            ["pacs/psi_mean"] = result.Psi.Length > 0 ? result.Psi.Average() : 0,
            ["pacs/score_correct_mean"] = correctCount > 0 ? correctSum / correctCount : double.NaN,
            ["pacs/score_wrong_mean"] = wrongCount > 0 ? wrongSum / wrongCount : double.NaN,
            ["pacs/critic_accuracy"] = batch.Count > 0 ? hits / (double)batch.Count : 0,
            ["reward/uniform_group_fraction"] = AdvantageEstimators.UniformGroupFraction(batch.Rewards, batch.GroupSize),
            ["actor/ppo_kl"] = tokens > 0 ? approxKl / tokens : 0,
            ["actor/ratio_mean"] = tokens > 0 ? ratioSum / tokens : 1,
            ["actor/ratio_min"] = tokens > 0 ? ratioMin : 1,
            ["actor/ratio_max"] = tokens > 0 ? ratioMax : 1,
        };
    }
}

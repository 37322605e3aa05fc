using System.ComponentModel;

namespace Pacs.Rl.Algorithms;

/// <summary>Options of REBEL (Gao et al. 2024, "REBEL: Reinforcement Learning via Regressing Relative Rewards", arXiv 2404.16767).</summary>
public sealed class RebelOptions
{
    [Description("η of the released code, which multiplies the reward difference (the paper's 1/η): the regression target of the log-ratio difference is η (r_a − r_b). The TL;DR and UltraFeedback scripts use 1.0.")]
    public double Eta { get; set; } = 1.0;

    public void Validate()
    {
        if (!double.IsFinite(Eta) || Eta <= 0) throw new ArgumentException($"algorithm rebel: eta must be finite and > 0, got {Eta}");
    }
}

/// <summary>
/// REBEL: least-squares regression of the difference of two responses' log-ratios onto the difference of their
/// rewards. Follows the released loss (ZhaolinGao/REBEL, src/tldr/rebel.py and src/ultrafeedback/rebel.py):
/// <code>
///   new_logprobs = (new_logprobs * mb_seq_mask).sum(-1)                       # sequence log-prob under π_θ
///   ratio_logprob = new_logprobs - mb_logprobs                                # minus the rollout policy's
///   ratio_logprob = ratio_logprob[:B] - ratio_logprob[B:]                     # response a minus response b
///   reg_diff = ratio_logprob - eta * (mb_rewards[:B] - mb_rewards[B:])
///   loss = (reg_diff ** 2).mean()
/// </code>
/// Pairs here are the consecutive responses (2k, 2k + 1) of a group, so the group size must be even and mini-batches
/// hold whole groups. With d_p = Δ_a − Δ_b − η (r_a − r_b), Δ = Σ_t (log π − log π_old), and P pairs:
/// L = (1/P) Σ_p d_p², d L / d log π_{a,t} = 2 d_p / P, d L / d log π_{b,t} = −2 d_p / P. On the first on-policy
/// mini-batch (Δ = 0) this is −(2η/P)(r_a − r_b)(∇ log π(a) − ∇ log π(b)): a pairwise REINFORCE.
/// </summary>
public sealed class RebelAlgorithm : IRlAlgorithm
{
    public RebelAlgorithm(RebelOptions options)
    {
        options.Validate();
        Options = options;
    }

    public RebelOptions Options { get; }

    public string Name => "rebel";

    public bool NeedsWholeGroups => true;

    public bool NeedsCritic => false;

    public bool NeedsReference => false;

    /// <summary>Responses are paired inside a group.</summary>
    public int MinGroupSize => 2;

    /// <summary>Pairs (2k, 2k + 1) of a group: the group size must be even.</summary>
    public int GroupSizeMultiple => 2;

    /// <summary>The regressed quantity is log pi - log pi_old of the rollout policy.</summary>
    public bool NeedsExactOldLogProbs => true;

    /// <summary>The log-ratios are taken in the loss only.</summary>
    public bool PrepareReadsOldLogProbs => false;

    public IReadOnlyDictionary<string, double> Prepare(PolicyBatch batch)
    {
        CheckPairs(batch);
        return new Dictionary<string, double>
        {
            ["reward/mean"] = batch.Count > 0 ? batch.Rewards.Average(r => (double)r) : 0,
            ["reward/uniform_group_fraction"] = AdvantageEstimators.UniformGroupFraction(batch.Rewards, batch.GroupSize),
            ["response/length_mean"] = batch.Count > 0 ? batch.TotalTokens / (double)batch.Count : 0,
        };
    }

    public LossOutput Loss(PolicyBatch miniBatch)
    {
        CheckPairs(miniBatch);
        var logProbs = miniBatch.Require(miniBatch.LogProbs, "log_probs", Name);
        int pairs = miniBatch.Count / 2;
        // A micro-batch divides by the whole mini-batch's pair count so that micro-batch losses add up.
        double divisor = miniBatch.Totals is { } totals ? totals.Responses / 2.0 : pairs;
        var grad = new float[miniBatch.Count][];
        double loss = 0, signAlign = 0, logRatioSum = 0;
        for (int p = 0; p < pairs; p++)
        {
            int a = 2 * p, b = 2 * p + 1;
            double logRatioA = SequenceLogRatio(logProbs[a], miniBatch.OldLogProbs[a]);
            double logRatioB = SequenceLogRatio(logProbs[b], miniBatch.OldLogProbs[b]);
            double residual = logRatioA - logRatioB - Options.Eta * (miniBatch.Rewards[a] - miniBatch.Rewards[b]);
            loss += residual * residual / divisor;
            grad[a] = Filled(logProbs[a].Length, 2 * residual / divisor);
            grad[b] = Filled(logProbs[b].Length, -2 * residual / divisor);
            if (logRatioA - logRatioB > 0) signAlign++;
            logRatioSum += logRatioA + logRatioB;
        }
        var metrics = new Dictionary<string, double>
        {
            ["actor/rebel_loss"] = loss,
            ["rebel/sign_align"] = pairs > 0 ? signAlign / pairs : 0,
            ["rebel/log_ratio_mean"] = miniBatch.Count > 0 ? logRatioSum / miniBatch.Count : 0,
        };
        return new LossOutput(loss, grad, null, metrics);
    }

    private static double SequenceLogRatio(float[] logProbs, float[] oldLogProbs)
    {
        double sum = 0;
        for (int t = 0; t < logProbs.Length; t++) sum += (double)logProbs[t] - oldLogProbs[t];
        return sum;
    }

    private static float[] Filled(int length, double value)
    {
        var row = new float[length];
        Array.Fill(row, (float)value);
        return row;
    }

    private void CheckPairs(PolicyBatch batch)
    {
        if (batch.GroupSize % 2 != 0)
            throw new ArgumentException($"algorithm {Name}: pairs the responses of a group, so group_size must be even, got {batch.GroupSize}");
    }
}

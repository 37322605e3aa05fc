namespace Pacs.Rl.Algorithms;

/// <summary>
/// Advantage estimators as pure functions (verl core_algos.compute_*_advantage). Outcome estimators take one scalar
/// per response ([R], grouped as in <see cref="PolicyBatch"/>) and return one advantage per response; token-level
/// estimators take [R][T_r] token rewards. All arithmetic is in float64.
/// </summary>
public static class AdvantageEstimators
{
    /// <summary>
    /// GRPO: A_i = (r_i − mean_g) / (std_g + ε) inside each group g, or r_i − mean_g when
    /// <paramref name="normByStd"/> is false (Dr.GRPO). std is unbiased (÷(G−1), torch.std) unless
    /// <paramref name="unbiasedStd"/> is false (÷G). A group of one response gets A = r (verl: mean 0, std 1).
    /// </summary>
    public static double[] Grpo(IReadOnlyList<double> rewards, int groupSize, bool normByStd = true, bool unbiasedStd = true, double epsilon = 1e-6)
    {
        CheckGroups(rewards.Count, groupSize);
        var advantages = new double[rewards.Count];
        for (int start = 0; start < rewards.Count; start += groupSize)
        {
            if (groupSize == 1)
            {
                advantages[start] = rewards[start];
                continue;
            }
            var (mean, std) = MeanStd(rewards, start, groupSize, unbiasedStd);
            for (int i = start; i < start + groupSize; i++)
                advantages[i] = normByStd ? (rewards[i] - mean) / (std + epsilon) : rewards[i] - mean;
        }
        return advantages;
    }

    /// <summary>
    /// RLOO: A_i = r_i − mean of the other G−1 rewards of its group = G/(G−1) (r_i − mean_g).
    /// A group of one response gets A = r (verl).
    /// </summary>
    public static double[] Rloo(IReadOnlyList<double> rewards, int groupSize)
    {
        CheckGroups(rewards.Count, groupSize);
        var advantages = new double[rewards.Count];
        for (int start = 0; start < rewards.Count; start += groupSize)
        {
            if (groupSize == 1)
            {
                advantages[start] = rewards[start];
                continue;
            }
            double total = 0;
            for (int i = start; i < start + groupSize; i++) total += rewards[i];
            for (int i = start; i < start + groupSize; i++)
                advantages[i] = rewards[i] - (total - rewards[i]) / (groupSize - 1);
        }
        return advantages;
    }

    /// <summary>
    /// Token rewards for outcome-reward RL: the response's reward on its last token, minus
    /// <paramref name="klCoef"/> × KL(old ‖ ref) on every token when <paramref name="klCoef"/> &gt; 0
    /// (verl apply_kl_penalty with a fixed coefficient). Returns [R][T_r].
    /// </summary>
    public static double[][] OutcomeTokenRewards(float[] rewards, float[][] oldLogProbs, float[][]? refLogProbs = null, double klCoef = 0, KlEstimator klEstimator = KlEstimator.K1)
    {
        var tokenRewards = new double[rewards.Length][];
        for (int r = 0; r < rewards.Length; r++)
        {
            var row = new double[oldLogProbs[r].Length];
            if (klCoef != 0)
            {
                if (refLogProbs is null) throw new ArgumentException("outcome token rewards: a KL penalty needs ref_log_probs");
                for (int t = 0; t < row.Length; t++)
                    row[t] = -klCoef * KlEstimators.Evaluate(klEstimator, oldLogProbs[r][t], refLogProbs[r][t]).Value;
            }
            if (row.Length > 0) row[^1] += rewards[r];
            tokenRewards[r] = row;
        }
        return tokenRewards;
    }

    /// <summary>
    /// REINFORCE++: discounted return-to-go G_t = Σ_{s≥t} γ^{s−t} r_s of each response, whitened over every token of
    /// the batch (verl compute_reinforce_plus_plus_outcome_advantage). Returns [R][T_r].
    /// </summary>
    public static double[][] ReinforcePlusPlus(double[][] tokenRewards, double gamma = 1.0)
    {
        var returns = new double[tokenRewards.Length][];
        for (int r = 0; r < tokenRewards.Length; r++)
        {
            var row = new double[tokenRewards[r].Length];
            double running = 0;
            for (int t = row.Length - 1; t >= 0; t--)
            {
                running = tokenRewards[r][t] + gamma * running;
                row[t] = running;
            }
            returns[r] = row;
        }
        return Whiten(returns);
    }

    /// <summary>
    /// Generalised advantage estimation (Schulman et al. 2016; verl compute_gae_advantage_return):
    /// δ_t = r_t + γ V_{t+1} − V_t (V_{T} = 0), A_t = δ_t + γλ A_{t+1}, returns = A + V. The advantages are
    /// whitened over the batch when <paramref name="whiten"/> (returns use the raw advantages). Both [R][T_r].
    /// </summary>
    public static (double[][] Advantages, double[][] Returns) Gae(double[][] tokenRewards, float[][] values, double gamma, double lambda, bool whiten = true)
    {
        if (values.Length != tokenRewards.Length)
            throw new ArgumentException($"GAE: values has {values.Length} rows, token rewards {tokenRewards.Length}");
        var advantages = new double[tokenRewards.Length][];
        var returns = new double[tokenRewards.Length][];
        for (int r = 0; r < tokenRewards.Length; r++)
        {
            int length = tokenRewards[r].Length;
            if (values[r].Length != length)
                throw new ArgumentException($"GAE: values row {r} has {values[r].Length} tokens, rewards {length}");
            var adv = new double[length];
            var ret = new double[length];
            double lastGae = 0;
            for (int t = length - 1; t >= 0; t--)
            {
                double nextValue = t + 1 < length ? values[r][t + 1] : 0;
                double delta = tokenRewards[r][t] + gamma * nextValue - values[r][t];
                lastGae = delta + gamma * lambda * lastGae;
                adv[t] = lastGae;
                ret[t] = lastGae + values[r][t];
            }
            advantages[r] = adv;
            returns[r] = ret;
        }
        return (whiten ? Whiten(advantages) : advantages, returns);
    }

    /// <summary>
    /// (x − mean) / sqrt(var + 1e-8) over every element of a ragged batch, var unbiased (verl masked_whiten).
    /// A batch with fewer than two elements is only centred.
    /// </summary>
    public static double[][] Whiten(double[][] x)
    {
        long n = 0;
        double sum = 0;
        foreach (var row in x)
        {
            n += row.Length;
            foreach (var v in row) sum += v;
        }
        var result = x.Select(row => new double[row.Length]).ToArray();
        if (n == 0) return result;
        double mean = sum / n;
        double squares = 0;
        foreach (var row in x)
            foreach (var v in row) squares += (v - mean) * (v - mean);
        double scale = n > 1 ? 1.0 / Math.Sqrt(squares / (n - 1) + 1e-8) : 1.0;
        for (int r = 0; r < x.Length; r++)
            for (int t = 0; t < x[r].Length; t++) result[r][t] = (x[r][t] - mean) * scale;
        return result;
    }

    /// <summary>Fraction of groups whose rewards are all equal (no learning signal for group-relative methods).</summary>
    public static double UniformGroupFraction(IReadOnlyList<float> rewards, int groupSize)
    {
        CheckGroups(rewards.Count, groupSize);
        if (rewards.Count == 0) return 0;
        int uniform = 0;
        for (int start = 0; start < rewards.Count; start += groupSize)
        {
            bool same = true;
            for (int i = start + 1; i < start + groupSize; i++) same &= rewards[i] == rewards[start];
            if (same) uniform++;
        }
        return uniform / (double)(rewards.Count / groupSize);
    }

    /// <summary>Broadcasts one value per response to each of its tokens: [R] → [R][T_r] (float32 for the batch).</summary>
    public static float[][] Broadcast(IReadOnlyList<double> perResponse, float[][] shapeLike)
    {
        var result = new float[shapeLike.Length][];
        for (int r = 0; r < shapeLike.Length; r++)
        {
            result[r] = new float[shapeLike[r].Length];
            Array.Fill(result[r], (float)perResponse[r]);
        }
        return result;
    }

    public static float[][] ToFloat(double[][] x) => x.Select(row => row.Select(v => (float)v).ToArray()).ToArray();

    internal static (double Mean, double Std) MeanStd(IReadOnlyList<double> x, int start, int count, bool unbiased)
    {
        double mean = 0;
        for (int i = start; i < start + count; i++) mean += x[i];
        mean /= count;
        double squares = 0;
        for (int i = start; i < start + count; i++) squares += (x[i] - mean) * (x[i] - mean);
        int dof = unbiased ? count - 1 : count;
        return (mean, dof > 0 ? Math.Sqrt(squares / dof) : 0);
    }

    private static void CheckGroups(int count, int groupSize)
    {
        if (groupSize < 1) throw new ArgumentException($"advantage estimator: group_size must be >= 1, got {groupSize}");
        if (count % groupSize != 0) throw new ArgumentException($"advantage estimator: {count} rewards do not split into groups of {groupSize}");
    }
}

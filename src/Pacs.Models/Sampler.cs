namespace Pacs.Models;

/// <summary>
/// Picks one token from a logits row. The returned log-prob is of softmax(logits / T) over the whole vocabulary
/// (T = 1 when greedy), regardless of top-k / top-p truncation, so it matches teacher-forced log-probs.
/// Uses exactly one uniform draw per sampled token, so a sequence's stream does not depend on anything else.
/// </summary>
public static class Sampler
{
    [ThreadStatic] private static float[]? t_weights;
    [ThreadStatic] private static ulong[]? t_keys;

    public static (int Token, float LogProb) Sample(ReadOnlySpan<float> logits, SamplingOptions options, SplitMix64 rng)
    {
        int vocab = logits.Length;
        var weights = t_weights is { } w && w.Length >= vocab ? w : (t_weights = new float[vocab]);
        float temperature = options.IsGreedy ? 1f : options.Temperature;
        // The normaliser comes from the same kernel as Ops.GatherLogProbs, so sampled and teacher-forced log-probs
        // differ only by the logits' rounding.
        float logNormaliser = Pacs.Tensors.Kernels.Softmax.LogSumExp(logits, temperature, weights);
        if (options.IsGreedy)
        {
            int best = 0;
            for (int i = 1; i < vocab; i++) if (logits[i] > logits[best]) best = i;
            return (best, logits[best] - logNormaliser);
        }

        // weights[i] = exp(z_i - max z), z = logits / T
        float zmax = float.NegativeInfinity;
        for (int i = 0; i < vocab; i++) zmax = MathF.Max(zmax, logits[i] / temperature);
        double total = 0;
        for (int i = 0; i < vocab; i++)
        {
            float e = MathF.Exp(logits[i] / temperature - zmax);
            weights[i] = e;
            total += e;
        }
        double u = rng.NextDouble();
        int token;
        bool truncated = (options.TopK > 0 && options.TopK < vocab) || options.TopP < 1;
        if (!truncated)
        {
            token = Pick(weights.AsSpan(0, vocab), u * total);
        }
        else
        {
            int kept = Candidates(weights.AsSpan(0, vocab), options.TopK, options.TopP, total, out var keys);
            double keptMass = 0;
            for (int j = 0; j < kept; j++) keptMass += weights[Index(keys[j])];
            double target = u * keptMass, cum = 0;
            token = Index(keys[kept - 1]);
            for (int j = 0; j < kept; j++)
            {
                int idx = Index(keys[j]);
                cum += weights[idx];
                if (cum > target) { token = idx; break; }
            }
        }
        float logProb = (temperature == 1f ? logits[token] : logits[token] / temperature) - logNormaliser;
        return (token, logProb);
    }

    /// <summary>Inverse-CDF pick over all weights (skipping zero weights on the round-off fallback).</summary>
    private static int Pick(ReadOnlySpan<float> weights, double target)
    {
        double cum = 0;
        int last = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weights[i] <= 0) continue;
            last = i;
            cum += weights[i];
            if (cum > target) return i;
        }
        return last;
    }

    // Sort keys: high 32 bits = ~(weight bits) so ascending key = descending weight (weights are >= 0),
    // low 32 bits = token id so ties go to the lower id.
    private static ulong Key(float weight, int index) => ((ulong)~BitConverter.SingleToUInt32Bits(weight) << 32) | (uint)index;

    private static int Index(ulong key) => (int)(uint)key;

    /// <summary>
    /// The kept tokens in descending-weight order: the top-k (if k > 0), then the shortest prefix whose mass reaches
    /// top-p of the (top-k renormalised) mass. Returns how many keys at the front of <paramref name="keys"/> are kept.
    /// </summary>
    private static int Candidates(ReadOnlySpan<float> weights, int topK, float topP, double total, out ulong[] keys)
    {
        int vocab = weights.Length;
        keys = t_keys is { } k && k.Length >= vocab ? k : (t_keys = new ulong[vocab]);
        int count;
        if (topK > 0 && topK < vocab)
        {
            for (int i = 0; i < vocab; i++) keys[i] = Key(weights[i], i);
            SelectSmallest(keys, vocab, topK);
            count = topK;
            total = 0;
            for (int j = 0; j < count; j++) total += weights[Index(keys[j])];
        }
        else
        {
            // Only tokens above some weight threshold can be in the top-p prefix: lower the threshold until the
            // tokens above it carry at least top-p of the mass, then sort just those.
            double need = topP * total;
            float threshold = 0.25f;
            while (true)
            {
                double mass = 0;
                count = 0;
                for (int i = 0; i < vocab; i++)
                    if (weights[i] >= threshold) { mass += weights[i]; keys[count++] = Key(weights[i], i); }
                if (mass >= need || threshold == 0) break;
                threshold = threshold < 1e-30f ? 0 : threshold * (1f / 16);
            }
        }
        Array.Sort(keys, 0, count);
        if (topP >= 1) return count;
        double limit = topP * total, cum = 0;
        for (int j = 0; j < count; j++)
        {
            cum += weights[Index(keys[j])];
            if (cum >= limit) return j + 1;
        }
        return count;
    }

    /// <summary>Moves the k smallest of keys[0..n) to the front (in any order); deterministic quickselect.</summary>
    private static void SelectSmallest(ulong[] keys, int n, int k)
    {
        int lo = 0, hi = n - 1;
        while (lo < hi)
        {
            ulong pivot = MedianOf3(keys[lo], keys[lo + (hi - lo) / 2], keys[hi]);
            int i = lo, j = hi;
            while (i <= j)
            {
                while (keys[i] < pivot) i++;
                while (keys[j] > pivot) j--;
                if (i <= j) { (keys[i], keys[j]) = (keys[j], keys[i]); i++; j--; }
            }
            if (k - 1 <= j) hi = j;
            else if (k - 1 >= i) lo = i;
            else return;
        }
    }

    private static ulong MedianOf3(ulong a, ulong b, ulong c) => Math.Max(Math.Min(a, b), Math.Min(Math.Max(a, b), c));
}

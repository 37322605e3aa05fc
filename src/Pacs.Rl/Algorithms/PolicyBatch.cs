namespace Pacs.Rl.Algorithms;

/// <summary>
/// The plain-array view of a batch of responses that every <see cref="IRlAlgorithm"/> works on.
/// Responses are stored group by group: response r belongs to group r / <see cref="GroupSize"/>, and all responses of
/// a group answer the same prompt. Per-token arrays are ragged, one row per response holding only its response
/// tokens (no padding): row r has <c>OldLogProbs[r].Length</c> = T_r entries.
/// <para>Life cycle: the trainer fills <see cref="Rewards"/>, <see cref="OldLogProbs"/> (and <see cref="RefLogProbs"/>,
/// <see cref="OldValues"/> when the algorithm needs them) after the rollout and calls
/// <see cref="IRlAlgorithm.Prepare"/> once on the whole batch, which may set <see cref="Advantages"/> and
/// <see cref="Returns"/>. Then, for each mini-batch (<see cref="SelectGroups"/> or <see cref="SelectRows"/>), it sets
/// <see cref="LogProbs"/> (and <see cref="Values"/>) from the model under training and calls
/// <see cref="IRlAlgorithm.Loss"/>.</para>
/// </summary>
public sealed class PolicyBatch
{
    public PolicyBatch(int groupSize, float[] rewards, float[][] oldLogProbs)
    {
        if (groupSize < 1) throw new ArgumentException($"policy batch: group_size must be >= 1, got {groupSize}");
        if (rewards.Length != oldLogProbs.Length)
            throw new ArgumentException($"policy batch: rewards has {rewards.Length} responses but old_log_probs has {oldLogProbs.Length}");
        if (rewards.Length % groupSize != 0)
            throw new ArgumentException($"policy batch: {rewards.Length} responses do not split into groups of {groupSize}");
        GroupSize = groupSize;
        Rewards = rewards;
        OldLogProbs = oldLogProbs;
    }

    /// <summary>Responses per prompt (G). 1 for a batch made of arbitrary rows (<see cref="SelectRows"/>).</summary>
    public int GroupSize { get; }

    /// <summary>[R] verifier reward of each response (0/1 for RLVR; any scalar works where the algorithm allows).</summary>
    public float[] Rewards { get; }

    /// <summary>[R][T_r] log-probs of the response tokens under the policy that sampled them (rollout policy).</summary>
    public float[][] OldLogProbs { get; }

    /// <summary>[R][T_r] log-probs under the policy being trained; set before <see cref="IRlAlgorithm.Loss"/>.</summary>
    public float[][]? LogProbs { get; set; }

    /// <summary>[R][T_r] log-probs under the frozen initial (reference) model.</summary>
    public float[][]? RefLogProbs { get; set; }

    /// <summary>[R][T_r] value predictions of the critic being trained; set before <see cref="IRlAlgorithm.Loss"/>.</summary>
    public float[][]? Values { get; set; }

    /// <summary>[R][T_r] value predictions of the critic at rollout time (used by GAE and value clipping).</summary>
    public float[][]? OldValues { get; set; }

    /// <summary>[R][T_r] value targets, set by <see cref="IRlAlgorithm.Prepare"/> (GAE).</summary>
    public float[][]? Returns { get; set; }

    /// <summary>[R] V*(x) of each response's prompt, estimated from the initial policy (A*-PO's stage 1); set by the trainer.</summary>
    public float[]? OptimalValues { get; set; }

    /// <summary>[R][T_r] per-token advantages, set by <see cref="IRlAlgorithm.Prepare"/>.</summary>
    public float[][]? Advantages { get; set; }

    /// <summary>
    /// When this batch is one micro-batch of a larger mini-batch, the mini-batch's totals: losses then divide by the
    /// mini-batch's response/token counts instead of this batch's, so the micro-batch losses and gradients add up
    /// exactly to those of the whole mini-batch (gradient accumulation without rescaling). Null = this batch alone.
    /// </summary>
    public MiniBatchTotals? Totals { get; set; }

    public int Count => Rewards.Length;

    public int GroupCount => Count / GroupSize;

    public int TokenCount(int response) => OldLogProbs[response].Length;

    public int TotalTokens
    {
        get
        {
            int n = 0;
            foreach (var row in OldLogProbs) n += row.Length;
            return n;
        }
    }

    /// <summary>A batch holding the given whole groups (in that order); rows share arrays with this batch.</summary>
    public PolicyBatch SelectGroups(IReadOnlyList<int> groups)
    {
        var rows = new int[groups.Count * GroupSize];
        for (int g = 0; g < groups.Count; g++)
        {
            if (groups[g] < 0 || groups[g] >= GroupCount)
                throw new ArgumentException($"policy batch: group {groups[g]} out of range [0, {GroupCount})");
            for (int k = 0; k < GroupSize; k++) rows[g * GroupSize + k] = groups[g] * GroupSize + k;
        }
        return Take(rows, GroupSize);
    }

    /// <summary>
    /// A batch holding arbitrary responses; its <see cref="GroupSize"/> is 1, so only algorithms with
    /// <see cref="IRlAlgorithm.NeedsWholeGroups"/> false may compute a loss on it.
    /// </summary>
    public PolicyBatch SelectRows(IReadOnlyList<int> rows)
    {
        foreach (var r in rows)
            if (r < 0 || r >= Count) throw new ArgumentException($"policy batch: response {r} out of range [0, {Count})");
        return Take(rows, 1);
    }

    private PolicyBatch Take(IReadOnlyList<int> rows, int groupSize)
    {
        var rewards = new float[rows.Count];
        for (int i = 0; i < rows.Count; i++) rewards[i] = Rewards[rows[i]];
        return new PolicyBatch(groupSize, rewards, Pick(OldLogProbs, rows)!)
        {
            LogProbs = Pick(LogProbs, rows),
            RefLogProbs = Pick(RefLogProbs, rows),
            Values = Pick(Values, rows),
            OldValues = Pick(OldValues, rows),
            Returns = Pick(Returns, rows),
            Advantages = Pick(Advantages, rows),
            OptimalValues = OptimalValues is null ? null : [.. rows.Select(r => OptimalValues[r])],
        };
    }

    private static float[][]? Pick(float[][]? source, IReadOnlyList<int> rows)
    {
        if (source is null) return null;
        var picked = new float[rows.Count][];
        for (int i = 0; i < rows.Count; i++) picked[i] = source[rows[i]];
        return picked;
    }

    /// <summary>Lengths (T_r) of the responses.</summary>
    public int[] Lengths => OldLogProbs.Select(row => row.Length).ToArray();

    /// <summary>Throws unless <paramref name="field"/> is present and every row has T_r entries.</summary>
    public float[][] Require(float[][]? rows, string field, string algorithm)
    {
        if (rows is null) throw new ArgumentException($"algorithm {algorithm}: policy batch field {field} is required but not set");
        if (rows.Length != Count)
            throw new ArgumentException($"algorithm {algorithm}: policy batch field {field} has {rows.Length} rows, expected {Count}");
        for (int r = 0; r < rows.Length; r++)
        {
            if (rows[r].Length != OldLogProbs[r].Length)
                throw new ArgumentException($"algorithm {algorithm}: policy batch field {field} row {r} has {rows[r].Length} tokens, old_log_probs has {OldLogProbs[r].Length}");
        }
        return rows;
    }
}

/// <summary>Response count, token count and longest response of a whole mini-batch (see <see cref="PolicyBatch.Totals"/>).</summary>
public sealed record MiniBatchTotals(int Responses, long Tokens, int LongestResponse)
{
    public static MiniBatchTotals Of(PolicyBatch batch) =>
        new(batch.Count, batch.TotalTokens, batch.Count == 0 ? 0 : batch.OldLogProbs.Max(row => row.Length));
}

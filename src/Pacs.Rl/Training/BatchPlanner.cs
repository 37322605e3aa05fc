namespace Pacs.Rl.Training;

/// <summary>
/// Splits a step's batch of P prompts × G responses (stored group by group) into mini-batches of whole groups and
/// those into micro-batches of rows. Micro-batches never split a group when the algorithm needs whole groups
/// (checked up front by <see cref="Validate"/>).
/// </summary>
public sealed class BatchPlanner(int prompts, int groupSize, int miniBatches, int microBatchSize)
{
    public int GroupsPerMiniBatch => prompts / miniBatches;

    public int RowsPerMiniBatch => GroupsPerMiniBatch * groupSize;

    public int RowsPerMicroBatch => microBatchSize == 0 ? RowsPerMiniBatch : Math.Min(microBatchSize, RowsPerMiniBatch);

    /// <summary>Throws ArgumentException naming the key when the shapes do not fit.</summary>
    public static void Validate(int prompts, int groupSize, int miniBatches, int microBatchSize, bool needsWholeGroups, string algorithm)
    {
        if (prompts < 1) throw new ArgumentException($"rollout.batch_prompts must be >= 1, got {prompts}");
        if (groupSize < 1) throw new ArgumentException($"rollout.group_size must be >= 1, got {groupSize}");
        if (miniBatches < 1) throw new ArgumentException($"update.mini_batches must be >= 1, got {miniBatches}");
        if (prompts % miniBatches != 0)
            throw new ArgumentException($"update.mini_batches={miniBatches} must divide rollout.batch_prompts={prompts} (mini-batches hold whole groups)");
        if (microBatchSize < 0) throw new ArgumentException($"update.micro_batch_size must be >= 0, got {microBatchSize}");
        if (needsWholeGroups && microBatchSize > 0 && microBatchSize % groupSize != 0)
            throw new ArgumentException($"update.micro_batch_size={microBatchSize} would split a group of rollout.group_size={groupSize}; algorithm {algorithm} needs whole groups, use a multiple of {groupSize}");
    }

    /// <summary>Group indices of each mini-batch of one epoch, after shuffling the groups with <paramref name="rng"/>.</summary>
    public List<int[]> MiniBatchGroups(Rng rng)
    {
        var order = Enumerable.Range(0, prompts).ToArray();
        rng.Shuffle(order);
        var result = new List<int[]>();
        for (int m = 0; m < miniBatches; m++) result.Add(order[(m * GroupsPerMiniBatch)..((m + 1) * GroupsPerMiniBatch)]);
        return result;
    }

    /// <summary>Row ranges [start, end) of the micro-batches of a mini-batch holding <paramref name="rows"/> rows.</summary>
    public List<(int Start, int End)> MicroBatches(int rows)
    {
        var result = new List<(int, int)>();
        for (int s = 0; s < rows; s += RowsPerMicroBatch) result.Add((s, Math.Min(rows, s + RowsPerMicroBatch)));
        return result;
    }
}

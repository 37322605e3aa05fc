using Pacs.Rl.Training;

namespace Pacs.Rl.Tests.Training;

public class BatchingTests
{
    [Fact]
    public void Micro_batch_that_splits_a_group_is_rejected_naming_the_key()
    {
        var e = Assert.Throws<ArgumentException>(() => BatchPlanner.Validate(4, 4, 1, 6, needsWholeGroups: true, "pacs"));
        Assert.Contains("update.micro_batch_size", e.Message);
        BatchPlanner.Validate(4, 4, 1, 6, needsWholeGroups: false, "grpo");
        BatchPlanner.Validate(4, 4, 2, 8, needsWholeGroups: true, "pacs");
        Assert.Contains("update.mini_batches", Assert.Throws<ArgumentException>(() => BatchPlanner.Validate(4, 4, 3, 0, false, "grpo")).Message);
    }

    [Fact]
    public void Mini_batches_partition_the_groups_and_micro_batches_the_rows()
    {
        var planner = new BatchPlanner(prompts: 6, groupSize: 4, miniBatches: 3, microBatchSize: 4);
        var minis = planner.MiniBatchGroups(new Rng(7));
        Assert.Equal(3, minis.Count);
        Assert.Equal(Enumerable.Range(0, 6), minis.SelectMany(m => m).Order());
        Assert.Equal([(0, 4), (4, 8)], planner.MicroBatches(planner.RowsPerMiniBatch));
        // Same state, same order: what makes a resumed run repeat.
        var again = new BatchPlanner(6, 4, 3, 4).MiniBatchGroups(new Rng(7));
        Assert.Equal(minis.SelectMany(m => m), again.SelectMany(m => m));
    }

}

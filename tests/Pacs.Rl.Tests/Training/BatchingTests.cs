using Pacs.Rl.Training;

namespace Pacs.Rl.Tests.Training;

public class BatchingTests
{
    [Fact]
    public void Packed_rows_score_each_response_token_from_the_previous_position()
    {
        var packed = PackedSequences.Build([[1, 5, 6], [1, 7]], [[8, 9, 2], [2]], padId: 0);
        Assert.Equal(5, packed.SeqLen); // 3 + 3 - 1
        Assert.Equal([1, 5, 6, 8, 9, 1, 7, 0, 0, 0], packed.Tokens);
        Assert.Equal([5, 6, 8, 9, 2, 7, 2, 0, 0, 0], packed.Targets);
        Assert.Equal([5, 2], packed.ValidLengths);
        Assert.Equal([2, 6], packed.ResponseStart);
        var flat = Enumerable.Range(0, 10).Select(i => (float)i).ToArray();
        var rows = packed.Extract(flat);
        Assert.Equal([2f, 3f, 4f], rows[0]);
        Assert.Equal([6f], rows[1]);
        // Every extracted position's target is the response token it scores.
        Assert.Equal([8, 9, 2], rows[0].Select(i => packed.Targets[(int)i]));
        var scattered = packed.Scatter([[1f, 2f, 3f], [4f]], 0.5);
        Assert.Equal([0, 0, 0.5f, 1f, 1.5f, 0, 2f, 0, 0, 0], scattered);
    }

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

    [Fact]
    public void Pass_at_k_matches_the_closed_form()
    {
        Assert.Equal(0.5, PassAtK.Estimate(4, 2, 1), 12);
        Assert.Equal(1 - 1.0 / 6, PassAtK.Estimate(4, 2, 2), 12);
        Assert.Equal(1.0, PassAtK.Estimate(4, 3, 2));
        Assert.Equal(0.0, PassAtK.Estimate(8, 0, 4));
    }
}

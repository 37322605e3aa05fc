namespace Pacs.Engine.Tests;

public class PackedSequencesTests
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
}

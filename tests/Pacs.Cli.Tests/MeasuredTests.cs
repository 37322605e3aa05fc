using Pacs.Cli.Bench;

namespace Pacs.Cli.Tests;

public sealed class MeasuredTests
{
    [Fact]
    public void Best_is_the_largest_rate_and_the_smallest_time()
    {
        double[] runs = [3, 1, 4, 2];
        var rate = Measured.Of(runs, "tokens/s");
        var time = Measured.OfSeconds(runs);
        Assert.Equal(2.5, rate.Median);
        Assert.Equal(2.5, time.Median);
        Assert.Equal(4, rate.Best);
        Assert.Equal(1, time.Best);
        Assert.Equal("s", time.Unit);
        Assert.Equal(runs, time.Runs); // in the order they ran
    }
}

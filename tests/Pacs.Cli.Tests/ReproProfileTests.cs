using Pacs.Cli.Commands;

namespace Pacs.Cli.Tests;

public sealed class ReproProfileTests
{
    [Fact]
    public void Quick_keeps_three_seeds_for_the_default_methods()
    {
        Assert.Same(ReproProfile.Quick, ReproProfile.For(quick: true, methods: 0));
        Assert.Same(ReproProfile.Quick, ReproProfile.For(quick: true, methods: 3));
        Assert.Equal(3, ReproProfile.Quick.Seeds);
        Assert.Same(ReproProfile.Full, ReproProfile.For(quick: false, methods: 13));
    }

    [Fact]
    public void Quick_with_more_methods_runs_one_seed_each_on_the_same_budget()
    {
        var all = MethodComparison.Parse("all", ReproProfile.Quick.GroupSize);
        var many = ReproProfile.For(quick: true, methods: all.Count);
        Assert.Same(ReproProfile.QuickMany, many);
        Assert.Equal(1, many.Seeds);
        Assert.Equal(ReproProfile.Quick with { Name = many.Name, Seeds = 1 }, many);
        Assert.Same(ReproProfile.QuickMany, ReproProfile.For(quick: true, methods: 4));
    }
}

namespace Pacs.Models.Tests;

public class GeneratorLiveTests
{
    private static readonly Lazy<Transformer> Stories = new(() => Transformer.Load(TestPaths.Models("stories260K")));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LiveSequencesJoiningAtDifferentStepsGetTheTokensOfGenerate(bool panels)
    {
        var model = Stories.Value;
        var warm = new SamplingOptions(Temperature: 0.9f, TopP: 0.95f, MaxNewTokens: 20, StopTokenIds: []);
        var greedy = new SamplingOptions(Greedy: true, MaxNewTokens: 12);
        var a = new GenerationRequest([1, 403, 407], 7);
        var b = new GenerationRequest([1], 11);
        var c = new GenerationRequest([1, 70, 80, 90, 100, 110], 13);
        var expectA = new Generator(model) { UsePanels = panels }.Generate(a, warm);
        var expectB = new Generator(model) { UsePanels = panels }.Generate(b, greedy);
        var expectC = new Generator(model) { UsePanels = panels }.Generate(c, warm with { TopK = 5 });

        var live = new Generator(model, maxRowsPerStep: 2) { UsePanels = panels };
        var la = live.Admit(a, warm);
        live.StepLive();
        live.StepLive();
        var lb = live.Admit(b, greedy, topLogProbs: 3);
        live.StepLive();
        var lc = live.Admit(c, warm with { TopK = 5 });
        int steps = 0;
        while (!(la.Done && lb.Done && lc.Done) && steps++ < 100)
        {
            var rows = live.StepLive();
            Assert.True(rows.DecodeRows <= 3);
            foreach (var s in new[] { la, lb, lc }.Where(s => s.Done)) live.Retire(s);
        }
        Assert.Equal(expectA.Tokens, la.Tokens);
        Assert.Equal(expectA.LogProbs, la.LogProbs);
        Assert.Equal(expectB.Tokens, lb.Tokens);
        Assert.Equal(expectB.Stopped, lb.Stopped);
        Assert.Equal(expectC.Tokens, lc.Tokens);
        Assert.Equal(0, live.LiveCount);
        // Greedy: the most likely token is the sampled one, with the same log-prob.
        Assert.Equal(lb.Tokens.Count, lb.TopLogProbs.Count);
        for (int i = 0; i < lb.Tokens.Count; i++)
        {
            Assert.Equal(3, lb.TopLogProbs[i].Length);
            Assert.Equal(lb.Tokens[i], lb.TopLogProbs[i][0].Token);
            Assert.Equal(lb.LogProbs[i], lb.TopLogProbs[i][0].LogProb, 5);
            Assert.True(lb.TopLogProbs[i][1].LogProb <= lb.TopLogProbs[i][0].LogProb);
        }
    }

    [Fact]
    public void RetiredSequencesFreeTheirCacheForLaterOnes()
    {
        var model = Stories.Value;
        var options = new SamplingOptions(Temperature: 1, MaxNewTokens: 8, StopTokenIds: []);
        var expect = new Generator(model).Generate(new GenerationRequest([1, 5], 3), options);
        var live = new Generator(model);
        for (int round = 0; round < 3; round++)
        {
            var abandoned = live.Admit(new GenerationRequest([1, 9, 9], 1), options);
            var kept = live.Admit(new GenerationRequest([1, 5], 3), options);
            live.StepLive();
            live.Retire(abandoned);
            while (!kept.Done) live.StepLive();
            live.Retire(kept);
            Assert.Equal(expect.Tokens, kept.Tokens);
        }
        Assert.Equal(0, live.LiveCount);
    }
}

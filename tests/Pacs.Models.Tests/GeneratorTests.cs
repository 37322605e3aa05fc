using Pacs.Tensors.Kernels;

namespace Pacs.Models.Tests;

public class GeneratorTests
{
    private static readonly Lazy<Transformer> Stories = new(() => Transformer.Load(TestPaths.Models("stories260K")));

    [Fact]
    public void Stories260KGreedyFromBosTellsTheLilyStory()
    {
        var model = Stories.Value;
        var result = new Generator(model).Generate(new GenerationRequest([1], 0), new SamplingOptions(Greedy: true, MaxNewTokens: 40));
        string text = TestPaths.DecodeWithVocab(Path.Combine(TestPaths.Models("stories260K"), "tokenizer.json"), result.Tokens);
        Assert.StartsWith("Once upon a time, there was a little girl named Lily.", text);
        Assert.Equal(40, result.Tokens.Length);
        Assert.All(result.LogProbs, lp => Assert.True(lp <= 0 && float.IsFinite(lp)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void OutputDependsOnlyOnPromptAndSeedNotOnBatchOrThreads(bool panels)
    {
        var model = Stories.Value;
        Generator New(int maxRowsPerStep = 256, int maxPromptRowsPerStep = 2048) => new(model, maxRowsPerStep, maxPromptRowsPerStep) { UsePanels = panels };
        var options = new SamplingOptions(Temperature: 0.9f, TopP: 0.95f, MaxNewTokens: 24, StopTokenIds: []);
        var a = new GenerationRequest([1, 403, 407], 7);
        var b = new GenerationRequest([1], 11);
        var c = new GenerationRequest([1, 70, 80, 90, 100, 110], 13);
        var alone = New().Generate([a], options)[0];
        var batched = New(maxRowsPerStep: 3, maxPromptRowsPerStep: 2).Generate([b, a, c, a], options);
        int saved = Parallelism.MaxDegree;
        GenerationResult single;
        try
        {
            Parallelism.MaxDegree = 1;
            single = New().Generate([c, a], options)[1];
        }
        finally
        {
            Parallelism.MaxDegree = saved;
        }
        foreach (var other in new[] { batched[1], batched[3], single })
        {
            Assert.Equal(alone.Tokens, other.Tokens);
            Assert.Equal(alone.LogProbs, other.LogProbs);
        }
        var otherSeed = New().Generate([a with { Seed = 8 }], options)[0];
        Assert.NotEqual(alone.Tokens, otherSeed.Tokens);
    }

    /// <summary>A group of samples of one prompt (the prompt runs through the model once and its copies take its cache)
    /// gives every sample exactly what it gets alone with its seed, prompts of one token and other prompts mixed in.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RepeatedPromptsSharingTheirPrefillMatchRequestsAlone(bool panels)
    {
        var model = Stories.Value;
        Generator New() => new(model, maxRowsPerStep: 5, maxPromptRowsPerStep: 7) { UsePanels = panels };
        var options = new SamplingOptions(Temperature: 1f, MaxNewTokens: 10, StopTokenIds: []);
        int[] group = [1, 403, 407, 290, 31, 77, 12, 9, 350];
        var requests = Enumerable.Range(0, 8).Select(i => new GenerationRequest(group, (ulong)(50 + i)))
            .Concat([new GenerationRequest([1], 3), new GenerationRequest([1], 4), new GenerationRequest([1, 403, 407], 5), new GenerationRequest(group[..^1], 6)])
            .ToArray();
        var batched = New().Generate(requests, options);
        for (int i = 0; i < requests.Length; i++)
        {
            var alone = New().Generate(requests[i], options);
            Assert.Equal(alone.Tokens, batched[i].Tokens);
            Assert.Equal(alone.LogProbs, batched[i].LogProbs);
        }
        Assert.NotEqual(batched[0].Tokens, batched[1].Tokens);
    }

    /// <summary>A batch large enough that each thread takes a block of rows through all layers gives every request
    /// exactly what it gets alone, with any thread count.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LargeBatchSplitAcrossThreadsMatchesRequestsAlone(bool panels)
    {
        var model = Stories.Value;
        Generator New() => new(model) { UsePanels = panels };
        var options = new SamplingOptions(Temperature: 1f, MaxNewTokens: 12, StopTokenIds: []);
        var requests = Enumerable.Range(0, 40)
            .Select(i => new GenerationRequest(Enumerable.Range(0, 1 + i % 5).Select(j => j == 0 ? 1 : 60 + 7 * i + j).ToArray(), (ulong)(100 + i)))
            .ToArray();
        int saved = Parallelism.MaxDegree;
        try
        {
            Parallelism.MaxDegree = 2;
            var batched = New().Generate(requests, options);
            Parallelism.MaxDegree = 1;
            var serial = New().Generate(requests, options);
            for (int i = 0; i < requests.Length; i += 7)
            {
                var alone = New().Generate(requests[i], options);
                Assert.Equal(alone.Tokens, batched[i].Tokens);
                Assert.Equal(alone.LogProbs, batched[i].LogProbs);
            }
            for (int i = 0; i < requests.Length; i++)
            {
                Assert.Equal(serial[i].Tokens, batched[i].Tokens);
                Assert.Equal(serial[i].LogProbs, batched[i].LogProbs);
            }
        }
        finally
        {
            Parallelism.MaxDegree = saved;
        }
    }

    [Fact]
    public void StopTokenEndsTheSequenceAndIsReturned()
    {
        var model = Stories.Value;
        var greedy = new Generator(model).Generate(new GenerationRequest([1], 0), new SamplingOptions(Greedy: true, MaxNewTokens: 30));
        int stopAt = greedy.Tokens[5];
        int first = Array.IndexOf(greedy.Tokens, stopAt);
        var stopped = new Generator(model).Generate(new GenerationRequest([1], 0),
            new SamplingOptions(Greedy: true, MaxNewTokens: 30, StopTokenIds: [stopAt]));
        Assert.True(stopped.Stopped);
        Assert.Equal(greedy.Tokens[..(first + 1)], stopped.Tokens);
        Assert.False(greedy.Stopped);
    }

    [Fact]
    public void TopKOneIsGreedyWithTemperatureLogProbs()
    {
        var model = Stories.Value;
        var greedy = new Generator(model).Generate(new GenerationRequest([1, 403], 0), new SamplingOptions(Greedy: true, MaxNewTokens: 12));
        var topk = new Generator(model).Generate(new GenerationRequest([1, 403], 99), new SamplingOptions(Temperature: 1f, TopK: 1, MaxNewTokens: 12, StopTokenIds: []));
        Assert.Equal(greedy.Tokens, topk.Tokens);
        for (int i = 0; i < greedy.LogProbs.Length; i++) Assert.Equal(greedy.LogProbs[i], topk.LogProbs[i], 5);
    }

    [Fact]
    public void RejectsBadRequests()
    {
        var model = Stories.Value;
        var g = new Generator(model);
        Assert.Throws<ArgumentException>(() => g.Generate(new GenerationRequest([], 0), new SamplingOptions()));
        var e = Assert.Throws<ArgumentException>(() => g.Generate(new GenerationRequest([1, 512], 0), new SamplingOptions()));
        Assert.Contains("512", e.Message);
        Assert.Throws<ArgumentException>(() => g.Generate(new GenerationRequest([1], 0), new SamplingOptions(TopP: 0)));
        Assert.Throws<ArgumentException>(() => g.Generate(new GenerationRequest([1], 0), new SamplingOptions(Temperature: -1)));
        Assert.Throws<ArgumentException>(() => g.Generate(new GenerationRequest(new int[513], 0), new SamplingOptions()));
    }
}

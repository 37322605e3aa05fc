using System.Text.Json;
using System.Text.Json.Nodes;
using Pacs.Engine;
using Pacs.Engine.Managed;

namespace Pacs.Serve.Tests;

public class CompletionsTests
{
    private static readonly int[] Prompt = [1, 403, 407];

    /// <summary>The local engine's response to a request (what `pacs train` samples in process).</summary>
    private static RolloutResult Local(int[] prompt, ulong seed, float temperature, int maxTokens, float topP = 1, int topK = 0)
    {
        var engine = ManagedBackend.Instance.LoadRollout(ServeHost.ModelDir);
        return engine.Generate([new RolloutRequest(prompt, seed, SamplingParams.Of(temperature, maxTokens, [2], topP, topK))])[0];
    }

    private static int[] Ints(JsonNode? node) => node!.AsArray().Select(x => x!.GetValue<int>()).ToArray();

    private static float[] Floats(JsonNode? node) => node!.AsArray().Select(x => x!.GetValue<float>()).ToArray();

    [Fact]
    public async Task TokenIdPromptWithASeedGivesTheLocalEnginesTokensAndLogProbs()
    {
        await using var host = await ServeHost.Start();
        var expect = Local(Prompt, seed: 7, temperature: 0.9f, maxTokens: 24, topP: 0.95f, topK: 40);
        var (status, body, _) = await host.Post("/v1/completions", new
        {
            model = ServeHost.ModelId,
            prompt = Prompt,
            max_tokens = 24,
            temperature = 0.9,
            top_p = 0.95,
            top_k = 40,
            seed = 7,
            logprobs = 0,
            return_token_ids = true,
        });
        Assert.Equal(200, status);
        var choice = body!["choices"]![0]!;
        Assert.Equal(expect.ResponseIds, Ints(choice["token_ids"]));
        Assert.Equal(Prompt, Ints(choice["prompt_token_ids"]));
        Assert.Equal(expect.LogProbs, Floats(choice["logprobs"]!["token_logprobs"]));
        Assert.Equal(expect.Finish == FinishReason.Stop ? "stop" : "length", choice["finish_reason"]!.GetValue<string>());
        Assert.Equal(host.Model.Text(expect.ResponseIds), choice["text"]!.GetValue<string>());
        Assert.Equal(expect.ResponseIds.Length, body["usage"]!["completion_tokens"]!.GetValue<int>());
        Assert.Equal("0", body["weight_version"]!.GetValue<string>());
    }

    [Fact]
    public async Task ListsOfPromptsWithNGiveOneChoicePerSampleSeededSeedPlusIndex()
    {
        await using var host = await ServeHost.Start();
        int[] other = [1, 70, 80];
        var (status, body, _) = await host.Post("/v1/completions", new
        {
            prompt = new[] { Prompt, other },
            n = 2,
            max_tokens = 10,
            temperature = 1.0,
            seed = 100,
            return_token_ids = true,
        });
        Assert.Equal(200, status);
        var choices = body!["choices"]!.AsArray();
        Assert.Equal(4, choices.Count);
        Assert.Equal(Local(Prompt, 100, 1, 10).ResponseIds, Ints(choices[0]!["token_ids"]));
        Assert.Equal(Local(Prompt, 101, 1, 10).ResponseIds, Ints(choices[1]!["token_ids"]));
        Assert.Equal(Local(other, 101, 1, 10).ResponseIds, Ints(choices[3]!["token_ids"]));
        Assert.Equal(new[] { 0, 1, 2, 3 }, choices.Select(c => c!["index"]!.GetValue<int>()));
    }

    [Fact]
    public async Task TextPromptsAreTokenizedWithBosAndStopStringsCutTheText()
    {
        await using var host = await ServeHost.Start();
        var (_, greedy, _) = await host.Post("/v1/completions", new { prompt = "Once upon a time", max_tokens = 30, temperature = 0, return_token_ids = true });
        var choice = greedy!["choices"]![0]!;
        Assert.Equal(host.Model.Tokenizer!.Encode("Once upon a time", addSpecialTokens: true), Ints(choice["prompt_token_ids"]));
        string text = choice["text"]!.GetValue<string>();
        Assert.Contains("Lily", text);
        var (_, stopped, _) = await host.Post("/v1/completions", new { prompt = new[] { "Once upon a time" }, max_tokens = 30, temperature = 0, stop = "Lily" });
        var cut = stopped!["choices"]![0]!;
        Assert.Equal(text[..text.IndexOf("Lily", StringComparison.Ordinal)], cut["text"]!.GetValue<string>());
        Assert.Equal("stop", cut["finish_reason"]!.GetValue<string>());
        Assert.Equal("Lily", cut["stop_reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task TopLogProbsListTheMostLikelyTokensWithTheSampledOne()
    {
        await using var host = await ServeHost.Start();
        var (_, body, _) = await host.Post("/v1/completions", new { prompt = Prompt, max_tokens = 5, temperature = 0, logprobs = 3 });
        var logprobs = body!["choices"]![0]!["logprobs"]!;
        var tokens = logprobs["tokens"]!.AsArray();
        var top = logprobs["top_logprobs"]!.AsArray();
        Assert.Equal(5, tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            var entries = top[i]!.AsObject();
            Assert.InRange(entries.Count, 1, 3);
            // Greedy: the sampled token is the most likely one.
            float best = entries.Max(e => e.Value!.GetValue<float>());
            Assert.Equal(logprobs["token_logprobs"]![i]!.GetValue<float>(), best);
        }
    }

    [Fact]
    public async Task ReturnTokensAsTokenIdsNamesEachLogProbTokenByItsId()
    {
        await using var host = await ServeHost.Start();
        var (_, body, _) = await host.Post("/v1/completions", new { prompt = Prompt, max_tokens = 4, temperature = 0, logprobs = 1, return_token_ids = true, return_tokens_as_token_ids = true });
        var choice = body!["choices"]![0]!;
        var ids = Ints(choice["token_ids"]);
        Assert.Equal(ids.Select(i => $"token_id:{i}"), choice["logprobs"]!["tokens"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.All(choice["logprobs"]!["top_logprobs"]!.AsArray(), t => Assert.All(t!.AsObject(), e => Assert.StartsWith("token_id:", e.Key)));
    }

    [Fact]
    public async Task StreamSendsServerSentEventsEndingWithDoneAndTheSameTokens()
    {
        await using var host = await ServeHost.Start();
        var request = new { prompt = Prompt, max_tokens = 12, temperature = 0.8, seed = 5, return_token_ids = true, logprobs = 0 };
        var (_, whole, _) = await host.Post("/v1/completions", request);
        using var response = await host.Http.PostAsync("/v1/completions",
            new StringContent(JsonSerializer.Serialize(new { prompt = Prompt, max_tokens = 12, temperature = 0.8, seed = 5, return_token_ids = true, logprobs = 0, stream = true }),
                System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e["data: ".Length..])!).ToList();
        var tokens = chunks.SelectMany(c => Ints(c["choices"]![0]!["token_ids"])).ToArray();
        string text = string.Concat(chunks.Select(c => c["choices"]![0]!["text"]!.GetValue<string>()));
        var choice = whole!["choices"]![0]!;
        Assert.Equal(Ints(choice["token_ids"]), tokens);
        Assert.Equal(choice["text"]!.GetValue<string>(), text);
        Assert.Equal(choice["finish_reason"]!.GetValue<string>(), chunks[^1]["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.Equal("text_completion", chunks[0]["object"]!.GetValue<string>());
    }

    [Fact]
    public async Task GenerateTakesSglangsBodyAndAnswersOutputTokenLogProbsTriples()
    {
        await using var host = await ServeHost.Start();
        var expect = Local(Prompt, seed: 9, temperature: 0.7f, maxTokens: 16);
        var (status, body, _) = await host.Post("/generate", new
        {
            input_ids = Prompt,
            sampling_params = new { max_new_tokens = 16, temperature = 0.7, sampling_seed = 9, stop_token_ids = new[] { 2 } },
            return_logprob = true,
        });
        Assert.Equal(200, status);
        Assert.Equal(expect.ResponseIds, Ints(body!["output_ids"]));
        var meta = body["meta_info"]!;
        var triples = meta["output_token_logprobs"]!.AsArray();
        Assert.Equal(expect.ResponseIds, triples.Select(t => t![1]!.GetValue<int>()));
        Assert.Equal(expect.LogProbs, triples.Select(t => t![0]!.GetValue<float>()));
        Assert.All(triples, t => Assert.Null(t![2]));
        Assert.Equal(Prompt.Length, meta["prompt_tokens"]!.GetValue<int>());
        Assert.Equal(expect.ResponseIds.Length, meta["completion_tokens"]!.GetValue<int>());
        Assert.Equal(expect.Finish == FinishReason.Stop ? "stop" : "length", meta["finish_reason"]!["type"]!.GetValue<string>());
        Assert.Equal("0", meta["weight_version"]!.GetValue<string>());

        var (_, batch, _) = await host.Post("/generate", new { input_ids = new[] { Prompt, Prompt }, sampling_params = new { max_new_tokens = 4, n = 2 } });
        Assert.Equal(4, batch!.AsArray().Count);
    }
}

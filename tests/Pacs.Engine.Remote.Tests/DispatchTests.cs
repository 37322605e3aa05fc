using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Pacs.Engine.Remote.Tests;

/// <summary>Spreading, retrying and accounting of rollout requests against fake servers on loopback.</summary>
public sealed class DispatchTests : IAsyncDisposable
{
    private readonly List<FakeServer> _servers = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers) await server.DisposeAsync();
    }

    private static readonly SamplingParams Sampling = SamplingParams.Of(1f, maxTokens: 2, stopTokenIds: [9]);

    /// <summary>P prompts x G samples; prompt p is [p, 100 + p] and shared by its G requests, as the trainer makes them.</summary>
    private static List<RolloutRequest> Requests(int prompts, int group)
    {
        var requests = new List<RolloutRequest>();
        for (int p = 0; p < prompts; p++)
        {
            int[] prompt = [p, 100 + p];
            for (int g = 0; g < group; g++) requests.Add(new RolloutRequest(prompt, (ulong)(1000 * p + g), Sampling));
        }
        return requests;
    }

    /// <summary>An SGLang `/generate` answer: sample i of a request for prompt [p, ...] is the tokens [p, i].</summary>
    private static Task Answer(HttpContext context, JsonNode body)
    {
        int n = body["sampling_params"]!["n"]!.GetValue<int>();
        int p = body["input_ids"]![0]!.GetValue<int>();
        var outputs = Enumerable.Range(0, n).Select(i => (JsonNode)new JsonObject
        {
            ["output_ids"] = new JsonArray(p, i),
            ["meta_info"] = new JsonObject
            {
                ["finish_reason"] = new JsonObject { ["type"] = "length", ["length"] = 2 },
                ["output_token_logprobs"] = new JsonArray(new JsonArray(-0.5, p, null), new JsonArray(-0.25, i, null)),
            },
        }).ToArray();
        return FakeServer.Json(context, n == 1 ? outputs[0] : new JsonArray(outputs));
    }

    private async Task<FakeServer> Server(Func<HttpContext, JsonNode?, int, Task>? handle = null)
    {
        var server = await FakeServer.Start(handle ?? ((context, body, _) => Answer(context, body!)));
        _servers.Add(server);
        return server;
    }

    private static RemoteRollout Engine(RemoteEngineKind kind, IEnumerable<FakeServer> servers, int maxInflight = 8, int retries = 3, double timeoutS = 20, string apiKey = "") =>
        new(new RemoteOptions(kind, [.. servers.Select(s => s.Url)], "", apiKey, TimeSpan.FromSeconds(timeoutS), maxInflight, retries, "")
        {
            RetryDelay = TimeSpan.FromMilliseconds(5),
        });

    /// <summary>Every request answered once, in order: sample g of prompt p is [p, g] (n per prompt) or [p, 0] (one per sample).</summary>
    private static void AssertExactlyOnce(IReadOnlyList<RolloutResult> results, int prompts, int group, bool withN)
    {
        Assert.Equal(prompts * group, results.Count);
        for (int r = 0; r < results.Count; r++)
        {
            Assert.Equal([r / group, withN ? r % group : 0], results[r].ResponseIds);
            Assert.Equal([-0.5f, -0.25f], results[r].LogProbs);
            Assert.Equal(FinishReason.Length, results[r].Finish);
        }
    }

    [Fact]
    public async Task Requests_are_spread_over_the_servers_and_bounded_by_max_inflight()
    {
        int inflight = 0, most = 0;
        async Task Slow(HttpContext context, JsonNode? body, int index)
        {
            int now = Interlocked.Increment(ref inflight);
            InterlockedMax(ref most, now);
            await Task.Delay(10);
            Interlocked.Decrement(ref inflight);
            await Answer(context, body!);
        }
        FakeServer[] servers = [await Server(Slow), await Server(Slow), await Server(Slow)];
        using var engine = Engine(RemoteEngineKind.Pacs, servers, maxInflight: 4);
        var results = engine.Generate(Requests(12, 8));
        AssertExactlyOnce(results, 12, 8, withN: false);
        Assert.Equal(96, servers.Sum(s => s.Count("/generate")));
        Assert.All(servers, s => Assert.True(s.Count("/generate") >= 96 / 6, $"{s.Url} served {s.Count("/generate")} of 96"));
        Assert.InRange(most, 2, 4);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    [Fact]
    public async Task Sglang_asks_for_a_whole_group_in_one_request_and_sends_the_api_key()
    {
        string? authorization = null;
        var server = await Server((context, body, _) =>
        {
            authorization = context.Request.Headers.Authorization;
            return Answer(context, body!);
        });
        using var engine = Engine(RemoteEngineKind.Sglang, [server], apiKey: "sk-test");
        AssertExactlyOnce(engine.Generate(Requests(3, 4)), 3, 4, withN: true);
        Assert.Equal(3, server.Count("/generate"));
        Assert.Equal("Bearer sk-test", authorization);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(429)]
    [InlineData(503)]
    public async Task A_request_that_failed_on_one_server_is_retried_on_another(int status)
    {
        var failing = await Server((context, _, _) =>
        {
            context.Response.Headers.RetryAfter = "0";
            return FakeServer.Text(context, "busy", status);
        });
        var healthy = await Server();
        using var engine = Engine(RemoteEngineKind.Sglang, [failing, healthy]);
        AssertExactlyOnce(engine.Generate(Requests(8, 4)), 8, 4, withN: true);
        Assert.Equal(8, healthy.Count("/generate"));
        Assert.InRange(failing.Count("/generate"), 1, 8);
    }

    [Fact]
    public async Task A_server_killed_mid_step_leaves_the_step_to_the_others()
    {
        FakeServer? doomed = null;
        doomed = await Server((context, body, index) =>
        {
            if (index < 3) return Answer(context, body!);
            doomed!.Kill(context);
            return Task.CompletedTask;
        });
        var survivor = await Server();
        using var engine = Engine(RemoteEngineKind.Pacs, [doomed, survivor], maxInflight: 2);
        AssertExactlyOnce(engine.Generate(Requests(8, 4)), 8, 4, withN: false);
        Assert.True(survivor.Count("/generate") >= 32 - 3);
        // The next step never reaches the dead server.
        AssertExactlyOnce(engine.Generate(Requests(2, 4)), 2, 4, withN: false);
    }

    [Fact]
    public async Task A_server_hanging_past_the_timeout_is_abandoned_for_another()
    {
        var hung = await Server((context, _, _) => FakeServer.Hang(context));
        var healthy = await Server();
        using var engine = Engine(RemoteEngineKind.Sglang, [hung, healthy], timeoutS: 0.5);
        AssertExactlyOnce(engine.Generate(Requests(4, 4)), 4, 4, withN: true);
        Assert.True(hung.Count("/generate") >= 1);
    }

    [Fact]
    public async Task When_every_server_fails_the_step_fails_naming_the_server_and_the_request()
    {
        var broken = await Server((context, _, _) => FakeServer.Text(context, "CUDA error: out of memory", 500));
        using var engine = Engine(RemoteEngineKind.Sglang, [broken], retries: 2);
        var e = Assert.Throws<RemoteRolloutException>(() => engine.Generate(Requests(1, 4)));
        Assert.Contains($"server {broken.Url}", e.Message);
        Assert.Contains("rollout request 1 of 1 (samples 0..3", e.Message);
        Assert.Contains("500", e.Message);
        Assert.Contains("CUDA error: out of memory", e.Message);
        Assert.Equal(3, broken.Count("/generate"));

        var hung = await Server((context, _, _) => FakeServer.Hang(context));
        using var patient = Engine(RemoteEngineKind.Sglang, [hung], retries: 1, timeoutS: 0.3);
        var timeout = Assert.Throws<RemoteRolloutException>(() => patient.Generate(Requests(1, 2)));
        Assert.True(timeout.Message.Contains($"server {hung.Url} did not answer after 2 attempt(s)"), timeout.Message);
    }

    [Theory]
    [InlineData("{\"output_ids\": [0, 1], \"meta_info\": {", 1, "malformed JSON")]
    [InlineData("{\"output_ids\": [0, 1], \"meta_info\": {\"finish_reason\": {\"type\": \"length\"}, \"output_token_logprobs\": [[-0.5, 0, null]]}}", 1, "2 token ids but 1 log-probs")]
    [InlineData("[{\"output_ids\": [0, 1], \"meta_info\": {\"finish_reason\": {\"type\": \"length\"}, \"output_token_logprobs\": [[-0.5, 0, null], [-0.5, 1, null]]}}]", 4, "response has 1 samples, 4 were asked for")]
    public async Task An_invalid_body_fails_the_step_naming_the_server_and_the_field(string answer, int group, string expected)
    {
        var server = await Server((context, _, _) => FakeServer.Text(context, answer));
        using var engine = Engine(RemoteEngineKind.Sglang, [server]);
        var e = Assert.Throws<RemoteRolloutException>(() => engine.Generate(Requests(1, group)));
        Assert.Contains($"server {server.Url}", e.Message);
        Assert.True(e.Message.Contains("returned a body from /generate that is not a valid answer") && e.Message.Contains(expected), e.Message);
        Assert.Equal(1, server.Count("/generate"));
    }

    [Fact]
    public async Task Flaky_servers_still_give_every_request_exactly_one_answer()
    {
        // Every third request fails on each server; the retried ones are answered once, elsewhere or later.
        FakeServer[] servers =
        [
            await Server((context, body, index) => index % 3 == 1 ? FakeServer.Text(context, "", 502) : Answer(context, body!)),
            await Server((context, body, index) => index % 3 == 2 ? FakeServer.Text(context, "", 500) : Answer(context, body!)),
        ];
        using var engine = Engine(RemoteEngineKind.Pacs, servers, maxInflight: 3, retries: 6);
        AssertExactlyOnce(engine.Generate(Requests(10, 3)), 10, 3, withN: false);
        Assert.Equal(30, engine.Pool.Served.Sum());
    }

    [Fact]
    public async Task A_plain_openai_server_gets_one_completion_request_per_sample()
    {
        var server = await Server((context, body, _) =>
        {
            int p = body!["prompt"]![0]!.GetValue<int>();
            Assert.Equal(1, body["n"]!.GetValue<int>());
            return FakeServer.Json(context, new JsonObject
            {
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["finish_reason"] = "length",
                    ["token_ids"] = new JsonArray(p, 0),
                    ["logprobs"] = new JsonObject { ["token_logprobs"] = new JsonArray(-0.5, -0.25) },
                }),
            });
        });
        using var engine = Engine(RemoteEngineKind.OpenAi, [server]);
        AssertExactlyOnce(engine.Generate(Requests(2, 3)), 2, 3, withN: false);
        Assert.Equal(6, server.Count("/v1/completions"));
    }
}

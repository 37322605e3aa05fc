using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pacs.Models;

namespace Pacs.Serve.Tests;

public class BatchingTests
{
    private static int[] Ints(JsonNode? node) => node!.AsArray().Select(x => x!.GetValue<int>()).ToArray();

    private static object Request(int i) => new
    {
        prompt = new[] { 1, 20 + i, 30 + i },
        max_tokens = 8 + i,
        temperature = 0.5 + 0.1 * i,
        top_k = i,
        seed = 1000 + i,
        return_token_ids = true,
        ignore_eos = true,
    };

    [Fact]
    public async Task ConcurrentRequestsShareDecodeStepsAndGetTheirSequentialTokens()
    {
        await using var host = await ServeHost.Start(new ServeOptions { MaxBatch = 8 });
        var sequential = new List<int[]>();
        for (int i = 0; i < 8; i++) sequential.Add(Ints((await host.Post("/v1/completions", Request(i))).Body!["choices"]![0]!["token_ids"]));
        Assert.Equal(1, host.Scheduler.Stats.MaxDecodeRows);

        // Paused, the eight requests queue up; continued, they join one live batch.
        await host.Post("/pause_generation", "{}");
        var concurrent = Enumerable.Range(0, 8).Select(i => host.Post("/v1/completions", Request(i))).ToList();
        await host.WaitFor(s => s.Queued == 8, "eight queued sequences");
        await host.Post("/continue_generation", "{}");
        var results = await Task.WhenAll(concurrent);
        Assert.Equal(8, host.Scheduler.Stats.MaxDecodeRows);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(200, results[i].Status);
            Assert.Equal(8 + i, sequential[i].Length);
            Assert.Equal(sequential[i], Ints(results[i].Body!["choices"]![0]!["token_ids"]));
        }
    }

    [Fact]
    public async Task AClientThatDisconnectsFreesItsRows()
    {
        await using var host = await ServeHost.Start();
        using var cancel = new CancellationTokenSource();
        var body = JsonSerializer.Serialize(new { prompt = new[] { 1 }, max_tokens = 500, ignore_eos = true, stream = true });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        var response = await host.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        var stream = await response.Content.ReadAsStreamAsync(cancel.Token);
        var first = new byte[16];
        Assert.True(await stream.ReadAsync(first, cancel.Token) > 0);
        Assert.Equal(1, host.Scheduler.Stats.Active + host.Scheduler.Stats.Queued);
        cancel.Cancel();
        response.Dispose();
        await host.WaitFor(s => s.CancelledSequences == 1 && s.Active == 0, "the abandoned sequence to be retired");
        Assert.Equal(0, host.Scheduler.Stats.CompletedSequences);
    }

    [Fact]
    public async Task WeightUpdateFromDiskLoadsInPlaceAndBumpsTheVersion()
    {
        await using var host = await ServeHost.Start();
        var original = Transformer.Load(ServeHost.ModelDir);
        string dir = Path.Combine(Path.GetTempPath(), "pacs-serve-update-" + Guid.NewGuid().ToString("N")[..10]);
        var changed = Transformer.Load(ServeHost.ModelDir);
        foreach (var (_, p) in changed.Parameters)
            for (int i = 0; i < p.Data.Length; i++) p.Data[i] *= 1.5f;
        changed.Save(dir);
        var request = new { input_ids = new[] { 1, 5 }, sampling_params = new { max_new_tokens = 10, temperature = 1.0, sampling_seed = 3, ignore_eos = true } };
        var before = await host.Post("/generate", request);
        Assert.Equal(Generate(original), Ints(before.Body!["output_ids"]));

        var (status, result, _) = await host.Post("/update_weights_from_disk", new { model_path = dir, weight_version = "step-1" });
        Assert.Equal(200, status);
        Assert.True(result!["success"]!.GetValue<bool>());
        Assert.Equal("step-1", (await host.Get("/get_weight_version"))["weight_version"]!.GetValue<string>());
        var after = await host.Post("/generate", request);
        Assert.Equal(Generate(changed), Ints(after.Body!["output_ids"]));
        Assert.Equal("step-1", after.Body!["meta_info"]!["weight_version"]!.GetValue<string>());

        // Without weight_version the label is the count of updates; a bad folder leaves weights and label alone.
        await host.Post("/update_weights_from_disk", new { model_path = ServeHost.ModelDir });
        Assert.Equal("2", host.Scheduler.WeightVersion);
        var (badStatus, bad, _) = await host.Post("/update_weights_from_disk", new { model_path = dir + "-missing" });
        Assert.Equal(400, badStatus);
        Assert.False(bad!["success"]!.GetValue<bool>());
        Assert.Equal("2", host.Scheduler.WeightVersion);
        Assert.Equal(Generate(original), Ints((await host.Post("/generate", request)).Body!["output_ids"]));

        static int[] Generate(Transformer model) => new Generator(model)
            .Generate(new GenerationRequest([1, 5], 3), new SamplingOptions(Temperature: 1, MaxNewTokens: 10, StopTokenIds: [])).Tokens;
    }

    [Fact]
    public async Task StoppingDrainsTheRunningRequestsThenRefusesNewOnes()
    {
        var host = await ServeHost.Start();
        await host.Post("/pause_generation", "{}");
        var inFlight = host.Post("/v1/completions", "{\"prompt\": [1], \"max_tokens\": 40, \"ignore_eos\": true}");
        await host.WaitFor(s => s.Queued == 1, "the queued request");
        var scheduler = host.Scheduler;
        await host.App.StopAsync();
        var (status, body, _) = await inFlight;
        Assert.Equal(200, status);
        Assert.Equal(40, body!["usage"]!["completion_tokens"]!.GetValue<int>());
        Assert.Throws<ServerBusyException>(() => scheduler.Submit([]));
        await host.DisposeAsync();
    }
}

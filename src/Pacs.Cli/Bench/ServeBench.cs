using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Pacs.Models;
using Pacs.Serve;

namespace Pacs.Cli.Bench;

/// <summary>One load level: clients each sending requests one after another.</summary>
public sealed record ServeLoadFigures(int Clients, int Requests, double Seconds, double RequestsPerSecond, double TokensPerSecond,
    double P50LatencyMs, double P99LatencyMs, double MeanRowsPerStep);

/// <summary>`pacs bench --only serve`: a real Kestrel server on 127.0.0.1 under 1, 8 and 64 concurrent clients, and
/// 64 clients against one local batch of 64 rows (interleaved pairs).</summary>
public sealed record ServeFigures(int PromptTokens, int NewTokens, IReadOnlyList<ServeLoadFigures> Levels,
    Measured LocalBatch64TokensPerSecond, Measured Served64TokensPerSecond, Measured Served64OverLocal);

/// <summary>
/// Load on `pacs serve` over bench-tiny with random weights: each client posts /v1/completions (16 random prompt
/// tokens as ids, 112 new tokens, ignore_eos, its own seed) and waits for the answer before the next.
/// </summary>
public static class ServeBench
{
    private const int PromptTokens = 16;
    private const int NewTokens = 112;

    public static ServeFigures Run(ModelConfig config, int repeats)
    {
        var model = new Transformer(config, seed: 2);
        var options = new ServeOptions { Port = 0, MaxBatch = 64 };
        var app = ServeApp.Build(new ServedModel("bench-tiny", model), options);
        app.StartAsync().GetAwaiter().GetResult();
        try
        {
            var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(5) };
            var scheduler = app.Services.GetRequiredService<BatchScheduler>();
            var prompts = BenchRunner.RandomRequests(config, 64, PromptTokens, seed: 7);
            Load(http, scheduler, prompts, clients: 8, requestsPerClient: 1); // warm-up
            var levels = new List<ServeLoadFigures>();
            foreach (var (clients, perClient) in new[] { (1, 4), (8, 2), (64, 2) })
                levels.Add(Load(http, scheduler, prompts, clients, perClient));

            // Interleaved pairs: one local Generate of 64 rows, then 64 clients with one request each.
            var generator = new Generator(model);
            var sampling = new SamplingOptions(Temperature: 1, MaxNewTokens: NewTokens, StopTokenIds: []);
            generator.Generate(prompts, sampling);
            var (local, served, ratio) = (new List<double>(), new List<double>(), new List<double>());
            for (int r = 0; r < repeats; r++)
            {
                var watch = Stopwatch.StartNew();
                int produced = generator.Generate(prompts, sampling).Sum(g => g.Tokens.Length);
                local.Add(produced / watch.Elapsed.TotalSeconds);
                served.Add(Load(http, scheduler, prompts, clients: 64, requestsPerClient: 1).TokensPerSecond);
                ratio.Add(served[^1] / local[^1]);
            }
            return new ServeFigures(PromptTokens, NewTokens, levels, Measured.Of(local, "tokens/s"), Measured.Of(served, "tokens/s"), Measured.Of(ratio, "x"));
        }
        finally
        {
            app.StopAsync().GetAwaiter().GetResult();
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static ServeLoadFigures Load(HttpClient http, BatchScheduler scheduler, GenerationRequest[] prompts, int clients, int requestsPerClient)
    {
        var before = scheduler.Stats;
        var latencies = new List<double>();
        long tokens = 0;
        var watch = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, clients).Select(async c =>
        {
            for (int i = 0; i < requestsPerClient; i++)
            {
                var prompt = prompts[(c + i) % prompts.Length];
                var body = new { prompt = prompt.PromptIds, max_tokens = NewTokens, temperature = 1.0, seed = (long)prompt.Seed, ignore_eos = true };
                var sent = Stopwatch.StartNew();
                using var response = await http.PostAsJsonAsync("/v1/completions", body);
                response.EnsureSuccessStatusCode();
                var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                int produced = answer["usage"]!["completion_tokens"]!.GetValue<int>();
                lock (latencies)
                {
                    latencies.Add(sent.Elapsed.TotalMilliseconds);
                    tokens += produced;
                }
            }
        }).ToArray();
        Task.WaitAll(tasks);
        double seconds = watch.Elapsed.TotalSeconds;
        latencies.Sort();
        return new ServeLoadFigures(clients, latencies.Count, seconds, latencies.Count / seconds, tokens / seconds,
            Percentile(latencies, 0.5), Percentile(latencies, 0.99), MeanRows(before, scheduler.Stats));
    }

    private static double MeanRows(SchedulerStats before, SchedulerStats after) =>
        (after.DecodeRows - before.DecodeRows) / (double)Math.Max(1, after.Steps - before.Steps);

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(List<double> sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
}

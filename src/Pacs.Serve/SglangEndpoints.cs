using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Pacs.Models;

namespace Pacs.Serve;

/// <summary>
/// SGLang's native routes (field names from sglang python/sglang/srt/managers/io_struct.py: GenerateReqInput,
/// UpdateWeightFromDiskReqInput; routes from python/sglang/srt/entrypoints/http_server.py): POST /generate,
/// /update_weights_from_disk, /pause_generation, /continue_generation; GET /get_weight_version, /get_model_info.
/// </summary>
internal static class SglangEndpoints
{
    /// <summary>SGLang's default max_new_tokens (python/sglang/srt/sampling/sampling_params.py).</summary>
    private const int DefaultMaxNewTokens = 128;

    public static void Map(WebApplication app, ServedModel model, BatchScheduler scheduler, ServeOptions options)
    {
        app.MapPost("/generate", (HttpContext context) => Generate(context, model, scheduler, options));
        app.MapPost("/update_weights_from_disk", (HttpContext context) => UpdateWeights(context, model, scheduler, options));
        app.MapPost("/pause_generation", async (HttpContext context) =>
        {
            await scheduler.PauseAsync().WaitAsync(context.RequestAborted);
            await ServeApp.WriteJson(context, new JsonObject { ["success"] = true, ["message"] = "generation paused: no sequence is running; new ones wait" });
        });
        app.MapPost("/continue_generation", (HttpContext context) =>
        {
            scheduler.Continue();
            return ServeApp.WriteJson(context, new JsonObject { ["success"] = true, ["message"] = "generation continued" });
        });
        app.MapGet("/get_weight_version", (HttpContext context) =>
            ServeApp.WriteJson(context, new JsonObject { ["weight_version"] = scheduler.WeightVersion }));
        app.MapGet("/get_model_info", (HttpContext context) => ServeApp.WriteJson(context, new JsonObject
        {
            ["model_path"] = model.Path ?? model.Id,
            ["tokenizer_path"] = model.Path ?? model.Id,
            ["is_generation"] = true,
            ["weight_version"] = scheduler.WeightVersion,
        }));
    }

    private static async Task Generate(HttpContext context, ServedModel model, BatchScheduler scheduler, ServeOptions options)
    {
        var started = Stopwatch.StartNew();
        var body = await ServeApp.ReadBody(context, options);
        if (body.Bool("stream") == true) throw ApiError.BadRequest("'stream' is not supported on /generate; use /v1/completions with stream", "stream");
        LoraEndpoints.CheckLoraPath(body, model);
        var (prompts, batched) = Prompts(body, model);
        var sampling = body.Object("sampling_params") ?? new RequestBody(JsonDocument.Parse("{}").RootElement, "sampling_params.");
        bool logProbs = body.Bool("return_logprob") ?? false;
        int top = body.Int("top_logprobs_num", 0, 20) ?? 0;
        int maxTokens = sampling.Int("max_new_tokens", 0, int.MaxValue) ?? DefaultMaxNewTokens;
        int n = sampling.Int("n", 1, 128) ?? 1;
        var spec = new SampleSpec(prompts, n, Endpoints.Sampling(sampling, model, maxTokens), sampling.Seed("sampling_seed") ?? sampling.Seed("seed"),
            logProbs ? top : 0, sampling.Strings("stop"));
        var run = GenerationRun.Start(scheduler, model, spec, context.RequestAborted);
        await run.CompleteAsync(context.RequestAborted);
        double latency = started.Elapsed.TotalSeconds;
        var outputs = run.Choices.Select(c => Output(model, c, prompts[c.PromptIndex].Length, logProbs, top > 0, latency)).ToList();
        JsonNode response = batched || n > 1 ? new JsonArray([.. outputs]) : outputs[0];
        await ServeApp.WriteJson(context, response);
    }

    /// <summary>`input_ids` (a list, or a list of lists) or `text` (a string, or a list); batched when a list of prompts.</summary>
    private static (IReadOnlyList<int[]> Prompts, bool Batched) Prompts(RequestBody body, ServedModel model)
    {
        if (body.Has("input_ids") == body.Has("text")) throw ApiError.BadRequest("give exactly one of 'input_ids' and 'text'", "input_ids");
        if (body.Get("input_ids") is { } ids)
        {
            if (ids.ValueKind != JsonValueKind.Array || ids.GetArrayLength() == 0) throw body.Wrong("input_ids", "a non-empty list of token ids or of lists of them");
            if (ids[0].ValueKind == JsonValueKind.Array)
                return (ids.EnumerateArray().Select(p => Endpoints.CheckPrompt(RequestBody.IntArray(p, "input_ids"), model, "input_ids")).ToList(), true);
            return ([Endpoints.CheckPrompt(RequestBody.IntArray(ids, "input_ids"), model, "input_ids")], false);
        }
        var text = body.Get("text")!.Value;
        if (text.ValueKind == JsonValueKind.String) return ([Endpoints.Encode(model, text.GetString()!, "text")], false);
        if (text.ValueKind != JsonValueKind.Array || text.EnumerateArray().Any(t => t.ValueKind != JsonValueKind.String))
            throw body.Wrong("text", "a string or a list of strings");
        return (text.EnumerateArray().Select(t => Endpoints.Encode(model, t.GetString()!, "text")).ToList(), true);
    }

    /// <summary>One output as SGLang returns it: text, output_ids and meta_info (output_token_logprobs as [logprob, id, null]).</summary>
    private static JsonObject Output(ServedModel model, ChoiceState c, int promptTokens, bool logProbs, bool top, double latency)
    {
        JsonObject finish = c.FinishReason == "stop"
            ? new JsonObject { ["type"] = "stop", ["matched"] = c.Matched switch { int id => id, string s => s, _ => null } }
            : new JsonObject { ["type"] = "length", ["length"] = c.Tokens.Count };
        var meta = new JsonObject
        {
            ["id"] = Endpoints.NewId(""),
            ["finish_reason"] = finish,
            ["prompt_tokens"] = promptTokens,
            ["completion_tokens"] = c.Tokens.Count,
            ["cached_tokens"] = 0,
            ["weight_version"] = c.WeightVersion,
            ["e2e_latency"] = latency,
        };
        if (logProbs)
        {
            meta["output_token_logprobs"] = new JsonArray([.. c.Tokens.Select((id, i) => (JsonNode)Triple(c.LogProbs[i], id))]);
            if (top)
                meta["output_top_logprobs"] = new JsonArray([.. c.Top.Select(t => (JsonNode)new JsonArray([.. t.Select(x => (JsonNode)Triple(x.LogProb, x.Token))]))]);
        }
        return new JsonObject { ["text"] = c.Text, ["output_ids"] = Endpoints.Ids(c.Tokens), ["meta_info"] = meta };

        static JsonArray Triple(float logProb, int id) => new(logProb, id, null);
    }

    /// <summary>
    /// Reads the weights of `model_path` (a Hugging Face folder with this model's config) into the served model once
    /// no sequence is running, and labels them `weight_version` (default: the count of updates). The served weights
    /// change only after the whole folder has been read and checked.
    /// </summary>
    private static async Task UpdateWeights(HttpContext context, ServedModel model, BatchScheduler scheduler, ServeOptions options)
    {
        var body = await ServeApp.ReadBody(context, options);
        string path = body.String("model_path") ?? throw ApiError.BadRequest("'model_path' is required", "model_path");
        string? version = body.String("weight_version");
        if (body.String("load_format") is { } format && format != "auto")
            throw ApiError.BadRequest($"'load_format' {format} is not supported (safetensors folders only: 'auto')", "load_format");
        try
        {
            string label = await scheduler.UpdateWeightsAsync(() => ReadInPlace(model.Model, path), version);
            await ServeApp.WriteJson(context, new JsonObject
            {
                ["success"] = true,
                ["message"] = $"weights of {path} loaded; weight_version {label}",
                ["num_paused_requests"] = 0,
                ["weight_version"] = label,
            });
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException or NotSupportedException)
        {
            await ServeApp.WriteJson(context, new JsonObject
            {
                ["success"] = false,
                ["message"] = $"{e.Message} (the served weights are unchanged, weight_version {scheduler.WeightVersion})",
                ["num_paused_requests"] = 0,
            }, 400);
        }
    }

    private static void ReadInPlace(Transformer served, string dir)
    {
        var loaded = Transformer.Load(dir);
        // Every tensor is checked before any is copied, so a mismatched folder leaves the served weights whole.
        bool same = loaded.Parameters.Count == served.Parameters.Count && loaded.Parameters.Zip(served.Parameters)
            .All(p => p.First.Key == p.Second.Key && p.First.Value.Shape.AsSpan().SequenceEqual(p.Second.Value.Shape));
        if (!same) throw new InvalidDataException($"{dir}: its tensors differ from the served model's (a weight update keeps the architecture)");
        served.CopyWeightsFrom(loaded);
    }
}

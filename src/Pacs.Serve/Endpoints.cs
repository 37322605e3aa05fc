using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Pacs.Models;

namespace Pacs.Serve;

/// <summary>The routes, and the request fields every generation route shares (see docs/serve.md).</summary>
internal static class Endpoints
{
    public static void Map(WebApplication app, ServedModel model, BatchScheduler scheduler, ServeOptions options)
    {
        app.MapGet("/health", () => Results.Json(new { status = "ok", weight_version = scheduler.WeightVersion }));
        app.MapGet("/v1/models", (HttpContext context) => ServeApp.WriteJson(context, Models(model)));
        app.MapGet("/stats", () => Results.Json(scheduler.Stats));
        app.MapPost("/v1/completions", (HttpContext context) => OpenAiEndpoints.Completions(context, model, scheduler, options));
        app.MapPost("/v1/chat/completions", (HttpContext context) => OpenAiEndpoints.Chat(context, model, scheduler, options));
        SglangEndpoints.Map(app, model, scheduler, options);
        LoraEndpoints.Map(app, model, scheduler, options);
        app.MapFallback((HttpContext context) =>
            throw new ApiError(404, $"no route {context.Request.Method} {context.Request.Path}", code: "not_found"));
    }

    /// <summary>The base model, and the loaded adapter as vLLM lists one (serving_models.py: root the adapter's path, parent the base).</summary>
    private static JsonObject Models(ServedModel model)
    {
        var data = new JsonArray(Card(model, model.Id, model.Path ?? model.Id, parent: null));
        if (model.Adapter is { } adapter) data.Add(Card(model, adapter.Name, adapter.Path, parent: model.Id));
        return new JsonObject { ["object"] = "list", ["data"] = data };
    }

    private static JsonObject Card(ServedModel model, string id, string root, string? parent) => new()
    {
        ["id"] = id,
        ["object"] = "model",
        ["created"] = model.CreatedUnixSeconds,
        ["owned_by"] = "pacs",
        ["root"] = root,
        ["parent"] = parent,
        ["max_model_len"] = model.Model.Config.MaxPositionEmbeddings,
    };

    /// <summary>404 unless the request names this model or its loaded adapter (or names none).</summary>
    public static void CheckModel(RequestBody body, ServedModel model)
    {
        if (body.String("model") is not { } name) return;
        if (model.Adapter is { } adapter && name == adapter.Name) return;
        if (!model.Answers(name))
            throw new ApiError(404, $"the model '{name}' does not exist; this server serves '{model.Id}'{AdapterNote(model)}", "model", "model_not_found");
        RefuseBaseUnderAdapter(model, "model");
    }

    /// <summary>
    /// One adapter at a time is attached to the served weights, so while one is loaded every sequence runs with it:
    /// a request naming the base explicitly is refused rather than silently answered by the adapter.
    /// </summary>
    public static void RefuseBaseUnderAdapter(ServedModel model, string field)
    {
        if (model.Adapter is { } adapter)
            throw ApiError.BadRequest($"'{field}' names the base model, but the adapter '{adapter.Name}' is loaded and every request runs with it (unload it with /unload_lora_adapter to sample the base)", field);
    }

    private static string AdapterNote(ServedModel model) => model.Adapter is { } a ? $" with the adapter '{a.Name}'" : "";

    /// <summary>Sampling settings from OpenAI / vLLM / SGLang field names (all share them but for max tokens and the seed).</summary>
    public static SamplingOptions Sampling(RequestBody body, ServedModel model, int maxTokens)
    {
        float temperature = body.Float("temperature", 0, 100) ?? 1f;
        float topP = body.Float("top_p", 1e-9, 1) ?? 1f;
        int topK = body.Int("top_k", -1, int.MaxValue) ?? 0;
        int vocab = model.Model.Config.VocabSize;
        var stopIds = body.Ints("stop_token_ids");
        foreach (var id in stopIds)
            if (id < 0 || id >= vocab) throw ApiError.BadRequest($"'stop_token_ids' has {id}, outside the vocabulary [0, {vocab})", "stop_token_ids");
        bool ignoreEos = body.Bool("ignore_eos") ?? false;
        var stop = ignoreEos ? stopIds.Distinct().Order().ToArray() : model.EndIds.Concat(stopIds).Distinct().Order().ToArray();
        return new SamplingOptions(temperature, Math.Max(topK, 0), topP, maxTokens, stop);
    }

    /// <summary>Checks prompt token ids against the model (400 naming the field).</summary>
    public static int[] CheckPrompt(int[] ids, ServedModel model, string field)
    {
        var config = model.Model.Config;
        if (ids.Length == 0) throw ApiError.BadRequest($"'{field}' is empty (give at least one token)", field);
        if (ids.Length > config.MaxPositionEmbeddings)
            throw ApiError.BadRequest($"'{field}' has {ids.Length} tokens, more than the model's context of {config.MaxPositionEmbeddings}", field);
        foreach (var id in ids)
            if (id < 0 || id >= config.VocabSize) throw ApiError.BadRequest($"'{field}' has token {id}, outside the vocabulary [0, {config.VocabSize})", field);
        return ids;
    }

    public static int[] Encode(ServedModel model, string text, string field, bool addSpecialTokens = true)
    {
        if (model.Tokenizer is null) throw ApiError.BadRequest($"'{field}': this model has no tokenizer; send token ids", field);
        return CheckPrompt(model.Tokenizer.Encode(text, addSpecialTokens), model, field);
    }

    /// <summary>Tokens left in the context after the longest prompt (the default budget where a route has none).</summary>
    public static int ContextLeft(ServedModel model, IEnumerable<int[]> prompts) =>
        Math.Max(0, model.Model.Config.MaxPositionEmbeddings - prompts.Max(p => p.Length));

    public static JsonArray Ids(IEnumerable<int> ids) => new([.. ids.Select(i => (JsonNode)i)]);

    public static JsonObject Usage(int promptTokens, int completionTokens) => new()
    {
        ["prompt_tokens"] = promptTokens,
        ["completion_tokens"] = completionTokens,
        ["total_tokens"] = promptTokens + completionTokens,
    };

    public static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N")[..24];
}

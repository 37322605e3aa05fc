using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Pacs.Models;

namespace Pacs.Serve;

/// <summary>
/// Runtime LoRA adapters, one at a time, attached unmerged to the served base (<see cref="Transformer.Adapter"/>):
/// SGLang's `POST /load_lora_adapter` {lora_name, lora_path} and `/unload_lora_adapter` {lora_name}
/// (python/sglang/srt/managers/io_struct.py LoadLoRAAdapterReqInput, UnloadLoRAAdapterReqInput; answered like
/// LoadLoRAAdapterReqOutput {success, error_message, loaded_adapters}), and vLLM's `/v1/load_lora_adapter` {lora_name,
/// lora_path, load_inplace} and `/v1/unload_lora_adapter` (vllm/entrypoints/openai/protocol.py
/// LoadLoRAAdapterRequest; serving_models.py refuses a loaded name unless load_inplace). The adapter is read and
/// checked first; it replaces the served one only once no sequence is running, like a weight update.
/// </summary>
internal static class LoraEndpoints
{
    public static void Map(WebApplication app, ServedModel model, BatchScheduler scheduler, ServeOptions options)
    {
        Func<RequestBody, Task<string>> load = body => Load(body, model, scheduler, replace: true);
        Func<RequestBody, Task<string>> loadVllm = body => Load(body, model, scheduler, replace: body.Bool("load_inplace") ?? false);
        Func<RequestBody, Task<string>> unload = body => Unload(body, model, scheduler);
        app.MapPost("/load_lora_adapter", new RequestDelegate(context => Sglang(context, options, load)));
        app.MapPost("/unload_lora_adapter", new RequestDelegate(context => Sglang(context, options, unload)));
        app.MapPost("/v1/load_lora_adapter", new RequestDelegate(context => Vllm(context, options, loadVllm)));
        app.MapPost("/v1/unload_lora_adapter", new RequestDelegate(context => Vllm(context, options, unload)));
    }

    /// <summary>Checks SGLang's `lora_path` on /generate: absent, or the loaded adapter's name (or folder) for every prompt.</summary>
    public static void CheckLoraPath(RequestBody body, ServedModel model)
    {
        foreach (var name in body.Strings("lora_path"))
        {
            if (model.Adapter is { } adapter && (name == adapter.Name || name == adapter.Path)) continue;
            if (model.Answers(name))
            {
                Endpoints.RefuseBaseUnderAdapter(model, "lora_path");
                continue;
            }
            throw new ApiError(404, $"'lora_path' names '{name}', which is not loaded (load it with /load_lora_adapter)", "lora_path", "lora_not_found");
        }
    }

    private static async Task Sglang(HttpContext context, ServeOptions options, Func<RequestBody, Task<string>> change)
    {
        var body = await ServeApp.ReadBody(context, options);
        try
        {
            string message = await change(body);
            await ServeApp.WriteJson(context, new JsonObject { ["success"] = true, ["error_message"] = "", ["message"] = message });
        }
        catch (ApiError e)
        {
            await ServeApp.WriteJson(context, new JsonObject { ["success"] = false, ["error_message"] = e.Message }, e.Status);
        }
    }

    /// <summary>vLLM answers a plain-text success and an OpenAI error object otherwise.</summary>
    private static async Task Vllm(HttpContext context, ServeOptions options, Func<RequestBody, Task<string>> change)
    {
        string message = await change(await ServeApp.ReadBody(context, options));
        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync("Success: " + message, context.RequestAborted);
    }

    private static async Task<string> Load(RequestBody body, ServedModel model, BatchScheduler scheduler, bool replace)
    {
        string name = Required(body, "lora_name");
        string path = Required(body, "lora_path");
        if (model.Adapter is { } loaded && (loaded.Name != name || !replace))
            throw ApiError.BadRequest(loaded.Name != name
                ? $"the adapter '{loaded.Name}' is loaded and this server holds one at a time: unload it before loading '{name}'"
                : $"the adapter '{name}' is already loaded (set load_inplace to replace it)", "lora_name");
        if (model.Answers(name)) throw ApiError.BadRequest($"'lora_name' {name} is the base model's name", "lora_name");
        var adapter = new ServedAdapter(name, path, Read(path, model.Model));
        await scheduler.UpdateWeightsAsync(() => model.Adapter = adapter, version: null);
        return $"LoRA adapter '{name}' loaded from {path} (r {adapter.Weights.Config.Rank})";
    }

    private static async Task<string> Unload(RequestBody body, ServedModel model, BatchScheduler scheduler)
    {
        string name = Required(body, "lora_name");
        if (model.Adapter?.Name != name) throw new ApiError(404, $"the adapter '{name}' is not loaded", "lora_name", "lora_not_found");
        await scheduler.UpdateWeightsAsync(() => model.Adapter = null, version: null);
        return $"LoRA adapter '{name}' unloaded";
    }

    /// <summary>The whole adapter, checked against the served base before anything changes; a bad folder is a 400 naming it.</summary>
    private static LoraAdapter Read(string path, Transformer model)
    {
        try
        {
            return PeftAdapter.Load(path, model);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
        {
            throw ApiError.BadRequest($"lora_path {path}: {e.Message}", "lora_path");
        }
    }

    private static string Required(RequestBody body, string field) =>
        body.String(field) is { Length: > 0 } value ? value : throw ApiError.BadRequest($"'{field}' is required", field);
}

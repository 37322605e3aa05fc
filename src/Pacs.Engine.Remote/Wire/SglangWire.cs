using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pacs.Engine.Remote.Wire;

/// <summary>
/// SGLang's native `POST /generate` (python/sglang/srt/managers/io_struct.py `GenerateReqInput`,
/// python/sglang/srt/sampling/sampling_params.py `SamplingParams`): `input_ids`, `sampling_params` {max_new_tokens,
/// temperature, top_p, top_k, n, stop_token_ids, sampling_seed}, `return_logprob`. Read back (tokenizer_manager.py):
/// one object per sample, or a list of n of them, each with `output_ids` and `meta_info` {output_token_logprobs as
/// [logprob, token id, text] triples, finish_reason {type: stop | length | abort}}.
/// <paramref name="fullSeed"/> sends the request's seed as the full unsigned 64-bit value (`pacs serve` seeds its
/// sampler with it exactly as the local engine does); SGLang itself gets a non-negative signed 64-bit one.
/// </summary>
public sealed class SglangWire(bool supportsN, bool fullSeed) : IWireFormat
{
    public string Path => "/generate";

    public bool SupportsN => supportsN;

    public JsonObject Body(RolloutRequest request, int n)
    {
        var s = request.Sampling;
        var sampling = new JsonObject
        {
            ["max_new_tokens"] = s.MaxTokens,
            ["temperature"] = s.Temperature,
            ["top_p"] = s.TopP,
            ["top_k"] = s.TopK > 0 ? s.TopK : -1,
            ["n"] = n,
            ["stop_token_ids"] = new JsonArray([.. s.StopTokenIds.Select(id => (JsonNode)id)]),
            ["sampling_seed"] = fullSeed ? JsonValue.Create(request.Seed) : JsonValue.Create((long)(request.Seed >> 1)),
        };
        return new JsonObject
        {
            ["input_ids"] = new JsonArray([.. request.PromptIds.Select(id => (JsonNode)id)]),
            ["sampling_params"] = sampling,
            ["return_logprob"] = true,
            ["stream"] = false,
        };
    }

    /// <summary>SGLang picks a loaded adapter by its name in GenerateReqInput's `lora_path`.</summary>
    public void UseAdapter(JsonObject body, string adapter) => body["lora_path"] = adapter;

    public IReadOnlyList<WireSample> Parse(string body, int n, SamplingParams sampling)
    {
        var root = WireJson.Root(body);
        if (root.ValueKind == JsonValueKind.Object)
        {
            if (n != 1) throw new InvalidDataException($"response is one sample, {n} were asked for");
            return [Output(root, sampling, "response")];
        }
        var outputs = WireJson.Array(root, "response");
        if (outputs.GetArrayLength() != n) throw new InvalidDataException($"response has {outputs.GetArrayLength()} samples, {n} were asked for");
        return [.. outputs.EnumerateArray().Select((o, i) => Output(o, sampling, $"response[{i}]"))];
    }

    private static WireSample Output(JsonElement output, SamplingParams sampling, string where)
    {
        var meta = WireJson.Field(output, "meta_info", where);
        var triples = WireJson.Array(WireJson.Field(meta, "output_token_logprobs", where + ".meta_info"), where + ".meta_info.output_token_logprobs");
        var logProbs = new float[triples.GetArrayLength()];
        var idsInLogProbs = new int[logProbs.Length];
        int t = 0;
        foreach (var triple in triples.EnumerateArray())
        {
            string at = $"{where}.meta_info.output_token_logprobs[{t}]";
            if (triple.ValueKind != JsonValueKind.Array || triple.GetArrayLength() < 2) throw new InvalidDataException($"{at} is not [logprob, token id, text]");
            logProbs[t] = WireJson.LogProb(triple[0], at + "[0]");
            idsInLogProbs[t] = WireJson.TokenId(triple[1], at + "[1]");
            t++;
        }
        int[] ids = WireJson.Optional(output, "output_ids") is { } outputIds
            ? [.. WireJson.Array(outputIds, where + ".output_ids").EnumerateArray().Select((v, i) => WireJson.TokenId(v, $"{where}.output_ids[{i}]"))]
            : idsInLogProbs;
        for (int i = 0; i < Math.Min(ids.Length, idsInLogProbs.Length); i++)
            if (ids[i] != idsInLogProbs[i]) throw new InvalidDataException($"{where}: output_ids[{i}] is {ids[i]} but output_token_logprobs[{i}] scores token {idsInLogProbs[i]}");
        var finish = WireJson.Field(meta, "finish_reason", where + ".meta_info");
        string type = finish.ValueKind == JsonValueKind.String ? finish.GetString()! : WireJson.Field(finish, "type", where + ".meta_info.finish_reason").GetString() ?? "";
        return WireJson.Sample(ids, logProbs, type, sampling, where);
    }
}

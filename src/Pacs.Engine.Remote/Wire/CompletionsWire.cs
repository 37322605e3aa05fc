using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pacs.Engine.Remote.Wire;

/// <summary>
/// OpenAI-style `POST /v1/completions` with a token-id prompt, as vLLM defines it
/// (vllm/entrypoints/openai/protocol.py `CompletionRequest`, serving_completion.py): `prompt` as ids, `n`, `seed`,
/// `max_tokens`, `temperature`, `top_p`, `top_k`, `stop_token_ids`, `logprobs`, `return_token_ids` and
/// `return_tokens_as_token_ids`. Read back: `choices[i].token_ids` (or, from servers without it,
/// `logprobs.tokens` spelled `token_id:N`), `logprobs.token_logprobs` and `finish_reason`.
/// With <paramref name="supportsN"/> false (a plain OpenAI-compatible server) each request asks for one sample.
/// </summary>
public sealed class CompletionsWire(string model, bool supportsN) : IWireFormat
{
    private const string TokenIdPrefix = "token_id:";

    public string Path => "/v1/completions";

    public bool SupportsN => supportsN;

    public JsonObject Body(RolloutRequest request, int n)
    {
        var s = request.Sampling;
        var body = new JsonObject();
        if (model.Length > 0) body["model"] = model;
        body["prompt"] = new JsonArray([.. request.PromptIds.Select(id => (JsonNode)id)]);
        body["n"] = n;
        body["max_tokens"] = s.MaxTokens;
        body["temperature"] = s.Temperature;
        body["top_p"] = s.TopP;
        if (s.TopK > 0) body["top_k"] = s.TopK;
        // vLLM validates the seed as a signed 64-bit integer.
        body["seed"] = (long)(request.Seed >> 1);
        body["stop_token_ids"] = new JsonArray([.. s.StopTokenIds.Select(id => (JsonNode)id)]);
        body["logprobs"] = 1;
        body["return_token_ids"] = true;
        body["return_tokens_as_token_ids"] = true;
        body["stream"] = false;
        return body;
    }

    /// <summary>vLLM serves a loaded adapter as a model of its own name (serving_models.py).</summary>
    public void UseAdapter(JsonObject body, string adapter) => body["model"] = adapter;

    public IReadOnlyList<WireSample> Parse(string body, int n, SamplingParams sampling)
    {
        var root = WireJson.Root(body);
        var choices = WireJson.Array(WireJson.Field(root, "choices", "response"), "response.choices");
        if (choices.GetArrayLength() != n) throw new InvalidDataException($"response.choices has {choices.GetArrayLength()} samples, {n} were asked for");
        var samples = new WireSample?[n];
        int position = 0;
        foreach (var choice in choices.EnumerateArray())
        {
            string where = $"response.choices[{position}]";
            int index = WireJson.Optional(choice, "index") is { } i ? i.GetInt32() : position;
            if (index < 0 || index >= n || samples[index] is not null) throw new InvalidDataException($"{where}.index {index} is out of range or repeated");
            samples[index] = Choice(choice, sampling, where);
            position++;
        }
        return samples!;
    }

    private static WireSample Choice(JsonElement choice, SamplingParams sampling, string where)
    {
        var logprobs = WireJson.Field(choice, "logprobs", where);
        var tokenLogProbs = WireJson.Array(WireJson.Field(logprobs, "token_logprobs", where + ".logprobs"), where + ".logprobs.token_logprobs");
        float[] values = [.. tokenLogProbs.EnumerateArray().Select((v, t) => WireJson.LogProb(v, $"{where}.logprobs.token_logprobs[{t}]"))];
        int[] ids = WireJson.Optional(choice, "token_ids") is { } tokenIds
            ? [.. WireJson.Array(tokenIds, where + ".token_ids").EnumerateArray().Select((v, t) => WireJson.TokenId(v, $"{where}.token_ids[{t}]"))]
            : IdsFromTokens(logprobs, where);
        string finish = WireJson.Field(choice, "finish_reason", where).GetString() ?? "";
        return WireJson.Sample(ids, values, finish, sampling, where);
    }

    /// <summary>`logprobs.tokens` under `return_tokens_as_token_ids`: "token_id:N" for each sampled token.</summary>
    private static int[] IdsFromTokens(JsonElement logprobs, string where)
    {
        var tokens = WireJson.Optional(logprobs, "tokens")
            ?? throw new InvalidDataException($"{where} has neither token_ids nor logprobs.tokens (vLLM: return_token_ids / return_tokens_as_token_ids)");
        return [.. WireJson.Array(tokens, where + ".logprobs.tokens").EnumerateArray().Select((v, t) =>
        {
            string text = v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
            return text.StartsWith(TokenIdPrefix, StringComparison.Ordinal) && int.TryParse(text.AsSpan(TokenIdPrefix.Length), out int id) && id >= 0
                ? id
                : throw new InvalidDataException($"{where}.logprobs.tokens[{t}] is not 'token_id:N': {WireJson.Snippet(v.GetRawText())}");
        })];
    }
}

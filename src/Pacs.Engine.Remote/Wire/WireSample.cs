using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pacs.Engine.Remote.Wire;

/// <summary>One sampled response as a server returned it: token ids, the log-prob of each, why it ended.</summary>
public sealed record WireSample(int[] Ids, float[] LogProbs, FinishReason Finish);

/// <summary>How one protocol asks for samples and reads them back.</summary>
public interface IWireFormat
{
    /// <summary>The endpoint, relative to a server's base URL.</summary>
    string Path { get; }

    /// <summary>Whether one request may ask for several samples of one prompt (`n`).</summary>
    bool SupportsN { get; }

    /// <summary>The JSON body asking for <paramref name="n"/> samples of <paramref name="request"/>'s prompt.</summary>
    JsonObject Body(RolloutRequest request, int n);

    /// <summary>Makes <paramref name="body"/> sample with the LoRA adapter the servers loaded as <paramref name="adapter"/>.</summary>
    void UseAdapter(JsonObject body, string adapter);

    /// <summary>The <paramref name="n"/> samples in a response body; InvalidDataException naming the field when it is not one.</summary>
    IReadOnlyList<WireSample> Parse(string body, int n, SamplingParams sampling);
}

/// <summary>Reading helpers shared by the wire formats: each failure names the field.</summary>
internal static class WireJson
{
    public static JsonElement Root(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"malformed JSON ({e.Message}): {Snippet(body)}");
        }
    }

    public static JsonElement Field(JsonElement element, string name, string where)
    {
        if (element.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where} is not a JSON object");
        return element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : throw new InvalidDataException($"{where}.{name} is missing");
    }

    public static JsonElement? Optional(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public static JsonElement Array(JsonElement element, string where) =>
        element.ValueKind == JsonValueKind.Array ? element : throw new InvalidDataException($"{where} is not an array");

    public static int TokenId(JsonElement element, string where) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out int id) && id >= 0
            ? id
            : throw new InvalidDataException($"{where} is not a token id: {Snippet(element.GetRawText())}");

    public static float LogProb(JsonElement element, string where)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out double value))
            throw new InvalidDataException($"{where} is not a log-prob: {Snippet(element.GetRawText())}");
        return !double.IsNaN(value) && value <= 1e-4 ? (float)Math.Min(value, 0) : throw new InvalidDataException($"{where} is not a log-prob: {value}");
    }

    /// <summary>Checks what every protocol must return: as many log-probs as tokens, no more tokens than asked.</summary>
    public static WireSample Sample(int[] ids, float[] logProbs, string finishType, SamplingParams sampling, string where)
    {
        if (ids.Length != logProbs.Length) throw new InvalidDataException($"{where}: {ids.Length} token ids but {logProbs.Length} log-probs");
        if (ids.Length > sampling.MaxTokens) throw new InvalidDataException($"{where}: {ids.Length} tokens, more than the {sampling.MaxTokens} asked for");
        var finish = finishType switch
        {
            "stop" => FinishReason.Stop,
            // A server also says "length" when the context ran out first.
            "length" => ids.Length >= sampling.MaxTokens ? FinishReason.Length : FinishReason.ContextLimit,
            _ => throw new InvalidDataException($"{where}: finish reason '{finishType}' (the server aborted the request)"),
        };
        if (finish == FinishReason.Stop && ids.Length == 0) throw new InvalidDataException($"{where}: finished by a stop token but returned no tokens");
        return new WireSample(ids, logProbs, finish);
    }

    public static string Snippet(string text) => text.Length <= 200 ? text : text[..200] + "...";
}

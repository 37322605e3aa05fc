using System.Text.Json;

namespace Pacs.Text.Tokenization;

/// <summary>A `post_processor` of tokenizer.json: adds the special tokens (BOS/EOS) a model expects around one
/// encoded sequence. ByteLevel's post-processor only adjusts offsets, so it leaves ids as they are.</summary>
public abstract class PostProcessor
{
    public abstract void AddSpecialTokens(List<int> ids);

    public static PostProcessor? FromJson(JsonElement json, string file)
    {
        if (json.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) return null;
        string type = TokenizerJson.RequireString(json, "type", file, "post_processor");
        switch (type)
        {
            case "ByteLevel":
                return new IdentityPostProcessor();
            case "Sequence":
                return new SequencePostProcessor(TokenizerJson.RequireArray(json, "processors", file, "post_processor Sequence")
                    .Select(p => FromJson(p, file)).OfType<PostProcessor>().ToArray());
            case "TemplateProcessing":
                {
                    var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
                    var specialJson = TokenizerJson.Optional(json, "special_tokens");
                    if (specialJson.ValueKind == JsonValueKind.Object)
                        foreach (var entry in specialJson.EnumerateObject())
                            specials[entry.Name] = TokenizerJson.RequireArray(entry.Value, "ids", file, $"post_processor special_tokens['{entry.Name}']")
                                .Select(i => i.GetInt32()).ToArray();
                    var before = new List<int>();
                    var after = new List<int>();
                    bool seenSequence = false;
                    foreach (var item in TokenizerJson.RequireArray(json, "single", file, "post_processor TemplateProcessing"))
                    {
                        if (item.TryGetProperty("SpecialToken", out var special))
                        {
                            string id = TokenizerJson.RequireString(special, "id", file, "post_processor TemplateProcessing SpecialToken");
                            if (!specials.TryGetValue(id, out var ids))
                                throw new InvalidDataException($"{file}: post_processor TemplateProcessing uses '{id}', missing from special_tokens");
                            (seenSequence ? after : before).AddRange(ids);
                        }
                        else if (item.TryGetProperty("Sequence", out _))
                        {
                            if (seenSequence) throw new NotSupportedException($"{file}: post_processor TemplateProcessing single template with two sequences");
                            seenSequence = true;
                        }
                        else throw new InvalidDataException($"{file}: post_processor TemplateProcessing item is neither SpecialToken nor Sequence");
                    }
                    return new TemplatePostProcessor(before.ToArray(), after.ToArray());
                }
            default:
                throw new NotSupportedException($"{file}: post_processor type '{type}' is not supported");
        }
    }
}

public sealed class IdentityPostProcessor : PostProcessor
{
    public override void AddSpecialTokens(List<int> ids) { }
}

public sealed class TemplatePostProcessor(int[] before, int[] after) : PostProcessor
{
    public IReadOnlyList<int> Before => before;
    public IReadOnlyList<int> After => after;

    public override void AddSpecialTokens(List<int> ids)
    {
        ids.InsertRange(0, before);
        ids.AddRange(after);
    }
}

public sealed class SequencePostProcessor(IReadOnlyList<PostProcessor> steps) : PostProcessor
{
    public override void AddSpecialTokens(List<int> ids)
    {
        foreach (var step in steps) step.AddSpecialTokens(ids);
    }
}

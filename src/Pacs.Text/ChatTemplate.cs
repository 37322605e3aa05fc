using System.Text.Json;
using Pacs.Text.Jinja;

namespace Pacs.Text;

/// <summary>A Hugging Face chat template (Jinja) rendered by our own interpreter, byte-identical to
/// @huggingface/jinja (the JavaScript port transformers.js uses) on the Qwen2.5, Qwen3 and Llama 3 templates.
/// Constructs outside the supported subset raise NotSupportedException naming the construct and line.</summary>
public sealed class ChatTemplate
{
    private readonly List<Node> _program;
    private readonly IReadOnlyDictionary<string, string> _specialTokens;

    public string Source { get; }

    private ChatTemplate(string source, IReadOnlyDictionary<string, string> specialTokens)
    {
        Source = source;
        _specialTokens = specialTokens;
        _program = JinjaParser.Parse(source);
    }

    /// <summary>Parses a template. <paramref name="specialTokens"/> (e.g. bos_token, eos_token) become template variables.</summary>
    public static ChatTemplate Parse(string source, IReadOnlyDictionary<string, string>? specialTokens = null)
        => new(source, specialTokens ?? new Dictionary<string, string>());

    /// <summary>Reads `chat_template` and the special tokens (bos/eos/unk/pad) from tokenizer_config.json (the file, or
    /// a directory holding it). A list of named templates uses the one named "default".</summary>
    public static ChatTemplate FromTokenizerConfig(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "tokenizer_config.json") : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"tokenizer config not found: {file}", file);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllText(file));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: not valid JSON ({e.Message})");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("chat_template", out var template))
                throw new InvalidDataException($"{file}: no 'chat_template' field");
            string source = template.ValueKind switch
            {
                JsonValueKind.String => template.GetString()!,
                JsonValueKind.Array => template.EnumerateArray()
                    .Where(t => t.TryGetProperty("name", out var n) && n.GetString() == "default")
                    .Select(t => t.GetProperty("template").GetString()).FirstOrDefault()
                    ?? throw new InvalidDataException($"{file}: chat_template list has no template named 'default'"),
                _ => throw new InvalidDataException($"{file}: chat_template must be a string or a list of named templates"),
            };
            var specials = new Dictionary<string, string>();
            foreach (var key in new[] { "bos_token", "eos_token", "unk_token", "pad_token" })
            {
                if (!root.TryGetProperty(key, out var v)) continue;
                string? content = v.ValueKind == JsonValueKind.String ? v.GetString()
                    : v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) ? c.GetString() : null;
                if (content is not null) specials[key] = content;
            }
            try
            {
                return new ChatTemplate(source, specials);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{file}: {e.Message}");
            }
            catch (NotSupportedException e)
            {
                throw new NotSupportedException($"{file}: {e.Message}");
            }
        }
    }

    /// <summary>Renders the conversation. <paramref name="extra"/> adds template variables, e.g. `tools` (a list of
    /// JSON schemas as dictionaries or JsonElement) or `enable_thinking` (Qwen3).</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IDictionary<string, object?>? extra = null)
    {
        var scope = new Scope(null);
        Builtins.AddGlobals(scope);
        scope.Set("messages", new JinjaList(messages.Select(m => (object?)m.ToJinja()).ToList()));
        scope.Set("add_generation_prompt", addGenerationPrompt);
        foreach (var (key, value) in _specialTokens) scope.Set(key, value);
        if (extra is not null)
            foreach (var (key, value) in extra) scope.Set(key, JinjaValues.FromClr(value));
        return new JinjaInterpreter().Render(_program, scope);
    }
}

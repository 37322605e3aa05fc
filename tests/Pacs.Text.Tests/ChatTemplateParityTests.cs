using System.Text.Json;

namespace Pacs.Text.Tests;

/// <summary>Renderings must be byte-identical to @huggingface/jinja's (fixtures from tools/tokenizer_fixtures/make_chat_fixtures.mjs).</summary>
public class ChatTemplateParityTests
{
    private static readonly Dictionary<string, ChatTemplate> Templates = new()
    {
        ["qwen3"] = ChatTemplate.FromTokenizerConfig(RepoPaths.Get("models", "tokenizers", "qwen3")),
        ["llama3"] = ChatTemplate.FromTokenizerConfig(RepoPaths.Get("models", "tokenizers", "llama3", "tokenizer_config.json")),
        ["qwen2.5"] = ChatTemplate.Parse(File.ReadAllText(RepoPaths.Get("tests", "fixtures", "text", "templates", "qwen2.5.jinja"))),
        ["llama3.1"] = ChatTemplate.Parse(File.ReadAllText(RepoPaths.Get("tests", "fixtures", "text", "templates", "llama3.1.jinja")),
            new Dictionary<string, string> { ["bos_token"] = "<|begin_of_text|>", ["eos_token"] = "<|eot_id|>" }),
    };

    public static IEnumerable<object[]> Cases()
    {
        var lines = File.ReadAllLines(RepoPaths.Get("tests", "fixtures", "text", "chat_templates.jsonl"));
        for (int i = 0; i < lines.Length; i++)
            if (lines[i].Length > 0) yield return [i + 1];
    }

    [Fact]
    public void Fixture_covers_every_template_with_and_without_generation_prompt_thinking_and_tools()
    {
        var rows = File.ReadAllLines(RepoPaths.Get("tests", "fixtures", "text", "chat_templates.jsonl")).Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Templates.Keys.OrderBy(k => k), rows.Select(r => r.GetProperty("template").GetString()!).Distinct().OrderBy(k => k));
        Assert.Contains(rows, r => r.GetProperty("extra").TryGetProperty("tools", out _));
        Assert.Contains(rows, r => r.GetProperty("extra").TryGetProperty("enable_thinking", out var t) && t.ValueKind == JsonValueKind.False);
        Assert.Contains(rows, r => !r.GetProperty("add_generation_prompt").GetBoolean());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Render_is_byte_identical_to_huggingface_jinja(int line)
    {
        string text = File.ReadLines(RepoPaths.Get("tests", "fixtures", "text", "chat_templates.jsonl")).Skip(line - 1).First();
        using var doc = JsonDocument.Parse(text);
        var row = doc.RootElement;
        var template = Templates[row.GetProperty("template").GetString()!];
        var messages = row.GetProperty("messages").EnumerateArray().Select(ToMessage).ToList();
        var extra = row.GetProperty("extra").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        bool addGenerationPrompt = row.GetProperty("add_generation_prompt").GetBoolean();
        if (row.TryGetProperty("error", out var error))
        {
            var e = Assert.Throws<InvalidDataException>(() => template.Render(messages, addGenerationPrompt, extra));
            Assert.Contains(error.GetString()!, e.Message);
            return;
        }
        Assert.Equal(row.GetProperty("output").GetString(), template.Render(messages, addGenerationPrompt, extra));
    }

    private static ChatMessage ToMessage(JsonElement m) => new(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)
    {
        ReasoningContent = m.TryGetProperty("reasoning_content", out var r) ? r.GetString() : null,
        ToolCalls = m.TryGetProperty("tool_calls", out var calls)
            ? calls.EnumerateArray().Select(c => new ToolCall(c.GetProperty("function").GetProperty("name").GetString()!,
                c.GetProperty("function").GetProperty("arguments").Clone())).ToList()
            : null,
        Name = m.TryGetProperty("name", out var n) ? n.GetString() : null,
    };
}

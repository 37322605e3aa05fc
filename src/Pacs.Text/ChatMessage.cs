using Pacs.Text.Jinja;

namespace Pacs.Text;

/// <summary>One function call an assistant message makes. <see cref="Arguments"/> is a JSON string or a dictionary /
/// JsonElement (templates print it with `tojson`).</summary>
public sealed record ToolCall(string Name, object? Arguments);

/// <summary>One chat turn, as the chat templates of Hugging Face models read it: `role` ("system", "user",
/// "assistant", "tool"), `content`, optional `reasoning_content` (Qwen3 thinking), `tool_calls`, and for tool results
/// an optional `name`.</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public string? ReasoningContent { get; init; }
    public IReadOnlyList<ToolCall>? ToolCalls { get; init; }
    public string? Name { get; init; }

    public static ChatMessage System(string content) => new("system", content);
    public static ChatMessage User(string content) => new("user", content);
    public static ChatMessage Assistant(string content) => new("assistant", content);

    /// <summary>The template's view: keys in the order role, content, reasoning_content, tool_calls
    /// ({"type": "function", "function": {"name", "arguments"}}), name; absent optional fields are left out.</summary>
    internal JinjaDict ToJinja()
    {
        var dict = new JinjaDict();
        dict.Items["role"] = Role;
        dict.Items["content"] = Content;
        if (ReasoningContent is not null) dict.Items["reasoning_content"] = ReasoningContent;
        if (ToolCalls is not null)
        {
            var calls = new List<object?>();
            foreach (var call in ToolCalls)
            {
                var function = new JinjaDict();
                function.Items["name"] = call.Name;
                function.Items["arguments"] = JinjaValues.FromClr(call.Arguments);
                var wrapper = new JinjaDict();
                wrapper.Items["type"] = "function";
                wrapper.Items["function"] = function;
                calls.Add(wrapper);
            }
            dict.Items["tool_calls"] = new JinjaList(calls);
        }
        if (Name is not null) dict.Items["name"] = Name;
        return dict;
    }
}

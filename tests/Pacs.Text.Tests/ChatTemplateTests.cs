namespace Pacs.Text.Tests;

public class ChatTemplateTests
{
    private static string Render(string template, IDictionary<string, object?>? extra = null, params ChatMessage[] messages)
        => ChatTemplate.Parse(template).Render(messages, addGenerationPrompt: false, extra);

    [Theory]
    [InlineData("{% for x in [1, 2, 3] %}{{ loop.index }}{% if not loop.last %},{% endif %}{% endfor %}", "1,2,3")]
    [InlineData("{% for x in 'abc'.split('b') %}[{{ x }}]{% endfor %}", "[a][c]")]
    [InlineData("{{ [1, 2, 3][::-1] }}", "[3, 2, 1]")]
    [InlineData("{{ 'hello'[1:3] ~ 1 ~ true }}", "el1true")]
    [InlineData("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}", "6")]
    [InlineData("{{ 'a' in 'cat' }} {{ 'x' not in ['x'] }} {{ undefined_thing is defined }} {{ none is none }}", "true false false true")]
    [InlineData("{% macro greet(name, punct='!') %}hi {{ name }}{{ punct }}{% endmacro %}{{ greet('bob') }} {{ greet('al', punct='?') }}", "hi bob! hi al?")]
    [InlineData("{{ '  x  ' | trim }}|{{ 'AbC' | lower }}|{{ 'abc' | upper }}|{{ 'a-b-a' | replace('a', 'o') }}|{{ [1, 2] | length }}", "x|abc|ABC|o-b-o|2")]
    [InlineData("{{ {'b': 1, 'a': [true, none]} | tojson }}", "{\"b\": 1, \"a\": [true, null]}")]
    [InlineData("{{ {'a': {'b': 2}} | tojson(indent=2) }}", "{\n  \"a\": {\n    \"b\": 2\n  }\n}")]
    [InlineData("{% for k, v in {'x': 1, 'y': 2} | items %}{{ k }}={{ v }};{% endfor %}", "x=1;y=2;")]
    [InlineData("{{ 7 // 2 }} {{ 7 / 2 }} {{ 2 ** 3 }} {{ 1.0 }} {{ -3 % 5 }}", "3 3.5 8 1.0 -3")]
    [InlineData("{{ 'x' if false else 'y' }}{{ 'z' if false }}", "y")]
    [InlineData("  {%- if true -%}  a  {%- endif -%}  ", "a")]
    [InlineData("{{ '<think>\\nabc\\n</think>\\n\\nanswer'.split('</think>')[-1].lstrip('\\n') }}", "answer")]
    public void Renders_the_constructs_chat_templates_use(string template, string expected)
        => Assert.Equal(expected, Render(template));

    [Fact]
    public void Messages_generation_prompt_and_extra_variables_reach_the_template()
    {
        var template = ChatTemplate.Parse("{% for m in messages %}<{{ m.role }}>{{ m['content'] }}{% endfor %}"
            + "{% if add_generation_prompt %}<assistant>{% endif %}{{ extra_flag }}");
        string text = template.Render([ChatMessage.System("s"), ChatMessage.User("u")], addGenerationPrompt: true,
            new Dictionary<string, object?> { ["extra_flag"] = 42 });
        Assert.Equal("<system>s<user>u<assistant>42", text);
    }

    [Fact]
    public void Raise_exception_is_invalid_data_with_the_templates_message()
    {
        var e = Assert.Throws<InvalidDataException>(() => Render("{{ raise_exception('only user and assistant roles') }}"));
        Assert.Contains("only user and assistant roles", e.Message);
    }

    [Fact]
    public void Unsupported_statement_names_the_construct_and_line()
    {
        var e = Assert.Throws<NotSupportedException>(() => ChatTemplate.Parse("hello\n{% include 'other.jinja' %}"));
        Assert.Contains("line 2", e.Message);
        Assert.Contains("include", e.Message);
    }

    [Fact]
    public void Unsupported_filter_names_the_filter_and_line()
    {
        var e = Assert.Throws<NotSupportedException>(() => Render("a\nb\n{{ messages | wordcount }}"));
        Assert.Contains("line 3", e.Message);
        Assert.Contains("wordcount", e.Message);
    }

    [Fact]
    public void Syntax_error_is_invalid_data_with_the_line()
    {
        var e = Assert.Throws<InvalidDataException>(() => ChatTemplate.Parse("x\n{% if %}y{% endif %}"));
        Assert.Contains("line 2", e.Message);
    }

    [Fact]
    public void From_tokenizer_config_reads_the_template_and_special_tokens()
    {
        var template = ChatTemplate.FromTokenizerConfig(RepoPaths.Get("models", "tokenizers", "llama3"));
        string text = template.Render([ChatMessage.User(" hi ")], addGenerationPrompt: true);
        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", text);
    }

    [Fact]
    public void Tools_given_as_dictionaries_render_like_the_same_tools_given_as_json()
    {
        var template = ChatTemplate.FromTokenizerConfig(RepoPaths.Get("models", "tokenizers", "qwen3"));
        const string json = "[{\"type\": \"function\", \"function\": {\"name\": \"add\", \"parameters\": {\"a\": 1, \"b\": [2.5, true, null]}}}]";
        var tool = new Dictionary<string, object?>
        {
            ["type"] = "function",
            ["function"] = new Dictionary<string, object?>
            {
                ["name"] = "add",
                ["parameters"] = new Dictionary<string, object?> { ["a"] = 1, ["b"] = new object?[] { 2.5, true, null } },
            },
        };
        ChatMessage[] messages =
        [
            ChatMessage.User("1+2?"),
            new("assistant", "") { ToolCalls = [new ToolCall("add", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 })] },
            new("tool", "3"),
        ];
        string fromJson = template.Render(messages, true, new Dictionary<string, object?> { ["tools"] = System.Text.Json.JsonDocument.Parse(json).RootElement });
        string fromDictionaries = template.Render(messages, true, new Dictionary<string, object?> { ["tools"] = new[] { tool } });
        Assert.Equal(fromJson, fromDictionaries);
        Assert.Contains("{\"type\": \"function\", \"function\": {\"name\": \"add\", \"parameters\": {\"a\": 1, \"b\": [2.5, true, null]}}}", fromJson);
        Assert.Contains("<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>", fromJson);
    }

    [Fact]
    public void Error_lines_count_lines_of_the_original_template_despite_trim_blocks()
    {
        // trim_blocks removes the newlines after the first two tags; the error is still on line 4.
        var e = Assert.Throws<NotSupportedException>(() => Render("{% if true %}\n{% set x = 1 %}\n  {{ x }}\n{{ x | wordcount }}{% endif %}"));
        Assert.Contains("line 4", e.Message);
    }
}

namespace Pacs.Text;

/// <summary>
/// How a task's prompt text becomes the ids a model sees. A model whose tokenizer_config.json has a chat template
/// gets the prompt as one user turn followed by the generation prompt, rendered by that template (the template
/// writes BOS and the role markers itself, so no special tokens are added on top); any other model gets the plain
/// text with the tokenizer's special tokens (e.g. BOS).
/// </summary>
/// <paramref name="variables"/> are extra template variables (e.g. Qwen3's `enable_thinking`).
public sealed class PromptEncoder(ITokenizer tokenizer, ChatTemplate? template = null, IDictionary<string, object?>? variables = null)
{
    public ChatTemplate? Template { get; } = template;

    /// <summary>The encoder for the model in <paramref name="modelDir"/>: its chat template when it has one.</summary>
    public static PromptEncoder ForModel(string modelDir, ITokenizer tokenizer, IDictionary<string, object?>? variables = null) =>
        new(tokenizer, tokenizer is HfTokenizer { ChatTemplateSource: not null } ? ChatTemplate.FromTokenizerConfig(modelDir) : null, variables);

    public int[] Encode(string prompt) => Encode(prompt, system: null);

    /// <summary>The prompt as one user turn, after a system message when <paramref name="system"/> is given (a model
    /// without a chat template gets the system text, a blank line, then the prompt).</summary>
    public int[] Encode(string prompt, string? system) => Template is null
        ? tokenizer.Encode(system is null ? prompt : system + "\n\n" + prompt, addSpecialTokens: true)
        : tokenizer.Encode(Render(prompt, system), addSpecialTokens: false);

    /// <summary>The text the chat template makes of the prompt (the prompt itself without a template).</summary>
    public string Render(string prompt, string? system = null)
    {
        if (Template is null) return system is null ? prompt : system + "\n\n" + prompt;
        ChatMessage[] messages = system is null ? [ChatMessage.User(prompt)] : [ChatMessage.System(system), ChatMessage.User(prompt)];
        return Template.Render(messages, addGenerationPrompt: true, variables);
    }
}

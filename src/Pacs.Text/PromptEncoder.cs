namespace Pacs.Text;

/// <summary>
/// How a task's prompt text becomes the ids a model sees. A model whose tokenizer_config.json has a chat template
/// gets the prompt as one user turn followed by the generation prompt, rendered by that template (the template
/// writes BOS and the role markers itself, so no special tokens are added on top); any other model gets the plain
/// text with the tokenizer's special tokens (e.g. BOS).
/// </summary>
public sealed class PromptEncoder(ITokenizer tokenizer, ChatTemplate? template = null)
{
    public ChatTemplate? Template { get; } = template;

    /// <summary>The encoder for the model in <paramref name="modelDir"/>: its chat template when it has one.</summary>
    public static PromptEncoder ForModel(string modelDir, ITokenizer tokenizer) =>
        new(tokenizer, tokenizer is HfTokenizer { ChatTemplateSource: not null } ? ChatTemplate.FromTokenizerConfig(modelDir) : null);

    public int[] Encode(string prompt) => Template is null
        ? tokenizer.Encode(prompt, addSpecialTokens: true)
        : tokenizer.Encode(Template.Render([ChatMessage.User(prompt)], addGenerationPrompt: true), addSpecialTokens: false);
}

namespace Pacs.Text.Tests;

public sealed class PromptEncoderTests
{
    [Fact]
    public void Model_with_a_chat_template_gets_the_prompt_as_a_user_turn_with_the_generation_prompt()
    {
        var dir = RepoPaths.Get("models", "tokenizers", "qwen3");
        var tokenizer = HfTokenizer.Load(dir);
        var encoder = PromptEncoder.ForModel(dir, tokenizer);

        var ids = encoder.Encode("What is 2+2?");

        Assert.NotNull(encoder.Template);
        var expected = encoder.Template!.Render([ChatMessage.User("What is 2+2?")], addGenerationPrompt: true);
        Assert.StartsWith("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n", expected);
        Assert.Equal(expected, tokenizer.Decode(ids));
        Assert.Equal(tokenizer.TokenToId("<|im_start|>"), ids[0]);
    }

    [Fact]
    public void Model_without_a_chat_template_gets_plain_text_with_special_tokens()
    {
        var dir = RepoPaths.Get("models", "stories260K");
        var tokenizer = HfTokenizer.Load(dir);
        var encoder = PromptEncoder.ForModel(dir, tokenizer);

        Assert.Null(encoder.Template);
        Assert.Equal(tokenizer.Encode("Once upon a time", addSpecialTokens: true), encoder.Encode("Once upon a time"));
        Assert.Equal(tokenizer.BosId, encoder.Encode("Once upon a time")[0]);
    }
}

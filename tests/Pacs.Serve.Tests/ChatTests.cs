using System.ClientModel;
using OpenAI.Chat;

namespace Pacs.Serve.Tests;

/// <summary>The official OpenAI .NET SDK against the in-process server.</summary>
public class ChatTests
{
    [Fact]
    public async Task SdkListsTheModel()
    {
        await using var host = await ServeHost.Start();
        var models = await host.OpenAi().GetOpenAIModelClient().GetModelsAsync();
        Assert.Equal(ServeHost.ModelId, Assert.Single(models.Value).Id);
    }

    [Fact]
    public async Task SdkChatRendersTheTemplateAndReturnsLogProbs()
    {
        await using var host = await ServeHost.Start();
        var chat = host.OpenAi().GetChatClient(ServeHost.ModelId);
        var options = new ChatCompletionOptions
        {
            MaxOutputTokenCount = 12,
            Temperature = 0,
            IncludeLogProbabilities = true,
            TopLogProbabilityCount = 2,
        };
        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("Tell a story")], options);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(12, completion.Usage.OutputTokenCount);
        // The prompt is the template's text: BOS, "user: Tell a story\n", "assistant:".
        int promptTokens = host.Model.Tokenizer!.Encode("<s>user: Tell a story\nassistant:", addSpecialTokens: false).Length;
        Assert.Equal(promptTokens, completion.Usage.InputTokenCount);
        Assert.Equal(12, completion.ContentTokenLogProbabilities.Count);
        foreach (var token in completion.ContentTokenLogProbabilities)
        {
            Assert.True(token.LogProbability <= 0);
            Assert.Equal(2, token.TopLogProbabilities.Count);
            Assert.Equal(token.LogProbability, token.TopLogProbabilities[0].LogProbability, 5);
        }
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
    }

    [Fact]
    public async Task SdkStreamingGivesTheSameTextAsOneResponse()
    {
        await using var host = await ServeHost.Start();
        var chat = host.OpenAi().GetChatClient(ServeHost.ModelId);
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 20, Temperature = 0.8f };
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
        options.Seed = 42;
#pragma warning restore OPENAI001
        ChatCompletion whole = await chat.CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("Hello")], options);
        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new SystemChatMessage("Be brief."), new UserChatMessage("Hello")], options))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.Equal(whole.FinishReason, finish);
    }

    [Fact]
    public async Task SdkSeesErrorsWithTheirStatus()
    {
        await using var host = await ServeHost.Start();
        var unknown = host.OpenAi().GetChatClient("no-such-model");
        var e = await Assert.ThrowsAsync<ClientResultException>(() => unknown.CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, e.Status);
        Assert.Contains("no-such-model", e.Message);
    }
}

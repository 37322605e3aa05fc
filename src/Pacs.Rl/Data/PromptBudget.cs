using Pacs.Rewards;
using Pacs.Rl.Config;
using Pacs.Text;

namespace Pacs.Rl.Data;

/// <summary>How long a run's prompts may be, and how they are rendered (the chat template's variables).</summary>
public static class PromptBudget
{
    /// <summary>
    /// data.max_prompt_tokens when set (at most context - 1: a response needs a position; it then stops at the
    /// context and counts as clipped), else the context minus rollout.max_response_tokens.
    /// </summary>
    public static (int Limit, string Source) Of(TrainConfig config, int context)
    {
        int budget = config.Rollout.MaxResponseTokens;
        if (config.Data.MaxPromptTokens > 0)
            return (Math.Min(config.Data.MaxPromptTokens, context - 1), "data.max_prompt_tokens");
        int limit = context - budget;
        if (limit < 1)
            throw new ArgumentException($"rollout.max_response_tokens={budget} leaves no room for a prompt in the model's context of {context} tokens; lower it or set data.max_prompt_tokens (responses then stop at the context and count as clipped)");
        return (limit, $"context {context} - rollout.max_response_tokens {budget}");
    }

    /// <summary>Extra chat-template variables of the run (Qwen3's enable_thinking).</summary>
    public static Dictionary<string, object?>? TemplateVariables(DataSection data) => data.Thinking switch
    {
        ThinkingMode.On => new() { ["enable_thinking"] = true },
        ThinkingMode.Off => new() { ["enable_thinking"] = false },
        _ => null,
    };

    /// <summary>The task with every prompt longer than the run's limit dropped (see <see cref="PromptFilter"/>).</summary>
    public static PromptFilter Filter(ITask task, TrainConfig config, int context, PromptEncoder prompts)
    {
        var (limit, source) = Of(config, context);
        return PromptFilter.Apply(task, p => prompts.Encode(p.Prompt, p.System).Length, limit, source);
    }
}

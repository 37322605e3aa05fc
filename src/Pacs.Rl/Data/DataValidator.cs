using Pacs.Rl.Config;

namespace Pacs.Rl.Data;

/// <summary>Checks the data:, reward: and dynamic-sampling keys of a config; every message names the key.</summary>
public static class DataValidator
{
    public static void Validate(TrainConfig c)
    {
        var d = c.Data;
        if (!(d.EvalFraction >= 0 && d.EvalFraction < 1)) throw new ArgumentException($"data.eval_fraction must be in [0, 1), got {d.EvalFraction}");
        if (d.EvalDataset.Length > 0 && d.EvalFraction > 0) throw new ArgumentException("data.eval_dataset and data.eval_fraction are both set; pick one validation set");
        if (d.MaxPromptTokens < 0) throw new ArgumentException($"data.max_prompt_tokens must be >= 0, got {d.MaxPromptTokens}");
        foreach (var (key, value) in new[] { ("data.prompt_key", d.PromptKey), ("data.answer_key", d.AnswerKey), ("data.id_key", d.IdKey) })
            if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"{key} is empty");
        if (d.PromptTemplate.Length > 0 && !d.PromptTemplate.Contains("{problem}", StringComparison.Ordinal))
            throw new ArgumentException($"data.prompt_template has no {{problem}} placeholder: '{d.PromptTemplate}'");
        var r = c.Reward;
        if (r.OverlongBuffer < 0 || r.OverlongBuffer >= c.Rollout.MaxResponseTokens)
            throw new ArgumentException($"reward.overlong_buffer must be in [0, rollout.max_response_tokens={c.Rollout.MaxResponseTokens}), got {r.OverlongBuffer}");
        if (!(r.OverlongPenalty >= 0)) throw new ArgumentException($"reward.overlong_penalty must be >= 0, got {r.OverlongPenalty}");
        if (c.Rollout.MaxDrawBatches < 1) throw new ArgumentException($"rollout.max_draw_batches must be >= 1, got {c.Rollout.MaxDrawBatches}");
    }
}

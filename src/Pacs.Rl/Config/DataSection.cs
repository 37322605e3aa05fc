namespace Pacs.Rl.Config;

/// <summary>Qwen3's thinking switch, passed to the chat template as `enable_thinking`.</summary>
public enum ThinkingMode
{
    /// <summary>Not passed: the template's own default (Qwen3 thinks).</summary>
    Auto,

    /// <summary>enable_thinking=true.</summary>
    On,

    /// <summary>enable_thinking=false (Qwen3 writes an empty think block and answers directly).</summary>
    Off,
}

/// <summary>
/// The `data:` section: where RL prompts and validation problems come from, how rows are read and rendered, and the
/// prompt-length limit checked before step 1.
/// </summary>
public sealed class DataSection
{
    [Knob("RL prompt set: a shipped train split (gsm8k_train, math_train) or a .jsonl/.parquet file (verl rows, or rows with prompt_key/answer_key); empty: the problems of task.name.")]
    public string TrainFiles { get; set; } = "";

    [Knob("Validation set: a shipped dataset (math500, gsm8k, aime24, ...) or a .jsonl/.parquet file; empty: the task's test split, else eval_fraction of the prompt set.")]
    public string EvalDataset { get; set; } = "";

    [Knob("Fraction of the prompt set held out for validation when eval_dataset is empty (0: none; the run then says it has no validation set).")]
    public double EvalFraction { get; set; } = 0;

    [Knob("Field of a plain row holding the prompt text (a dotted key reads a nested field; verl rows use their `prompt` messages).")]
    public string PromptKey { get; set; } = "problem";

    [Knob("Field of a plain row holding the gold answer (e.g. reward_model.ground_truth).")]
    public string AnswerKey { get; set; } = "answer";

    [Knob("Field holding a row's id (errors and logs name problems by it); rows without one are named file-row.")]
    public string IdKey { get; set; } = "id";

    [Knob("Prompt of a plain row: {problem} is replaced by its text; empty: the problem then \"Please reason step by step, and put your final answer within \\boxed{}.\" (verl rows are used as they are).")]
    public string PromptTemplate { get; set; } = "";

    [Knob("System message put before every plain row's prompt (empty: none; the chat template may add its own default).")]
    public string SystemPrompt { get; set; } = "";

    [Knob("Longest prompt in tokens (after the chat template); longer prompts are dropped before step 1 and counted. 0: the model's context minus rollout.max_response_tokens.")]
    public int MaxPromptTokens { get; set; } = 0;

    [Knob("Qwen3's thinking switch passed to the chat template as enable_thinking: auto (not passed), on or off.")]
    public ThinkingMode Thinking { get; set; } = ThinkingMode.Auto;
}

/// <summary>The `reward:` section: DAPO's shaping of the verifier's reward by response length.</summary>
public sealed class RewardSection
{
    [Knob("DAPO overlong shaping: the last this many tokens before rollout.max_response_tokens are a soft zone whose penalty grows linearly to overlong_penalty (0 disables).")]
    public int OverlongBuffer { get; set; } = 0;

    [Knob("Penalty subtracted from the reward of a response that reaches max_response_tokens (DAPO: 1.0), scaled linearly inside the buffer.")]
    public double OverlongPenalty { get; set; } = 1.0;

    [Knob("Leave responses cut at the token budget or the context out of the loss (their tokens get no gradient; DAPO's overlong filtering).")]
    public bool MaskTruncated { get; set; } = false;
}

namespace Pacs.Rl.Config;

/// <summary>`tinker.builtin_loss`: whether the update may send an algorithm's loss as the API's built-in loss.</summary>
public enum BuiltInLossMode
{
    /// <summary>Where the algorithm's loss is exactly a built-in one (docs/tinker.md), send it: no forward before the backward.</summary>
    Auto,

    /// <summary>Always the custom-loss path: forward, the trainer's loss, forward_backward with its gradient.</summary>
    Off,
}

/// <summary>The `tinker:` section: which Tinker API server trains the policy when `engine` is tinker.</summary>
public sealed class TinkerSection
{
    [Knob("Root URL of the Tinker API server (e.g. http://127.0.0.1:8000 for `pacs serve --tinker`).")]
    public string BaseUrl { get; set; } = "";

    [Knob("Name of the environment variable holding the API key (sent as X-API-Key; the key itself never goes in a config).")]
    public string ApiKeyEnv { get; set; } = "TINKER_API_KEY";

    [Knob("The server's name of the base model (the same model as model.dir, whose tokenizer and template are used).")]
    public string BaseModel { get; set; } = "";

    [Knob("Rank of the LoRA adapter the server trains (0: no adapter, a full fine-tune where the server allows it).")]
    public int LoraRank { get; set; } = 32;

    [Knob("auto: an algorithm whose loss is exactly the API's built-in ppo or cispo (grpo, dr_grpo, rloo, reinforce_plus_plus, dapo, vineppo with dual_clip_c=0 and kl_loss_coef=0; cispo without KL loss) sends it and skips the update's forward; off: always the custom-loss path.")]
    public BuiltInLossMode BuiltinLoss { get; set; } = BuiltInLossMode.Auto;
}

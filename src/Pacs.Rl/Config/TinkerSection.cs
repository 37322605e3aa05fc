namespace Pacs.Rl.Config;

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
}

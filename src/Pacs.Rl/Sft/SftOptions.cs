using Pacs.Engine;

namespace Pacs.Rl.Sft;

/// <summary>
/// Supervised fine-tuning (from scratch) of a small Llama-style decoder on a synthetic task's worked solutions.
/// The defaults are the base-model recipe of <c>pacs sft</c>: tuned to give a clearly imperfect model on arith
/// (pass@1 well below pass@16), which is what RL post-training then improves.
/// </summary>
public sealed record SftOptions
{
    public string Task { get; init; } = "arith";
    /// <summary>Difficulty preset of the task (1..5); null = the task's defaults.</summary>
    public int? Level { get; init; }
    public long Seed { get; init; }
    public int Steps { get; init; } = 1000;
    /// <summary>Sequences (prompt + worked solution) per optimiser step.</summary>
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 3e-3;
    public int WarmupSteps { get; init; } = 30;
    public double MinLrRatio { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.01;
    public double GradClip { get; init; } = 1.0;
    public int CheckpointEvery { get; init; } = 200;
    /// <summary>Completed checkpoints kept under out/checkpoints (older ones are deleted).</summary>
    public int KeepCheckpoints { get; init; } = 2;

    public int HiddenSize { get; init; } = 128;
    public int Layers { get; init; } = 4;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 4;
    public int IntermediateSize { get; init; } = 384;
    public int MaxPositions { get; init; } = 256;
    /// <summary>Recompute each decoder layer but the last in backward instead of keeping its activations
    /// (<see cref="TrainingSettings.GradientCheckpointing"/>): less memory, about one more forward pass of time.</summary>
    public bool GradientCheckpointing { get; init; }

    /// <summary>Start from this model folder instead of a fresh random model (its vocabulary must hold the char tokenizer's).</summary>
    public string? BaseModel { get; init; }

    /// <summary>Train a LoRA adapter on the frozen start model (`--lora-rank`); the output folder is then a PEFT adapter.</summary>
    public Pacs.Rl.Config.LoraSection Lora { get; init; } = new();

    public void Validate()
    {
        if (Steps < 1) throw new ArgumentException($"sft: steps must be >= 1, got {Steps}");
        if (BatchSize < 1) throw new ArgumentException($"sft: batch size must be >= 1, got {BatchSize}");
        if (!(LearningRate > 0)) throw new ArgumentException($"sft: learning rate must be > 0, got {LearningRate}");
        if (WarmupSteps < 0 || WarmupSteps >= Steps) throw new ArgumentException($"sft: warmup steps must be in [0, steps), got {WarmupSteps} for {Steps} steps");
        if (!(GradClip > 0)) throw new ArgumentException($"sft: grad clip must be > 0, got {GradClip}");
        if (CheckpointEvery < 1) throw new ArgumentException($"sft: checkpoint interval must be >= 1, got {CheckpointEvery}");
        if (HiddenSize % Heads != 0) throw new ArgumentException($"sft: hidden size {HiddenSize} is not divisible by {Heads} heads");
        if (Heads % KvHeads != 0) throw new ArgumentException($"sft: {Heads} heads are not divisible by {KvHeads} KV heads");
        if (BaseModel is not null && !Directory.Exists(BaseModel)) throw new DirectoryNotFoundException($"sft: --model {BaseModel}: model directory not found");
        if (Lora.Enabled && BaseModel is null) throw new ArgumentException("sft: --lora-rank needs --model, the model the adapter is trained on");
        try
        {
            Lora.Validate();
        }
        catch (ArgumentException e)
        {
            // The options are --lora-rank, --lora-alpha, --lora-dropout, --lora-targets.
            throw new ArgumentException("sft: " + e.Message.Replace("model.lora.target_modules", "--lora-targets").Replace("model.lora.", "--lora-"));
        }
    }

    /// <summary>The model's shape for a vocabulary with the given special ids.</summary>
    public ModelSpec ModelSpec(int vocabSize, int bosId, IReadOnlyList<int> eosIds, int padId) => new()
    {
        ModelType = "llama",
        VocabSize = vocabSize,
        HiddenSize = HiddenSize,
        Layers = Layers,
        Heads = Heads,
        KvHeads = KvHeads,
        IntermediateSize = IntermediateSize,
        MaxPositions = MaxPositions,
        RmsNormEps = 1e-5,
        TieWordEmbeddings = true,
        BosTokenId = bosId,
        EosTokenIds = eosIds,
        PadTokenId = padId,
        MaxNewTokens = 128,
    };
}

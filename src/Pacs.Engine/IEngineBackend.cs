namespace Pacs.Engine;

/// <summary>AdamW's settings (the learning rate is given at each <see cref="ITrainableModel.Step"/>).</summary>
public sealed record OptimizerSettings(double Beta1 = 0.9, double Beta2 = 0.999, double Epsilon = 1e-8, double WeightDecay = 0.0);

/// <summary>
/// The precision of a model's large weights (embedding, projections, LM head): `model.dtype`. Frozen copies (a
/// reference model, an evaluated model, a frozen base) are held in it; trainable weights are float32 masters of its
/// values (a bf16 checkpoint is widened exactly; a float32 one asked as bfloat16 is rounded first). Norm weights and
/// biases are float32 in every case.
/// </summary>
public enum WeightDtype
{
    /// <summary>The checkpoint's: bfloat16 when it stores its weights as BF16, else float32.</summary>
    Auto,

    /// <summary>bfloat16: half the memory, and half the bytes a memory-bound decode step reads.</summary>
    Bfloat16,

    Float32,
}

/// <summary>How a trainable model is held in memory while it trains.</summary>
/// <param name="Optimizer">AdamW settings.</param>
/// <param name="GradientCheckpointing">Recompute activations in backward instead of keeping them.</param>
/// <param name="Dtype">`model.dtype`: the precision of the loaded weights' values (see <see cref="WeightDtype"/>).</param>
/// <param name="Lora">Train a LoRA adapter on the frozen model instead of every weight (null: full fine-tuning).</param>
/// <param name="LogitsChunkRows">
/// Scored positions whose vocabulary-wide logits are held at once in a teacher-forced pass (0: all of a pass's
/// positions, [rows x tokens, vocab] floats). Log-probs and entropy do not depend on it; a trained output layer's
/// gradient does, by float rounding only.
/// </param>
public sealed record TrainingSettings(OptimizerSettings Optimizer, bool GradientCheckpointing = false, WeightDtype Dtype = WeightDtype.Auto,
    LoraSettings? Lora = null, int LogitsChunkRows = TrainingSettings.DefaultLogitsChunkRows)
{
    /// <summary>The default of <see cref="LogitsChunkRows"/> (`model.logits_chunk_rows`): 256 rows of Qwen's 151936-token vocabulary are 156 MB.</summary>
    public const int DefaultLogitsChunkRows = 256;
}

/// <summary>
/// A LoRA adapter to train: y = x W^T + (Alpha / Rank) * dropout(x) A^T B^T on each of <paramref name="TargetModules"/>
/// (Hugging Face module names: q_proj k_proj v_proj o_proj gate_proj up_proj down_proj), A and B the only trainable
/// weights, initialised as PEFT does (B = 0, so training starts from the model itself).
/// </summary>
/// <param name="Seed">Seed of A's initialisation and of the dropout masks.</param>
public sealed record LoraSettings(int Rank, double Alpha, double Dropout, IReadOnlyList<string> TargetModules, ulong Seed);

/// <summary>
/// The shape of a decoder to create from scratch (`pacs sft`): the fields of a Hugging Face config.json that a
/// Llama/Qwen decoder needs, with the special ids of its tokenizer.
/// </summary>
public sealed record ModelSpec
{
    public string ModelType { get; init; } = "llama";
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int IntermediateSize { get; init; }
    public required int MaxPositions { get; init; }
    public double RmsNormEps { get; init; } = 1e-5;
    public bool TieWordEmbeddings { get; init; } = true;
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int PadTokenId { get; init; }

    /// <summary>generation_config.json's max_new_tokens for the saved folder.</summary>
    public int MaxNewTokens { get; init; } = 128;
}

/// <summary>What a model folder holds, as far as the trainer needs to know.</summary>
/// <param name="VocabSize">Rows of the output layer.</param>
/// <param name="MaxPositions">The context length.</param>
public sealed record ModelInfo(int VocabSize, int MaxPositions);

/// <summary>
/// Creates the models and engines of a run. A new backend (a GPU engine, a remote training service) implements
/// this and the interfaces it returns; the trainer, SFT and the evaluator need nothing else.
/// </summary>
public interface IEngineBackend
{
    /// <summary>
    /// Lays out rows of (prompt ids, response ids) once for every model of this backend; <paramref name="padId"/>
    /// fills the positions past a row's end (the tokenizer's pad id: it is never scored).
    /// </summary>
    IPackedRows Pack(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId);

    /// <summary>Reads the shape of the model in a Hugging Face folder.</summary>
    ModelInfo Describe(string modelDir);

    /// <summary>The policy to train, starting from the weights in <paramref name="modelDir"/>.</summary>
    ITrainableModel LoadPolicy(string modelDir, TrainingSettings settings);

    /// <summary>A policy of a fresh shape with seeded random weights.</summary>
    ITrainableModel CreatePolicy(ModelSpec spec, ulong seed, TrainingSettings settings);

    /// <summary>
    /// PPO's critic: the model in <paramref name="modelDir"/> with a value head whose initial values are all 0; with
    /// <see cref="TrainingSettings.Lora"/>, a LoRA adapter and a value head of its own train on the frozen model.
    /// </summary>
    /// <param name="policy">
    /// The run's policy, loaded by this backend from the same folder with the same settings: a LoRA critic may train on
    /// its frozen base instead of a copy (the managed engine does). Null, or a policy it cannot share, loads the base.
    /// </param>
    ITrainableModel CreateCritic(string modelDir, int headRow, TrainingSettings settings, ITrainableModel? policy = null);

    /// <summary>A frozen copy of the model in <paramref name="modelDir"/> (e.g. the initial reference), held in <paramref name="dtype"/>.</summary>
    IScorer LoadFrozen(string modelDir, WeightDtype dtype = WeightDtype.Auto);

    /// <summary>An in-process rollout engine sampling from <paramref name="policy"/> (a model this backend made).</summary>
    IRolloutEngine CreateRollout(ITrainableModel policy);

    /// <summary>A rollout engine over frozen weights from a model folder (evaluation), held in <paramref name="dtype"/>.</summary>
    IRolloutEngine LoadRollout(string modelDir, WeightDtype dtype = WeightDtype.Auto);
}

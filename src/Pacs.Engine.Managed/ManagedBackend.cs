using Pacs.Engine;
using Pacs.Models;
using Pacs.Tensors;

namespace Pacs.Engine.Managed;

/// <summary>
/// The managed CPU engine behind the seam: our tensors, SGEMM and decode kernels, weights in this process: float32
/// for training, and frozen models in the checkpoint's precision or the one asked (<see cref="WeightDtype"/>).
/// </summary>
public sealed class ManagedBackend : IEngineBackend
{
    public static ManagedBackend Instance { get; } = new();

    public IPackedRows Pack(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId) =>
        PackedSequences.Build(prompts, responses, padId);

    public ModelInfo Describe(string modelDir)
    {
        if (!Directory.Exists(modelDir)) throw new DirectoryNotFoundException($"{modelDir}: model directory not found");
        if (PeftAdapter.IsAdapterFolder(modelDir)) modelDir = AdapterBase(modelDir);
        var config = ModelConfig.Load(Path.Combine(modelDir, ModelConfig.FileName));
        return new ModelInfo(config.VocabSize, config.MaxPositionEmbeddings);
    }

    /// <summary>A trainable model over a <see cref="Transformer"/> already in memory (benchmarks of shapes with random weights).</summary>
    public static ManagedModel Wrap(Transformer model, TrainingSettings settings) => new(model, settings);

    public ITrainableModel LoadPolicy(string modelDir, TrainingSettings settings) => new ManagedModel(
        settings.Lora is null ? LoadTrainable(modelDir, settings.Dtype) : LoadFrozenModel(modelDir, settings.Dtype), settings, baseDir: modelDir);

    /// <summary>
    /// The weights of <paramref name="modelDir"/> as float32 masters (full fine-tuning trains every weight): a BF16
    /// checkpoint is widened exactly; with bfloat16 asked of a float32 checkpoint, its values are rounded first, so the
    /// policy starts where a frozen bfloat16 reference is.
    /// </summary>
    public static Transformer LoadTrainable(string modelDir, WeightDtype dtype) => dtype == WeightDtype.Bfloat16
        ? Transformer.Load(modelDir, TensorDtype.BFloat16).ToFloat32()
        : Transformer.Load(modelDir, TensorDtype.Float32);

    public ITrainableModel CreatePolicy(ModelSpec spec, ulong seed, TrainingSettings settings)
    {
        var config = ToConfig(spec);
        var model = new Transformer(config, seed)
        {
            GenerationConfig = new GenerationConfig
            {
                DoSample = true,
                BosTokenId = spec.BosTokenId,
                EosTokenIds = spec.EosTokenIds,
                PadTokenId = spec.PadTokenId,
                MaxNewTokens = spec.MaxNewTokens,
            },
        };
        return new ManagedModel(model, settings);
    }

    /// <summary>
    /// PPO's value model from the policy's starting weights: in full (float32 masters, the output layer's row
    /// <paramref name="headRow"/> as its value head), or with <see cref="TrainingSettings.Lora"/> a LoRA adapter and
    /// a value head of its own on the frozen base in <see cref="TrainingSettings.Dtype"/>: the LoRA policy's own base
    /// tensors when <paramref name="policy"/> is one loaded from <paramref name="modelDir"/> in that precision, else a copy.
    /// </summary>
    public ITrainableModel CreateCritic(string modelDir, int headRow, TrainingSettings settings, ITrainableModel? policy = null)
    {
        var model = settings.Lora is null ? LoadTrainable(modelDir, settings.Dtype)
            : SharedBase(policy, modelDir, settings.Dtype) ?? LoadFrozenModel(modelDir, settings.Dtype);
        if (headRow < 0 || headRow >= model.Config.VocabSize)
            throw new ArgumentException($"{modelDir}: value head row {headRow} is outside the vocabulary [0, {model.Config.VocabSize})");
        // The copy's head row starts at zero so every initial value is 0; the pad id is never a target, so the
        // other rows never matter.
        int hidden = model.Config.HiddenSize;
        if (settings.Lora is null) Array.Clear(model.LmHead.Data, headRow * hidden, hidden);
        return new ManagedModel(model, settings, headRow, baseDir: modelDir);
    }

    /// <summary>The frozen base of a LoRA policy loaded from <paramref name="modelDir"/> in <paramref name="dtype"/>, as a second model over its tensors; else null.</summary>
    private static Transformer? SharedBase(ITrainableModel? policy, string modelDir, WeightDtype dtype) =>
        policy is ManagedModel { Adapter: not null, ValueHeadRow: null } p && p.BaseDir == Path.GetFullPath(modelDir) && p.Dtype == dtype
            ? p.Model.ShareFrozenWeights()
            : null;

    public IScorer LoadFrozen(string modelDir, WeightDtype dtype = WeightDtype.Auto) => new ManagedScorer(LoadFrozenModel(modelDir, dtype));

    public IRolloutEngine CreateRollout(ITrainableModel policy) => policy is ManagedModel { ValueHeadRow: null } managed
        ? new ManagedRollout(managed.Model)
        : throw new ArgumentException($"the managed rollout engine samples from a managed policy, got {policy.GetType().Name}");

    public IRolloutEngine LoadRollout(string modelDir, WeightDtype dtype = WeightDtype.Auto) => new ManagedRollout(LoadFrozenModel(modelDir, dtype));

    /// <summary>
    /// A model folder with frozen weights in <paramref name="dtype"/> (Auto: the checkpoint's); a PEFT adapter folder
    /// (adapter_config.json) loads its base (`base_model_name_or_path`) with the adapter attached, unmerged.
    /// </summary>
    public static Transformer LoadFrozenModel(string modelDir, WeightDtype dtype = WeightDtype.Auto, string? adapterDir = null)
    {
        if (adapterDir is null && Directory.Exists(modelDir) && PeftAdapter.IsAdapterFolder(modelDir))
            (modelDir, adapterDir) = (AdapterBase(modelDir), modelDir);
        var model = Transformer.Load(modelDir, dtype switch
        {
            WeightDtype.Bfloat16 => TensorDtype.BFloat16,
            WeightDtype.Float32 => TensorDtype.Float32,
            _ => null,
        });
        foreach (var (_, p) in model.Parameters) p.RequiresGrad = false;
        if (adapterDir is not null) model.Adapter = PeftAdapter.Load(adapterDir, model);
        return model;
    }

    /// <summary>The base model folder an adapter names (`base_model_name_or_path`, absolute or relative to the working directory).</summary>
    public static string AdapterBase(string adapterDir)
    {
        var (_, baseModel) = PeftAdapter.ReadConfig(adapterDir);
        if (string.IsNullOrEmpty(baseModel) || !Directory.Exists(baseModel))
            throw new DirectoryNotFoundException($"{Path.Combine(adapterDir, PeftAdapter.ConfigFileName)}: base_model_name_or_path '{baseModel}' is not a model folder here; pass the base with --model");
        return baseModel;
    }

    internal static PackedSequences Unwrap(IPackedRows rows) => rows as PackedSequences
        ?? throw new ArgumentException($"the managed engine reads rows packed by its own backend, got {rows.GetType().Name}");

    private static ModelConfig ToConfig(ModelSpec spec) => new()
    {
        ModelType = spec.ModelType,
        VocabSize = spec.VocabSize,
        HiddenSize = spec.HiddenSize,
        NumHiddenLayers = spec.Layers,
        NumAttentionHeads = spec.Heads,
        NumKeyValueHeads = spec.KvHeads,
        HeadDim = spec.HiddenSize / spec.Heads,
        IntermediateSize = spec.IntermediateSize,
        MaxPositionEmbeddings = spec.MaxPositions,
        RmsNormEps = spec.RmsNormEps,
        TieWordEmbeddings = spec.TieWordEmbeddings,
        BosTokenId = spec.BosTokenId,
        EosTokenIds = spec.EosTokenIds,
        PadTokenId = spec.PadTokenId,
    };
}

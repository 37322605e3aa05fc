using System.Text.Json;

namespace Pacs.Engine.Tinker;

/// <summary>
/// `engine: tinker`: the policy, its reference and its rollouts live on a Tinker server; the tokenizer, chat template
/// and the model's shape are read from the local Hugging Face folder of the same base model. One session per backend.
/// </summary>
public sealed class TinkerBackend(TinkerOptions options, HttpMessageHandler? handler = null) : IEngineBackend, IDisposable
{
    private readonly Lazy<TinkerConnection> _connection = new(() => new TinkerConnection(options, handler));

    public TinkerConnection Connection => _connection.Value;

    public IPackedRows Pack(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId) => new TinkerPackedRows(prompts, responses);

    /// <summary>vocab_size and max_position_embeddings of the local config.json.</summary>
    public ModelInfo Describe(string modelDir)
    {
        string file = Path.Combine(modelDir, "config.json");
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: the tinker engine reads the base model's shape and tokenizer from its local Hugging Face folder", file);
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var root = doc.RootElement;
        int Get(string key) => root.TryGetProperty(key, out var v) ? v.GetInt32() : throw new InvalidDataException($"{file}: no '{key}'");
        return new ModelInfo(Get("vocab_size"), Get("max_position_embeddings"));
    }

    /// <summary>create_model for tinker.base_model (a LoRA adapter of tinker.lora_rank, its A initialised from lora_config.seed when the options carry one); the weights in <paramref name="modelDir"/> are the server's business.</summary>
    public ITrainableModel LoadPolicy(string modelDir, TrainingSettings settings) => CreateModel(settings);

    private TinkerTrainingModel CreateModel(TrainingSettings settings)
    {
        var c = Connection;
        var lora = options.LoraRank > 0 ? new LoraConfig(options.LoraRank, options.LoraSeed is { } seed ? unchecked((long)seed) : null) : null;
        var request = new CreateModelRequest(c.SessionId, c.NextModelSeq(), options.BaseModel, Metadata(settings.Optimizer), lora);
        var created = c.Call<CreateModelResponse>("api/v1/create_model", request, $"create_model of {options.BaseModel}");
        return new TinkerTrainingModel(c, created.ModelId, settings);
    }

    /// <summary>
    /// Adam's betas, eps and weight decay as user_metadata too: optim_step carries them on every step, and a server
    /// whose optimizer settings are fixed when the model is made (ours: the seam's TrainingSettings) reads them here.
    /// </summary>
    private static Dictionary<string, string> Metadata(OptimizerSettings o) => new()
    {
        ["client"] = "pacs",
        ["adam_beta1"] = o.Beta1.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        ["adam_beta2"] = o.Beta2.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        ["adam_eps"] = o.Epsilon.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        ["weight_decay"] = o.WeightDecay.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
    };

    public ITrainableModel CreatePolicy(ModelSpec spec, ulong seed, TrainingSettings settings) =>
        throw new NotSupportedException("engine tinker trains adapters of the service's base models; `pacs sft` from scratch runs on the managed engine");

    public ITrainableModel CreateCritic(string modelDir, int headRow, TrainingSettings settings, ITrainableModel? policy = null) =>
        throw new NotSupportedException("engine tinker: the Tinker API has no value head, so algorithms with a critic (ppo, vineppo's critic) run on the managed engine");

    /// <summary>The initial reference: a second model of the same base that is never stepped (a fresh LoRA adapter is the base model).</summary>
    public IScorer LoadFrozen(string modelDir, WeightDtype dtype = WeightDtype.Auto) => CreateModel(new TrainingSettings(new OptimizerSettings()));

    public IRolloutEngine CreateRollout(ITrainableModel policy) => policy is TinkerTrainingModel tinker
        ? new TinkerRollout(Connection, tinker)
        : throw new ArgumentException($"the tinker rollout engine samples from a tinker policy, got {policy.GetType().Name}");

    public IRolloutEngine LoadRollout(string modelDir, WeightDtype dtype = WeightDtype.Auto) => new TinkerRollout(Connection, options.BaseModel);

    public void Dispose()
    {
        if (_connection.IsValueCreated) _connection.Value.Dispose();
    }
}

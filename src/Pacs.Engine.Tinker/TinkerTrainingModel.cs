using System.Text.Json;

namespace Pacs.Engine.Tinker;

/// <summary>
/// A policy trained on a Tinker server. Forward is the API's `forward` (log-probs of each target token). A custom
/// loss is the trainer's own: Backward keeps d loss / d log-prob, and the gradient reaches the server as
/// `forward_backward` with loss `cross_entropy` and per-token weights = -d loss / d log-prob (that loss is
/// -sum(weights * log-prob), so its gradient is ours). The passes of a mini-batch are sent when the trainer clips
/// (before the step), one request per micro-batch, so a step the trainer skips (a non-finite loss) never reaches the
/// server. A built-in loss (BackwardBuiltIn) is one `forward_backward` with that loss, sent at once. Step is `optim_step`.
/// </summary>
public sealed class TinkerTrainingModel : ITrainableModel, IBuiltInLossModel
{
    /// <summary>Metric our server adds to forward_backward: the global norm of the gradients accumulated so far.</summary>
    public const string GradNormMetric = "pacs/grad_norm";

    /// <summary>Metric our server adds to optim_step when the engine refused the step (non-finite gradients).</summary>
    public const string StepRefusedMetric = "pacs/step_refused";

    /// <summary>Extra loss_fn_output of our server's forward: the entropy of each target position.</summary>
    public const string EntropyOutput = "entropy";

    private readonly TinkerConnection _connection;
    private readonly TrainingSettings _settings;
    private readonly List<Datum[]> _pending = [];
    private bool _serverHoldsGradients;
    private double _gradNorm;
    private double _clip;
    private int _seq;
    private int _snapshots;

    internal TinkerTrainingModel(TinkerConnection connection, string modelId, TrainingSettings settings)
    {
        _connection = connection;
        ModelId = modelId;
        _settings = settings;
    }

    public string ModelId { get; }

    public ModelOutputKind OutputKind => ModelOutputKind.LogProbs;

    /// <summary>Unknown to the client (the server holds the adapter); 0.</summary>
    public long TrainableParameterCount => 0;

    public long StepCount { get; private set; }

    /// <summary>Round trips so far, by route (docs/tinker.md's cost table is checked against it).</summary>
    public Dictionary<string, int> RoundTrips { get; } = [];

    public float[][] Score(IPackedRows rows, float temperature) => Forward(rows, temperature, withGradients: false).Outputs;

    public ITokenPass Forward(IPackedRows rows, float temperature, bool withEntropy = false, bool withGradients = true)
    {
        if (temperature != 1f)
            throw new ArgumentException($"engine tinker: the API's forward gives log-probs at temperature 1, asked for {temperature} (set rollout.temperature=1)");
        var packed = TinkerPackedRows.Unwrap(rows);
        var data = Enumerable.Range(0, packed.Count).Select(r => packed.ToDatum(r, new float[packed.Responses[r].Length])).ToArray();
        var output = Send<ForwardBackwardOutput>("forward", new ForwardRequest(new ForwardBackwardInput(data, "cross_entropy"), ModelId, NextSeq()));
        var logProbs = PerRow(packed, output, "logprobs") ?? throw new TinkerException($"tinker forward of {ModelId}: no logprobs in loss_fn_outputs");
        var entropy = withEntropy ? PerRow(packed, output, EntropyOutput) : null;
        return new TinkerPass(this, packed, logProbs, entropy, withGradients);
    }

    private static float[][]? PerRow(TinkerPackedRows packed, ForwardBackwardOutput output, string key)
    {
        if (output.LossFnOutputs.Count == 0) return null;
        if (output.LossFnOutputs.Count != packed.Count)
            throw new TinkerException($"tinker forward: {output.LossFnOutputs.Count} outputs for {packed.Count} rows");
        if (!output.LossFnOutputs.All(o => o.ContainsKey(key))) return null;
        return output.LossFnOutputs.Select((o, r) => packed.ResponsePart(r, o[key].ToFloats())).ToArray();
    }

    /// <summary>Keeps one micro-batch's weights = -d loss / d log-prob, to be sent before the step.</summary>
    internal void AddGradient(TinkerPackedRows packed, float[][] gradOutputs, double scale)
    {
        _pending.Add(Enumerable.Range(0, packed.Count)
            .Select(r => packed.ToDatum(r, Array.ConvertAll(gradOutputs[r], g => (float)(-g * scale))))
            .ToArray());
    }

    /// <summary>
    /// `forward_backward` with the built-in loss (loss_fn ppo / cispo / importance_sampling; loss_fn_inputs
    /// target_tokens, logprobs = the old log-probs, advantages; loss_fn_config clip_low_threshold /
    /// clip_high_threshold), sent now: the server's loss needs no forward of ours, and its loss:sum, per-target
    /// logprobs (and our server's entropy) come back with the gradient.
    /// </summary>
    public BuiltInLossResult BackwardBuiltIn(IPackedRows rows, BuiltInLoss loss)
    {
        var packed = TinkerPackedRows.Unwrap(rows);
        if (loss.OldLogProbs.Length != packed.Count || loss.Advantages.Length != packed.Count)
            throw new ArgumentException($"tinker {loss.WireName} of {ModelId}: {loss.OldLogProbs.Length} rows of log-probs and {loss.Advantages.Length} of advantages for {packed.Count} rows");
        var data = Enumerable.Range(0, packed.Count).Select(r => packed.ToBuiltInDatum(r, loss.OldLogProbs[r], loss.Advantages[r])).ToArray();
        var config = loss.Kind == BuiltInLossKind.ImportanceSampling ? null
            : new Dictionary<string, double> { ["clip_low_threshold"] = loss.ClipLow, ["clip_high_threshold"] = loss.ClipHigh };
        var output = Send<ForwardBackwardOutput>("forward_backward", new ForwardBackwardRequest(new ForwardBackwardInput(data, loss.WireName, config), ModelId, NextSeq()));
        _serverHoldsGradients = true;
        if (output.Metrics.TryGetValue(GradNormMetric, out double norm)) _gradNorm = norm;
        double sum = output.Metrics.TryGetValue("loss:sum", out double reported) ? reported : double.NaN;
        return new BuiltInLossResult(sum, PerRow(packed, output, "logprobs"), PerRow(packed, output, EntropyOutput));
    }

    public void ZeroGrad()
    {
        _pending.Clear();
        if (_serverHoldsGradients)
            throw new TinkerException($"tinker model {ModelId}: the trainer dropped a step whose gradients the server already holds, and the Tinker API cannot clear them without a step; resume the run from its last checkpoint");
        _gradNorm = 0;
    }

    /// <summary>
    /// Sends the mini-batch's passes; the norm is the server's report (our server's pacs/grad_norm), 0 from a server
    /// that does not report one. The clip is applied by the server in optim_step (adam_params.grad_clip_norm).
    /// </summary>
    public double ClipGradNorm(double maxNorm)
    {
        Flush();
        _clip = Math.Max(0, maxNorm);
        return _gradNorm;
    }

    private void Flush()
    {
        foreach (var data in _pending)
        {
            var output = Send<ForwardBackwardOutput>("forward_backward",
                new ForwardBackwardRequest(new ForwardBackwardInput(data, "cross_entropy"), ModelId, NextSeq()));
            _serverHoldsGradients = true;
            if (output.Metrics.TryGetValue(GradNormMetric, out double norm)) _gradNorm = norm;
        }
        _pending.Clear();
    }

    public bool Step(double learningRate)
    {
        Flush();
        var o = _settings.Optimizer;
        var adam = new AdamParams(learningRate, o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay, _clip);
        var response = Send<OptimStepResponse>("optim_step", new OptimStepRequest(adam, ModelId, NextSeq()));
        _serverHoldsGradients = false;
        _clip = 0;
        if (response.Metrics is { } m && m.TryGetValue(StepRefusedMetric, out double refused) && refused != 0) return false;
        StepCount++;
        return true;
    }

    /// <summary>A saved training state on the server (save_weights), loaded back by Restore.</summary>
    public ITrainingSnapshot Snapshot()
    {
        string path = SaveWeights($"pacs-undo-{_snapshots++}-{Guid.NewGuid():N}");
        return new RemoteSnapshot(this, path, StepCount);
    }

    private sealed class RemoteSnapshot(TinkerTrainingModel model, string path, long steps) : ITrainingSnapshot
    {
        public void Restore()
        {
            model.LoadWeights(path);
            model.StepCount = steps;
        }
    }

    public void SaveHuggingFace(string dir) =>
        throw new NotSupportedException($"tinker model {ModelId}: the weights live on the server; export them there (its checkpoint archive) rather than to {dir}");

    /// <summary>File beside `model/` in a checkpoint naming the server's saved state.</summary>
    public const string StateFile = "tinker_state.json";

    /// <summary>save_weights on the server; the checkpoint keeps its tinker:// path and the step count.</summary>
    public void SaveState(string dir)
    {
        string path = SaveWeights($"step-{StepCount:D6}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(dir, CheckpointLayout.ModelFolder));
        var state = new Dictionary<string, object> { ["path"] = path, ["model_id"] = ModelId, ["step_count"] = StepCount, ["base_model"] = _connection.Options.BaseModel };
        AtomicFile.WriteAllText(Path.Combine(dir, StateFile), JsonSerializer.Serialize(state));
    }

    public void LoadState(string dir)
    {
        string file = Path.Combine(dir, StateFile);
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: not a tinker checkpoint (the run was trained with another engine?)", file);
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var root = doc.RootElement;
        string path = root.TryGetProperty("path", out var p) ? p.GetString() ?? "" : throw new InvalidDataException($"{file}: no 'path'");
        LoadWeights(path);
        StepCount = root.GetProperty("step_count").GetInt64();
    }

    private string SaveWeights(string name) =>
        Send<SaveWeightsResponse>("save_weights", new SaveWeightsRequest(ModelId, name, NextSeq())).Path;

    private void LoadWeights(string path) => Send<LoadWeightsResponse>("load_weights", new LoadWeightsRequest(ModelId, path, NextSeq()));

    private T Send<T>(string route, object body)
    {
        RoundTrips[route] = RoundTrips.GetValueOrDefault(route) + 1;
        return _connection.Call<T>("api/v1/" + route, body, $"{route} of model {ModelId}");
    }

    /// <summary>The training client's request counter (the SDK's seq_id = request id + 1), shared with its sampler publishing.</summary>
    internal int NextSeq() => ++_seq;
}

/// <summary>A forward's log-probs; Backward hands d loss / d log-prob to the model, which sends it before the step.</summary>
internal sealed class TinkerPass(TinkerTrainingModel model, TinkerPackedRows rows, float[][] outputs, float[][]? entropy, bool withGradients) : ITokenPass
{
    public float[][] Outputs { get; } = outputs;

    public float[][]? Entropy { get; } = entropy;

    public void Backward(float[][] gradOutputs, double scale = 1)
    {
        if (!withGradients) throw new InvalidOperationException("this pass was made without gradients");
        model.AddGradient(rows, gradOutputs, scale);
    }

    public void Dispose()
    {
    }
}

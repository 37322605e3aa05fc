using Pacs.Engine;
using Pacs.Models;
using Pacs.Tensors;
using Pacs.Tensors.Optim;

namespace Pacs.Engine.Managed;

/// <summary>
/// A <see cref="Transformer"/> under training with its <see cref="AdamW"/>: the policy (outputs are the log-probs
/// of the response tokens) or PPO's critic (outputs are values: the output-layer row <see cref="ValueHeadRow"/>
/// read as a bias-free linear value head on the final normed hidden state). With <see cref="TrainingSettings.Lora"/>
/// the base weights are frozen (no gradients, no optimizer state) and only the adapter trains; the base with the
/// adapter off is <see cref="FrozenBase"/>, and checkpoints hold the adapter alone (a PEFT folder naming the base).
/// A LoRA critic's value head is a float32 row of its own (<see cref="ValueHeadFile"/>, TRL's `v_head.summary.weight`),
/// trained with the adapter: the output layer it would otherwise be a row of is frozen.
/// </summary>
public sealed class ManagedModel : ITrainableModel
{
    internal const string OptimizerFile = "optimizer.bin";

    private readonly AdamW _optimizer;
    private readonly List<Tensor> _parameters;

    /// <param name="baseDir">The folder the weights came from: a LoRA adapter names it as its base.</param>
    internal ManagedModel(Transformer model, TrainingSettings settings, int? valueHeadRow = null, string? baseDir = null)
    {
        Model = model;
        ValueHeadRow = valueHeadRow;
        _baseDir = baseDir is null ? "" : Path.GetFullPath(baseDir);
        Dtype = settings.Dtype;
        model.GradientCheckpointing = settings.GradientCheckpointing;
        _logitsChunkRows = settings.LogitsChunkRows;
        foreach (var (name, p) in model.Parameters) p.Name ??= name;
        if (settings.Lora is { } lora)
        {
            Adapter = AttachAdapter(model, lora);
            _frozenBase = new ManagedScorer(model, withAdapter: false, settings.LogitsChunkRows);
        }
        // Starts at zero, as the full critic's head row does: every initial value is 0.
        if (Adapter is not null && valueHeadRow is not null)
            _valueHead = Tensor.Parameter(new float[model.Config.HiddenSize], [1, model.Config.HiddenSize], ValueHeadName);
        // Tied embeddings appear once: each tensor gets one optimizer state.
        _parameters = Adapter is not null ? [.. Adapter.Parameters.Select(p => p.Value), .. _valueHead is null ? [] : new[] { _valueHead }]
            : model.Parameters.Select(p => p.Value).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>().ToList();
        var o = settings.Optimizer;
        _optimizer = new AdamW(ParameterGroup.DecayAndNoDecay(_parameters, o.WeightDecay), new AdamWOptions
        {
            Beta1 = o.Beta1,
            Beta2 = o.Beta2,
            Epsilon = o.Epsilon,
            WeightDecay = o.WeightDecay,
            SkipNonFinite = true,
        });
    }

    /// <summary>The model itself (benchmarks and tests of the managed engine read it; the trainer never does).</summary>
    public Transformer Model { get; }

    /// <summary>The LoRA adapter being trained (also <see cref="Transformer.Adapter"/> of <see cref="Model"/>); null for full fine-tuning.</summary>
    public LoraAdapter? Adapter { get; }

    public IScorer? FrozenBase => _frozenBase;

    /// <summary>The folder the weights came from (full path; empty for a model made in memory).</summary>
    internal string BaseDir => _baseDir;

    /// <summary>`model.dtype` as asked when the weights were loaded.</summary>
    internal WeightDtype Dtype { get; }

    /// <summary>A LoRA critic's value head, next to its adapter in a checkpoint's model folder.</summary>
    public const string ValueHeadFile = "value_head.safetensors";

    /// <summary>The value head's tensor name: TRL's (AutoModelForCausalLMWithValueHead), without the bias it does not have.</summary>
    public const string ValueHeadName = "v_head.summary.weight";

    private readonly ManagedScorer? _frozenBase;
    private readonly Tensor? _valueHead;
    private readonly int _logitsChunkRows;
    private readonly string _baseDir;

    /// <summary>Name of the dropout pass counter in the optimizer state file (a resumed run draws the same masks).</summary>
    private const string DropoutPassesEntry = "lora.dropout_passes";

    /// <summary>Freezes every base weight and attaches a fresh adapter (B = 0: the model's outputs do not change).</summary>
    private static LoraAdapter AttachAdapter(Transformer model, LoraSettings lora)
    {
        foreach (var (_, p) in model.Parameters) p.RequiresGrad = false;
        var config = new LoraConfig(lora.Rank, lora.Alpha, lora.Dropout, LoraTargets.Parse(lora.TargetModules, "model.lora.target_modules"));
        config.Validate("model.lora");
        return model.Adapter = LoraAdapter.Create(model, config, lora.Seed);
    }

    /// <summary>For a critic, the output row read as the value; null for a policy.</summary>
    public int? ValueHeadRow { get; }

    public ModelOutputKind OutputKind => ValueHeadRow is null ? ModelOutputKind.LogProbs : ModelOutputKind.Values;

    public long TrainableParameterCount => _parameters.Sum(p => (long)p.Numel);

    public long StepCount => _optimizer.StepCount;

    /// <summary>Bytes of AdamW's moments (benchmarks: full fine-tuning against LoRA).</summary>
    public long OptimizerStateBytes => _optimizer.StateBytes;

    /// <summary>Bytes of the gradient buffers allocated for the trainable parameters (none for a frozen base).</summary>
    public long GradientBytes => Model.Parameters.Select(p => p.Value).Concat(_parameters)
        .Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>().Sum(p => 4L * (p.Grad?.Length ?? 0));

    public ITokenPass Forward(IPackedRows rows, float temperature, bool withEntropy = false, bool withGradients = true)
    {
        var packed = ManagedBackend.Unwrap(rows);
        return ManagedPass.Run(packed, withGradients, () => ValueHeadRow is { } row
            ? (Values(packed, row), null)
            : ModelPasses.LogProbs(Model, packed, temperature, withEntropy: withEntropy, logitsChunkRows: _logitsChunkRows));
    }

    public float[][] Score(IPackedRows rows, float temperature)
    {
        using var pass = Forward(rows, temperature, withEntropy: false, withGradients: false);
        return pass.Outputs;
    }

    public void ZeroGrad() => _optimizer.ZeroGrad();

    public double ClipGradNorm(double maxNorm) =>
        maxNorm > 0 ? GradientTools.ClipGlobalNorm(_parameters, maxNorm) : GradientTools.GlobalNorm(_parameters);

    public bool Step(double learningRate)
    {
        _optimizer.LearningRate = learningRate;
        return !_optimizer.Step().Skipped;
    }

    public ITrainingSnapshot Snapshot() => new WeightsAndMoments(this);

    public void SaveHuggingFace(string dir)
    {
        if (Adapter is not null) PeftAdapter.Save(Adapter, dir, _baseDir);
        else Model.Save(dir);
        if (_valueHead is not null)
            SafetensorsFile.Write(Path.Combine(dir, ValueHeadFile), [new NamedArray(ValueHeadName, _valueHead.Shape, _valueHead.Data)]);
    }

    public void SaveState(string dir)
    {
        SaveHuggingFace(Path.Combine(dir, CheckpointLayout.ModelFolder));
        var state = _optimizer.ExportState(copy: false).Select(kv => (kv.Key, kv.Value)).ToList();
        if (Adapter is not null) state.Add((DropoutPassesEntry, [Adapter.DropoutPasses]));
        StateFile.Write(Path.Combine(dir, OptimizerFile), state);
    }

    public void LoadState(string dir)
    {
        string modelDir = Path.Combine(dir, CheckpointLayout.ModelFolder);
        var state = StateFile.Read(Path.Combine(dir, OptimizerFile));
        if (Adapter is null) Model.ReadWeights(modelDir);
        else
        {
            ReadAdapter(modelDir);
            var passes = new float[1];
            StateFile.CopyInto(state, DropoutPassesEntry, passes, Path.Combine(dir, OptimizerFile));
            Adapter.DropoutPasses = (long)passes[0];
            if (_valueHead is not null) ReadValueHead(Path.Combine(modelDir, ValueHeadFile));
        }
        _optimizer.ImportState(state);
    }

    /// <summary>Reads a checkpoint's adapter into this model's adapter in place; its settings must be this run's.</summary>
    private void ReadAdapter(string modelDir)
    {
        var (config, _) = PeftAdapter.ReadConfig(modelDir);
        var own = Adapter!.Config;
        if (config.Rank != own.Rank || config.Alpha != own.Alpha || !config.Targets.SequenceEqual(own.Targets))
            throw new InvalidDataException($"{modelDir}: the checkpoint's adapter (r {config.Rank}, lora_alpha {config.Alpha}, target_modules {string.Join(" ", config.Targets.Select(LoraTargets.Name))}) is not this run's model.lora");
        var stored = PeftAdapter.Load(modelDir, Model);
        for (int i = 0; i < stored.Parameters.Count; i++) stored.Parameters[i].Value.Data.CopyTo(Adapter.Parameters[i].Value.Data, 0);
    }

    private void ReadValueHead(string path)
    {
        using var file = SafetensorsFile.Open(path);
        var entry = file.Entry(ValueHeadName);
        if (!entry.Shape.AsSpan().SequenceEqual(_valueHead!.Shape))
            throw new InvalidDataException($"{path}: tensor '{ValueHeadName}' has shape {Shapes.Format(entry.Shape)}, this critic's is {Shapes.Format(_valueHead.Shape)}");
        file.ReadInto(ValueHeadName, _valueHead.Data);
    }

    /// <summary>
    /// Values at every position: [B*T], the logits' column <paramref name="row"/>, computed from that one row of the
    /// output layer rather than cut from the [B*T, V] logits (a vocabulary's worth of work and memory per position);
    /// a LoRA critic reads its own head instead.
    /// </summary>
    private Tensor Values(PackedSequences packed, int row)
    {
        var hidden = Model.FinalHidden(packed.Tokens, packed.Batch, packed.SeqLen, packed.ValidLengths, Model.Adapter); // [B*T, D]
        var head = _valueHead ?? Ops.SliceRows(Model.LmHead, row, 1);                                                  // [1, D]
        return Ops.Reshape(Ops.Linear(hidden, head), packed.Batch * packed.SeqLen);                                     // [B*T]
    }

    private sealed class WeightsAndMoments : ITrainingSnapshot
    {
        private readonly ManagedModel _owner;
        private readonly float[][] _weights;
        private readonly IReadOnlyDictionary<string, float[]> _optimizer;

        public WeightsAndMoments(ManagedModel owner)
        {
            _owner = owner;
            _weights = owner._parameters.Select(p => (float[])p.Data.Clone()).ToArray();
            _optimizer = owner._optimizer.ExportState();
        }

        public void Restore()
        {
            for (int i = 0; i < _weights.Length; i++) _weights[i].CopyTo(_owner._parameters[i].Data, 0);
            _owner._optimizer.ImportState(_optimizer);
        }
    }
}

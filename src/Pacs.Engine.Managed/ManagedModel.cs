using Pacs.Engine;
using Pacs.Models;
using Pacs.Tensors;
using Pacs.Tensors.Optim;

namespace Pacs.Engine.Managed;

/// <summary>
/// A <see cref="Transformer"/> under training with its <see cref="AdamW"/>: the policy (outputs are the log-probs
/// of the response tokens) or PPO's critic (outputs are values: the output-layer row <see cref="ValueHeadRow"/>
/// read as a bias-free linear value head on the final normed hidden state).
/// </summary>
public sealed class ManagedModel : ITrainableModel
{
    internal const string OptimizerFile = "optimizer.bin";

    private readonly AdamW _optimizer;
    private readonly List<Tensor> _parameters;

    internal ManagedModel(Transformer model, TrainingSettings settings, int? valueHeadRow = null)
    {
        Model = model;
        ValueHeadRow = valueHeadRow;
        model.GradientCheckpointing = settings.GradientCheckpointing;
        foreach (var (name, p) in model.Parameters) p.Name ??= name;
        // Tied embeddings appear once: each tensor gets one optimizer state.
        _parameters = model.Parameters.Select(p => p.Value).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>().ToList();
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

    /// <summary>For a critic, the output row read as the value; null for a policy.</summary>
    public int? ValueHeadRow { get; }

    public ModelOutputKind OutputKind => ValueHeadRow is null ? ModelOutputKind.LogProbs : ModelOutputKind.Values;

    public long TrainableParameterCount => _parameters.Sum(p => (long)p.Numel);

    public long StepCount => _optimizer.StepCount;

    public ITokenPass Forward(IPackedRows rows, float temperature, bool withEntropy = false, bool withGradients = true)
    {
        var packed = ManagedBackend.Unwrap(rows);
        return ManagedPass.Run(packed, withGradients, () => ValueHeadRow is { } row
            ? (Values(packed, row), null)
            : ModelPasses.LogProbs(Model, packed, temperature), temperature, withEntropy && ValueHeadRow is null);
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

    public void SaveHuggingFace(string dir) => Model.Save(dir);

    public void SaveState(string dir)
    {
        Model.Save(Path.Combine(dir, CheckpointLayout.ModelFolder));
        StateFile.Write(Path.Combine(dir, OptimizerFile), _optimizer.ExportState().Select(kv => (kv.Key, kv.Value)).ToList());
    }

    public void LoadState(string dir)
    {
        Model.ReadWeights(Path.Combine(dir, CheckpointLayout.ModelFolder));
        _optimizer.ImportState(StateFile.Read(Path.Combine(dir, OptimizerFile)));
    }

    /// <summary>Values at every position: [B*T], the logits' column <paramref name="row"/>.</summary>
    private Tensor Values(PackedSequences packed, int row)
    {
        var logits = Model.Forward(packed.Tokens, packed.Batch, packed.SeqLen, packed.ValidLengths); // [B*T, V]
        var column = Ops.Slice(logits, 1, row, 1);                                                  // [B*T, 1]
        return Ops.Reshape(column, packed.Batch * packed.SeqLen);                                   // [B*T]
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

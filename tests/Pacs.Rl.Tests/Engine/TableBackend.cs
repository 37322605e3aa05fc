using System.Text.Json;
using Pacs.Text;

namespace Pacs.Rl.Tests.Engine;

/// <summary>
/// An in-memory engine behind the seam, with no transformer: the policy is a table of logits, one row per response
/// position (positions past the table reuse its last row), whatever the prompt: a bandit. The critic is a table of
/// one value per position. Log-probs, entropies and gradients are exact, computed in double, so trainer tests run
/// through the seam in milliseconds. A model folder only lends its tokenizer (vocabulary size).
/// </summary>
internal sealed class TableBackend(int positions = 8) : IEngineBackend
{
    public int Positions { get; } = positions;

    /// <summary>Rows packed so far (a step packs each row once for all its no-grad passes).</summary>
    public int PackedRows { get; private set; }

    public IPackedRows Pack(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId)
    {
        PackedRows += responses.Count;
        return new TableRows(prompts, responses);
    }

    public ModelInfo Describe(string modelDir)
    {
        int vocab = TokenizerFiles.Load(modelDir).VocabSize;
        return new ModelInfo(vocab, 4096);
    }

    public ITrainableModel LoadPolicy(string modelDir, TrainingSettings settings) => new TableModel(Positions, Describe(modelDir).VocabSize, valueHead: false, settings.Optimizer);

    public ITrainableModel CreatePolicy(ModelSpec spec, ulong seed, TrainingSettings settings) => new TableModel(Positions, spec.VocabSize, valueHead: false, settings.Optimizer);

    public ITrainableModel CreateCritic(string modelDir, int headRow, TrainingSettings settings, ITrainableModel? policy = null) => new TableModel(Positions, Describe(modelDir).VocabSize, valueHead: true, settings.Optimizer);

    public IScorer LoadFrozen(string modelDir, WeightDtype dtype = WeightDtype.Auto) => LoadPolicy(modelDir, new TrainingSettings(new OptimizerSettings()));

    public IRolloutEngine CreateRollout(ITrainableModel policy) => new TableRollout((TableModel)policy);

    public IRolloutEngine LoadRollout(string modelDir, WeightDtype dtype = WeightDtype.Auto) => new TableRollout((TableModel)LoadPolicy(modelDir, new TrainingSettings(new OptimizerSettings())));
}

internal sealed record TableRows(IReadOnlyList<int[]> Prompts, IReadOnlyList<int[]> Responses) : IPackedRows
{
    public int Count => Responses.Count;

    public IReadOnlyList<int> ResponseLengths => Responses.Select(r => r.Length).ToArray();

    public long TotalTokens => Prompts.Sum(p => (long)p.Length) + Responses.Sum(r => (long)r.Length);
}

/// <summary>theta [positions, vocab] (policy) or [positions, 1] (critic), trained by Adam.</summary>
internal sealed class TableModel : ITrainableModel
{
    private readonly OptimizerSettings _optimizer;
    private double[] _m;
    private double[] _v;

    public TableModel(int positions, int vocab, bool valueHead, OptimizerSettings optimizer)
    {
        Positions = positions;
        Width = valueHead ? 1 : vocab;
        OutputKind = valueHead ? ModelOutputKind.Values : ModelOutputKind.LogProbs;
        Theta = new double[positions * Width];
        Grad = new double[Theta.Length];
        _m = new double[Theta.Length];
        _v = new double[Theta.Length];
        _optimizer = optimizer;
    }

    public int Positions { get; }

    public int Width { get; }

    public double[] Theta { get; private set; }

    public double[] Grad { get; }

    public ModelOutputKind OutputKind { get; }

    public long TrainableParameterCount => Theta.Length;

    public long StepCount { get; private set; }

    public int Row(int position) => Math.Min(position, Positions - 1);

    /// <summary>softmax(theta[row] / temperature).</summary>
    public double[] Probabilities(int row, float temperature)
    {
        var p = new double[Width];
        double max = double.NegativeInfinity;
        for (int v = 0; v < Width; v++) max = Math.Max(max, Theta[row * Width + v] / temperature);
        double z = 0;
        for (int v = 0; v < Width; v++) z += p[v] = Math.Exp(Theta[row * Width + v] / temperature - max);
        for (int v = 0; v < Width; v++) p[v] /= z;
        return p;
    }

    public ITokenPass Forward(IPackedRows rows, float temperature, bool withEntropy = false, bool withGradients = true) =>
        new TablePass(this, (TableRows)rows, temperature, withEntropy, withGradients);

    /// <summary>No-grad passes scored so far (old log-probs, reference or values).</summary>
    public int ScoreCalls { get; private set; }

    public float[][] Score(IPackedRows rows, float temperature)
    {
        ScoreCalls++;
        using var pass = Forward(rows, temperature, withGradients: false);
        return pass.Outputs;
    }

    public void ZeroGrad() => Array.Clear(Grad);

    public double ClipGradNorm(double maxNorm)
    {
        double norm = Math.Sqrt(Grad.Sum(g => g * g));
        if (maxNorm > 0 && norm > maxNorm)
            for (int i = 0; i < Grad.Length; i++) Grad[i] *= maxNorm / (norm + 1e-6);
        return norm;
    }

    public bool Step(double learningRate)
    {
        if (Grad.Any(g => !double.IsFinite(g))) return false;
        StepCount++;
        double b1 = _optimizer.Beta1, b2 = _optimizer.Beta2;
        for (int i = 0; i < Theta.Length; i++)
        {
            _m[i] = b1 * _m[i] + (1 - b1) * Grad[i];
            _v[i] = b2 * _v[i] + (1 - b2) * Grad[i] * Grad[i];
            double mHat = _m[i] / (1 - Math.Pow(b1, StepCount)), vHat = _v[i] / (1 - Math.Pow(b2, StepCount));
            Theta[i] -= learningRate * mHat / (Math.Sqrt(vHat) + _optimizer.Epsilon);
        }
        return true;
    }

    public ITrainingSnapshot Snapshot() => new TableSnapshot(this, (double[])Theta.Clone(), (double[])_m.Clone(), (double[])_v.Clone(), StepCount);

    public void SaveHuggingFace(string dir)
    {
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, "table.json"), JsonSerializer.Serialize(Theta));
    }

    public void SaveState(string dir)
    {
        SaveHuggingFace(Path.Combine(dir, CheckpointLayout.ModelFolder));
        AtomicFile.WriteAllText(Path.Combine(dir, "adam.json"), JsonSerializer.Serialize(new[] { _m, _v, [StepCount] }));
    }

    public void LoadState(string dir)
    {
        Theta = JsonSerializer.Deserialize<double[]>(File.ReadAllText(Path.Combine(dir, CheckpointLayout.ModelFolder, "table.json")))!;
        var adam = JsonSerializer.Deserialize<double[][]>(File.ReadAllText(Path.Combine(dir, "adam.json")))!;
        (_m, _v, StepCount) = (adam[0], adam[1], (long)adam[2][0]);
    }

    private sealed record TableSnapshot(TableModel Model, double[] Theta, double[] M, double[] V, long Steps) : ITrainingSnapshot
    {
        public void Restore()
        {
            Theta.CopyTo(Model.Theta, 0);
            Model._m = (double[])M.Clone();
            Model._v = (double[])V.Clone();
            Model.StepCount = Steps;
        }
    }
}

internal sealed class TablePass : ITokenPass
{
    private readonly TableModel _model;
    private readonly TableRows _rows;
    private readonly float _temperature;
    private readonly bool _withGradients;

    public TablePass(TableModel model, TableRows rows, float temperature, bool withEntropy, bool withGradients)
    {
        _model = model;
        _rows = rows;
        _temperature = temperature;
        _withGradients = withGradients;
        Outputs = new float[rows.Count][];
        Entropy = withEntropy && model.OutputKind == ModelOutputKind.LogProbs ? new float[rows.Count][] : null;
        for (int r = 0; r < rows.Count; r++)
        {
            var response = rows.Responses[r];
            Outputs[r] = new float[response.Length];
            if (Entropy is not null) Entropy[r] = new float[response.Length];
            for (int t = 0; t < response.Length; t++)
            {
                int row = model.Row(t);
                if (model.OutputKind == ModelOutputKind.Values)
                {
                    Outputs[r][t] = (float)model.Theta[row];
                    continue;
                }
                var p = model.Probabilities(row, temperature);
                Outputs[r][t] = (float)Math.Log(p[response[t]]);
                if (Entropy is not null) Entropy[r][t] = (float)-p.Sum(q => q > 0 ? q * Math.Log(q) : 0);
            }
        }
    }

    public float[][] Outputs { get; }

    public float[][]? Entropy { get; }

    public void Backward(float[][] gradOutputs, double scale = 1.0)
    {
        if (!_withGradients) throw new InvalidOperationException("this forward pass was made without gradients");
        int width = _model.Width;
        for (int r = 0; r < _rows.Count; r++)
        {
            var response = _rows.Responses[r];
            for (int t = 0; t < response.Length; t++)
            {
                double g = gradOutputs[r][t] * scale;
                int row = _model.Row(t);
                if (_model.OutputKind == ModelOutputKind.Values)
                {
                    _model.Grad[row] += g;
                    continue;
                }
                // d log p_v / d theta_u = (1[u = v] - p_u) / T
                var p = _model.Probabilities(row, _temperature);
                for (int u = 0; u < width; u++) _model.Grad[row * width + u] += g * ((u == response[t] ? 1 : 0) - p[u]) / _temperature;
            }
        }
    }

    public void Dispose()
    {
    }
}

/// <summary>Samples from the policy's table: token t from softmax(theta[t] / T), one seeded stream per request.</summary>
internal sealed class TableRollout(TableModel policy) : IRolloutEngine
{
    public RolloutTraits Traits { get; } = new(LogProbsMatchTrainer: false, Reproducible: true);

    public long WeightVersion { get; private set; }

    public int SyncCount { get; private set; }

    public IReadOnlyList<RolloutResult> Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancel = default) =>
        requests.Select(Sample).ToList();

    public void SyncWeights(ITrainableModel policy, long version)
    {
        WeightVersion = version;
        SyncCount++;
    }

    private RolloutResult Sample(RolloutRequest request)
    {
        var rng = new Rng(request.Seed);
        var tokens = new List<int>();
        var logProbs = new List<float>();
        var stop = request.Sampling.StopTokenIds.ToHashSet();
        for (int t = 0; t < request.Sampling.MaxTokens; t++)
        {
            var p = policy.Probabilities(policy.Row(t), request.Sampling.Temperature);
            double u = (rng.NextUInt64() >> 11) * (1.0 / (1UL << 53)), cumulative = 0;
            int token = p.Length - 1;
            for (int v = 0; v < p.Length; v++)
                if ((cumulative += p[v]) > u) { token = v; break; }
            tokens.Add(token);
            logProbs.Add((float)Math.Log(p[token]));
            if (stop.Contains(token)) return new RolloutResult([.. tokens], [.. logProbs], FinishReason.Stop, WeightVersion);
        }
        return new RolloutResult([.. tokens], [.. logProbs], FinishReason.Length, WeightVersion);
    }
}

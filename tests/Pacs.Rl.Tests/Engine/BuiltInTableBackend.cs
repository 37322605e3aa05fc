namespace Pacs.Rl.Tests.Engine;

/// <summary>
/// The table bandit with a policy that also takes built-in losses (<see cref="IBuiltInLossModel"/>), as a Tinker
/// server does: one pass over the rows, the loss's gradient from <see cref="BuiltInLosses.Token"/>, the log-probs and
/// entropy reported back. Counts the policy's forward passes with gradients (the update's) and built-in backwards.
/// </summary>
internal sealed class BuiltInTableBackend(int positions = 8) : IEngineBackend
{
    private readonly TableBackend _table = new(positions);

    public IPackedRows Pack(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId) => _table.Pack(prompts, responses, padId);

    public ModelInfo Describe(string modelDir) => _table.Describe(modelDir);

    public ITrainableModel LoadPolicy(string modelDir, TrainingSettings settings) => new BuiltInTableModel((TableModel)_table.LoadPolicy(modelDir, settings));

    public ITrainableModel CreatePolicy(ModelSpec spec, ulong seed, TrainingSettings settings) => new BuiltInTableModel((TableModel)_table.CreatePolicy(spec, seed, settings));

    public ITrainableModel CreateCritic(string modelDir, int headRow, TrainingSettings settings, ITrainableModel? policy = null) => _table.CreateCritic(modelDir, headRow, settings);

    public IScorer LoadFrozen(string modelDir, WeightDtype dtype = WeightDtype.Auto) => _table.LoadFrozen(modelDir, dtype);

    public IRolloutEngine CreateRollout(ITrainableModel policy) => _table.CreateRollout(((BuiltInTableModel)policy).Table);

    public IRolloutEngine LoadRollout(string modelDir, WeightDtype dtype = WeightDtype.Auto) => _table.LoadRollout(modelDir, dtype);
}

internal sealed class BuiltInTableModel(TableModel table) : ITrainableModel, IBuiltInLossModel
{
    public TableModel Table { get; } = table;

    /// <summary>Forward passes with gradients (the custom path's update passes).</summary>
    public int GradientForwards { get; private set; }

    public int BuiltInBackwards { get; private set; }

    public BuiltInLossResult BackwardBuiltIn(IPackedRows rows, BuiltInLoss loss)
    {
        BuiltInBackwards++;
        using var pass = Table.Forward(rows, 1f, withEntropy: true);
        double sum = 0;
        var grad = new float[rows.Count][];
        for (int r = 0; r < rows.Count; r++)
        {
            grad[r] = new float[pass.Outputs[r].Length];
            for (int t = 0; t < grad[r].Length; t++)
            {
                var (term, d) = BuiltInLosses.Token(loss.Kind, pass.Outputs[r][t], loss.OldLogProbs[r][t], loss.Advantages[r][t], loss.ClipLow, loss.ClipHigh);
                sum += term;
                grad[r][t] = (float)d;
            }
        }
        pass.Backward(grad);
        return new BuiltInLossResult(sum, pass.Outputs, pass.Entropy);
    }

    public ModelOutputKind OutputKind => Table.OutputKind;

    public long TrainableParameterCount => Table.TrainableParameterCount;

    public long StepCount => Table.StepCount;

    public float[][] Score(IPackedRows rows, float temperature) => Table.Score(rows, temperature);

    public ITokenPass Forward(IPackedRows rows, float temperature, bool withEntropy = false, bool withGradients = true)
    {
        if (withGradients) GradientForwards++;
        return Table.Forward(rows, temperature, withEntropy, withGradients);
    }

    public void ZeroGrad() => Table.ZeroGrad();

    public double ClipGradNorm(double maxNorm) => Table.ClipGradNorm(maxNorm);

    public bool Step(double learningRate) => Table.Step(learningRate);

    public ITrainingSnapshot Snapshot() => Table.Snapshot();

    public void SaveHuggingFace(string dir) => Table.SaveHuggingFace(dir);

    public void SaveState(string dir) => Table.SaveState(dir);

    public void LoadState(string dir) => Table.LoadState(dir);
}

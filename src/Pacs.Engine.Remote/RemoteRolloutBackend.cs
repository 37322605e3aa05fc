namespace Pacs.Engine.Remote;

/// <summary>
/// A backend whose training, scoring and evaluation are <paramref name="inner"/>'s and whose training rollouts are
/// sampled on inference servers: the trainer's <see cref="IEngineBackend.CreateRollout"/> gets a
/// <see cref="RemoteRollout"/>, which loads the policy's weights after every optimizer step. Frozen rollouts
/// (<see cref="LoadRollout"/>: A*-PO's values of the initial model) stay with <paramref name="inner"/>.
/// </summary>
public sealed class RemoteRolloutBackend(IEngineBackend inner, RemoteOptions options) : IEngineBackend
{
    public RemoteOptions Options => options;

    public IPackedRows Pack(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId) => inner.Pack(prompts, responses, padId);

    public ModelInfo Describe(string modelDir) => inner.Describe(modelDir);

    public ITrainableModel LoadPolicy(string modelDir, TrainingSettings settings) => inner.LoadPolicy(modelDir, settings);

    public ITrainableModel CreatePolicy(ModelSpec spec, ulong seed, TrainingSettings settings) => inner.CreatePolicy(spec, seed, settings);

    public ITrainableModel CreateCritic(string modelDir, int headRow, TrainingSettings settings, ITrainableModel? policy = null) =>
        inner.CreateCritic(modelDir, headRow, settings, policy);

    public IScorer LoadFrozen(string modelDir, WeightDtype dtype = WeightDtype.Auto) => inner.LoadFrozen(modelDir, dtype);

    public IRolloutEngine CreateRollout(ITrainableModel policy) => new RemoteRollout(options);

    public IRolloutEngine LoadRollout(string modelDir, WeightDtype dtype = WeightDtype.Auto) => inner.LoadRollout(modelDir, dtype);
}

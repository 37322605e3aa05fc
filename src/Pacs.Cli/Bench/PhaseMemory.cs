using Pacs.Engine;

namespace Pacs.Cli.Bench;

/// <summary>One phase of one RL step: the resident-set high-water mark while it ran, and the resident set when it ended.</summary>
public sealed record PhasePeak(int Step, string Phase, double PeakMiB, double EndMiB);

/// <summary>
/// The resident-set high-water mark of each phase of the trainer's steps (Linux: VmHWM, reset when a phase begins by
/// writing 5 to /proc/self/clear_refs). A phase begins when the trainer first calls into it after another phase:
/// rollout (the rollout engine's Generate), log-probs (scoring: the policy's, the reference's and the critic's Score) and update
/// (the policy's forward and backward passes, gradient clipping and optimizer step). What a phase leaves allocated
/// counts in the next phase's peak too, as it does in the process.
/// </summary>
public sealed class PhaseMemory
{
    public const string Rollout = "rollout", LogProbs = "log-probs", Update = "update";

    private readonly List<PhasePeak> _peaks = [];
    private string? _phase;
    private int _step = 1;

    public IReadOnlyList<PhasePeak> Peaks => _peaks;

    /// <summary>Whether the high-water mark can be reset (else every phase reports the process's peak so far).</summary>
    public bool Resettable { get; private set; } = true;

    /// <summary>Marks that the trainer is in <paramref name="phase"/>; closes the previous phase when it differs.</summary>
    public void Enter(string phase)
    {
        if (phase == _phase) return;
        Close();
        _phase = phase;
        Resettable &= BenchRunner.ResetPeakResidentSet();
    }

    /// <summary>Closes the open phase (the step ended) and counts the next calls to the next step.</summary>
    public void EndStep()
    {
        Close();
        _step++;
    }

    private void Close()
    {
        if (_phase is null) return;
        _peaks.Add(new PhasePeak(_step, _phase, BenchRunner.PeakResidentSetBytes() / 1048576.0, BenchRunner.WorkingSetBytes() / 1048576.0));
        _phase = null;
    }

    /// <summary>A backend whose policy, scorers and rollout engines report their phases to this meter.</summary>
    public IEngineBackend Wrap(IEngineBackend inner) => new Backend(inner, this);

    private sealed class Backend(IEngineBackend inner, PhaseMemory meter) : IEngineBackend
    {
        public IPackedRows Pack(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId) => inner.Pack(prompts, responses, padId);

        public ModelInfo Describe(string modelDir) => inner.Describe(modelDir);

        public ITrainableModel LoadPolicy(string modelDir, TrainingSettings settings) => new Model(inner.LoadPolicy(modelDir, settings), meter);

        public ITrainableModel CreatePolicy(ModelSpec spec, ulong seed, TrainingSettings settings) => new Model(inner.CreatePolicy(spec, seed, settings), meter);

        public ITrainableModel CreateCritic(string modelDir, int headRow, TrainingSettings settings, ITrainableModel? policy = null) =>
            new Model(inner.CreateCritic(modelDir, headRow, settings, policy is Model m ? m.Inner : policy), meter);

        public IScorer LoadFrozen(string modelDir, WeightDtype dtype = WeightDtype.Auto) => new Scorer(inner.LoadFrozen(modelDir, dtype), meter);

        public IRolloutEngine CreateRollout(ITrainableModel policy) => new Rollouts(inner.CreateRollout(policy is Model m ? m.Inner : policy), meter);

        public IRolloutEngine LoadRollout(string modelDir, WeightDtype dtype = WeightDtype.Auto) => new Rollouts(inner.LoadRollout(modelDir, dtype), meter);
    }

    private sealed class Scorer(IScorer inner, PhaseMemory meter) : IScorer
    {
        public float[][] Score(IPackedRows rows, float temperature)
        {
            meter.Enter(LogProbs);
            return inner.Score(rows, temperature);
        }
    }

    private sealed class Rollouts(IRolloutEngine inner, PhaseMemory meter) : IRolloutEngine
    {
        public RolloutTraits Traits => inner.Traits;

        public long WeightVersion => inner.WeightVersion;

        public IReadOnlyList<RolloutResult> Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancel = default)
        {
            meter.Enter(Rollout);
            return inner.Generate(requests, cancel);
        }

        public void SyncWeights(ITrainableModel policy, long version) => inner.SyncWeights(policy is Model m ? m.Inner : policy, version);
    }

    private sealed class Model(ITrainableModel inner, PhaseMemory meter) : ITrainableModel
    {
        public ITrainableModel Inner => inner;

        public ModelOutputKind OutputKind => inner.OutputKind;

        public long TrainableParameterCount => inner.TrainableParameterCount;

        public IScorer? FrozenBase => inner.FrozenBase is { } frozen ? new Scorer(frozen, meter) : null;

        public long StepCount => inner.StepCount;

        public float[][] Score(IPackedRows rows, float temperature)
        {
            meter.Enter(LogProbs);
            return inner.Score(rows, temperature);
        }

        public ITokenPass Forward(IPackedRows rows, float temperature, bool withEntropy = false, bool withGradients = true)
        {
            meter.Enter(Update);
            return inner.Forward(rows, temperature, withEntropy, withGradients);
        }

        public void ZeroGrad() => inner.ZeroGrad();

        public double ClipGradNorm(double maxNorm) => inner.ClipGradNorm(maxNorm);

        public bool Step(double learningRate) => inner.Step(learningRate);

        public ITrainingSnapshot Snapshot() => inner.Snapshot();

        public void SaveHuggingFace(string dir) => inner.SaveHuggingFace(dir);

        public void SaveState(string dir) => inner.SaveState(dir);

        public void LoadState(string dir) => inner.LoadState(dir);
    }
}

namespace Pacs.Engine;

/// <summary>
/// A model under training: the policy (outputs are log-probs) or PPO's critic (outputs are values), with its
/// optimizer. The trainer only ever sees per-response-token outputs and hands back d loss / d output; how the
/// gradient reaches the weights, and where the weights live, is the backend's business.
/// </summary>
public interface ITrainableModel : IScorer
{
    /// <summary>What the outputs of this model are.</summary>
    ModelOutputKind OutputKind { get; }

    /// <summary>Parameters that receive gradients (for LoRA: the adapter's only).</summary>
    long TrainableParameterCount { get; }

    /// <summary>
    /// A forward pass over <paramref name="rows"/>. <paramref name="withGradients"/> false records nothing to
    /// back-propagate (e.g. the policy's log-probs during a critic-only warm-up). <paramref name="withEntropy"/>
    /// also returns the policy's per-token entropy from the same logits.
    /// </summary>
    ITokenPass Forward(IPackedRows rows, float temperature, bool withEntropy = false, bool withGradients = true);

    /// <summary>
    /// The model as it started, scored from the weights this model already holds (LoRA: the frozen base with the
    /// adapter off), for the initial reference and the KL metrics without a second copy of the base; null when
    /// the caller must load a frozen copy (<see cref="IEngineBackend.LoadFrozen"/>).
    /// </summary>
    IScorer? FrozenBase => null;

    /// <summary>Clears the accumulated gradients.</summary>
    void ZeroGrad();

    /// <summary>The global L2 norm of the accumulated gradients before clipping; clips them to <paramref name="maxNorm"/> when it is &gt; 0.</summary>
    double ClipGradNorm(double maxNorm);

    /// <summary>
    /// One optimizer step at <paramref name="learningRate"/> with the accumulated gradients; false when the optimizer
    /// refused it (non-finite gradients) and left weights and state unchanged.
    /// </summary>
    bool Step(double learningRate);

    /// <summary>Optimizer steps taken so far (restored by <see cref="LoadState"/>).</summary>
    long StepCount { get; }

    /// <summary>A copy of weights and optimizer state to roll an RL step back to (see <see cref="ITrainingSnapshot"/>).</summary>
    ITrainingSnapshot Snapshot();

    /// <summary>
    /// Writes the weights as a Hugging Face model folder (config.json, model.safetensors, generation_config.json); a
    /// LoRA model writes its adapter as a PEFT folder (adapter_config.json, adapter_model.safetensors) naming its base.
    /// </summary>
    void SaveHuggingFace(string dir);

    /// <summary>
    /// Writes the full training state into <paramref name="dir"/>: the weights as a complete Hugging Face folder
    /// <see cref="CheckpointLayout.ModelFolder"/> (what evaluation and export read; for LoRA, the adapter's PEFT folder
    /// only, naming the base it needs), and the rest (optimizer moments, step count) in the backend's own format beside it.
    /// </summary>
    void SaveState(string dir);

    /// <summary>Restores what <see cref="SaveState"/> wrote.</summary>
    void LoadState(string dir);
}

public enum ModelOutputKind
{
    /// <summary>log pi(token | prefix) of each response token.</summary>
    LogProbs,

    /// <summary>V(prefix) scoring each response token (a critic).</summary>
    Values,
}

/// <summary>Weights and optimizer state captured by <see cref="ITrainableModel.Snapshot"/>.</summary>
public interface ITrainingSnapshot
{
    /// <summary>Puts the model back exactly as it was when the snapshot was taken.</summary>
    void Restore();
}

/// <summary>The one layout rule every backend's <see cref="ITrainableModel.SaveState"/> follows.</summary>
public static class CheckpointLayout
{
    /// <summary>Sub-folder holding the weights as a Hugging Face model folder.</summary>
    public const string ModelFolder = "model";
}

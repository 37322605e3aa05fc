namespace Pacs.Rl.Algorithms;

/// <summary>
/// One RL algorithm as pure functions over plain arrays (verl core_algos style). Implementations hold only their
/// options, never state between calls, so a trainer may call them from any thread.
/// </summary>
public interface IRlAlgorithm
{
    /// <summary>Registry name, e.g. "pacs", "grpo".</summary>
    string Name { get; }

    /// <summary>The loss couples the responses of a group, so every mini-/micro-batch must hold whole groups.</summary>
    bool NeedsWholeGroups { get; }

    /// <summary>Needs a value model: <see cref="PolicyBatch.OldValues"/> for Prepare, <see cref="PolicyBatch.Values"/> for Loss.</summary>
    bool NeedsCritic { get; }

    /// <summary>Needs <see cref="PolicyBatch.RefLogProbs"/> from the frozen initial model (with these options).</summary>
    bool NeedsReference { get; }

    /// <summary>The smallest `group_size` it works with (2 where a response is scored against the rest of its group).</summary>
    int MinGroupSize { get; }

    /// <summary>`group_size` must be a multiple of this (2 for objectives that pair the responses of a group).</summary>
    int GroupSizeMultiple => 1;

    /// <summary>
    /// <see cref="PolicyBatch.OldLogProbs"/> must be the rollout policy's log-probs exactly as the trainer computes
    /// them (importance ratios, a proxy against the rollout policy): with a rollout engine whose log-probs differ
    /// from the trainer's, the trainer has to recompute them.
    /// </summary>
    bool NeedsExactOldLogProbs { get; }

    /// <summary>
    /// <see cref="Prepare"/> reads the values of <see cref="PolicyBatch.OldLogProbs"/>, not only their lengths (a KL
    /// penalty in the reward does). When it does not, an on-policy step may fill them from the update's own forward
    /// (`trainer.logprobs_from_update`, as TRL's GRPOTrainer with num_iterations = 1). Until then they hold NaN, so
    /// a Prepare that reads them anyway sees NaN, never plausible numbers (a KL penalty's would make the loss
    /// non-finite and the step skipped).
    /// </summary>
    bool PrepareReadsOldLogProbs => true;

    /// <summary>
    /// Computes what needs the whole rollout batch before any update (group or batch-whitened advantages, GAE
    /// returns) and stores it in the batch. Returns batch-level metrics (reward mean, fraction of uniform groups, ...).
    /// </summary>
    IReadOnlyDictionary<string, double> Prepare(PolicyBatch batch);

    /// <summary>The loss of a mini-batch and its gradient with respect to the current log-probs (and values).</summary>
    LossOutput Loss(PolicyBatch miniBatch);

    /// <summary>
    /// The loss of <paramref name="miniBatch"/> (after <see cref="Prepare"/>, before its log-probs are known) as one of
    /// the Tinker API's built-in losses whose gradient with respect to each log-prob is exactly <see cref="Loss"/>'s,
    /// or null when these options have no such form (docs/tinker.md lists which algorithms do).
    /// </summary>
    BuiltInLoss? BuiltInForm(PolicyBatch miniBatch) => null;

    /// <summary>
    /// <see cref="BuiltInForm"/> can give a loss with these options (else it always gives null). The trainer sends a
    /// built-in loss only when this holds; when it does not, the old log-probs are not needed before the update's
    /// forward, which may then give them (`trainer.logprobs_from_update`).
    /// </summary>
    bool HasBuiltInForm => false;
}

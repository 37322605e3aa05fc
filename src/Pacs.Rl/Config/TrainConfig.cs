namespace Pacs.Rl.Config;

/// <summary>
/// Every knob of an RL run, grouped as in verl (data/rollout/actor/critic/trainer). Defaults here are the values
/// used when a YAML file omits a key; `configs/arith-*.yaml` spell them all out. Load with
/// <see cref="ConfigBinder"/>, which rejects unknown keys and wrongly typed values before any work starts.
/// </summary>
public sealed class TrainConfig
{
    [Knob("The task and its problem generator.")]
    public TaskSection Task { get; set; } = new();

    [Knob("The starting policy.")]
    public ModelSection Model { get; set; } = new();

    [Knob("The RL objective and its hyper-parameters.")]
    public AlgorithmSection Algorithm { get; set; } = new();

    [Knob("How responses are sampled each step.")]
    public RolloutSection Rollout { get; set; } = new();

    [Knob("How the batch is consumed by the optimizer.")]
    public UpdateSection Update { get; set; } = new();

    [Knob("AdamW and the learning-rate schedule of the policy.")]
    public OptimSection Optim { get; set; } = new();

    [Knob("The PPO value model (a value head on a copy of the base); ignored by other algorithms.")]
    public CriticSection Critic { get; set; } = new();

    [Knob("Run length, seeding, validation, checkpoints and logging.")]
    public TrainerSection Trainer { get; set; } = new();
}

public sealed class TaskSection
{
    [Knob("Task name as known to TaskRegistry (arith, countdown, ...).")]
    public string Name { get; set; } = "arith";

    [Knob("Seed of the task's problem generator; fixes the train and test splits.")]
    public long Seed { get; set; } = 1234;

    [Knob("Task difficulty level passed to the generator (task-specific meaning; arith: number of operands).")]
    public int Level { get; set; } = 2;

    [Knob("Held-out problems scored at each validation.")]
    public int EvalProblems { get; set; } = 64;

    [Knob("Samples per held-out problem at validation; pass@1 and pass@eval_samples are reported.")]
    public int EvalSamples { get; set; } = 4;
}

public sealed class ModelSection
{
    [Knob("Directory of the starting model (an SFT base); `--model` overrides it.")]
    public string Dir { get; set; } = "";
}

public sealed class AlgorithmSection
{
    [Knob("Objective: pacs, grpo, drgrpo, rloo, reinforce++ or ppo.")]
    public string Name { get; set; } = "pacs";

    [Knob("PACS: beta scaling the log-ratio score psi = beta * log(pi / pi_ref).")]
    public double Beta { get; set; } = 1.0;

    [Knob("PACS: class-balancing weights of the BCE loss (balanced or none).")]
    public string Weights { get; set; } = "balanced";

    [Knob("PACS: the policy in the score's denominator: rollout (the policy that sampled) or initial (the SFT base).")]
    public string Reference { get; set; } = "rollout";

    [Knob("PACS: score fed to the classifier: logratio (beta * log ratio) or grpo (group-normalised reward advantage instead, an ablation).")]
    public string Score { get; set; } = "logratio";

    [Knob("PPO-style ratio clip epsilon (lower side).")]
    public double ClipLow { get; set; } = 0.2;

    [Knob("PPO-style ratio clip epsilon (upper side).")]
    public double ClipHigh { get; set; } = 0.2;

    [Knob("Coefficient of the KL(pi || pi_initial) penalty in the loss (0 disables it).")]
    public double KlCoef { get; set; } = 0.0;

    [Knob("Divide group advantages by the group's reward std (GRPO; Dr.GRPO turns it off).")]
    public bool NormalizeStd { get; set; } = true;

    [Knob("How token losses are aggregated: token-mean, seq-mean-token-mean or seq-mean-token-sum.")]
    public string LossAgg { get; set; } = "token-mean";

    [Knob("Coefficient of an entropy bonus (0 disables it).")]
    public double EntropyCoef { get; set; } = 0.0;

    [Knob("PPO/GAE: discount factor.")]
    public double Gamma { get; set; } = 1.0;

    [Knob("PPO/GAE: lambda.")]
    public double Lambda { get; set; } = 1.0;
}

public sealed class RolloutSection
{
    [Knob("Prompts per step.")]
    public int BatchPrompts { get; set; } = 8;

    [Knob("Responses sampled per prompt (G).")]
    public int GroupSize { get; set; } = 8;

    [Knob("Sampling temperature; also used when computing training log-probs.")]
    public double Temperature { get; set; } = 1.0;

    [Knob("Nucleus sampling threshold (1 disables it).")]
    public double TopP { get; set; } = 1.0;

    [Knob("Maximum response tokens; longer responses are cut (counted as clipped).")]
    public int MaxResponseTokens { get; set; } = 24;
}

public sealed class UpdateSection
{
    [Knob("Passes over each step's batch.")]
    public int Epochs { get; set; } = 1;

    [Knob("Optimizer steps per epoch; the batch is split into this many mini-batches of whole groups.")]
    public int MiniBatches { get; set; } = 1;

    [Knob("Sequences per forward/backward (gradient accumulation); 0 means a whole mini-batch at once.")]
    public int MicroBatchSize { get; set; } = 0;
}

public sealed class OptimSection
{
    [Knob("Peak learning rate of the policy.")]
    public double Lr { get; set; } = 1e-4;

    [Knob("AdamW beta1.")]
    public double Beta1 { get; set; } = 0.9;

    [Knob("AdamW beta2.")]
    public double Beta2 { get; set; } = 0.999;

    [Knob("AdamW epsilon.")]
    public double Eps { get; set; } = 1e-8;

    [Knob("AdamW decoupled weight decay.")]
    public double WeightDecay { get; set; } = 0.0;

    [Knob("Clip the global gradient norm to this value (0 disables clipping).")]
    public double GradClip { get; set; } = 1.0;

    [Knob("Linear warm-up length in optimizer steps.")]
    public int WarmupSteps { get; set; } = 0;

    [Knob("Schedule after warm-up: constant or cosine.")]
    public string Schedule { get; set; } = "constant";

    [Knob("Cosine schedule floor as a fraction of lr.")]
    public double MinLrRatio { get; set; } = 0.1;
}

public sealed class CriticSection
{
    [Knob("Learning rate of the value model.")]
    public double Lr { get; set; } = 1e-3;

    [Knob("Value clipping range around the rollout values (0 disables value clipping).")]
    public double ValueClip { get; set; } = 0.2;

    [Knob("Warm-up steps during which only the critic is trained.")]
    public int WarmupSteps { get; set; } = 0;
}

public sealed class TrainerSection
{
    [Knob("Training steps (one rollout batch each); `--steps` overrides it.")]
    public int Steps { get; set; } = 40;

    [Knob("Seed of sampling and data order; `--seed` overrides it.")]
    public long Seed { get; set; } = 0;

    [Knob("Validate on held-out problems every this many steps (0 disables; the last step always validates if enabled).")]
    public int EvalEvery { get; set; } = 10;

    [Knob("Checkpoint every this many steps (0: only at the end).")]
    public int SaveEvery { get; set; } = 20;

    [Knob("Keep only the newest this many checkpoints (0 keeps all).")]
    public int KeepCheckpoints { get; set; } = 2;

    [Knob("Stop the run after this many consecutive steps skipped for a non-finite loss.")]
    public int MaxNanSkips { get; set; } = 3;

    [Knob("Recompute the rollout policy's log-probs with a training-mode forward (as verl) instead of using the sampler's.")]
    public bool RecomputeLogprobs { get; set; } = true;

    [Knob("Compute the initial model's log-probs every step for the KL-to-reference metric even when no loss needs them.")]
    public bool TrackRefKl { get; set; } = true;
}

using Pacs.Rl.Algorithms;

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

    [Knob("Prompt and validation sets, how rows are read and rendered, the prompt-length limit.")]
    public DataSection Data { get; set; } = new();

    [Knob("Reward shaping by response length (DAPO).")]
    public RewardSection Reward { get; set; } = new();

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

    [Knob("Where the policy trains and samples: managed (this machine's engine) or tinker (a Tinker API server: Thinking Machines' service, SkyRL-tx, or `pacs serve --tinker`; see docs/tinker.md).")]
    public string Engine { get; set; } = "managed";

    [Knob("The Tinker API server of engine: tinker (model.dir still gives the tokenizer, chat template and shape).")]
    public TinkerSection Tinker { get; set; } = new();
}

public sealed class TaskSection
{
    [Knob("Task name as known to TaskRegistry (arith, countdown, ...).")]
    public string Name { get; set; } = "arith";

    [Knob("Seed of the task's problem generator (as `pacs sft --seed`; the train/test split is by problem hash).")]
    public long Seed { get; set; } = 0;

    [Knob("Difficulty preset 1..5 of a synthetic task; 0 = the task's defaults (what `pacs sft` trains on without --level).")]
    public int Level { get; set; } = 0;

    [Knob("Split RL prompts come from: rl (problems a synthetic task reserves for RL, never in the SFT pool or the test set), train (the SFT pool), or auto (rl when the task has one, else train).")]
    public string PromptSplit { get; set; } = "auto";

    [Knob("First index of that split RL draws prompts from (e.g. past the problems an SFT base saw when prompt_split is train).")]
    public long PromptOffset { get; set; } = 0;

    [Knob("Held-out problems scored at each validation.")]
    public int EvalProblems { get; set; } = 64;

    [Knob("Samples per held-out problem at validation; pass@1 and pass@eval_samples are reported.")]
    public int EvalSamples { get; set; } = 4;

    [Knob("Math datasets' reward: strict (a decimal equals an exact gold only when it is the same number: 0.25 for 1/4, never 0.33 for 1/3) or lenient (a decimal of 2+ places may round a non-terminating exact gold). See docs/verifier.md.")]
    public Pacs.Rewards.Math.VerifierPolicy VerifierPolicy { get; set; } = Pacs.Rewards.Math.VerifierPolicy.Strict;
}

public sealed class ModelSection
{
    [Knob("Directory of the starting model (an SFT base); `--model` overrides it.")]
    public string Dir { get; set; } = "";

    [Knob("Precision of the large weights (embedding, projections, LM head): auto (the checkpoint's: bfloat16 for a BF16 checkpoint), bfloat16 or float32. Frozen copies (the reference model) stay in it, at half the memory in bfloat16; trained weights are float32 masters of its values. Norms and biases are float32.")]
    public Pacs.Engine.WeightDtype Dtype { get; set; } = Pacs.Engine.WeightDtype.Auto;

    [Knob("LoRA: train a low-rank adapter on the frozen model instead of every weight (rank 0: full fine-tuning).")]
    public LoraSection Lora { get; set; } = new();

    [Knob("Activation recomputation in the update: of every decoder layer but the last only the input is kept, and the layer's forward runs again in the backward (about a third more update time, for one layer's activations instead of all of them). Gradients are identical to the bit.")]
    public bool GradientCheckpointing { get; set; } = false;

    [Knob("Response positions whose vocabulary-wide logits are held at once in the log-prob and update passes (the output layer and log-softmax fused, in chunks; the backward computes a chunk's logits again). 0: the whole [rows x tokens, vocab] logits of a micro-batch at once (8 x 384 positions of a 151936-token vocabulary are 1.9 GB). Log-probs and entropy do not depend on it; a trained output layer's gradient only by float rounding.")]
    public int LogitsChunkRows { get; set; } = Pacs.Engine.TrainingSettings.DefaultLogitsChunkRows;
}

/// <summary>
/// The `algorithm:` section: `name` picks an algorithm of <see cref="AlgorithmRegistry"/>; every other key is a
/// property of that algorithm's options class (snake_case), so the knobs shown depend on the name.
/// </summary>
public sealed class AlgorithmSection
{
    private string _name = "pacs";

    public AlgorithmSection()
    {
        Options = AlgorithmRegistry.DefaultOptions(_name);
    }

    /// <summary>Registry name; setting a different one resets <see cref="Options"/> to that algorithm's defaults.</summary>
    public string Name
    {
        get => _name;
        set
        {
            if (value == _name) return;
            Options = AlgorithmRegistry.DefaultOptions(value);
            _name = value;
        }
    }

    /// <summary>An instance of <see cref="AlgorithmRegistry.OptionsType"/> for <see cref="Name"/>.</summary>
    public object Options { get; private set; }

    [Knob("Correction for rollouts sampled with log-probs other than the trainer's (an inference server's kernels, precision, staleness), applied to every algorithm as a per-token weight on the loss gradient (verl's rollout correction): none, tis_token / tis_sequence (truncated importance sampling, weight min(rho, threshold) with rho = pi_old / pi_rollout per token or per response), mis_token / mis_sequence (masked: weight rho, or 0 where rho > threshold). The mismatch metrics (rollout_corr/*) are reported whatever this is.")]
    public RolloutCorrectionMode RolloutCorrection { get; set; } = RolloutCorrectionMode.None;

    [Knob("The threshold C of rollout_correction (verl's rollout_is_threshold; 1.5-5 per token, 2-10 per response are typical).")]
    public double RolloutCorrectionThreshold { get; set; } = 2.0;

    public IRlAlgorithm Create() => AlgorithmRegistry.Create(Name, Options);

    /// <summary>Documentation of the `name` key (each option documents itself with [Description] on its options class).</summary>
    public static string NameDoc => $"Objective: {string.Join(", ", AlgorithmRegistry.Names)} (the other keys of this section depend on it).";
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
    public int MaxResponseTokens { get; set; } = 64;

    [Knob("DAPO dynamic sampling: drop groups whose rewards are all equal and draw more prompts until the batch is full of mixed groups.")]
    public bool FilterGroups { get; set; } = false;

    [Knob("With filter_groups: most rollout batches drawn in one step; a step that reaches it without a full batch of mixed groups makes no update and says so.")]
    public int MaxDrawBatches { get; set; } = 10;

    [Knob("PODS down-sampling: train on this many of each group's group_size rollouts, those with maximal reward variance (0 = all).")]
    public int PodsKeep { get; set; } = 0;

    [Knob("Most responses asked of the rollout engine at once (0: the whole batch, batch_prompts x group_size; validation likewise). The local engine's KV cache holds that many sequences (Qwen2.5-1.5B: 22 MB per sequence of 384 tokens); each response depends only on its own prompt and seed, so the rollouts are the same whatever it is.")]
    public int MaxBatchRows { get; set; } = 0;

    [Knob("Where responses are sampled: local (in process, from the weights being trained), vllm, sglang or pacs (inference servers at rollout.servers; the policy is written to rollout.sync_dir and loaded by every server after each optimizer step), or openai (any OpenAI-compatible completions server: it cannot load new weights, so only a run that never updates, trainer.steps=0, may use it). See README \"Scaling out\".")]
    public string Engine { get; set; } = "local";

    [Knob("Base URLs of the inference servers (a list: [http://gpu1:8000, http://gpu2:8000]); each request goes to the one with the fewest requests outstanding.")]
    public string[] Servers { get; set; } = [];

    [Knob("The model field of OpenAI-style requests (vllm, openai): the served model's name; empty sends none.")]
    public string Model { get; set; } = "";

    [Knob("Name of the environment variable holding the servers' API key (sent as a Bearer token); never the key itself; empty sends none.")]
    public string ApiKeyEnv { get; set; } = "";

    [Knob("Seconds one attempt of one HTTP request may take (body included) before it is abandoned and retried on another server.")]
    public double RequestTimeoutS { get; set; } = 600;

    [Knob("Most HTTP requests in flight over all servers at once.")]
    public int MaxInflight { get; set; } = 64;

    [Knob("Attempts after the first for a request that failed (connection error, timeout, 429, 5xx), with exponential back-off, each on the least loaded other server; then the step fails naming the server and the request.")]
    public int MaxRetries { get; set; } = 4;

    [Knob("Folder every server can read at the same path (shared storage): the policy is written here as a Hugging Face folder per weight version (old ones pruned), and `current` links to the newest. Needed by vllm, sglang and pacs.")]
    public string SyncDir { get; set; } = "";

    /// <summary>Responses per prompt that reach the update: pods_keep when PODS is on, else group_size.</summary>
    public int TrainGroupSize => PodsKeep > 0 ? PodsKeep : GroupSize;
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
    [Knob("Learning rate of the value model (its own AdamW; the other optim.* knobs are shared).")]
    public double Lr { get; set; } = 1e-3;

    [Knob("Warm-up steps during which only the critic is trained.")]
    public int WarmupSteps { get; set; } = 0;

    [Knob("With model.lora: train every weight of the critic (float32 masters with AdamW moments, 16 bytes a parameter) instead of a LoRA adapter of model.lora's settings and a value head of its own on the policy's frozen base (no second copy).")]
    public bool FullFinetune { get; set; } = false;
}

public sealed class TrainerSection
{
    [Knob("Training steps (one rollout batch each); `--steps` overrides it.")]
    public int Steps { get; set; } = 40;

    [Knob("Seed of sampling and data order; `--seed` overrides it.")]
    public long Seed { get; set; } = 0;

    [Knob("Validate on held-out problems every this many steps (0 disables; the last step always validates if enabled).")]
    public int EvalEvery { get; set; } = 10;

    [Knob("Validate once before the first step (logged as step 0) when validation is enabled, so every curve has its starting point.")]
    public bool ValBeforeTrain { get; set; } = true;

    [Knob("Checkpoint every this many steps (0: only at the end).")]
    public int SaveEvery { get; set; } = 20;

    [Knob("Keep only the newest this many checkpoints (0 keeps all).")]
    public int KeepCheckpoints { get; set; } = 2;

    [Knob("Stop the run after this many consecutive steps skipped for a non-finite loss.")]
    public int MaxNanSkips { get; set; } = 3;

    [Knob("Recompute the rollout policy's log-probs with a training-mode forward (as verl) instead of using the sampler's.")]
    public bool RecomputeLogprobs { get; set; } = true;

    [Knob("When recomputing them on an on-policy step (update.epochs=1, update.mini_batches=1, rollouts of the current weights, no algorithm.rollout_correction), take them from the update's own forward, as TRL's GRPOTrainer does: the same values, one forward pass fewer.")]
    public bool LogprobsFromUpdate { get; set; } = true;

    [Knob("Compute the initial model's log-probs every step for the KL-to-reference metric even when no loss needs them.")]
    public bool TrackRefKl { get; set; } = true;
}

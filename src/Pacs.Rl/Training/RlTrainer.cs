using System.Diagnostics;
using Pacs.Engine;
using Pacs.Eval;
using Pacs.Rewards;
using Pacs.Rl.Algorithms;
using Pacs.Rl.Config;
using Pacs.Rl.Data;
using Pacs.Text;

namespace Pacs.Rl.Training;

public enum StopReason
{
    Completed,
    Cancelled,
    TooManyNanSkips,
}

/// <summary>How a <see cref="RlTrainer.Run"/> ended.</summary>
public sealed record TrainOutcome(StopReason Reason, int LastStep, string RunDir, string Message);

/// <summary>
/// The RL loop (verl's ray_trainer, on one process). One step: take `batch_prompts` train problems; sample
/// `group_size` responses each; score them with the task's verifier; compute the rollout policy's log-probs (and the
/// initial model's, and the critic's values, when needed); let the algorithm prepare advantages; then `epochs` passes
/// over the batch in `mini_batches` optimizer steps, accumulating gradients over micro-batches of rows (whole groups
/// when the algorithm needs them). The algorithm returns d loss / d log-prob per response token; the trainer hands
/// it to the policy's <see cref="ITokenPass.Backward"/>. Models and rollouts come from an <see cref="IEngineBackend"/>
/// (the engine seam): the trainer only orchestrates plain arrays.
/// Everything random is seeded from `trainer.seed` and the step, so a resumed run repeats an uninterrupted one.
/// </summary>
public sealed class RlTrainer
{
    private const long EvalSeedTag = 0x5EED_E7A1;

    private readonly TrainConfig _config;
    private readonly IEngineBackend _backend;
    private readonly ITask _task;
    private readonly ITokenizer _tokenizer;
    private readonly ITrainableModel _policy;
    private readonly IScorer? _reference;
    private readonly ITrainableModel? _critic;
    private readonly IRlAlgorithm _algorithm;
    private readonly LrSchedule _schedule;
    private readonly LrSchedule? _criticSchedule;
    private readonly IRolloutEngine _rollout;
    private readonly BatchPlanner _planner;
    private readonly Rng _rng;
    private readonly string _startModelDir;
    private readonly PromptEncoder _prompts;
    private readonly Split _promptSplit;
    private readonly string _dataReport;
    private bool _dataReported;
    private bool _logProbsFromUpdateReported;
    private readonly OptimalValueStage? _optimalValues;
    private readonly VineValueStage? _vineValues;
    private readonly BuiltInLossUpdate _builtInLoss;
    private int _step;
    private long _dataPosition;
    private int _consecutiveNanSkips;

    private RlTrainer(IEngineBackend backend, TrainConfig config, string runDir, string? checkpoint, ITask? task = null)
    {
        _config = config;
        _backend = backend;
        RunDir = runDir;
        _startModelDir = config.Model.Dir;
        _algorithm = config.Algorithm.Create();
        _tokenizer = TokenizerFiles.Load(_startModelDir);
        _prompts = PromptEncoder.ForModel(_startModelDir, _tokenizer, PromptBudget.TemplateVariables(config.Data));
        var info = backend.Describe(_startModelDir);
        // Prompts that do not fit are dropped here, before step 1, not found mid-run.
        var filtered = PromptBudget.Filter(task ?? RunData.CreateTask(config), config, info.MaxPositions, _prompts);
        _task = filtered;
        _dataReport = filtered.Report;
        _promptSplit = config.Task.PromptSplit switch
        {
            "rl" => Split.Rl,
            "train" => Split.Train,
            _ => _task.Count(Split.Rl) > 0 ? Split.Rl : Split.Train,
        };
        if (_task.Count(_promptSplit) == 0) throw new ArgumentException($"task '{config.Task.Name}' has no {_promptSplit} problems to draw RL prompts from (task.prompt_split)");
        if (_tokenizer.VocabSize > info.VocabSize)
            throw new InvalidDataException($"{_startModelDir}: tokenizer has {_tokenizer.VocabSize} ids but config.json vocab_size is {info.VocabSize}");

        var settings = new TrainingSettings(new OptimizerSettings(config.Optim.Beta1, config.Optim.Beta2, config.Optim.Eps, config.Optim.WeightDecay),
            config.Model.GradientCheckpointing, config.Model.Dtype, config.Model.Lora.ToSettings(config.Trainer.Seed), config.Model.LogitsChunkRows);
        _policy = backend.LoadPolicy(_startModelDir, settings);
        // The initial reference always comes from this trainer's own backend, so the PACS proxy is exactly 0 at the
        // first update; a LoRA policy scores it from its own base with the adapter off (no second copy).
        _reference = _algorithm.NeedsReference || config.Trainer.TrackRefKl ? _policy.FrozenBase ?? backend.LoadFrozen(_startModelDir, config.Model.Dtype) : null;
        if (_algorithm.NeedsCritic)
            _critic = backend.CreateCritic(_startModelDir, _tokenizer.PadId, config.Critic.FullFinetune ? settings with { Lora = null } : settings, _policy);
        if (checkpoint is not null) LoadCheckpoint(checkpoint);

        long optimizerSteps = (long)config.Trainer.Steps * config.Update.Epochs * config.Update.MiniBatches;
        int totalSteps = (int)Math.Min(int.MaxValue, optimizerSteps);
        _schedule = new LrSchedule(config.Optim.Schedule, config.Optim.Lr, config.Optim.WarmupSteps, totalSteps, config.Optim.MinLrRatio);
        if (_critic is not null)
            _criticSchedule = new LrSchedule(config.Optim.Schedule, config.Critic.Lr, config.Optim.WarmupSteps, totalSteps, config.Optim.MinLrRatio);
        _rollout = backend.CreateRollout(_policy);
        _rollout.SyncWeights(_policy, _policy.StepCount);
        if (!config.Trainer.RecomputeLogprobs && _algorithm.NeedsExactOldLogProbs && !_rollout.Traits.LogProbsMatchTrainer)
            throw new ArgumentException($"trainer.recompute_logprobs=false: algorithm {config.Algorithm.Name} needs the rollout policy's exact log-probs, and this rollout engine's are not computed as the trainer's; set it to true");
        // A*-PO: V* of each prompt from the frozen initial model, drawn once and cached in the run.
        if (_algorithm is AStarPoAlgorithm astar)
            _optimalValues = new OptimalValueStage(backend.LoadRollout(_startModelDir, config.Model.Dtype), _tokenizer, _task, astar.Options, runDir,
                config.Trainer.Seed, config.Rollout.MaxBatchRows);
        // VinePPO: Monte-Carlo values at reasoning-step boundaries from K extra rollouts of the policy.
        if (_algorithm is VinePpoAlgorithm vine) _vineValues = new VineValueStage(_rollout, _tokenizer, _task, vine.Options, config.Trainer.Seed, config.Rollout.MaxBatchRows);
        _builtInLoss = new BuiltInLossUpdate(config, _algorithm, _policy, _critic is not null, m => Message?.Invoke(m));
        _planner = new BatchPlanner(config.Rollout.BatchPrompts, config.Rollout.TrainGroupSize, config.Update.MiniBatches, config.Update.MicroBatchSize);
        _rng = new Rng(Rng.Hash(config.Trainer.Seed, 0x7EA1));
        if (checkpoint is not null)
        {
            var state = TrainerState.Read(checkpoint);
            _step = state.Step;
            _dataPosition = state.DataPosition;
            _rng.State = state.RngState;
            _consecutiveNanSkips = state.ConsecutiveNanSkips;
        }
    }

    public string RunDir { get; }

    public int Step => _step;

    public TrainConfig Config => _config;

    /// <summary>Raised after every step with that step's metrics (the CLI's live display listens).</summary>
    public event Action<int, IReadOnlyDictionary<string, double>>? StepCompleted;

    /// <summary>Raised with a one-line message for events worth printing (checkpoints, skipped steps, validation).</summary>
    public event Action<string>? Message;

    /// <summary>Test hook: transforms each micro-batch's loss output before it is used (e.g. to inject a NaN).</summary>
    internal Func<int, LossOutput, LossOutput>? LossHook { get; set; }

    /// <summary>Starts a fresh run in <paramref name="runDir"/> (which must not hold a run yet): validates, saves the resolved config.</summary>
    public static RlTrainer Start(IEngineBackend backend, TrainConfig config, string runDir) => Start(backend, config, runDir, task: null);

    /// <summary>Test hook: a fresh run on a task that is not in the registry (config.task.name is then only a label).</summary>
    internal static RlTrainer Start(IEngineBackend backend, TrainConfig config, string runDir, ITask? task)
    {
        TrainConfigValidator.Validate(config);
        if (File.Exists(Path.Combine(runDir, MetricsLog.FileName)) || Directory.Exists(Path.Combine(runDir, RunFiles.CheckpointsDir)))
            throw new ArgumentException($"{OutputFolder.Describe(runDir)}, start it over with --overwrite, or choose another --out");
        var trainer = new RlTrainer(backend, config, runDir, checkpoint: null, task);
        Directory.CreateDirectory(runDir);
        AtomicFile.WriteAllText(Path.Combine(runDir, RunFiles.ConfigFile), ConfigBinder.ToYaml(config));
        return trainer;
    }

    /// <summary>
    /// Continues a run from its newest complete checkpoint (repairing what an interrupted save left, see
    /// <see cref="Checkpointer.Recover"/>), or restarts it from step 0 with its saved config when it has none;
    /// <paramref name="steps"/> optionally changes the total; <paramref name="log"/> hears what was repaired or restarted.
    /// </summary>
    public static RlTrainer Resume(IEngineBackend backend, string runDir, int? steps = null, Action<string>? log = null) =>
        Resume(backend, runDir, steps, log, task: null);

    /// <summary>Test hook: resumes a run on a task that is not in the registry.</summary>
    internal static RlTrainer Resume(IEngineBackend backend, string runDir, int? steps, Action<string>? log, ITask? task)
    {
        string configPath = RunFiles.RequireConfig(runDir);
        var config = ConfigBinder.LoadFile<TrainConfig>(configPath);
        if (steps is { } s) config.Trainer.Steps = s;
        TrainConfigValidator.Validate(config);
        // A run without a checkpoint restarts in place, from step 0.
        string? checkpoint = RunFiles.ResumePoint(runDir, log)?.Dir;
        var trainer = new RlTrainer(backend, config, runDir, checkpoint, task);
        if (checkpoint is not null) MetricsLog.TruncateAfter(runDir, trainer.Step);
        if (steps is not null) RunFiles.WriteConfig(runDir, ConfigBinder.ToYaml(config));
        return trainer;
    }

    /// <summary>Runs until `trainer.steps`, cancellation (saves first) or too many consecutive NaN skips.</summary>
    public TrainOutcome Run(CancellationToken cancel = default)
    {
        int total = _config.Trainer.Steps;
        ReportDataOnce();
        if (_step == 0 && _config.Trainer.ValBeforeTrain && _config.Trainer.EvalEvery > 0 && _task.Count(Split.Test) > 0
            && !File.Exists(Path.Combine(RunDir, MetricsLog.FileName)))
        {
            var watch = Stopwatch.StartNew();
            var initial = new Dictionary<string, double> { ["step"] = 0 };
            foreach (var (k, v) in Validate()) initial[k] = v;
            initial["time/eval"] = watch.Elapsed.TotalSeconds;
            MetricsLog.Append(RunDir, initial);
            StepCompleted?.Invoke(0, initial);
        }
        while (_step < total)
        {
            if (cancel.IsCancellationRequested)
            {
                SaveCheckpoint();
                return new TrainOutcome(StopReason.Cancelled, _step, RunDir, $"interrupted: saved step {_step} to {RunDir}; continue with --resume {RunDir}");
            }
            var metrics = RunStep(_step + 1);
            _step++;
            MetricsLog.Append(RunDir, metrics);
            StepCompleted?.Invoke(_step, metrics);
            if (_consecutiveNanSkips >= _config.Trainer.MaxNanSkips)
            {
                SaveCheckpoint();
                return new TrainOutcome(StopReason.TooManyNanSkips, _step, RunDir,
                    $"stopped: {_consecutiveNanSkips} consecutive steps had a non-finite loss or gradient (trainer.max_nan_skips={_config.Trainer.MaxNanSkips}); lower optim.lr or check the data");
            }
            if (_config.Trainer.SaveEvery > 0 && _step % _config.Trainer.SaveEvery == 0 && _step < total) SaveCheckpoint();
        }
        SaveCheckpoint();
        return new TrainOutcome(StopReason.Completed, _step, RunDir, $"finished {_step} steps in {RunDir}");
    }

    /// <summary>The policy under training (weights change as it trains).</summary>
    public ITrainableModel Policy => _policy;

    /// <summary>The engine sampling this run's rollouts.</summary>
    public IRolloutEngine Rollout => _rollout;

    private Dictionary<string, double> RunStep(int step)
    {
        var cfg = _config;
        int prompts = cfg.Rollout.BatchPrompts, group = cfg.Rollout.GroupSize;
        float temperature = (float)cfg.Rollout.Temperature;
        var stepWatch = Stopwatch.StartNew();
        var metrics = new Dictionary<string, double> { ["step"] = step };

        // 1-2. Rollout and scoring; with rollout.filter_groups, until the batch is full of mixed groups.
        var sampling = SamplingFor(cfg);
        double rolloutTime = 0, scoreTime = 0;
        SampledBatch DrawTimed(int draw)
        {
            var batch = Draw(step, draw, sampling, out double rolloutSeconds, out double scoreSeconds);
            rolloutTime += rolloutSeconds;
            scoreTime += scoreSeconds;
            return batch;
        }
        var drawn = cfg.Rollout.FilterGroups
            ? DynamicSampling.Fill(DrawTimed, prompts, group, cfg.Rollout.MaxDrawBatches)
            : new DynamicSampling.Outcome(DrawTimed(0), 1, -1, 0);
        if (drawn.Batch is null) return IncompleteStep(metrics, drawn, stepWatch, rolloutTime, scoreTime);
        var sampled = drawn.Batch;
        if (cfg.Rollout.FilterGroups)
        {
            metrics["rollout/draws"] = drawn.Draws;
            metrics["rollout/mixed_groups_found"] = drawn.MixedFound;
        }
        var results = sampled.Results;
        long generatedTokens = cfg.Rollout.FilterGroups ? drawn.GeneratedTokens : results.Sum(r => (long)r.ResponseIds.Length);
        int rows = prompts * group;
        var rewards = sampled.Rewards;
        var rowPrompts = new int[rows][];
        var responses = new int[rows][];
        for (int r = 0; r < rows; r++)
        {
            rowPrompts[r] = sampled.PromptIds[r / group];
            responses[r] = results[r].ResponseIds;
        }
        metrics["reward/mean_all_rollouts"] = rewards.Average(r => (double)r);

        // PODS: keep the pods_keep rollouts of each group with maximal reward variance; the rest is dropped here.
        if (cfg.Rollout.PodsKeep > 0)
        {
            var kept = PodsSelection.MaxVariance(rewards, group, cfg.Rollout.PodsKeep);
            rewards = [.. kept.Select(r => rewards[r])];
            rowPrompts = [.. kept.Select(r => rowPrompts[r])];
            responses = [.. kept.Select(r => responses[r])];
            results = [.. kept.Select(r => results[r])];
            (group, rows) = (cfg.Rollout.PodsKeep, kept.Length);
        }
        // reward.mask_truncated: rows cut at the budget or the context get no gradient.
        bool[]? masked = cfg.Reward.MaskTruncated ? [.. results.Select(r => r.Clipped)] : null;
        if (masked is not null) metrics["response/masked_fraction"] = masked.Count(m => m) / (double)rows;

        // 3. Log-probs of the rollout policy, the initial model and the critic's values, over rows packed once. An
        // on-policy step leaves the rollout policy's to the update's forward, which fills them before its loss.
        var watch = Stopwatch.StartNew();
        bool fromUpdate = LogProbsFromUpdate(results);
        if (fromUpdate && !_logProbsFromUpdateReported)
        {
            _logProbsFromUpdateReported = true;
            Message?.Invoke("log-probs: on-policy steps take the rollout policy's from the update's forward, one pass fewer (trainer.logprobs_from_update)");
        }
        var scores = ScoreRollouts(rowPrompts, responses, temperature, recompute: cfg.Trainer.RecomputeLogprobs && !fromUpdate);
        // The policy's entropy is taken from the update's first forward pass (as verl), so turning
        // recompute_logprobs off saves a whole forward pass.
        float[][] oldLogProbs = fromUpdate ? [.. responses.Select(r => Enumerable.Repeat(float.NaN, r.Length).ToArray())]
            : scores.OldLogProbs ?? results.Select(r => r.LogProbs).ToArray();
        double logProbTime = watch.Elapsed.TotalSeconds;
        var correction = RolloutMismatch(metrics, results, scores.OldLogProbs);

        var batch = new PolicyBatch(group, rewards, oldLogProbs) { RefLogProbs = scores.RefLogProbs, OldValues = scores.OldValues };
        if (_vineValues is not null)
        {
            (batch.Advantages, int states) = _vineValues.Advantages(step, sampled.Problems, rowPrompts, responses, rewards, group, sampling);
            metrics["vine/states_per_response"] = states / (double)rows;
        }
        batch.OptimalValues = _optimalValues?.ForRows(sampled.Indices, sampled.Problems, sampled.PromptIds, group, sampling);
        foreach (var (k, v) in _algorithm.Prepare(batch)) metrics[k] = v;

        // 4. Update.
        watch.Restart();
        var entropy = new float[]?[rows];
        var update = Update(batch, rowPrompts, responses, step, entropy, masked, correction, fromUpdate ? oldLogProbs : null);
        double updateTime = watch.Elapsed.TotalSeconds;
        if (fromUpdate) AddMismatchMetrics(metrics, results, oldLogProbs);
        foreach (var (k, v) in update.Metrics) metrics[k] = v;

        // 5. Metrics of the batch.
        RolloutMetrics.Add(metrics, rewards, results, entropy, oldLogProbs, scores.RefLogProbs, group);
        _consecutiveNanSkips = update.Skipped ? _consecutiveNanSkips + 1 : 0;
        metrics["train/nan_skipped"] = update.Skipped ? 1 : 0;
        if (update.Skipped) Message?.Invoke($"step {step}: non-finite loss or gradient, update skipped and the step's optimizer steps undone ({_consecutiveNanSkips} in a row)");

        double evalTime = 0;
        // A task without a held-out split (a training-only dataset such as math_train) has nothing to validate on.
        if (cfg.Trainer.EvalEvery > 0 && _task.Count(Split.Test) > 0 && (step % cfg.Trainer.EvalEvery == 0 || step == cfg.Trainer.Steps))
        {
            watch.Restart();
            foreach (var (k, v) in Validate()) metrics[k] = v;
            evalTime = watch.Elapsed.TotalSeconds;
        }

        metrics["time/rollout"] = rolloutTime;
        metrics["time/score"] = scoreTime;
        metrics["time/logprob"] = logProbTime;
        metrics["time/update"] = updateTime;
        metrics["time/sync"] = update.SyncSeconds;
        metrics["time/eval"] = evalTime;
        metrics["time/step"] = stepWatch.Elapsed.TotalSeconds;
        metrics["perf/rollout_tokens_per_s"] = rolloutTime > 0 ? generatedTokens / rolloutTime : 0;
        metrics["perf/update_tokens_per_s"] = updateTime > 0 ? update.Tokens / updateTime : 0;
        metrics["perf/step_tokens_per_s"] = generatedTokens / Math.Max(1e-9, stepWatch.Elapsed.TotalSeconds - evalTime);
        return metrics;
    }

    /// <summary>Samples and scores the next `batch_prompts` prompts of the data order; <paramref name="draw"/> > 0 (dynamic
    /// sampling's further draws in one step) gives the responses seeds of their own.</summary>
    private SampledBatch Draw(int step, int draw, SamplingParams sampling, out double rolloutSeconds, out double scoreSeconds)
    {
        var cfg = _config;
        int prompts = cfg.Rollout.BatchPrompts, group = cfg.Rollout.GroupSize;
        var watch = Stopwatch.StartNew();
        var problems = new Problem[prompts];
        var promptIds = new int[prompts][];
        var indices = new long[prompts];
        var requests = new List<RolloutRequest>(prompts * group);
        for (int p = 0; p < prompts; p++)
        {
            long index = indices[p] = TrainIndex(_dataPosition + p);
            problems[p] = _task.Get(_promptSplit, index);
            promptIds[p] = _prompts.Encode(problems[p].Prompt, problems[p].System);
            for (int g = 0; g < group; g++)
            {
                ulong seed = draw == 0 ? Rng.Hash(cfg.Trainer.Seed, step, index, g) : Rng.Hash(cfg.Trainer.Seed, step, index, g, draw);
                requests.Add(new RolloutRequest(promptIds[p], seed, sampling));
            }
        }
        _dataPosition += prompts;
        var results = RolloutBatches.Generate(_rollout, requests, cfg.Rollout.MaxBatchRows);
        rolloutSeconds = watch.Elapsed.TotalSeconds;
        watch.Restart();
        var rewards = new float[results.Length];
        for (int r = 0; r < results.Length; r++)
        {
            string text = _tokenizer.Decode(results[r].ResponseIds, skipSpecialTokens: true);
            float reward = (float)_task.Verify(problems[r / group], text).Reward;
            rewards[r] = OverlongShaping.Apply(reward, results[r].ResponseIds.Length, cfg.Rollout.MaxResponseTokens, cfg.Reward.OverlongBuffer, cfg.Reward.OverlongPenalty);
        }
        scoreSeconds = watch.Elapsed.TotalSeconds;
        return new SampledBatch(indices, problems, promptIds, results, rewards, group);
    }

    /// <summary>A step whose dynamic sampling hit rollout.max_draw_batches before the batch was full: no update, a clear message.</summary>
    private Dictionary<string, double> IncompleteStep(Dictionary<string, double> metrics, DynamicSampling.Outcome drawn, Stopwatch stepWatch, double rolloutTime, double scoreTime)
    {
        int step = (int)metrics["step"];
        Message?.Invoke($"step {step}: dynamic sampling drew {drawn.Draws} batches (rollout.max_draw_batches) and found {drawn.MixedFound} of {_config.Rollout.BatchPrompts} groups with mixed rewards; no update this step (the data is too easy or too hard for the policy)");
        metrics["rollout/draws"] = drawn.Draws;
        metrics["rollout/mixed_groups_found"] = drawn.MixedFound;
        metrics["train/update_skipped"] = 1;
        metrics["time/rollout"] = rolloutTime;
        metrics["time/score"] = scoreTime;
        metrics["time/step"] = stepWatch.Elapsed.TotalSeconds;
        return metrics;
    }

    /// <summary>
    /// How stale the rollouts are (trainer version minus the version that sampled them) and, when the rollout policy's
    /// log-probs were recomputed, how far the sampler's are from them (rollout_corr/*); returns the per-token weights
    /// of `algorithm.rollout_correction` (null when off).
    /// </summary>
    private float[][]? RolloutMismatch(Dictionary<string, double> metrics, IReadOnlyList<RolloutResult> results, float[][]? recomputed)
    {
        metrics["rollout/staleness_mean"] = results.Average(r => (double)(_policy.StepCount - r.WeightVersion));
        metrics["rollout/staleness_max"] = results.Max(r => _policy.StepCount - r.WeightVersion);
        if (recomputed is null) return null;
        var algorithm = _config.Algorithm;
        AddMismatchMetrics(metrics, results, recomputed);
        return RolloutCorrection.Weights(algorithm.RolloutCorrection, algorithm.RolloutCorrectionThreshold, recomputed, [.. results.Select(r => r.LogProbs)]);
    }

    /// <summary>rollout_corr/*: how far the sampler's log-probs are from the trainer's <paramref name="recomputed"/> ones.</summary>
    private void AddMismatchMetrics(Dictionary<string, double> metrics, IReadOnlyList<RolloutResult> results, float[][] recomputed)
    {
        var algorithm = _config.Algorithm;
        float[][] sampled = [.. results.Select(r => r.LogProbs)];
        foreach (var (k, v) in RolloutCorrection.Metrics(recomputed, sampled, algorithm.RolloutCorrection, algorithm.RolloutCorrectionThreshold)) metrics[k] = v;
    }

    /// <summary>
    /// Whether this step's rollout-policy log-probs come from the update's forward (`trainer.logprobs_from_update`, as
    /// TRL's GRPOTrainer when it has one iteration per generation): only when that forward runs on the very weights that
    /// sampled every rollout, before any optimizer step, and nothing needs the log-probs before it (Prepare, rollout
    /// correction weights, a built-in loss sent to the server).
    /// </summary>
    private bool LogProbsFromUpdate(IReadOnlyList<RolloutResult> results)
    {
        var cfg = _config;
        return cfg.Trainer.RecomputeLogprobs && cfg.Trainer.LogprobsFromUpdate
            && cfg.Update.Epochs == 1 && cfg.Update.MiniBatches == 1
            && cfg.Algorithm.RolloutCorrection == RolloutCorrectionMode.None
            && !_algorithm.PrepareReadsOldLogProbs && !_builtInLoss.MaySend
            && results.All(r => r.WeightVersion == _policy.StepCount);
    }

    /// <summary>What the no-grad passes of a step computed: null where the step does not need it.</summary>
    private sealed record RolloutScores(float[][]? OldLogProbs, float[][]? RefLogProbs, float[][]? OldValues);

    /// <summary>The rollout policy's log-probs (when recomputed), the reference's and the critic's values, each chunk of rows packed once for all three.</summary>
    private RolloutScores ScoreRollouts(int[][] rowPrompts, int[][] responses, float temperature, bool recompute)
    {
        if (!recompute && _reference is null && _critic is null) return new RolloutScores(null, null, null);
        int rows = rowPrompts.Length;
        var old = recompute ? new float[rows][] : null;
        var reference = _reference is null ? null : new float[rows][];
        var values = _critic is null ? null : new float[rows][];
        int chunk = Math.Max(1, _planner.RowsPerMicroBatch);
        for (int start = 0; start < rows; start += chunk)
        {
            int end = Math.Min(rows, start + chunk);
            var packed = _backend.Pack(rowPrompts[start..end], responses[start..end], _tokenizer.PadId);
            if (old is not null) _policy.Score(packed, temperature).CopyTo(old, start);
            if (reference is not null) _reference!.Score(packed, temperature).CopyTo(reference, start);
            if (values is not null) _critic!.Score(packed, temperature).CopyTo(values, start);
        }
        return new RolloutScores(old, reference, values);
    }

    /// <summary>What one step's update did.</summary>
    private sealed record UpdateResult(Dictionary<string, double> Metrics, long Tokens, bool Skipped, double SyncSeconds);

    /// <summary>
    /// The optimizer steps of one batch; fills <paramref name="entropy"/> (per row) from the first epoch's forward
    /// passes, and <paramref name="oldLogProbs"/> (the batch's rows, when given) from each micro-batch's forward before
    /// its loss. A non-finite loss or gradient anywhere undoes every optimizer step this batch took.
    /// </summary>
    private UpdateResult Update(PolicyBatch batch, int[][] rowPrompts, int[][] responses, int step, float[]?[] entropy, bool[]? masked, float[][]? correction,
        float[][]? oldLogProbs)
    {
        var cfg = _config;
        int group = cfg.Rollout.TrainGroupSize;
        float temperature = (float)cfg.Rollout.Temperature;
        bool criticOnly = _critic is not null && step <= cfg.Critic.WarmupSteps;
        var stats = new UpdateStats();
        double syncSeconds = 0;
        // Later mini-batches see the weights earlier ones stepped (and the critic steps after the policy); undoing
        // them needs a copy from before the first.
        bool severalSteps = cfg.Update.Epochs * cfg.Update.MiniBatches > 1 || _critic is not null;
        ITrainingSnapshot?[] snapshots = severalSteps ? [_policy.Snapshot(), _critic?.Snapshot()] : [];
        UpdateResult Skip()
        {
            foreach (var snapshot in snapshots) snapshot?.Restore();
            _policy.ZeroGrad();
            _critic?.ZeroGrad();
            if (severalSteps) _rollout.SyncWeights(_policy, _policy.StepCount);
            return new UpdateResult(stats.Average(), stats.Tokens, true, syncSeconds);
        }

        for (int epoch = 0; epoch < cfg.Update.Epochs; epoch++)
        {
            foreach (var miniGroups in _planner.MiniBatchGroups(_rng))
            {
                var miniRows = miniGroups.SelectMany(g => Enumerable.Range(g * group, group)).ToArray();
                var totals = MiniBatchTotals.Of(batch.SelectRows(miniRows));
                _policy.ZeroGrad();
                _critic?.ZeroGrad();
                double miniLoss = 0;
                foreach (var (start, end) in _planner.MicroBatches(miniRows.Length))
                {
                    var microRows = miniRows[start..end];
                    var micro = _algorithm.NeedsWholeGroups
                        ? batch.SelectGroups(miniGroups[(start / group)..(end / group)])
                        : batch.SelectRows(microRows);
                    // The algorithm normalises by the whole mini-batch, so micro-batch gradients add up to the mini-batch's.
                    micro.Totals = totals;
                    var packed = _backend.Pack(microRows.Select(r => rowPrompts[r]).ToList(), microRows.Select(r => responses[r]).ToList(), _tokenizer.PadId);
                    // A loss the server computes itself needs no forward first (its gradient is sent already).
                    if (_builtInLoss.Backward(micro, packed, microRows, masked, correction, epoch == 0 ? entropy : null) is { } sent)
                    {
                        if (LossHook is not null) sent = LossHook(step, sent);
                        if (!double.IsFinite(sent.Loss)) return Skip();
                        miniLoss += sent.Loss;
                        stats.Tokens += packed.TotalTokens;
                        stats.AddMetrics(sent.Metrics, (double)microRows.Length / miniRows.Length);
                        continue;
                    }
                    using var policyPass = _policy.Forward(packed, temperature, withEntropy: epoch == 0, withGradients: !criticOnly);
                    micro.LogProbs = policyPass.Outputs;
                    // The micro-batch's rows are the batch's arrays: its OldLogProbs see these values too.
                    if (oldLogProbs is not null)
                        for (int i = 0; i < microRows.Length; i++) policyPass.Outputs[i].CopyTo(oldLogProbs[microRows[i]], 0);
                    if (policyPass.Entropy is { } rowEntropy)
                        for (int i = 0; i < microRows.Length; i++) entropy[microRows[i]] = rowEntropy[i];
                    using var valuePass = _critic?.Forward(packed, temperature);
                    micro.Values = valuePass?.Outputs;
                    var output = _algorithm.Loss(micro);
                    if (LossHook is not null) output = LossHook(step, output);
                    if (!double.IsFinite(output.Loss)) return Skip();
                    if (masked is not null)
                        for (int i = 0; i < microRows.Length; i++)
                            if (masked[microRows[i]]) Array.Clear(output.GradLogProbs[i]);
                    if (correction is not null) RolloutCorrection.Apply(output.GradLogProbs, [.. microRows.Select(r => correction[r])]);
                    if (!criticOnly) policyPass.Backward(output.GradLogProbs);
                    if (valuePass is not null && output.GradValues is not null) valuePass.Backward(output.GradValues);
                    miniLoss += output.Loss;
                    stats.Tokens += packed.TotalTokens;
                    stats.AddMetrics(output.Metrics, (double)microRows.Length / miniRows.Length);
                }
                stats.EndMiniBatch();
                double norm = criticOnly ? 0 : _policy.ClipGradNorm(cfg.Optim.GradClip);
                if (!double.IsFinite(norm)) return Skip();
                stats.LearningRate = _schedule.LearningRate(_policy.StepCount);
                if (!criticOnly)
                {
                    if (!_policy.Step(stats.LearningRate)) return Skip();
                    var sync = Stopwatch.StartNew();
                    _rollout.SyncWeights(_policy, _policy.StepCount);
                    syncSeconds += sync.Elapsed.TotalSeconds;
                }
                if (_critic is not null)
                {
                    double criticNorm = _critic.ClipGradNorm(cfg.Optim.GradClip);
                    if (!double.IsFinite(criticNorm)) return Skip();
                    stats.CriticGradNormSum += criticNorm;
                    stats.CriticLearningRate = _criticSchedule!.LearningRate(_critic.StepCount);
                    if (!_critic.Step(stats.CriticLearningRate)) return Skip();
                }
                stats.GradNormSum += norm;
                stats.LossSum += miniLoss;
                stats.OptimizerSteps++;
            }
        }
        _policy.ZeroGrad();
        _critic?.ZeroGrad();
        var result = stats.Average();
        result["actor/loss"] = stats.OptimizerSteps > 0 ? stats.LossSum / stats.OptimizerSteps : double.NaN;
        result["actor/grad_norm"] = stats.OptimizerSteps > 0 ? stats.GradNormSum / stats.OptimizerSteps : double.NaN;
        result["actor/lr"] = stats.LearningRate;
        result.TryAdd(BuiltInLossUpdate.Metric, 0);
        if (_critic is not null)
        {
            result["critic/grad_norm"] = stats.OptimizerSteps > 0 ? stats.CriticGradNormSum / stats.OptimizerSteps : double.NaN;
            result["critic/lr"] = stats.CriticLearningRate;
        }
        result["train/optimizer_steps"] = _policy.StepCount;
        return new UpdateResult(result, stats.Tokens, false, syncSeconds);
    }

    /// <summary>pass@1 and pass@n on the first `task.eval_problems` held-out problems, with fixed seeds, through the evaluator.</summary>
    public Dictionary<string, double> Validate()
    {
        var cfg = _config;
        var options = new EvalOptions
        {
            Samples = cfg.Task.EvalSamples,
            Problems = cfg.Task.EvalProblems,
            Seed = Rng.Hash(cfg.Trainer.Seed, EvalSeedTag),
            BatchSize = cfg.Rollout.MaxBatchRows > 0 ? cfg.Rollout.MaxBatchRows : cfg.Task.EvalProblems * cfg.Task.EvalSamples,
        };
        var report = Evaluator.Run(_task, new RolloutSampler(_rollout, _tokenizer, SamplingFor(cfg), _prompts), options);
        int samples = options.Samples;
        var metrics = new Dictionary<string, double>
        {
            ["val/pass@1"] = report.PassAt(1),
            [$"val/pass@{samples}"] = report.PassAt(samples),
        };
        Message?.Invoke($"validation: pass@1 {metrics["val/pass@1"]:0.000}, pass@{samples} {metrics[$"val/pass@{samples}"]:0.000} on {report.Problems.Count} held-out problems");
        return metrics;
    }

    /// <summary>Says once per process what the prompt filter kept, and when there is nothing to validate on.</summary>
    private void ReportDataOnce()
    {
        if (_dataReported) return;
        _dataReported = true;
        Message?.Invoke(_dataReport);
        if (_config.Trainer.EvalEvery > 0 && _task.Count(Split.Test) == 0)
            Message?.Invoke($"no validation set: {_task.Name} has no test split; set data.eval_dataset (e.g. math500) or data.eval_fraction to validate");
    }

    private SamplingParams SamplingFor(TrainConfig cfg) =>
        SamplingParams.Of((float)cfg.Rollout.Temperature, cfg.Rollout.MaxResponseTokens, _tokenizer.EosIds, topP: (float)cfg.Rollout.TopP);

    private long TrainIndex(long position)
    {
        long count = _task.Count(_promptSplit);
        long index = _config.Task.PromptOffset + position;
        return count == long.MaxValue ? index : index % count;
    }

    /// <summary>A checkpoint folder: the policy's state (its `model/` is a complete Hugging Face folder with the tokenizer), the critic's, the trainer's.</summary>
    private const string CriticDir = "critic";

    private void SaveCheckpoint()
    {
        string dir = Checkpointer.Save(RunDir, _step, tmp =>
        {
            _policy.SaveState(tmp);
            TokenizerFiles.Copy(_startModelDir, Checkpointer.ModelDir(tmp));
            _critic?.SaveState(Path.Combine(tmp, CriticDir));
            new TrainerState(_step, _dataPosition, _rng.State, _consecutiveNanSkips).Write(tmp);
        }, _config.Trainer.KeepCheckpoints);
        Message?.Invoke($"checkpoint: step {_step} -> {dir}");
    }

    private void LoadCheckpoint(string checkpoint)
    {
        _policy.LoadState(checkpoint);
        _critic?.LoadState(Path.Combine(checkpoint, CriticDir));
    }
}

using System.Diagnostics;
using Pacs.Models;
using Pacs.Rewards;
using Pacs.Rewards.Tasks;
using Pacs.Rl.Algorithms;
using Pacs.Rl.Config;
using Pacs.Tensors;
using Pacs.Tensors.Optim;
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
/// when the algorithm needs them). The algorithm returns d loss / d log-prob per response token; the trainer
/// back-propagates it through the policy with <see cref="Tensor.Backward(float[])"/>.
/// Everything random is seeded from `trainer.seed` and the step, so a resumed run repeats an uninterrupted one.
/// </summary>
public sealed class RlTrainer
{
    private const long EvalSeedTag = 0x5EED_E7A1;

    private readonly TrainConfig _config;
    private readonly ITask _task;
    private readonly ITokenizer _tokenizer;
    private readonly Transformer _policy;
    private readonly Transformer? _reference;
    private readonly ValueModel? _critic;
    private readonly IRlAlgorithm _algorithm;
    private readonly AdamW _optimizer;
    private readonly AdamW? _criticOptimizer;
    private readonly LrSchedule _schedule;
    private readonly LrSchedule? _criticSchedule;
    private readonly Generator _generator;
    private readonly BatchPlanner _planner;
    private readonly Rng _rng;
    private readonly string _startModelDir;
    private readonly PromptEncoder _prompts;
    private readonly Split _promptSplit;
    private readonly OptimalValueStage? _optimalValues;
    private readonly VineValueStage? _vineValues;
    private int _step;
    private long _dataPosition;
    private int _consecutiveNanSkips;

    private RlTrainer(TrainConfig config, string runDir, Transformer policy, TrainerState? state, ITask? task = null)
    {
        _config = config;
        RunDir = runDir;
        _startModelDir = config.Model.Dir;
        _algorithm = config.Algorithm.Create();
        _task = task ?? TaskRegistry.Create(config.Task.Name, config.Task.Seed, config.Task.Level == 0 ? null : config.Task.Level);
        _promptSplit = config.Task.PromptSplit switch
        {
            "rl" => Split.Rl,
            "train" => Split.Train,
            _ => _task.Count(Split.Rl) > 0 ? Split.Rl : Split.Train,
        };
        if (_task.Count(_promptSplit) == 0) throw new ArgumentException($"task '{config.Task.Name}' has no {_promptSplit} problems to draw RL prompts from (task.prompt_split)");
        _tokenizer = ModelFiles.LoadTokenizer(_startModelDir);
        _prompts = PromptEncoder.ForModel(_startModelDir, _tokenizer);
        if (_tokenizer.VocabSize > policy.Config.VocabSize)
            throw new InvalidDataException($"{_startModelDir}: tokenizer has {_tokenizer.VocabSize} ids but config.json vocab_size is {policy.Config.VocabSize}");
        _policy = policy;
        bool needsInitial = _algorithm.NeedsReference || config.Trainer.TrackRefKl;
        _reference = needsInitial ? Transformer.Load(_startModelDir) : null;
        if (_reference is not null) foreach (var (_, p) in _reference.Parameters) p.RequiresGrad = false;
        if (_algorithm.NeedsCritic) _critic = ValueModel.FromBase(_reference ?? Transformer.Load(_startModelDir), _tokenizer.PadId);

        long optimizerSteps = (long)config.Trainer.Steps * config.Update.Epochs * config.Update.MiniBatches;
        _schedule = new LrSchedule(config.Optim.Schedule, config.Optim.Lr, config.Optim.WarmupSteps, (int)Math.Min(int.MaxValue, optimizerSteps), config.Optim.MinLrRatio);
        _optimizer = NewOptimizer(_policy, config.Optim.Lr);
        if (_critic is not null)
        {
            _criticOptimizer = NewOptimizer(_critic.Model, config.Critic.Lr);
            _criticSchedule = new LrSchedule(config.Optim.Schedule, config.Critic.Lr, config.Optim.WarmupSteps, (int)Math.Min(int.MaxValue, optimizerSteps), config.Optim.MinLrRatio);
        }
        _generator = new Generator(_policy);
        // A*-PO (issue 15): V* of each prompt from the frozen initial model, drawn once and cached in the run.
        if (_algorithm is AStarPoAlgorithm astar) _optimalValues = new OptimalValueStage(_reference!, _tokenizer, _task, astar.Options, runDir, config.Trainer.Seed);
        // VinePPO (issue 15): Monte-Carlo values at reasoning-step boundaries from K extra rollouts of the policy.
        if (_algorithm is VinePpoAlgorithm vine) _vineValues = new VineValueStage(_generator, _tokenizer, _task, vine.Options, config.Trainer.Seed);
        _planner = new BatchPlanner(config.Rollout.BatchPrompts, config.Rollout.TrainGroupSize, config.Update.MiniBatches, config.Update.MicroBatchSize);
        _rng = new Rng(Rng.Hash(config.Trainer.Seed, 0x7EA1));
        if (state is not null)
        {
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
    public static RlTrainer Start(TrainConfig config, string runDir) => Start(config, runDir, task: null);

    /// <summary>Test hook: a fresh run on a task that is not in the registry (config.task.name is then only a label).</summary>
    internal static RlTrainer Start(TrainConfig config, string runDir, ITask? task)
    {
        TrainConfigValidator.Validate(config);
        if (File.Exists(Path.Combine(runDir, MetricsLog.FileName)) || Directory.Exists(Path.Combine(runDir, RunFiles.CheckpointsDir)))
            throw new ArgumentException($"run directory {runDir} already holds a run; resume it with --resume {runDir} or choose another --out");
        var policy = Transformer.Load(config.Model.Dir);
        Directory.CreateDirectory(runDir);
        string configPath = Path.Combine(runDir, RunFiles.ConfigFile);
        File.WriteAllText(configPath + ".tmp", ConfigBinder.ToYaml(config));
        File.Move(configPath + ".tmp", configPath, overwrite: true);
        return new RlTrainer(config, runDir, policy, state: null, task);
    }

    /// <summary>Continues a run from its newest checkpoint; <paramref name="steps"/> optionally changes the total.</summary>
    public static RlTrainer Resume(string runDir, int? steps = null)
    {
        string configPath = Path.Combine(runDir, RunFiles.ConfigFile);
        var config = ConfigBinder.LoadFile<TrainConfig>(configPath);
        if (steps is { } s) config.Trainer.Steps = s;
        TrainConfigValidator.Validate(config);
        string checkpoint = Checkpointer.Latest(runDir);
        var state = TrainerState.Read(checkpoint);
        var policy = Transformer.Load(Path.Combine(checkpoint, "model"));
        var trainer = new RlTrainer(config, runDir, policy, state);
        trainer.LoadOptimizerState(checkpoint);
        MetricsLog.TruncateAfter(runDir, state.Step);
        if (steps is not null)
        {
            File.WriteAllText(configPath + ".tmp", ConfigBinder.ToYaml(config));
            File.Move(configPath + ".tmp", configPath, overwrite: true);
        }
        return trainer;
    }

    /// <summary>Runs until `trainer.steps`, cancellation (saves first) or too many consecutive NaN skips.</summary>
    public TrainOutcome Run(CancellationToken cancel = default)
    {
        int total = _config.Trainer.Steps;
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
    public Transformer Policy => _policy;

    private AdamW NewOptimizer(Transformer model, double lr)
    {
        foreach (var (name, p) in model.Parameters) p.Name ??= name;
        var parameters = model.Parameters.Select(p => p.Value).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>().ToList();
        var groups = ParameterGroup.DecayAndNoDecay(parameters, _config.Optim.WeightDecay);
        return new AdamW(groups, new AdamWOptions
        {
            LearningRate = lr,
            Beta1 = _config.Optim.Beta1,
            Beta2 = _config.Optim.Beta2,
            Epsilon = _config.Optim.Eps,
            WeightDecay = _config.Optim.WeightDecay,
            SkipNonFinite = true,
        });
    }

    private Dictionary<string, double> RunStep(int step)
    {
        var cfg = _config;
        int prompts = cfg.Rollout.BatchPrompts, group = cfg.Rollout.GroupSize;
        float temperature = (float)cfg.Rollout.Temperature;
        var stepWatch = Stopwatch.StartNew();
        var metrics = new Dictionary<string, double> { ["step"] = step };

        // 1. Rollout.
        var watch = Stopwatch.StartNew();
        var problems = new Problem[prompts];
        var promptIds = new int[prompts][];
        var requests = new List<GenerationRequest>(prompts * group);
        for (int p = 0; p < prompts; p++)
        {
            long index = TrainIndex(_dataPosition + p);
            problems[p] = _task.Get(_promptSplit, index);
            promptIds[p] = _prompts.Encode(problems[p].Prompt);
            for (int g = 0; g < group; g++) requests.Add(new GenerationRequest(promptIds[p], Rng.Hash(cfg.Trainer.Seed, step, index, g)));
        }
        _dataPosition += prompts;
        var sampling = SamplingFor(cfg);
        var results = _generator.Generate(requests, sampling);
        double rolloutTime = watch.Elapsed.TotalSeconds;
        long generatedTokens = results.Sum(r => (long)r.Tokens.Length);

        // 2. Scoring.
        watch.Restart();
        int rows = prompts * group;
        var rewards = new float[rows];
        var rowPrompts = new int[rows][];
        var responses = new int[rows][];
        for (int r = 0; r < rows; r++)
        {
            rowPrompts[r] = promptIds[r / group];
            responses[r] = results[r].Tokens;
            string text = _tokenizer.Decode(results[r].Tokens, skipSpecialTokens: true);
            rewards[r] = (float)_task.Verify(problems[r / group], text).Reward;
        }
        double scoreTime = watch.Elapsed.TotalSeconds;
        metrics["reward/mean_all_rollouts"] = rewards.Average(r => (double)r);

        // PODS (issue 15): keep the pods_keep rollouts of each group with maximal reward variance; the rest is dropped here.
        if (cfg.Rollout.PodsKeep > 0)
        {
            var kept = PodsSelection.MaxVariance(rewards, group, cfg.Rollout.PodsKeep);
            rewards = [.. kept.Select(r => rewards[r])];
            rowPrompts = [.. kept.Select(r => rowPrompts[r])];
            responses = [.. kept.Select(r => responses[r])];
            results = [.. kept.Select(r => results[r])];
            (group, rows) = (cfg.Rollout.PodsKeep, kept.Length);
        }

        // 3. Log-probs of the rollout policy, the initial model and the critic's values.
        watch.Restart();
        int passRows = Math.Max(1, _planner.RowsPerMicroBatch);
        // The policy's entropy is taken from the logits of the update's first forward pass (as verl), so turning
        // recompute_logprobs off saves a whole forward pass.
        float[][] oldLogProbs = cfg.Trainer.RecomputeLogprobs
            ? ModelPasses.ScoreResponses(_policy, rowPrompts, responses, _tokenizer.PadId, temperature, passRows, withEntropy: false).LogProbs
            : results.Select(r => r.LogProbs).ToArray();
        var entropy = new float[]?[rows];
        float[][]? refLogProbs = _reference is null ? null
            : ModelPasses.ScoreResponses(_reference, rowPrompts, responses, _tokenizer.PadId, temperature, passRows, withEntropy: false).LogProbs;
        float[][]? oldValues = _critic?.Score(rowPrompts, responses, _tokenizer.PadId, passRows);
        double logProbTime = watch.Elapsed.TotalSeconds;

        var batch = new PolicyBatch(group, rewards, oldLogProbs) { RefLogProbs = refLogProbs, OldValues = oldValues };
        if (_vineValues is not null)
        {
            (batch.Advantages, int states) = _vineValues.Advantages(step, problems, rowPrompts, responses, rewards, group, sampling);
            metrics["vine/states_per_response"] = states / (double)rows;
        }
        batch.OptimalValues = _optimalValues?.ForRows([.. Enumerable.Range(0, prompts).Select(p => TrainIndex(_dataPosition - prompts + p))], problems, promptIds, group, sampling);
        foreach (var (k, v) in _algorithm.Prepare(batch)) metrics[k] = v;

        // 4. Update.
        watch.Restart();
        var (updateMetrics, updateTokens, skipped) = Update(batch, rowPrompts, responses, step, entropy);
        double updateTime = watch.Elapsed.TotalSeconds;
        foreach (var (k, v) in updateMetrics) metrics[k] = v;

        // 5. Metrics of the batch.
        AddRolloutMetrics(metrics, rewards, responses, results, entropy, oldLogProbs, refLogProbs, group, cfg.Rollout.MaxResponseTokens);
        _consecutiveNanSkips = skipped ? _consecutiveNanSkips + 1 : 0;
        metrics["train/nan_skipped"] = skipped ? 1 : 0;
        if (skipped) Message?.Invoke($"step {step}: non-finite loss or gradient, update skipped ({_consecutiveNanSkips} in a row)");

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
        metrics["time/eval"] = evalTime;
        metrics["time/step"] = stepWatch.Elapsed.TotalSeconds;
        metrics["perf/rollout_tokens_per_s"] = rolloutTime > 0 ? generatedTokens / rolloutTime : 0;
        metrics["perf/update_tokens_per_s"] = updateTime > 0 ? updateTokens / updateTime : 0;
        metrics["perf/step_tokens_per_s"] = generatedTokens / Math.Max(1e-9, stepWatch.Elapsed.TotalSeconds - evalTime);
        return metrics;
    }

    /// <summary>The optimizer steps of one batch; fills <paramref name="entropy"/> (per row) from the first epoch's forward passes.</summary>
    private (Dictionary<string, double> Metrics, long Tokens, bool Skipped) Update(PolicyBatch batch, int[][] rowPrompts, int[][] responses, int step, float[]?[] entropy)
    {
        var cfg = _config;
        int group = cfg.Rollout.TrainGroupSize;
        float temperature = (float)cfg.Rollout.Temperature;
        bool tokenShare = _config.Algorithm.Options is ClippedPolicyOptions { LossAggMode: LossAggregation.TokenMean };
        var sums = new Dictionary<string, double>();
        var mins = new Dictionary<string, double>();
        var maxs = new Dictionary<string, double>();
        double weightTotal = 0, gradNormSum = 0, criticGradNormSum = 0, lossSum = 0;
        int optimizerSteps = 0;
        long tokens = 0;
        double lr = 0, criticLr = 0;
        var policyParams = _optimizer.Parameters.ToList();
        var criticParams = _criticOptimizer?.Parameters.ToList();
        int microIndex = 0;

        for (int epoch = 0; epoch < cfg.Update.Epochs; epoch++)
        {
            foreach (var miniGroups in _planner.MiniBatchGroups(_rng))
            {
                var miniRows = miniGroups.SelectMany(g => Enumerable.Range(g * group, group)).ToArray();
                long miniTokens = miniRows.Sum(r => (long)responses[r].Length);
                _optimizer.ZeroGrad();
                _criticOptimizer?.ZeroGrad();
                double miniLoss = 0;
                foreach (var (start, end) in _planner.MicroBatches(miniRows.Length))
                {
                    var microRows = miniRows[start..end];
                    // Activations and their gradients come from the tensor pool and go back to it after this micro-batch.
                    using var scope = TensorScope.Begin();
                    var micro = _algorithm.NeedsWholeGroups
                        ? batch.SelectGroups(miniGroups[(start / group)..(end / group)])
                        : batch.SelectRows(microRows);
                    var packed = PackedSequences.Build(microRows.Select(r => rowPrompts[r]).ToList(), microRows.Select(r => responses[r]).ToList(), _tokenizer.PadId);
                    var (logProbTensor, logits) = ModelPasses.LogProbs(_policy, packed, temperature);
                    micro.LogProbs = packed.Extract(logProbTensor.Data);
                    if (epoch == 0)
                    {
                        var rowEntropy = ModelPasses.ResponseEntropy(logits, packed, temperature);
                        for (int i = 0; i < microRows.Length; i++) entropy[microRows[i]] = rowEntropy[i];
                    }
                    Tensor? valueTensor = null;
                    if (_critic is not null)
                    {
                        valueTensor = _critic.Values(packed);
                        micro.Values = packed.Extract(valueTensor.Data);
                    }
                    var output = _algorithm.Loss(micro);
                    if (LossHook is not null) output = LossHook(step, output);
                    long microTokens = microRows.Sum(r => (long)responses[r].Length);
                    double share = tokenShare ? (miniTokens > 0 ? (double)microTokens / miniTokens : 0) : (double)microRows.Length / miniRows.Length;
                    if (!double.IsFinite(output.Loss))
                    {
                        _optimizer.ZeroGrad();
                        _criticOptimizer?.ZeroGrad();
                        return (Average(sums, mins, maxs, weightTotal), tokens, true);
                    }
                    logProbTensor.Backward(packed.Scatter(output.GradLogProbs, share));
                    if (valueTensor is not null && output.GradValues is not null) valueTensor.Backward(packed.Scatter(output.GradValues, share));
                    miniLoss += share * output.Loss;
                    tokens += packed.TotalTokens;
                    foreach (var (k, v) in output.Metrics)
                    {
                        if (!double.IsFinite(v)) continue;
                        if (k.EndsWith("_min", StringComparison.Ordinal)) mins[k] = Math.Min(mins.GetValueOrDefault(k, double.PositiveInfinity), v);
                        else if (k.EndsWith("_max", StringComparison.Ordinal)) maxs[k] = Math.Max(maxs.GetValueOrDefault(k, double.NegativeInfinity), v);
                        else sums[k] = sums.GetValueOrDefault(k) + share * v;
                    }
                    microIndex++;
                }
                weightTotal += 1;
                double norm = cfg.Optim.GradClip > 0 ? GradientTools.ClipGlobalNorm(policyParams, cfg.Optim.GradClip) : GradientTools.GlobalNorm(policyParams);
                if (!double.IsFinite(norm))
                {
                    _optimizer.ZeroGrad();
                    _criticOptimizer?.ZeroGrad();
                    return (Average(sums, mins, maxs, weightTotal), tokens, true);
                }
                bool criticOnly = _critic is not null && step <= cfg.Critic.WarmupSteps;
                lr = _schedule.LearningRate(_optimizer.StepCount);
                if (!criticOnly)
                {
                    _optimizer.LearningRate = lr;
                    _optimizer.Step();
                }
                if (_criticOptimizer is not null && criticParams is not null)
                {
                    double criticNorm = cfg.Optim.GradClip > 0 ? GradientTools.ClipGlobalNorm(criticParams, cfg.Optim.GradClip) : GradientTools.GlobalNorm(criticParams);
                    criticGradNormSum += criticNorm;
                    criticLr = _criticSchedule!.LearningRate(_criticOptimizer.StepCount);
                    _criticOptimizer.LearningRate = criticLr;
                    _criticOptimizer.Step();
                }
                gradNormSum += norm;
                lossSum += miniLoss;
                optimizerSteps++;
            }
        }
        _optimizer.ZeroGrad();
        _criticOptimizer?.ZeroGrad();
        var result = Average(sums, mins, maxs, weightTotal);
        result["actor/loss"] = optimizerSteps > 0 ? lossSum / optimizerSteps : double.NaN;
        result["actor/grad_norm"] = optimizerSteps > 0 ? gradNormSum / optimizerSteps : double.NaN;
        result["actor/lr"] = lr;
        if (_critic is not null)
        {
            result["critic/grad_norm"] = optimizerSteps > 0 ? criticGradNormSum / optimizerSteps : double.NaN;
            result["critic/lr"] = criticLr;
        }
        result["train/optimizer_steps"] = _optimizer.StepCount;
        return (result, tokens, false);
    }

    private static Dictionary<string, double> Average(Dictionary<string, double> sums, Dictionary<string, double> mins, Dictionary<string, double> maxs, double count)
    {
        var result = new Dictionary<string, double>();
        foreach (var (k, v) in sums) result[k] = count > 0 ? v / count : double.NaN;
        foreach (var (k, v) in mins) result[k] = v;
        foreach (var (k, v) in maxs) result[k] = v;
        return result;
    }

    private static void AddRolloutMetrics(Dictionary<string, double> metrics, float[] rewards, int[][] responses, IReadOnlyList<GenerationResult> results,
        float[]?[] entropy, float[][] oldLogProbs, float[][]? refLogProbs, int group, int maxTokens)
    {
        int rows = rewards.Length;
        int groups = rows / group;
        metrics["reward/mean"] = rewards.Average(r => (double)r);
        metrics["reward/accuracy"] = rewards.Count(r => r >= 0.5f) / (double)rows;
        int uniform = 0, solved = 0;
        for (int g = 0; g < groups; g++)
        {
            var slice = rewards.AsSpan(g * group, group);
            bool allEqual = true, anyCorrect = false;
            foreach (var r in slice)
            {
                allEqual &= r == slice[0];
                anyCorrect |= r >= 0.5f;
            }
            if (allEqual) uniform++;
            if (anyCorrect) solved++;
        }
        metrics["reward/all_equal_group_fraction"] = uniform / (double)groups;
        metrics[$"reward/pass@{group}"] = solved / (double)groups;
        metrics["response/length_mean"] = responses.Average(r => (double)r.Length);
        metrics["response/length_max"] = responses.Max(r => r.Length);
        metrics["response/clip_fraction"] = results.Count(r => !r.Stopped && r.Tokens.Length >= maxTokens) / (double)rows;
        // Rows of an update cut short by a non-finite loss have no entropy.
        double entropySum = 0;
        long entropyTokens = 0;
        foreach (var row in entropy)
        {
            if (row is null) continue;
            foreach (var e in row) entropySum += e;
            entropyTokens += row.Length;
        }
        if (entropyTokens > 0) metrics["actor/entropy"] = entropySum / entropyTokens;
        if (refLogProbs is not null)
        {
            // k1 estimate of KL(pi_old || pi_ref) per token from the sampled tokens.
            double kl = 0;
            long n = 0;
            for (int r = 0; r < rows; r++)
                for (int t = 0; t < oldLogProbs[r].Length; t++) { kl += oldLogProbs[r][t] - refLogProbs[r][t]; n++; }
            metrics["actor/kl_ref"] = n > 0 ? kl / n : 0;
        }
    }

    /// <summary>pass@1 and pass@n on the first `task.eval_problems` held-out problems, with fixed seeds.</summary>
    public Dictionary<string, double> Validate()
    {
        var cfg = _config;
        int problems = (int)Math.Min(cfg.Task.EvalProblems, _task.Count(Split.Test));
        int samples = cfg.Task.EvalSamples;
        var requests = new List<GenerationRequest>(problems * samples);
        var items = new Problem[problems];
        for (int i = 0; i < problems; i++)
        {
            items[i] = _task.Get(Split.Test, i);
            var ids = _prompts.Encode(items[i].Prompt);
            for (int j = 0; j < samples; j++) requests.Add(new GenerationRequest(ids, Rng.Hash(cfg.Trainer.Seed, EvalSeedTag, i, j)));
        }
        var results = _generator.Generate(requests, SamplingFor(cfg));
        double pass1 = 0, passN = 0;
        for (int i = 0; i < problems; i++)
        {
            int correct = 0;
            for (int j = 0; j < samples; j++)
                if (_task.Verify(items[i], _tokenizer.Decode(results[i * samples + j].Tokens, skipSpecialTokens: true)).Correct) correct++;
            pass1 += PassAtK.Estimate(samples, correct, 1);
            passN += PassAtK.Estimate(samples, correct, samples);
        }
        var metrics = new Dictionary<string, double>
        {
            ["val/pass@1"] = problems > 0 ? pass1 / problems : double.NaN,
            [$"val/pass@{samples}"] = problems > 0 ? passN / problems : double.NaN,
        };
        Message?.Invoke($"validation: pass@1 {metrics["val/pass@1"]:0.000}, pass@{samples} {metrics[$"val/pass@{samples}"]:0.000} on {problems} held-out problems");
        return metrics;
    }

    private SamplingOptions SamplingFor(TrainConfig cfg) => new(
        Temperature: (float)cfg.Rollout.Temperature,
        TopP: (float)cfg.Rollout.TopP,
        MaxNewTokens: cfg.Rollout.MaxResponseTokens,
        StopTokenIds: _tokenizer.EosIds);

    private long TrainIndex(long position)
    {
        long count = _task.Count(_promptSplit);
        long index = _config.Task.PromptOffset + position;
        return count == long.MaxValue ? index : index % count;
    }

    private void SaveCheckpoint()
    {
        string dir = Checkpointer.Save(RunDir, _step, tmp =>
        {
            string modelDir = Path.Combine(tmp, "model");
            _policy.Save(modelDir);
            ModelFiles.CopyTokenizer(_startModelDir, modelDir);
            StateFile.Write(Path.Combine(tmp, "optimizer.bin"), _optimizer.ExportState().Select(kv => (kv.Key, kv.Value)).ToList());
            if (_critic is not null)
            {
                StateFile.Write(Path.Combine(tmp, "critic.bin"), _critic.Model.Parameters.Select(kv => (kv.Key, kv.Value.Data)).ToList());
                StateFile.Write(Path.Combine(tmp, "critic_optimizer.bin"), _criticOptimizer!.ExportState().Select(kv => (kv.Key, kv.Value)).ToList());
            }
            new TrainerState(_step, _dataPosition, _rng.State, _consecutiveNanSkips).Write(tmp);
        }, _config.Trainer.KeepCheckpoints);
        Message?.Invoke($"checkpoint: step {_step} -> {dir}");
    }

    private void LoadOptimizerState(string checkpoint)
    {
        string path = Path.Combine(checkpoint, "optimizer.bin");
        _optimizer.ImportState(StateFile.Read(path));
        if (_critic is not null)
        {
            string criticPath = Path.Combine(checkpoint, "critic.bin");
            var weights = StateFile.Read(criticPath);
            foreach (var (name, p) in _critic.Model.Parameters) StateFile.CopyInto(weights, name, p.Data, criticPath);
            _criticOptimizer!.ImportState(StateFile.Read(Path.Combine(checkpoint, "critic_optimizer.bin")));
        }
    }
}

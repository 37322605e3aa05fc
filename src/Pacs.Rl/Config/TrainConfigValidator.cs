using Pacs.Rl.Algorithms;
using Pacs.Rl.Training;
using Pacs.Engine;

namespace Pacs.Rl.Config;

/// <summary>Checks a whole config before any work starts; every message names the offending key.</summary>
public static class TrainConfigValidator
{
    /// <summary>
    /// Checks every key; a bad value is reported with the file and line (or `--set`) it came from, found from the
    /// first config key the message names.
    /// </summary>
    public static void Validate(TrainConfig c)
    {
        try
        {
            ValidateKeys(c);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(Locate(c, e.Message), e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new DirectoryNotFoundException(Locate(c, e.Message), e);
        }
    }

    private static string Locate(TrainConfig c, string message)
    {
        // Keys of two or more parts (model.lora.rank); a longer match is also tried without its last parts.
        foreach (System.Text.RegularExpressions.Match key in System.Text.RegularExpressions.Regex.Matches(message, @"\b[a-z_]+(?:\.[a-z_]+)+\b"))
            for (string k = key.Value; k.Contains('.'); k = k[..k.LastIndexOf('.')])
                if (ConfigBinder.SourceOf(c, k) is { } where) return $"{where}: {message}";
        return message;
    }

    private static void ValidateKeys(TrainConfig c)
    {
        if (string.IsNullOrWhiteSpace(c.Model.Dir)) throw new ArgumentException("model.dir is empty: pass --model DIR (an SFT base) or set model.dir");
        if (!Directory.Exists(c.Model.Dir)) throw new DirectoryNotFoundException($"model.dir: model directory not found: {c.Model.Dir}");
        c.Model.Lora.Validate();
        IRlAlgorithm algorithm;
        try
        {
            algorithm = c.Algorithm.Create();
        }
        catch (ArgumentException e)
        {
            // Name the option as a config key (algorithm.psi), so the message can be traced to its line.
            string? key = ConfigBinder.Knobs(c.Algorithm, "algorithm.").Select(k => k.Key)
                .FirstOrDefault(k => e.Message.Contains(k["algorithm.".Length..] + " '", StringComparison.Ordinal));
            throw new ArgumentException($"{key ?? "config section algorithm"}: {e.Message}");
        }
        ValidateEngine(c);
        Positive(c.Rollout.BatchPrompts, "rollout.batch_prompts");
        Positive(c.Rollout.GroupSize, "rollout.group_size");
        if (c.Rollout.PodsKeep < 0 || c.Rollout.PodsKeep > c.Rollout.GroupSize)
            throw new ArgumentException($"rollout.pods_keep={c.Rollout.PodsKeep} must be 0 (off) or at most rollout.group_size={c.Rollout.GroupSize}");
        int trainGroup = c.Rollout.TrainGroupSize;
        if (trainGroup < algorithm.MinGroupSize)
            throw new ArgumentException($"rollout.group_size={c.Rollout.GroupSize}, pods_keep={c.Rollout.PodsKeep}: algorithm {c.Algorithm.Name} compares responses within a group and needs >= {algorithm.MinGroupSize} of them per group");
        if (trainGroup % algorithm.GroupSizeMultiple != 0)
            throw new ArgumentException($"rollout.group_size={c.Rollout.GroupSize}, pods_keep={c.Rollout.PodsKeep}: algorithm {c.Algorithm.Name} needs a multiple of {algorithm.GroupSizeMultiple} responses per group");
        if (!(c.Rollout.Temperature > 0)) throw new ArgumentException($"rollout.temperature must be > 0, got {c.Rollout.Temperature}");
        if (!(c.Rollout.TopP > 0 && c.Rollout.TopP <= 1)) throw new ArgumentException($"rollout.top_p must be in (0, 1], got {c.Rollout.TopP}");
        Positive(c.Rollout.MaxResponseTokens, "rollout.max_response_tokens");
        if (c.Rollout.MaxBatchRows < 0) throw new ArgumentException($"rollout.max_batch_rows must be >= 0 (0: the whole batch at once), got {c.Rollout.MaxBatchRows}");
        if (c.Model.LogitsChunkRows < 0) throw new ArgumentException($"model.logits_chunk_rows must be >= 0 (0: all logits of a pass at once), got {c.Model.LogitsChunkRows}");
        RolloutEngineRules.Validate(c);
        if (!(c.Algorithm.RolloutCorrectionThreshold > 0)) throw new ArgumentException($"algorithm.rollout_correction_threshold must be > 0, got {c.Algorithm.RolloutCorrectionThreshold}");
        if (c.Algorithm.RolloutCorrection != RolloutCorrectionMode.None && !c.Trainer.RecomputeLogprobs)
            throw new ArgumentException($"algorithm.rollout_correction={ConfigEnum.Name(c.Algorithm.RolloutCorrection)} weighs the trainer's log-probs against the sampler's: it needs trainer.recompute_logprobs=true");
        Positive(c.Update.Epochs, "update.epochs");
        BatchPlanner.Validate(c.Rollout.BatchPrompts, trainGroup, c.Update.MiniBatches, c.Update.MicroBatchSize, algorithm.NeedsWholeGroups, c.Algorithm.Name);
        if (!(c.Optim.Lr > 0)) throw new ArgumentException($"optim.lr must be > 0, got {c.Optim.Lr}");
        if (!(c.Optim.Beta1 >= 0 && c.Optim.Beta1 < 1)) throw new ArgumentException($"optim.beta1 must be in [0, 1), got {c.Optim.Beta1}");
        if (!(c.Optim.Beta2 >= 0 && c.Optim.Beta2 < 1)) throw new ArgumentException($"optim.beta2 must be in [0, 1), got {c.Optim.Beta2}");
        if (!(c.Optim.Eps >= 0)) throw new ArgumentException($"optim.eps must be >= 0, got {c.Optim.Eps}");
        if (!(c.Optim.WeightDecay >= 0)) throw new ArgumentException($"optim.weight_decay must be >= 0, got {c.Optim.WeightDecay}");
        if (!(c.Optim.GradClip >= 0)) throw new ArgumentException($"optim.grad_clip must be >= 0, got {c.Optim.GradClip}");
        if (c.Optim.WarmupSteps < 0) throw new ArgumentException($"optim.warmup_steps must be >= 0, got {c.Optim.WarmupSteps}");
        if (!LrSchedule.Kinds.Contains(c.Optim.Schedule)) throw new ArgumentException($"optim.schedule '{c.Optim.Schedule}' is not one of {string.Join(", ", LrSchedule.Kinds)}");
        if (!(c.Optim.MinLrRatio >= 0 && c.Optim.MinLrRatio <= 1)) throw new ArgumentException($"optim.min_lr_ratio must be in [0, 1], got {c.Optim.MinLrRatio}");
        long optimizerSteps = (long)c.Trainer.Steps * c.Update.Epochs * c.Update.MiniBatches;
        if (c.Optim.Schedule != "constant" && optimizerSteps <= c.Optim.WarmupSteps)
            throw new ArgumentException($"optim.schedule={c.Optim.Schedule} needs more optimizer steps ({optimizerSteps} = trainer.steps x update.epochs x update.mini_batches) than optim.warmup_steps ({c.Optim.WarmupSteps})");
        if (!(c.Critic.Lr > 0)) throw new ArgumentException($"critic.lr must be > 0, got {c.Critic.Lr}");
        if (c.Critic.WarmupSteps < 0) throw new ArgumentException($"critic.warmup_steps must be >= 0, got {c.Critic.WarmupSteps}");
        if (c.Trainer.Steps < 0) throw new ArgumentException($"trainer.steps must be >= 0, got {c.Trainer.Steps}");
        if (c.Trainer.EvalEvery < 0) throw new ArgumentException($"trainer.eval_every must be >= 0, got {c.Trainer.EvalEvery}");
        if (c.Trainer.SaveEvery < 0) throw new ArgumentException($"trainer.save_every must be >= 0, got {c.Trainer.SaveEvery}");
        if (c.Trainer.KeepCheckpoints < 0) throw new ArgumentException($"trainer.keep_checkpoints must be >= 0, got {c.Trainer.KeepCheckpoints}");
        Positive(c.Trainer.MaxNanSkips, "trainer.max_nan_skips");
        Positive(c.Task.EvalProblems, "task.eval_problems");
        if (c.Task.PromptOffset < 0) throw new ArgumentException($"task.prompt_offset must be >= 0, got {c.Task.PromptOffset}");
        if (c.Task.PromptSplit is not ("auto" or "rl" or "train")) throw new ArgumentException($"task.prompt_split must be auto, rl or train, got '{c.Task.PromptSplit}'");
        Positive(c.Task.EvalSamples, "task.eval_samples");
        Pacs.Rl.Data.DataValidator.Validate(c);
        try
        {
            if (c.Task.Level < 0) throw new ArgumentException($"task.level must be >= 0, got {c.Task.Level}");
            var task = Pacs.Rewards.Tasks.TaskRegistry.Create(c.Task.Name, c.Task.Seed, c.Task.Level == 0 ? null : c.Task.Level, c.Task.VerifierPolicy);
            if (c.Task.PromptSplit == "rl" && task.Count(Pacs.Rewards.Split.Rl) == 0)
                throw new ArgumentException($"task.prompt_split: task '{c.Task.Name}' reserves no RL problems; use train or auto");
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"task.name / task.level: {e.Message}");
        }
    }

    /// <summary>engine: managed or tinker; tinker needs its server, its model name, and temperature 1 (the API's log-probs are at 1).</summary>
    private static void ValidateEngine(TrainConfig c)
    {
        if (c.Engine == "managed") return;
        if (c.Engine != "tinker") throw new ArgumentException($"engine '{c.Engine}' is not known (managed or tinker)");
        if (string.IsNullOrWhiteSpace(c.Tinker.BaseUrl)) throw new ArgumentException("tinker.base_url is empty: engine tinker needs the server's URL");
        if (string.IsNullOrWhiteSpace(c.Tinker.BaseModel)) throw new ArgumentException("tinker.base_model is empty: engine tinker needs the server's name of the base model");
        if (c.Tinker.LoraRank < 0) throw new ArgumentException($"tinker.lora_rank must be >= 0, got {c.Tinker.LoraRank}");
        if (c.Rollout.Temperature != 1) throw new ArgumentException($"rollout.temperature={c.Rollout.Temperature}: engine tinker needs 1 (the API's forward gives log-probs at temperature 1)");
    }

    private static void Positive(int value, string key)
    {
        if (value < 1) throw new ArgumentException($"{key} must be >= 1, got {value}");
    }
}

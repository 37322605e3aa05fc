using Pacs.Rl.Algorithms;
using Pacs.Rl.Training;
using Pacs.Tensors.Optim;

namespace Pacs.Rl.Config;

/// <summary>Checks a whole config before any work starts; every message names the offending key.</summary>
public static class TrainConfigValidator
{
    /// <summary>Algorithms whose advantage or score compares the responses of a group: they need group_size >= 2.</summary>
    public static bool IsGroupAlgorithm(string name, object options) => name switch
    {
        "pacs" => options is PacsOptions { Psi: not "none" },
        "grpo" or "dr_grpo" or "rloo" or "gspo" or "cispo" or "dapo" or "rebel" => true,
        _ => false,
    };

    public static void Validate(TrainConfig c)
    {
        if (string.IsNullOrWhiteSpace(c.Model.Dir)) throw new ArgumentException("model.dir is empty: pass --model DIR (an SFT base) or set model.dir");
        if (!Directory.Exists(c.Model.Dir)) throw new DirectoryNotFoundException($"model.dir: model directory not found: {c.Model.Dir}");
        IRlAlgorithm algorithm;
        try
        {
            algorithm = c.Algorithm.Create();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"config section algorithm: {e.Message}");
        }
        Positive(c.Rollout.BatchPrompts, "rollout.batch_prompts");
        Positive(c.Rollout.GroupSize, "rollout.group_size");
        if (c.Rollout.PodsKeep < 0 || c.Rollout.PodsKeep > c.Rollout.GroupSize)
            throw new ArgumentException($"rollout.pods_keep={c.Rollout.PodsKeep} must be 0 (off) or at most rollout.group_size={c.Rollout.GroupSize}");
        int trainGroup = c.Rollout.TrainGroupSize;
        if (IsGroupAlgorithm(c.Algorithm.Name, c.Algorithm.Options) && trainGroup < 2)
            throw new ArgumentException($"rollout.group_size={c.Rollout.GroupSize}, pods_keep={c.Rollout.PodsKeep}: algorithm {c.Algorithm.Name} compares responses within a group and needs >= 2 of them per group");
        if (c.Algorithm.Name == "rebel" && trainGroup % 2 != 0)
            throw new ArgumentException($"rollout.group_size={c.Rollout.GroupSize}, pods_keep={c.Rollout.PodsKeep}: algorithm rebel pairs the responses of a group and needs an even number of them");
        if (!(c.Rollout.Temperature > 0)) throw new ArgumentException($"rollout.temperature must be > 0, got {c.Rollout.Temperature}");
        if (!(c.Rollout.TopP > 0 && c.Rollout.TopP <= 1)) throw new ArgumentException($"rollout.top_p must be in (0, 1], got {c.Rollout.TopP}");
        Positive(c.Rollout.MaxResponseTokens, "rollout.max_response_tokens");
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
        try
        {
            if (c.Task.Level < 0) throw new ArgumentException($"task.level must be >= 0, got {c.Task.Level}");
            var task = Pacs.Rewards.Tasks.TaskRegistry.Create(c.Task.Name, c.Task.Seed, c.Task.Level == 0 ? null : c.Task.Level);
            if (c.Task.PromptSplit == "rl" && task.Count(Pacs.Rewards.Split.Rl) == 0)
                throw new ArgumentException($"task.prompt_split: task '{c.Task.Name}' reserves no RL problems; use train or auto");
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"task.name / task.level: {e.Message}");
        }
    }

    private static void Positive(int value, string key)
    {
        if (value < 1) throw new ArgumentException($"{key} must be >= 1, got {value}");
    }
}

using System.Diagnostics;
using System.Text.Json;
using Pacs.Models;
using Pacs.Rl.Config;
using Pacs.Rl.Training;
using Pacs.Tensors;
using Pacs.Text;

namespace Pacs.Cli.Bench;

/// <summary>The sizes of one RL step at a real model's shape (the issue's figure of record: 16 x 8, 128 + 256 tokens).</summary>
public sealed record RlStepShape(int Prompts = 16, int GroupSize = 8, int PromptTokens = 128, int ResponseTokens = 256, int MicroBatchRows = 0, int WarmupSteps = 1)
{
    /// <summary>Rows per forward/backward: one group unless given (PACS needs whole groups in a micro-batch).</summary>
    public int MicroRows => MicroBatchRows > 0 ? MicroBatchRows : GroupSize;

    public int Rows => Prompts * GroupSize;
}

/// <summary>
/// How the step's model is held: <paramref name="Dtype"/> of the weights (the model folder is written in it, and
/// model.dtype asks for it), <paramref name="LoraRank"/> &gt; 0 trains a LoRA adapter of that rank on every attention and
/// MLP projection (else every weight trains, float32), and <paramref name="Settings"/> are further `key=value` config
/// overrides (the memory knobs: rollout.max_batch_rows, model.gradient_checkpointing, model.logits_chunk_rows).
/// </summary>
public sealed record RlStepModel(WeightDtype Dtype = WeightDtype.Float32, int LoraRank = 0, IReadOnlyList<string>? Settings = null)
{
    /// <summary>The step's algorithm: the last `algorithm.name` among <see cref="Settings"/>, else the bench's PACS.</summary>
    public string Algorithm => Settings?.LastOrDefault(s => s.StartsWith("algorithm.name=", StringComparison.Ordinal)) is { } set
        ? set["algorithm.name=".Length..].ToUpperInvariant() : "PACS";

    public string Describe() => $"{(Dtype == WeightDtype.Bfloat16 ? "bfloat16" : "float32")} weights, "
        + (LoraRank > 0 ? $"LoRA rank {LoraRank} on every projection" : "full fine-tuning")
        + (Settings is { Count: > 0 } s ? $", {string.Join(" ", s)}" : "");
}

/// <summary>One step: wall seconds of each phase as the trainer logs them, the process's CPU seconds over the step, and the mean response length.</summary>
/// <param name="LogProbPass">
/// The step had a no-grad scoring phase (old log-probs, the reference's, the critic's values); false when its old
/// log-probs came from the update's forward (trainer.logprobs_from_update) and nothing else needed scoring.
/// </param>
public sealed record RlStepTimes(double Rollout, double Score, double LogProb, double Update, double Step, double CpuSeconds, double MeanResponseTokens, bool LogProbPass = true);

/// <summary>
/// `pacs bench --only rl` at a real model's shape: the split of the timed steps and the process's peak resident set;
/// ResidentBeforeMiB is the resident set when the trainer started (the model folder written, the bench's copy
/// collected), Phases the high-water mark of each phase of each step (null where it cannot be reset);
/// LogProbTokensPerSecond is null when no timed step had a scoring phase.
/// </summary>
public sealed record RlModelFigures(string Shape, RlStepShape Sizes, long Parameters, RlStepTimes FirstStep, IReadOnlyList<RlStepTimes> TimedSteps,
    Measured StepSeconds, Measured RolloutTokensPerSecond, Measured? LogProbTokensPerSecond, Measured UpdateTokensPerSecond, double PeakResidentSetMiB, string PeakScope,
    RlStepModel? Model = null, double ResidentBeforeMiB = 0, IReadOnlyList<PhasePeak>? Phases = null);

/// <summary>
/// One PACS step at a real model's shape on random weights, through the trainer as `pacs train` runs it: rollout
/// (KV-cached sampling at temperature 1), scoring, and one update (update.mini_batches = 1: forward, PACS loss, backward
/// over micro-batches of whole groups, gradient clipping, AdamW); the step is on-policy, so its old log-probs come
/// from the update's forward unless `--rl-set trainer.logprobs_from_update=false` asks for their no-grad pass. The model folder
/// holds the shape's config.json, seeded random weights and the Qwen3 tokenizer.json only: no chat template (prompts
/// are the raw text, built to encode to exactly the prompt length) and no end token, so every response runs to the
/// length cap, as in tools/bench_torch.py's twin (random weights rarely sample an end token anyway). The first
/// <see cref="RlStepShape.WarmupSteps"/> steps warm up (JIT, the tensor pool) and the rest are timed; at the full size a step
/// takes many minutes, so `--rl-warmup-steps 0` times the first step, warm-up included on both sides. tools/bench_torch.py --only rl runs the same step in PyTorch eager.
/// The model is float32 and fully fine-tuned unless <see cref="RlStepModel"/> asks for bfloat16 weights or a LoRA adapter;
/// the trainer runs behind a <see cref="PhaseMemory"/> meter.
/// </summary>
public static class RlModelBench
{
    private static readonly string[] s_words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "his", "home"];

    public static RlModelFigures Run(string shapeName, ModelConfig shape, RlStepShape sizes, string tokenizerDir, int repeats, RlStepModel? held = null)
    {
        held ??= new RlStepModel();
        if (sizes.Prompts < 1 || sizes.GroupSize < 2 || sizes.PromptTokens < 1 || sizes.ResponseTokens < 1 || sizes.WarmupSteps < 0)
            throw new ArgumentException($"rl step: prompts >= 1, group >= 2, prompt and response tokens >= 1, warm-up steps >= 0 (got {sizes})");
        if (!File.Exists(Path.Combine(tokenizerDir, "tokenizer.json")))
            throw new FileNotFoundException($"--tokenizer: {tokenizerDir} has no tokenizer.json", Path.Combine(tokenizerDir, "tokenizer.json"));
        string root = Path.Combine(Path.GetTempPath(), "pacs-bench-rl-model-" + Guid.NewGuid().ToString("N"));
        try
        {
            string modelDir = Path.Combine(root, "model");
            var config = shape with { MaxPositionEmbeddings = Math.Max(shape.MaxPositionEmbeddings, sizes.PromptTokens + sizes.ResponseTokens) };
            long parameters = WriteModel(config, held.Dtype, modelDir);
            // The trainer loads its own copy; the peak counts from there. Aggressive: the freed weights' memory goes back
            // to the system now, not over the GC's next collections.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            double residentBefore = BenchRunner.WorkingSetBytes() / 1048576.0;
            bool peakReset = BenchRunner.ResetPeakResidentSet();
            File.Copy(Path.Combine(tokenizerDir, "tokenizer.json"), Path.Combine(modelDir, "tokenizer.json"));
            string prompts = WritePrompts(Path.Combine(root, "prompts.jsonl"), modelDir, sizes);

            var train = new TrainConfig();
            foreach (var kv in new[]
            {
                "algorithm.name=pacs", $"model.dir={modelDir}", $"data.train_files={prompts}", "data.prompt_template={problem}",
                $"rollout.batch_prompts={sizes.Prompts}", $"rollout.group_size={sizes.GroupSize}", $"rollout.max_response_tokens={sizes.ResponseTokens}",
                "rollout.temperature=1", $"trainer.steps={sizes.WarmupSteps + repeats}", "trainer.eval_every=0", "trainer.save_every=0", "trainer.keep_checkpoints=1",
                "trainer.track_ref_kl=false", "update.epochs=1", "update.mini_batches=1", $"update.micro_batch_size={sizes.MicroRows}", "optim.lr=1e-6",
                $"model.dtype={(held.Dtype == WeightDtype.Bfloat16 ? "bfloat16" : "float32")}", $"model.lora.rank={held.LoraRank}",
            }.Concat(held.Settings ?? []))
                ConfigBinder.Set(train, kv);

            var steps = new List<RlStepTimes>();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var phases = new PhaseMemory();
            var trainer = RlTrainer.Start(phases.Wrap(ManagedBackend.Instance), train, Path.Combine(root, "run"));
            trainer.StepCompleted += (step, m) =>
            {
                phases.EndStep();
                var now = Process.GetCurrentProcess().TotalProcessorTime;
                bool scored = phases.Peaks.Any(p => p.Step == step && p.Phase == PhaseMemory.LogProbs);
                steps.Add(new RlStepTimes(m["time/rollout"], m["time/score"], m["time/logprob"], m["time/update"], m["time/step"], (now - cpu).TotalSeconds,
                    m["response/length_mean"], scored));
                Console.WriteLine($"  step {step}: {m["time/step"]:F1} s (rollout {m["time/rollout"]:F1}, score {m["time/score"]:F2}, log-probs {m["time/logprob"]:F1}, update {m["time/update"]:F1}; "
                    + $"{(now - cpu).TotalSeconds:F0} CPU s), mean response {m["response/length_mean"]:F0} tokens; resident-set peaks "
                    + string.Join(", ", phases.Peaks.Where(p => p.Step == step).Select(p => $"{p.Phase} {p.PeakMiB:F0} MiB (ends at {p.EndMiB:F0})")));
                cpu = now;
            };
            var outcome = trainer.Run();
            if (outcome.Reason != StopReason.Completed) throw new InvalidOperationException($"rl bench: {outcome.Message}");
            // Each phase resets the high-water mark, so the run's peak is the largest of the phases' and what came after the last.
            double peakMiB = Math.Max(BenchRunner.PeakResidentSetBytes() / (1024.0 * 1024.0), phases.Peaks.Select(p => p.PeakMiB).DefaultIfEmpty(0).Max());

            var timed = steps.Skip(sizes.WarmupSteps).ToList();
            long generated = (long)sizes.Rows * sizes.ResponseTokens, packed = (long)sizes.Rows * (sizes.PromptTokens + sizes.ResponseTokens);
            return new RlModelFigures(shapeName, sizes, parameters, steps[0], timed,
                Measured.OfSeconds([.. timed.Select(s => s.Step)]),
                Measured.Of([.. timed.Select(s => generated / s.Rollout)], "tokens/s"),
                timed.All(s => s.LogProbPass) ? Measured.Of([.. timed.Select(s => packed / s.LogProb)], "tokens/s") : null,
                Measured.Of([.. timed.Select(s => packed / s.Update)], "tokens/s"),
                peakMiB, peakReset ? "from the trainer's start" : "process lifetime", held, residentBefore, phases.Resettable ? phases.Peaks : null);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// Writes a model folder of the shape with seeded random weights in <paramref name="dtype"/> and returns its
    /// parameter count. bfloat16 weights are drawn uniform with the initializer's variance, in parallel (the
    /// constructor's Gaussian draws take minutes at a 1.5B shape), norms 1, biases 0; no float32 copy is made.
    /// </summary>
    private static long WriteModel(ModelConfig config, WeightDtype dtype, string modelDir)
    {
        if (dtype != WeightDtype.Bfloat16)
        {
            var model = new Transformer(config, seed: 4);
            model.Save(modelDir);
            return model.ParameterCount;
        }
        var bf16 = new Transformer(config, seed: null, TensorDtype.BFloat16);
        DtypeBench.FillUniform(bf16, config.InitializerRange);
        foreach (var (name, p) in bf16.Parameters)
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) Array.Fill(p.Data, 1f);
        bf16.Save(modelDir);
        return bf16.ParameterCount;
    }

    /// <summary>A plain JSONL prompt set whose prompts each encode to exactly <see cref="RlStepShape.PromptTokens"/> tokens.</summary>
    private static string WritePrompts(string path, string modelDir, RlStepShape sizes)
    {
        var encoder = PromptEncoder.ForModel(modelDir, TokenizerFiles.Load(modelDir));
        using var writer = new StreamWriter(path);
        for (int p = 0; p < sizes.Prompts; p++)
        {
            string Text(int words) => string.Join(" ", Enumerable.Range(0, words).Select(w => s_words[(p + w * (p + 1)) % s_words.Length]));
            int count = sizes.PromptTokens;
            for (int tries = 0; encoder.Encode(Text(count)).Length != sizes.PromptTokens; tries++)
            {
                if (tries > 4 * sizes.PromptTokens) throw new InvalidOperationException($"rl bench: no prompt of {sizes.PromptTokens} tokens could be built");
                count += sizes.PromptTokens - encoder.Encode(Text(count)).Length;
            }
            writer.WriteLine(JsonSerializer.Serialize(new Dictionary<string, string> { ["id"] = $"bench-{p}", ["problem"] = Text(count), ["answer"] = "1" }));
        }
        return path;
    }
}

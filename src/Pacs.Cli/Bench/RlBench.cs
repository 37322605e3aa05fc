using System.Diagnostics;
using Pacs.Cli.Commands;
using Pacs.Models;
using Pacs.Rewards;
using Pacs.Rewards.Tasks;
using Pacs.Rl.Training;
using Pacs.Tensors;
using Pacs.Tensors.Optim;
using Pacs.Text;

namespace Pacs.Cli.Bench;

/// <summary>One trainer step's time split (seconds) and throughput, as the trainer logs them.</summary>
public sealed record StepSplit(double Rollout, double Score, double LogProb, double Update, double Step, double RolloutTokensPerSecond, double UpdateTokensPerSecond);

/// <summary>
/// What the trainer adds over the engine, on the quick repro's shapes: trainer rollout and update tokens/s against raw
/// generation and raw forward + backward + AdamW on the same rows; the split of a step; and the PACS / GRPO update
/// time on the same batch.
/// </summary>
public sealed record RlFigures(
    int Prompts, int GroupSize, int MaxResponseTokens, long Parameters,
    Measured RawGenerateTokensPerSecond, Measured RawTrainTokensPerSecond,
    IReadOnlyDictionary<string, StepSplit> MedianSplit, Measured PacsOverGrpoUpdate);

/// <summary>
/// `pacs bench --only rl`. Each repeat starts a fresh two-step run of PACS and of GRPO from the same base with the same
/// seed (interleaved, in alternating order, so drifts of the machine hit both alike); then the engine alone generates
/// the same requests and trains on the same rows with the same mini-batching. Every figure is step 2's, as in any run
/// past its first step: the rollout engine's buffers and the tensor pool are warm, as they are for the engine alone
/// (a first step also allocates them, which made one-step runs measure allocation). The random-weight base never
/// stops before the length cap, so step 2's batch has the same shapes for PACS and GRPO.
/// </summary>
public static class RlBench
{
    public static RlFigures Run(int repeats)
    {
        var profile = ReproProfile.Quick;
        string root = Path.Combine(Path.GetTempPath(), "pacs-bench-rl-" + Guid.NewGuid().ToString("N"));
        try
        {
            // The quick repro's base shape (the default SFT model) with random weights: responses run to the length cap,
            // which makes every repeat the same shape.
            string baseDir = Path.Combine(root, "base");
            var tokenizer = new CharTokenizer();
            var spec = profile.Sft.ModelSpec(tokenizer.VocabSize, tokenizer.BosId!.Value, tokenizer.EosIds, tokenizer.PadId);
            var model = ((ManagedModel)ManagedBackend.Instance.CreatePolicy(spec, seed: 5, new TrainingSettings(new OptimizerSettings()))).Model;
            model.Save(baseDir);
            tokenizer.Save(baseDir);

            // The engine alone: the same prompts (the RL split's first problems), sampled and then trained on.
            var profileTask = TaskRegistry.Create(profile.Sft.Task, profile.Sft.Seed, profile.Sft.Level);
            var encoder = PromptEncoder.ForModel(baseDir, tokenizer);
            var prompts = Enumerable.Range(0, profile.BatchPrompts * profile.GroupSize)
                .Select(i => encoder.Encode(profileTask.Get(Split.Rl, i / profile.GroupSize).Prompt)).ToArray();
            var sampling = new SamplingOptions(Temperature: 1f, MaxNewTokens: profile.MaxResponseTokens, StopTokenIds: tokenizer.EosIds);
            var generator = new Generator(model);
            var requests = prompts.Select((p, i) => new GenerationRequest(p, (ulong)i + 1)).ToList();
            int miniBatches = ConfigFor(profile, "pacs", baseDir).Update.MiniBatches;
            int rowsPer = prompts.Length / miniBatches;
            var optimizer = new AdamW([.. model.Parameters.Select(p => p.Value).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>()], new AdamWOptions { LearningRate = 1e-6 });

            var splits = new Dictionary<string, List<StepSplit>> { ["pacs"] = [], ["grpo"] = [] };
            var ratios = new List<double>();
            var generateRates = new List<double>();
            var trainRates = new List<double>();
            for (int r = -1; r < repeats; r++) // r = -1 warms up the JIT; each repeat interleaves all four measurements
            {
                // Alternate which goes first, so an order effect (the pool's or the GC's state) does not favour one.
                foreach (var algorithm in r % 2 == 0 ? new[] { "pacs", "grpo" } : ["grpo", "pacs"])
                {
                    var trainConfig = ConfigFor(profile, algorithm, baseDir);
                    trainConfig.Trainer.Steps = 2;
                    string runDir = Path.Combine(root, $"{algorithm}-{r + 1}");
                    RlTrainer.Start(ManagedBackend.Instance, trainConfig, runDir).Run();
                    var m = MetricsLog.Read(Path.Combine(runDir, MetricsLog.FileName)).Single(x => x["step"] == 2);
                    if (r >= 0)
                        splits[algorithm].Add(new StepSplit(m["time/rollout"], m["time/score"], m["time/logprob"], m["time/update"], m["time/step"],
                            m["perf/rollout_tokens_per_s"], m["perf/update_tokens_per_s"]));
                    Directory.Delete(runDir, recursive: true);
                }
                if (r >= 0) ratios.Add(splits["pacs"][^1].Update / splits["grpo"][^1].Update);

                var watch = Stopwatch.StartNew();
                var results = generator.Generate(requests, sampling);
                double seconds = watch.Elapsed.TotalSeconds;
                var responses = results.Select(x => x.Tokens).ToArray();
                if (r >= 0) generateRates.Add(responses.Sum(x => x.Length) / seconds);

                // As the trainer's update: mini_batches optimizer steps over equal shares of the rows, each one forward,
                // backward and AdamW step on the packed rows (no micro-batching).
                long tokens = 0;
                watch.Restart();
                for (int mb = 0; mb < miniBatches; mb++)
                {
                    optimizer.ZeroGrad();
                    using var scope = TensorScope.Begin(); // as the trainer: activations pooled per micro-batch
                    var packed = PackedSequences.Build(prompts[(mb * rowsPer)..((mb + 1) * rowsPer)], responses[(mb * rowsPer)..((mb + 1) * rowsPer)], tokenizer.PadId);
                    var (logProbs, _) = ModelPasses.LogProbs(model, packed, 1f);
                    var upstream = packed.Scatter([.. Enumerable.Range(0, packed.Batch).Select(b => Enumerable.Repeat(-1f / rowsPer, packed.ResponseLength[b]).ToArray())], 1.0);
                    logProbs.Backward(upstream);
                    optimizer.Step();
                    tokens += packed.TotalTokens;
                }
                seconds = watch.Elapsed.TotalSeconds;
                if (r >= 0) trainRates.Add(tokens / seconds);
            }

            return new RlFigures(profile.BatchPrompts, profile.GroupSize, profile.MaxResponseTokens, model.ParameterCount,
                Measured.Of(generateRates, "tokens/s"), Measured.Of(trainRates, "tokens/s"),
                splits.ToDictionary(kv => kv.Key, kv => MedianOf(kv.Value)), Measured.Of(ratios, "x"));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    private static Rl.Config.TrainConfig ConfigFor(ReproProfile profile, string algorithm, string baseDir) =>
        ReproCommand.ConfigFor(profile, new ReproCommand.Method(algorithm, algorithm, []), baseDir, lr: 1e-4, seed: 0);

    private static StepSplit MedianOf(List<StepSplit> runs)
    {
        double Median(Func<StepSplit, double> f) => Measured.Of(runs.Select(f).ToArray(), "").Median;
        return new StepSplit(Median(s => s.Rollout), Median(s => s.Score), Median(s => s.LogProb), Median(s => s.Update), Median(s => s.Step),
            Median(s => s.RolloutTokensPerSecond), Median(s => s.UpdateTokensPerSecond));
    }
}

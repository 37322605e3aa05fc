using System.CommandLine;
using Pacs.Cli.Bench;
using Pacs.Models;
using Pacs.Tensors.Kernels;

namespace Pacs.Cli.Commands;

/// <summary>
/// `pacs bench`: SGEMM GFLOP/s at 1024^3 (managed and OpenBLAS), then on bench-tiny training tokens/s (forward,
/// backward, AdamW; batch 32 x 128) with peak memory and generation tokens/s (64 sequences, 16-token prompts,
/// 112 new tokens); on qwen2.5-0.5b prefill and decode tokens/s at batch 1 and 16. Medians of --repeats runs.
/// </summary>
public sealed class BenchCommand : ICliCommand
{
    private static readonly string[] s_parts = ["sgemm", "shapes", "train", "generate", "profile", "rl", "decode", "load", "lora", "serve"];

    public Command Build()
    {
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var repeats = new Option<int>("--repeats") { Description = "Timed runs per figure (the median is reported)", DefaultValueFactory = _ => 5 };
        var shape = new Option<string>("--model-shape") { Description = $"Model shape: {string.Join(" or ", BenchShapes.Names)}", DefaultValueFactory = _ => BenchShapes.Tiny };
        var only = new Option<string>("--only") { Description = "Comma-separated parts to run: sgemm, shapes (SGEMM per shape, one thread, CPU time), train, generate, profile (where a bench-tiny training step spends its time), rl (bench-tiny: the trainer against the engine on the quick repro's shapes; a real model shape: one PACS step of --rl-prompts x --rl-group at that shape, against tools/bench_torch.py --only rl), decode (decode tokens/s at batch 1 and 16 with float32 vs bfloat16 weights of --model-shape, alternated), load (load --model in --dtype and decode: peak resident memory), lora (gradient and optimizer memory and step time, LoRA against full fine-tuning, on --model-shape), serve (pacs serve under 1, 8 and 64 concurrent clients, and 64 clients vs one local batch of 64)", DefaultValueFactory = _ => "sgemm,train,generate" };
        var modelDir = new Option<string?>("--model") { Description = "Model folder for the load part (e.g. written by `pacs init --dtype bfloat16`)" };
        var dtype = DtypeOption.Create();
        dtype.Description = "Precision the load part holds --model's weights in, and rl at a real model shape writes and loads its model in (auto: float32): " + dtype.Description;
        var memory = new Option<string>("--train-memory")
        {
            Description = $"Activation memory of the train part: {TrainMemory.Plain} (fresh arrays per op), {TrainMemory.Scope} (a TensorScope per step: "
                + $"pooled buffers reused by the next step) or {TrainMemory.ScopeCheckpoint} (that plus per-layer gradient checkpointing)",
            DefaultValueFactory = _ => TrainMemory.ScopeCheckpoint,
        };
        var loraRank = new Option<int>("--lora-rank") { Description = "lora part: adapter rank (every attention and MLP projection); rl at a real model shape: when given, train a LoRA adapter of this rank instead of every weight", DefaultValueFactory = _ => 8 };
        var loraTokens = new Option<string>("--lora-tokens") { Description = "lora part: rows x tokens per training step (half prompt, half scored response)", DefaultValueFactory = _ => "1x32" };
        var loraModes = new Option<string>("--lora-modes") { Description = "lora part: lora, full or both (lora,full); LoRA runs first", DefaultValueFactory = _ => "lora,full" };
        var rlPrompts = new Option<int>("--rl-prompts") { Description = "rl at a real model shape: prompts per step", DefaultValueFactory = _ => 16 };
        var rlGroup = new Option<int>("--rl-group") { Description = "rl at a real model shape: responses per prompt", DefaultValueFactory = _ => 8 };
        var rlPromptTokens = new Option<int>("--rl-prompt-tokens") { Description = "rl at a real model shape: tokens per prompt", DefaultValueFactory = _ => 128 };
        var rlResponseTokens = new Option<int>("--rl-response-tokens") { Description = "rl at a real model shape: tokens per response (the end token is ignored)", DefaultValueFactory = _ => 256 };
        var rlWarmup = new Option<int>("--rl-warmup-steps") { Description = "rl at a real model shape: untimed steps before the timed ones (0: time the first step, warm-up included)", DefaultValueFactory = _ => 1 };
        var rlMicroBatch = new Option<int>("--rl-micro-batch") { Description = "rl at a real model shape: rows per forward/backward (0: one group)", DefaultValueFactory = _ => 0 };
        var rlSet = new Option<string[]>("--rl-set") { Description = "rl at a real model shape: a train config override key=value (repeatable), e.g. rollout.max_batch_rows=32 model.gradient_checkpointing=true model.logits_chunk_rows=256", AllowMultipleArgumentsPerToken = true };
        var tokenizer = new Option<string>("--tokenizer") { Description = "rl at a real model shape: folder of the tokenizer.json the prompts are encoded with", DefaultValueFactory = _ => Path.Combine("models", "tokenizers", "qwen3") };
        var command = new Command("bench", "Measure SGEMM GFLOP/s, training tokens/s and generation tokens/s on a reference model shape");
        foreach (var option in new Option[] { json, repeats, shape, only, memory, modelDir, dtype, loraRank, loraTokens, loraModes, rlPrompts, rlGroup, rlPromptTokens, rlResponseTokens, rlMicroBatch, rlWarmup, rlSet, tokenizer }) command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            int n = parse.GetValue(repeats);
            if (n < 1) throw new ArgumentException($"--repeats must be at least 1, got {n}");
            string shapeName = parse.GetValue(shape)!;
            var config = BenchShapes.ByName(shapeName);
            var parts = parse.GetValue(only)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var part in parts)
                if (!s_parts.Contains(part)) throw new ArgumentException($"--only: unknown part '{part}' (expected {string.Join(", ", s_parts)})");
            string trainMemory = parse.GetValue(memory)!;
            if (!TrainMemory.Names.Contains(trainMemory))
                throw new ArgumentException($"--train-memory: unknown mode '{trainMemory}' (expected {string.Join(", ", TrainMemory.Names)})");
            string? loadDir = parse.GetValue(modelDir);
            if (parts.Contains("load") && loadDir is null) throw new ArgumentException("--only load needs --model (a model folder)");
            var weightDtype = DtypeOption.Parse(parse.GetValue(dtype)!);
            var rlStep = new RlStepShape(parse.GetValue(rlPrompts), parse.GetValue(rlGroup), parse.GetValue(rlPromptTokens), parse.GetValue(rlResponseTokens), parse.GetValue(rlMicroBatch), parse.GetValue(rlWarmup));
            bool rlLora = parse.GetResult(loraRank) is { Implicit: false };
            var rlModel = new RlStepModel(weightDtype == WeightDtype.Bfloat16 ? WeightDtype.Bfloat16 : WeightDtype.Float32,
                rlLora ? parse.GetValue(loraRank) : 0, parse.GetValue(rlSet) ?? []);
            var report = Run(shapeName, config, n, parts, trainMemory, loadDir, weightDtype, rlStep, parse.GetValue(tokenizer)!, rlModel);
            if (parts.Contains("lora"))
                report = report with { Lora = RunLora(config, parse.GetValue(loraRank), parse.GetValue(loraTokens)!, parse.GetValue(loraModes)!, n) };
            if (parse.GetValue(json) is { } path)
            {
                File.WriteAllText(path, report.ToJson());
                Console.WriteLine($"figures written to {path}");
            }
            return 0;
        }));
        return command;
    }

    private static BenchReport Run(string shapeName, ModelConfig config, int repeats, string[] parts, string trainMemory, string? loadDir, WeightDtype loadDtype,
        RlStepShape rlStep, string tokenizerDir, RlStepModel rlHeld)
    {
        var machine = MachineInfo.Capture();
        Console.WriteLine($"pacs bench: {shapeName}, {repeats} runs per figure (median), {machine.Nproc} cores ({machine.Cpu}), "
            + $"{machine.Threads} threads, {machine.Runtime}, sgemm backend {machine.GemmBackend}");
        if (machine.LoadAverageStart is { } load) Console.WriteLine($"load average at start: {string.Join(" ", load)}");

        SgemmFigures? sgemm = null;
        if (parts.Contains("sgemm"))
        {
            Measured managed;
            Measured? native = null, ratio = null;
            if (BlasNative.IsAvailable)
            {
                (managed, native, ratio) = BenchRunner.SgemmInterleaved(1024, repeats);
                Console.WriteLine($"sgemm 1024^3 managed ({Gemm.ManagedIsa}): {managed.Median:F1} GFLOP/s (best {managed.Best:F1})");
                Console.WriteLine($"sgemm 1024^3 OpenBLAS: {native.Median:F1} GFLOP/s (best {native.Best:F1}); managed/OpenBLAS per interleaved pair: median {ratio.Median:F2} "
                    + $"(range {ratio.Runs.Min():F2}-{ratio.Runs.Max():F2} over {ratio.Runs.Count} pairs)");
            }
            else
            {
                managed = BenchRunner.Sgemm(1024, repeats, native: false);
                Console.WriteLine($"sgemm 1024^3 managed ({Gemm.ManagedIsa}): {managed.Median:F1} GFLOP/s (best {managed.Best:F1})");
                Console.WriteLine($"sgemm OpenBLAS: not available ({BlasNative.LoadFailure})");
            }
            sgemm = new SgemmFigures(1024, $"managed ({Gemm.ManagedIsa})", managed, BlasNative.LibraryPath, native, ratio);
        }

        List<SgemmShapeFigures>? shapes = null;
        if (parts.Contains("shapes"))
        {
            shapes = BenchRunner.SgemmShapes(repeats);
            Console.WriteLine($"{"sgemm, 1 thread, CPU time",-18} {"op",3} {"m",5} {"n",5} {"k",5} {"managed",8} {"OpenBLAS",8} GFLOP/s (median)");
            foreach (var f in shapes)
                Console.WriteLine($"{f.Use,-18} {f.Op,3} {f.M,5} {f.N,5} {f.K,5} {f.ManagedGflops.Median,8:F1} {(f.NativeGflops is { } nf ? nf.Median.ToString("F1") : "-"),8}");
        }

        TrainFigures? train = null;
        GenerateFigures? generate = null;
        List<PrefillDecodeFigures>? prefillDecode = null;
        ProfileFigures? profile = null;
        if (shapeName == BenchShapes.Tiny)
        {
            if (parts.Contains("train"))
            {
                train = BenchRunner.Train(config, batch: 32, seqLen: 128, repeats, memory: trainMemory);
                Console.WriteLine($"train {train.Batch}x{train.SeqLen} tokens, {train.Parameters:N0} parameters, memory {train.Memory}: "
                    + $"{train.TokensPerSecond.Median:F0} tokens/s ({train.StepSeconds.Median * 1000:F0} ms/step), peak working set "
                    + $"{train.PeakWorkingSetMiB:F0} MiB ({train.PeakScope}; {train.StartWorkingSetMiB:F0} MiB before the first step, tensor pool {train.PoolMiB:F0} MiB after), loss {train.FirstLoss:F3} -> {train.LastLoss:F3}");
            }
            if (parts.Contains("profile"))
            {
                profile = BenchProfile.Run(config, batch: 32, seqLen: 128, repeats);
                PrintProfile(profile);
            }
            if (parts.Contains("generate"))
            {
                var model = new Transformer(config, seed: 2);
                generate = BenchRunner.Generate(model, sequences: 64, promptTokens: 16, newTokens: 112, repeats);
                Console.WriteLine($"generate {generate.Sequences} x ({generate.PromptTokens} prompt + {generate.NewTokens} new): "
                    + $"{generate.TokensPerSecond.Median:F0} new tokens/s ({generate.Seconds.Median * 1000:F0} ms per batch)");
            }
        }
        else if (parts.Contains("generate"))
        {
            Console.WriteLine($"building {shapeName} with random weights...");
            var model = new Transformer(config, seed: 3);
            prefillDecode = [];
            foreach (int batch in new[] { 1, 16 })
            {
                var figures = BenchRunner.PrefillDecode(model, batch, promptTokens: 128, decodeTokens: 32, repeats);
                prefillDecode.Add(figures);
                Console.WriteLine($"{shapeName} batch {batch}: prefill {figures.PrefillTokensPerSecond.Median:F0} tokens/s ({figures.PromptTokens}-token prompts), "
                    + $"decode {figures.DecodeTokensPerSecond.Median:F1} tokens/s ({figures.DecodeTokens} tokens per sequence)");
            }
        }
        RlFigures? rl = null;
        RlModelFigures? rlModel = null;
        if (parts.Contains("rl") && shapeName == BenchShapes.Tiny)
        {
            rl = RlBench.Run(repeats);
            PrintRl(rl);
        }
        else if (parts.Contains("rl"))
        {
            Console.WriteLine($"rl {shapeName}: one {rlHeld.Algorithm} step of {rlStep.Prompts} prompts x {rlStep.GroupSize}, {rlStep.PromptTokens}-token prompts, {rlStep.ResponseTokens} response tokens "
                + $"(end token ignored), micro-batches of {rlStep.MicroRows} rows; {rlStep.WarmupSteps} warm-up step(s), {repeats} timed; {rlHeld.Describe()}");
            rlModel = RlModelBench.Run(shapeName, config, rlStep, tokenizerDir, repeats, rlHeld);
            PrintRlModel(rlModel);
        }
        var dtypeDecode = parts.Contains("decode") ? DtypeBench.Decode(config, [1, 16], promptTokens: 16, decodeTokens: 16, repeats, Console.WriteLine) : null;
        var loadFigures = parts.Contains("load") ? DtypeBench.Load(loadDir!, loadDtype, decodeTokens: 16, repeats, Console.WriteLine) : null;
        ServeFigures? serve = null;
        if (parts.Contains("serve") && shapeName == BenchShapes.Tiny)
        {
            serve = ServeBench.Run(config, repeats);
            PrintServe(serve);
        }
        var end = machine with { LoadAverageEnd = MachineInfo.LoadAverage() };
        if (end.LoadAverageEnd is { } endLoad) Console.WriteLine($"load average at end: {string.Join(" ", endLoad)}");
        return new BenchReport("pacs bench", shapeName, repeats, end, sgemm, shapes, train, generate, prefillDecode, profile, rl, dtypeDecode, loadFigures, Serve: serve, RlModel: rlModel);
    }

    private static LoraFigures RunLora(ModelConfig config, int rank, string tokens, string modes, int repeats)
    {
        if (rank < 1) throw new ArgumentException($"--lora-rank must be >= 1, got {rank}");
        var shape = tokens.Split('x');
        if (shape.Length != 2 || !int.TryParse(shape[0], out int batch) || !int.TryParse(shape[1], out int seqLen) || batch < 1 || seqLen < 2)
            throw new ArgumentException($"--lora-tokens: expected ROWSxTOKENS with rows >= 1 and tokens >= 2, got '{tokens}'");
        var chosen = modes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var mode in chosen)
            if (!LoraBench.Modes.Contains(mode)) throw new ArgumentException($"--lora-modes: unknown mode '{mode}' (expected {string.Join(", ", LoraBench.Modes)})");
        var lora = LoraBench.Run(config, rank, batch, seqLen, repeats, chosen);
        Console.WriteLine($"lora vs full: {lora.Parameters:N0} parameters ({lora.WeightsMiB:F0} MiB float32), steps of {lora.Batch} x {lora.SeqLen} tokens, rank {lora.Rank} on {string.Join(" ", lora.Targets)}");
        foreach (var m in lora.Modes)
            Console.WriteLine($"  {m.Mode}: {m.TrainableParameters:N0} trainable, gradients {m.GradientMiB:F1} MiB, AdamW moments {m.OptimizerMiB:F1} MiB, "
                + $"step {m.StepSeconds.Median:F2} s (median of {m.StepSeconds.Runs.Count}; runs {string.Join(", ", m.StepSeconds.Runs.Select(r => r.ToString("F2")))}), peak working set after its first step {m.PeakWorkingSetMiB:F0} MiB");
        return lora;
    }

    private static void PrintRl(RlFigures rl)
    {
        Console.WriteLine($"rl (quick repro shapes: {rl.Prompts} prompts x {rl.GroupSize}, <= {rl.MaxResponseTokens} new tokens, {rl.Parameters:N0} parameters, random weights):");
        foreach (var (algorithm, s) in rl.MedianSplit)
            Console.WriteLine($"  {algorithm} (medians): step {s.Step:F3} s, rollout {s.Rollout:F3}, score {s.Score:F4}, log-probs {s.LogProb:F3}, update {s.Update:F3}; "
                + $"rollout {s.RolloutTokensPerSecond:F0} tokens/s = {s.RolloutTokensPerSecond / rl.RawGenerateTokensPerSecond.Median:P0} of raw generation ({rl.RawGenerateTokensPerSecond.Median:F0}), "
                + $"update {s.UpdateTokensPerSecond:F0} tokens/s = {s.UpdateTokensPerSecond / rl.RawTrainTokensPerSecond.Median:P0} of raw training ({rl.RawTrainTokensPerSecond.Median:F0})");
        Console.WriteLine($"  PACS / GRPO update time on batches of the same shape (step 2): {rl.PacsOverGrpoUpdate.Median:F3} (median of {rl.PacsOverGrpoUpdate.Runs.Count} interleaved pairs; runs {string.Join(", ", rl.PacsOverGrpoUpdate.Runs.Select(r => r.ToString("F3")))})");
    }

    private static void PrintServe(ServeFigures serve)
    {
        Console.WriteLine($"serve (bench-tiny, random weights, /v1/completions with {serve.PromptTokens} prompt token ids and {serve.NewTokens} new tokens per request):");
        foreach (var l in serve.Levels)
            Console.WriteLine($"  {l.Clients,2} clients: {l.RequestsPerSecond:F2} requests/s, {l.TokensPerSecond:F0} tokens/s, latency p50 {l.P50LatencyMs:F0} ms, p99 {l.P99LatencyMs:F0} ms "
                + $"({l.Requests} requests in {l.Seconds:F2} s, {l.MeanRowsPerStep:F1} decode rows per step on average)");
        Console.WriteLine($"  64 clients {serve.Served64TokensPerSecond.Median:F0} tokens/s vs one local batch of 64 rows {serve.LocalBatch64TokensPerSecond.Median:F0} tokens/s: "
            + $"ratio median {serve.Served64OverLocal.Median:F2} (range {serve.Served64OverLocal.Runs.Min():F2}-{serve.Served64OverLocal.Runs.Max():F2} over {serve.Served64OverLocal.Runs.Count} interleaved pairs)");
    }

    private static void PrintRlModel(RlModelFigures f)
    {
        double Median(Func<RlStepTimes, double> phase) => Measured.OfSeconds([.. f.TimedSteps.Select(phase)]).Median;
        Console.WriteLine($"rl {f.Shape} ({f.Parameters:N0} parameters, random weights), median of {f.TimedSteps.Count} timed step(s): step {f.StepSeconds.Median:F1} s "
            + $"({Median(s => s.CpuSeconds):F0} CPU s) = rollout {Median(s => s.Rollout):F1} ({f.RolloutTokensPerSecond.Median:F1} tokens/s) + score {Median(s => s.Score):F2} "
            + $"+ log-probs {Median(s => s.LogProb):F1} ({(f.LogProbTokensPerSecond is { } logProbs ? $"{logProbs.Median:F0} tokens/s" : "from the update's forward")}) + update {Median(s => s.Update):F1} ({f.UpdateTokensPerSecond.Median:F0} tokens/s); "
            + $"peak RSS {f.PeakResidentSetMiB:F0} MiB ({f.PeakScope}; {f.ResidentBeforeMiB:F0} MiB resident when the trainer started)");
        if (f.Phases is { } phases)
            foreach (var phase in phases.GroupBy(p => p.Phase))
                Console.WriteLine($"  {phase.Key}: peak RSS {phase.Max(p => p.PeakMiB):F0} MiB over {phase.Count()} step(s), resident at its end {phase.Last().EndMiB:F0} MiB");
    }

    private static void PrintProfile(ProfileFigures profile)
    {
        var p = profile.Step;
        Console.WriteLine($"training step {p.TotalMs:F0} ms: forward {p.ForwardMs:F0}, loss {p.LossMs:F0}, backward {p.BackwardMs:F0}, AdamW {p.OptimizerMs:F0}; "
            + $"SGEMM {p.SgemmMs:F0} ms in {p.SgemmCalls} calls ({100 * p.SgemmMs / p.TotalMs:F0}% of the step, {p.SgemmGflops:F1} GFLOP/s)");
        Console.WriteLine($"{"op",-16} {"shape",-44} {"x/step",6} {"fwd ms",8} {"bwd ms",8} {"ms/step",8}");
        foreach (var op in profile.Ops.OrderByDescending(o => o.StepMs))
            Console.WriteLine($"{op.Op,-16} {op.Shape,-44} {op.PerStep,6} {op.ForwardMs,8:F2} {op.BackwardMs,8:F2} {op.StepMs,8:F1}");
    }
}

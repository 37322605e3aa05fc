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
    private static readonly string[] s_parts = ["sgemm", "shapes", "train", "generate", "profile", "rl"];

    public Command Build()
    {
        var json = new Option<string?>("--json") { Description = "Also write the figures to this JSON file" };
        var repeats = new Option<int>("--repeats") { Description = "Timed runs per figure (the median is reported)", DefaultValueFactory = _ => 5 };
        var shape = new Option<string>("--model-shape") { Description = $"Model shape: {string.Join(" or ", BenchShapes.Names)}", DefaultValueFactory = _ => BenchShapes.Tiny };
        var only = new Option<string>("--only") { Description = "Comma-separated parts to run: sgemm, shapes (SGEMM per shape, one thread, CPU time), train, generate, profile (where a bench-tiny training step spends its time), rl (bench-tiny: the trainer against the engine on the quick repro's shapes; a real model shape: one PACS step of --rl-prompts x --rl-group at that shape, against tools/bench_torch.py --only rl)", DefaultValueFactory = _ => "sgemm,train,generate" };
        var memory = new Option<string>("--train-memory")
        {
            Description = $"Activation memory of the train part: {TrainMemory.Plain} (fresh arrays per op), {TrainMemory.Scope} (a TensorScope per step: "
                + $"pooled buffers reused by the next step) or {TrainMemory.ScopeCheckpoint} (that plus per-layer gradient checkpointing)",
            DefaultValueFactory = _ => TrainMemory.ScopeCheckpoint,
        };
        var rlPrompts = new Option<int>("--rl-prompts") { Description = "rl at a real model shape: prompts per step", DefaultValueFactory = _ => 16 };
        var rlGroup = new Option<int>("--rl-group") { Description = "rl at a real model shape: responses per prompt", DefaultValueFactory = _ => 8 };
        var rlPromptTokens = new Option<int>("--rl-prompt-tokens") { Description = "rl at a real model shape: tokens per prompt", DefaultValueFactory = _ => 128 };
        var rlResponseTokens = new Option<int>("--rl-response-tokens") { Description = "rl at a real model shape: tokens per response (the end token is ignored)", DefaultValueFactory = _ => 256 };
        var rlMicroBatch = new Option<int>("--rl-micro-batch") { Description = "rl at a real model shape: rows per forward/backward (0: one group)", DefaultValueFactory = _ => 0 };
        var tokenizer = new Option<string>("--tokenizer") { Description = "rl at a real model shape: folder of the tokenizer.json the prompts are encoded with", DefaultValueFactory = _ => Path.Combine("models", "tokenizers", "qwen3") };
        var command = new Command("bench", "Measure SGEMM GFLOP/s, training tokens/s and generation tokens/s on a reference model shape");
        foreach (var option in new Option[] { json, repeats, shape, only, memory, rlPrompts, rlGroup, rlPromptTokens, rlResponseTokens, rlMicroBatch, tokenizer }) command.Options.Add(option);
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
            var rlStep = new RlStepShape(parse.GetValue(rlPrompts), parse.GetValue(rlGroup), parse.GetValue(rlPromptTokens), parse.GetValue(rlResponseTokens), parse.GetValue(rlMicroBatch));
            var report = Run(shapeName, config, n, parts, trainMemory, rlStep, parse.GetValue(tokenizer)!);
            if (parse.GetValue(json) is { } path)
            {
                File.WriteAllText(path, report.ToJson());
                Console.WriteLine($"figures written to {path}");
            }
            return 0;
        }));
        return command;
    }

    private static BenchReport Run(string shapeName, ModelConfig config, int repeats, string[] parts, string trainMemory, RlStepShape rlStep, string tokenizerDir)
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
            Console.WriteLine($"rl {shapeName}: one PACS step of {rlStep.Prompts} prompts x {rlStep.GroupSize}, {rlStep.PromptTokens}-token prompts, {rlStep.ResponseTokens} response tokens "
                + $"(end token ignored), micro-batches of {rlStep.MicroRows} rows; step 1 warms up, {repeats} timed");
            rlModel = RlModelBench.Run(shapeName, config, rlStep, tokenizerDir, repeats);
            PrintRlModel(rlModel);
        }
        var end = machine with { LoadAverageEnd = MachineInfo.LoadAverage() };
        if (end.LoadAverageEnd is { } endLoad) Console.WriteLine($"load average at end: {string.Join(" ", endLoad)}");
        return new BenchReport("pacs bench", shapeName, repeats, end, sgemm, shapes, train, generate, prefillDecode, profile, rl, rlModel);
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

    private static void PrintRlModel(RlModelFigures f)
    {
        double Median(Func<RlStepTimes, double> phase) => Measured.Of([.. f.TimedSteps.Select(phase)], "s").Median;
        Console.WriteLine($"rl {f.Shape} ({f.Parameters:N0} parameters, random weights), median of {f.TimedSteps.Count} timed step(s): step {f.StepSeconds.Median:F1} s "
            + $"({Median(s => s.CpuSeconds):F0} CPU s) = rollout {Median(s => s.Rollout):F1} ({f.RolloutTokensPerSecond.Median:F1} tokens/s) + score {Median(s => s.Score):F2} "
            + $"+ log-probs {Median(s => s.LogProb):F1} ({f.LogProbTokensPerSecond.Median:F0} tokens/s) + update {Median(s => s.Update):F1} ({f.UpdateTokensPerSecond.Median:F0} tokens/s); "
            + $"peak RSS {f.PeakResidentSetMiB:F0} MiB ({f.PeakScope})");
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

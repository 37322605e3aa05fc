using System.CommandLine;
using Pacs.Rl.Sft;
using Pacs.Rl.Training;
using Spectre.Console;

namespace Pacs.Cli.Commands;

/// <summary>`pacs sft`: trains a small base model from scratch on a synthetic task's worked solutions.</summary>
public sealed class SftCommand : ICliCommand
{
    public Command Build()
    {
        var defaults = new SftOptions();
        var task = new Option<string>("--task") { Description = "Synthetic task: arith or countdown", DefaultValueFactory = _ => defaults.Task };
        var output = new Option<string>("--out") { Description = "Output model directory (config.json, model.safetensors, char_tokenizer.json, metrics.jsonl)", Required = true };
        var steps = new Option<int>("--steps") { Description = "Optimiser steps", DefaultValueFactory = _ => defaults.Steps };
        var seed = new Option<long>("--seed") { Description = "Seed of the initial weights and the training problems", DefaultValueFactory = _ => defaults.Seed };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per step", DefaultValueFactory = _ => defaults.BatchSize };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (warm-up, then cosine decay)", DefaultValueFactory = _ => defaults.LearningRate };
        var level = new Option<int?>("--level") { Description = "Task difficulty preset 1..5 (default: the task's defaults)" };
        var checkpointing = new Option<bool>("--gradient-checkpointing") { Description = "Recompute each decoder layer but the last in backward instead of keeping its activations (less memory, slower)" };
        var baseModel = new Option<string?>("--model") { Description = "Start from this model folder (e.g. an earlier sft base) instead of random weights" };
        var loraRank = new Option<int>("--lora-rank") { Description = "Train a LoRA adapter of this rank on the frozen --model (0: every weight trains); the output is a PEFT adapter folder", DefaultValueFactory = _ => 0 };
        var loraAlpha = new Option<double>("--lora-alpha") { Description = "LoRA alpha (the low-rank term is scaled by alpha / rank)", DefaultValueFactory = _ => defaults.Lora.Alpha };
        var loraDropout = new Option<double>("--lora-dropout") { Description = "Dropout on the adapter's input while training", DefaultValueFactory = _ => defaults.Lora.Dropout };
        var loraTargets = new Option<string>("--lora-targets") { Description = "Comma-separated projections that get an adapter", DefaultValueFactory = _ => string.Join(",", defaults.Lora.TargetModules) };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the contents of --out if it holds files (an earlier model or run)" };
        var command = new Command("sft", "Train a small decoder from scratch on worked solutions of a synthetic task (the base model for RL)");
        foreach (var option in new Option[] { task, output, steps, seed, batch, lr, level, checkpointing, baseModel, loraRank, loraAlpha, loraDropout, loraTargets, overwrite }) command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            var options = defaults with
            {
                Task = parse.GetValue(task)!,
                Steps = parse.GetValue(steps),
                Seed = parse.GetValue(seed),
                BatchSize = parse.GetValue(batch),
                LearningRate = parse.GetValue(lr),
                Level = parse.GetValue(level),
                GradientCheckpointing = parse.GetValue(checkpointing),
                BaseModel = parse.GetValue(baseModel),
                Lora = new Pacs.Rl.Config.LoraSection
                {
                    Rank = parse.GetValue(loraRank),
                    Alpha = parse.GetValue(loraAlpha),
                    Dropout = parse.GetValue(loraDropout),
                    TargetModules = parse.GetValue(loraTargets)!.Split(','),
                },
                WarmupSteps = System.Math.Min(defaults.WarmupSteps, System.Math.Max(0, parse.GetValue(steps) / 10)),
            };
            string outDir = parse.GetValue(output)!;
            var trainer = new SftTrainer(options, ManagedBackend.Instance); // bad options fail before the folder is touched
            OutputFolder.Prepare(outDir, parse.GetValue(overwrite), options.BaseModel is { } start ? [start] : []);
            using var interrupts = Interrupts.Listen("stopping after the current step");
            AnsiConsole.MarkupLine($"[bold]sft[/] task [cyan]{options.Task}[/], {trainer.Model.TrainableParameterCount:N0} parameters, {options.Steps} steps of {options.BatchSize} sequences -> {Markup.Escape(outDir)}");
            double loss;
            try
            {
                loss = Run(trainer, outDir, options.Steps, interrupts.Token);
            }
            catch (OperationCanceledException) when (interrupts.Received is not null)
            {
                Console.Error.WriteLine($"interrupted: {outDir} holds no model yet; train it again with --overwrite");
                return interrupts.ExitCode;
            }
            catch when (!File.Exists(Path.Combine(outDir, MetricsLog.FileName)))
            {
                Directory.Delete(outDir, recursive: true); // failed before its first step: leave nothing but the error
                throw;
            }
            AnsiConsole.MarkupLine($"final loss {loss:0.0000}; model written to [green]{Markup.Escape(outDir)}[/]");
            return 0;
        }));
        return command;
    }

    /// <summary>Trains with a live progress bar (steps, loss, tokens/s, ETA), or periodic log lines when not on a terminal.</summary>
    public static double Run(SftTrainer trainer, string outDir, int steps, CancellationToken cancel = default)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            int every = System.Math.Max(1, steps / 20);
            return trainer.Train(outDir, info =>
            {
                if (info.Step % every == 0 || info.Step == info.TotalSteps)
                    Console.WriteLine($"step {info.Step}/{info.TotalSteps}  loss {info.Loss:0.0000}  lr {info.LearningRate:0.00e0}  grad {info.GradNorm:0.00}  {info.TokensPerSecond:0} tok/s  {info.Elapsed:mm\\:ss}");
            }, cancel);
        }
        double result = 0;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var bar = ctx.AddTask("sft", maxValue: steps);
                result = trainer.Train(outDir, info =>
                {
                    bar.Value = info.Step;
                    bar.Description = $"step {info.Step}/{info.TotalSteps} loss {info.Loss:0.000} {info.TokensPerSecond:0} tok/s";
                }, cancel);
            });
        return result;
    }
}

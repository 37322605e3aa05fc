using System.CommandLine;
using System.Globalization;
using Pacs.Rl.Config;
using Pacs.Rl.Reporting;
using Pacs.Rl.Sft;
using Pacs.Rl.Training;
using Spectre.Console;

namespace Pacs.Cli.Commands;

/// <summary>`pacs train`: RL post-training (PACS, GRPO, PPO, ...) from a YAML config, with resume and Ctrl-C saving.</summary>
public sealed class TrainCommand : ICliCommand
{
    public Command Build()
    {
        var config = new Option<string?>("--config") { Description = "YAML config (configs/arith-pacs.yaml, ...); every knob is documented there" };
        var model = new Option<string?>("--model") { Description = "Starting model directory (an SFT base); overrides model.dir" };
        var output = new Option<string?>("--out") { Description = "Run directory (metrics.jsonl, config.yaml, checkpoints/, report.html); default runs/<algorithm>-<seed>" };
        var steps = new Option<int?>("--steps") { Description = "Training steps; overrides trainer.steps (with --resume: the new total)" };
        var seed = new Option<long?>("--seed") { Description = "Seed of sampling and data order; overrides trainer.seed" };
        var set = new Option<string[]>("--set") { Description = "Override any key: --set optim.lr=3e-4 (repeatable)", AllowMultipleArgumentsPerToken = true };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this directory from its newest checkpoint (from step 0 with its saved config when it has none)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Start over in --out even if it holds files (an earlier run, a model): its contents are removed first" };
        var command = new Command("train", "RL post-training of a model with PACS, GRPO, Dr.GRPO, RLOO, REINFORCE++, PPO, GSPO, CISPO, DAPO, REBEL, AsymRE, A*-PO or VinePPO");
        foreach (var option in new Option[] { config, model, output, steps, seed, set, resume, overwrite }) command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            using var interrupts = Interrupts.Listen("finishing the current step, then saving a checkpoint");
            if (parse.GetValue(resume) is { } runDir)
            {
                if (parse.GetValue(config) is not null || parse.GetValue(model) is not null || parse.GetValue(seed) is not null || (parse.GetValue(set)?.Length ?? 0) > 0
                    || parse.GetValue(output) is not null || parse.GetValue(overwrite))
                    throw new ArgumentException("--resume continues a run with its saved config; only --steps may change it (to start over, use --out RUN --overwrite with a config)");
                return Finish(RlTrainer.Resume(EngineChoice.ForRun(runDir), runDir, parse.GetValue(steps), Console.WriteLine), interrupts, fresh: false);
            }
            var resolved = Resolve(parse.GetValue(config), parse.GetValue(model), parse.GetValue(steps), parse.GetValue(seed), parse.GetValue(set) ?? []);
            TrainConfigValidator.Validate(resolved); // bad input fails before the run folder is touched
            string outDir = parse.GetValue(output) ?? Path.Combine("runs", $"{resolved.Algorithm.Name}-{resolved.Trainer.Seed}");
            OutputFolder.Prepare(outDir, parse.GetValue(overwrite), resolved.Model.Dir);
            RlTrainer trainer;
            try
            {
                trainer = RlTrainer.Start(EngineChoice.For(resolved), resolved, outDir);
            }
            catch
            {
                Directory.Delete(outDir, recursive: true);
                throw;
            }
            return Finish(trainer, interrupts, fresh: true);
        }));
        return command;
    }

    /// <summary>
    /// Runs the trainer and turns how it ended into an exit code: 0 finished, 130 / 143 interrupted by Ctrl-C /
    /// SIGTERM (after saving), 2 stopped by non-finite losses. A fresh run that fails before its first step leaves
    /// nothing behind but the error.
    /// </summary>
    private static int Finish(RlTrainer trainer, Interrupts interrupts, bool fresh)
    {
        TrainOutcome outcome;
        bool resumed = !fresh && Checkpointer.Find(trainer.RunDir) is not null;
        try
        {
            outcome = Run(trainer, interrupts.Token, resumed);
        }
        catch when (fresh && trainer.Step == 0 && Checkpointer.Find(trainer.RunDir) is null)
        {
            Directory.Delete(trainer.RunDir, recursive: true);
            throw;
        }
        if (File.Exists(Path.Combine(trainer.RunDir, MetricsLog.FileName))) // a 0-step run without validation has no curve to draw
            Console.WriteLine($"report: {HtmlReport.Write(trainer.RunDir)}");
        switch (outcome.Reason)
        {
            case StopReason.Cancelled:
                Console.Error.WriteLine(outcome.Message);
                return interrupts.ExitCode;
            case StopReason.TooManyNanSkips:
                Console.Error.WriteLine($"error: {outcome.Message}");
                return ErrorReporting.UserErrorExitCode;
            default:
                Console.WriteLine(outcome.Message);
                return 0;
        }
    }

    /// <summary>The config file, then --set overrides (algorithm.name first), then the dedicated flags.</summary>
    public static TrainConfig Resolve(string? configPath, string? model, int? steps, long? seed, IEnumerable<string> sets)
    {
        var config = configPath is null ? new TrainConfig() : ConfigBinder.LoadFile<TrainConfig>(configPath);
        foreach (var assignment in sets.OrderBy(s => s.TrimStart().StartsWith("algorithm.name=", StringComparison.Ordinal) ? 0 : 1))
            ConfigBinder.Set(config, assignment);
        if (model is not null) config.Model.Dir = model;
        if (steps is not null) config.Trainer.Steps = steps.Value;
        if (seed is not null) config.Trainer.Seed = seed.Value;
        return config;
    }

    /// <summary>Runs with a live display (or one line per step when not on a terminal); <paramref name="cancel"/> saves and stops after the current step.</summary>
    public static TrainOutcome Run(RlTrainer trainer, CancellationToken cancel = default, bool resumed = false)
    {
        int total = trainer.Config.Trainer.Steps;
        var c = trainer.Config;
        string what = $"{c.Algorithm.Name} on {c.Task.Name} from {c.Model.Dir}: {total} steps x {c.Rollout.BatchPrompts} prompts x {c.Rollout.GroupSize} samples";
        Console.WriteLine(resumed ? $"resuming from step {trainer.Step} in {trainer.RunDir}: {what}" : $"train {what} -> {trainer.RunDir}");
        trainer.Message += line => Console.WriteLine(line);
        TestHooks.PauseAfterStep(trainer, cancel);
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            trainer.StepCompleted += (step, metrics) => Console.WriteLine(StepLine(step, total, metrics));
            return trainer.Run(cancel);
        }
        TrainOutcome? outcome = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var bar = ctx.AddTask($"{c.Algorithm.Name}", maxValue: total);
                bar.Value = trainer.Step;
                trainer.StepCompleted += (step, metrics) =>
                {
                    bar.Value = step;
                    bar.Description = Markup.Escape(StepLine(step, total, metrics));
                };
                outcome = trainer.Run(cancel);
            });
        return outcome!;
    }

    public static string StepLine(int step, int total, IReadOnlyDictionary<string, double> m)
    {
        string F(string key, string format = "0.000") => m.TryGetValue(key, out var v) && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "-";
        string passG = m.Keys.FirstOrDefault(k => k.StartsWith("reward/pass@", StringComparison.Ordinal)) ?? "reward/pass@G";
        string line = $"step {step}/{total} reward {F("reward/mean")} {passG[7..]} {F(passG)} len {F("response/length_mean", "0.0")} ent {F("actor/entropy")} "
            + $"kl {F("actor/kl_ref", "0.0000")} gnorm {F("actor/grad_norm")} lr {F("actor/lr", "0.0e0")} | rollout {F("time/rollout", "0.0")}s update {F("time/update", "0.0")}s "
            + $"{F("perf/step_tokens_per_s", "0")} tok/s";
        if (m.ContainsKey("pacs/critic_accuracy")) line += $" | critic acc {F("pacs/critic_accuracy")}";
        if (m.TryGetValue("val/pass@1", out var val)) line += $" | val pass@1 {val.ToString("0.000", CultureInfo.InvariantCulture)}";
        if (m.TryGetValue("train/nan_skipped", out var nan) && nan > 0) line += " | SKIPPED (non-finite)";
        return line;
    }
}

/// <summary>The demo's RL stages: post-train the SFT base with PACS, then evaluate it like the base.</summary>
public static class RlDemoStages
{
    public static string PacsRunDir(DemoContext ctx) => Path.Combine(ctx.OutDir, "pacs");

    public static DemoStage PostTrainPacs { get; } = new("PACS: post-train the base with RL (verifier rewards)", ctx =>
    {
        var config = new TrainConfig();
        foreach (var kv in new[]
        {
            "algorithm.name=pacs", $"model.dir={ctx.BaseModelDir}", $"task.name={ctx.Task}", $"task.seed={ctx.Seed}",
            "rollout.batch_prompts=8", "rollout.group_size=8", $"rollout.max_response_tokens={ctx.Sampling.MaxTokens}",
            "optim.lr=3e-5", "update.mini_batches=2", "trainer.steps=100", "trainer.eval_every=0", "trainer.save_every=0", $"trainer.seed={ctx.Seed}",
        })
            ConfigBinder.Set(config, kv);
        string runDir = PacsRunDir(ctx);
        if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);
        var outcome = TrainCommand.Run(RlTrainer.Start(ManagedBackend.Instance, config, runDir), ctx.Cancel);
        if (outcome.Reason == StopReason.Cancelled) throw new OperationCanceledException(outcome.Message);
        AnsiConsole.MarkupLine(Markup.Escape(outcome.Message) + $"; report: [green]{Markup.Escape(HtmlReport.Write(runDir))}[/]");
    });

    public static DemoStage EvaluatePacs { get; } = new("Evaluate the PACS model: pass@k on the same held-out problems",
        ctx => ctx.Evaluate("pacs", Checkpointer.ModelDir(Checkpointer.Latest(PacsRunDir(ctx)))));
}

using System.CommandLine;
using System.Diagnostics;
using Pacs.Eval;
using Pacs.Engine;
using Pacs.Engine.Managed;
using Pacs.Rewards.Tasks;
using Pacs.Rl.Sft;
using Pacs.Rl.Training;
using Spectre.Console;

namespace Pacs.Cli.Commands;

/// <summary>State handed from one demo stage to the next.</summary>
public sealed class DemoContext
{
    public required string OutDir { get; init; }
    public required long Seed { get; init; }
    public required int SftSteps { get; init; }
    public string Task { get; init; } = "arith";
    public EvalOptions Eval { get; init; } = new();
    public SamplingParams Sampling { get; init; } = SamplingParams.Of(1f, 40, stopTokenIds: []);

    /// <summary>Cancelled by Ctrl-C or SIGTERM: the training stages stop (the RL run after saving a checkpoint).</summary>
    public CancellationToken Cancel { get; init; }

    /// <summary>The SFT base model folder.</summary>
    public string BaseModelDir => Path.Combine(OutDir, "base");

    /// <summary>Evaluations so far, in order, by label ("base", then e.g. "pacs"); the summary compares them.</summary>
    public List<(string Label, EvalReport Report)> Reports { get; } = [];

    /// <summary>Evaluates a model folder on the held-out problems, prints its table and records it under <paramref name="label"/>.</summary>
    public EvalReport Evaluate(string label, string modelDir)
    {
        var task = TaskRegistry.Create(Task, Seed);
        var report = EvalCommand.Run(modelDir, task, Sampling, Eval with { Seed = (ulong)Seed }, Path.Combine(OutDir, "eval", label),
            $"{label}: {Eval.Problems} held-out {Task} problems x {Eval.Samples} samples");
        Reports.Add((label, report));
        return report;
    }
}

/// <summary>One step of the demo: a title and what it does.</summary>
public sealed record DemoStage(string Title, Action<DemoContext> Run);

/// <summary>
/// The demo's stages, in order: the main pipeline in miniature. Add a stage by adding a property and listing it
/// in <see cref="All"/>; each stage reads what earlier ones left in the <see cref="DemoContext"/>.
/// </summary>
public static class DemoStages
{
    public static DemoStage TrainBase { get; } = new("SFT: train a small arith model from scratch", ctx =>
    {
        var options = new SftOptions { Task = ctx.Task, Seed = ctx.Seed, Steps = ctx.SftSteps, WarmupSteps = System.Math.Min(30, ctx.SftSteps / 10) };
        var trainer = new SftTrainer(options, ManagedBackend.Instance);
        AnsiConsole.MarkupLine($"{trainer.Model.TrainableParameterCount:N0} parameters, {options.Steps} steps of {options.BatchSize} worked solutions");
        double loss = SftCommand.Run(trainer, ctx.BaseModelDir, options.Steps, ctx.Cancel);
        AnsiConsole.MarkupLine($"final loss {loss:0.0000}");
    });

    public static DemoStage EvaluateBase { get; } = new("Evaluate the base model: pass@k on held-out problems",
        ctx => ctx.Evaluate("base", ctx.BaseModelDir));

    public static IReadOnlyList<DemoStage> All => [TrainBase, EvaluateBase, RlDemoStages.PostTrainPacs, RlDemoStages.EvaluatePacs];
}

/// <summary>`pacs demo`: the pipeline in miniature (SFT base model, evaluation, ...), a few minutes on a laptop.</summary>
public sealed class DemoCommand : ICliCommand
{
    public Command Build()
    {
        var output = new Option<string>("--out") { Description = "Directory for the demo's models and evaluations", DefaultValueFactory = _ => Path.Combine("runs", "demo") };
        var seed = new Option<long>("--seed") { Description = "Seed of everything", DefaultValueFactory = _ => 0 };
        // A 1000-step base (pass@1 about 0.3) leaves most RL groups with mixed rewards; the 400- and 700-step bases
        // (about 0.09 and 0.19) left most groups all wrong and RL did not move them. 1000 held-out problems make the
        // evaluation's standard error of the change small enough (about 0.005) to tell a 0.03 gain from noise.
        var steps = new Option<int>("--sft-steps") { Description = "SFT steps of the base model", DefaultValueFactory = _ => 1000 };
        var samples = new Option<int>("--samples") { Description = "Samples per evaluation problem", DefaultValueFactory = _ => 16 };
        var problems = new Option<int>("--problems") { Description = "Held-out evaluation problems", DefaultValueFactory = _ => 1000 };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the contents of --out if it holds an earlier demo" };
        var command = new Command("demo", "The whole pipeline in miniature: train a small arith model, evaluate pass@k, post-train, compare");
        foreach (var option in new Option[] { output, seed, steps, samples, problems, overwrite }) command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            string outDir = parse.GetValue(output)!;
            OutputFolder.Prepare(outDir, parse.GetValue(overwrite));
            using var interrupts = Interrupts.Listen("stopping the current stage (a training run saves a checkpoint first)");
            var ctx = new DemoContext
            {
                OutDir = outDir,
                Cancel = interrupts.Token,
                Seed = parse.GetValue(seed),
                SftSteps = parse.GetValue(steps),
                Eval = new EvalOptions { Samples = parse.GetValue(samples), Problems = parse.GetValue(problems) },
            };
            try
            {
                Run(ctx, DemoStages.All);
            }
            catch (OperationCanceledException) when (interrupts.Received is not null)
            {
                Console.Error.WriteLine($"interrupted: the demo in {outDir} is incomplete; run it again with --overwrite");
                return interrupts.ExitCode;
            }
            return 0;
        }));
        return command;
    }

    public static void Run(DemoContext ctx, IReadOnlyList<DemoStage> stages)
    {
        var total = Stopwatch.StartNew();
        for (int i = 0; i < stages.Count; i++)
        {
            AnsiConsole.Write(new Rule($"[bold]{i + 1}/{stages.Count}  {Markup.Escape(stages[i].Title)}[/]").LeftJustified());
            var clock = Stopwatch.StartNew();
            stages[i].Run(ctx);
            AnsiConsole.MarkupLine($"[grey]stage {i + 1} took {clock.Elapsed:mm\\:ss}[/]");
        }
        if (ctx.Reports.Count > 0)
        {
            AnsiConsole.Write(new Rule("[bold]summary[/]").LeftJustified());
            var table = new Table().AddColumn("metric");
            foreach (var (label, _) in ctx.Reports) table.AddColumn(new TableColumn(Markup.Escape(label)).RightAligned());
            foreach (var (name, _) in ctx.Reports[0].Report.Named())
                table.AddRow([name, .. ctx.Reports.Select(r => r.Report.Named().FirstOrDefault(m => m.Key == name).Value.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture))]);
            AnsiConsole.Write(table);
            var baseReport = ctx.Reports[0].Report;
            foreach (var (label, report) in ctx.Reports.Skip(1))
            {
                var (change, se) = MethodComparison.PairedDifference([report], baseReport);
                AnsiConsole.MarkupLine(Markup.Escape(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"{label} vs {ctx.Reports[0].Label}: pass@1 {change:+0.000;-0.000} +- {se:0.000} (standard error of the evaluation, paired over the same {baseReport.Problems.Count} problems): {change / se:+0.0;-0.0} SE")));
            }
        }
        AnsiConsole.MarkupLine($"demo finished in {total.Elapsed:mm\\:ss}; files under [green]{Markup.Escape(ctx.OutDir)}[/]");
    }
}

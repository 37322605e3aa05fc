using System.CommandLine;
using Pacs.Eval;
using Pacs.Models;
using Pacs.Rewards;
using Pacs.Rewards.Tasks;
using Pacs.Text;
using Spectre.Console;

namespace Pacs.Cli.Commands;

/// <summary>`pacs eval`: pass@k / avg@n / maj@n of a model on held-out problems, with every response saved.</summary>
public sealed class EvalCommand : ICliCommand
{
    public Command Build()
    {
        var model = new Option<string>("--model") { Description = "Model directory (config.json, model.safetensors, tokenizer)", Required = true };
        var task = new Option<string>("--task") { Description = "Synthetic task: arith or countdown", DefaultValueFactory = _ => "arith" };
        var dataset = new Option<string?>("--dataset") { Description = "Math dataset instead of a synthetic task: math500, aime24, aime25, amc23, gsm8k, or FILE.jsonl" };
        var samples = new Option<int>("--samples") { Description = "Samples per problem (n); pass@k is reported for k = 1, 2, 4, ..., n", DefaultValueFactory = _ => 16 };
        var problems = new Option<int>("--problems") { Description = "Held-out problems to evaluate (the first ones of the test split)", DefaultValueFactory = _ => 200 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (0 = greedy)", DefaultValueFactory = _ => 1f };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling threshold", DefaultValueFactory = _ => 1f };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Longest response", DefaultValueFactory = _ => 128 };
        var seed = new Option<long>("--seed") { Description = "Seed of the sampling streams (and of the task generator)", DefaultValueFactory = _ => 0 };
        var level = new Option<int?>("--level") { Description = "Task difficulty preset 1..5 (default: the task's defaults; use the one the model was trained on)" };
        var output = new Option<string?>("--out") { Description = "Where to write eval_metrics.json and rollouts.jsonl (default: MODEL/eval/TASK)" };
        var command = new Command("eval", "Sample n responses per held-out problem, verify them, and report pass@k, avg@n and maj@n");
        foreach (var option in new Option[] { model, task, dataset, samples, problems, temperature, topP, maxNew, seed, level, output }) command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            string modelDir = parse.GetValue(model)!;
            var evalTask = parse.GetValue(dataset) is { } datasetName
                ? TaskRegistry.Create(datasetName, level: parse.GetValue(level))
                : TaskRegistry.Create(parse.GetValue(task)!, parse.GetValue(seed), parse.GetValue(level));
            // Prompts that do not fit the model's context with the response budget are dropped up front, and counted.
            var fitted = DataCommand.FitToModel(evalTask, modelDir, parse.GetValue(maxNew));
            Console.WriteLine(fitted.Report);
            evalTask = fitted;
            var sampling = SamplingParams.Of(parse.GetValue(temperature), parse.GetValue(maxNew), stopTokenIds: [], topP: parse.GetValue(topP));
            var options = new EvalOptions { Samples = parse.GetValue(samples), Problems = parse.GetValue(problems), Seed = (ulong)parse.GetValue(seed) };
            string outDir = parse.GetValue(output) ?? Path.Combine(modelDir, "eval", SafeName(evalTask.Name));
            var report = Run(modelDir, evalTask, sampling, options, outDir);
            AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(Path.Combine(outDir, Evaluator.MetricsFileName))}[/] and {Evaluator.RolloutsFileName}");
            return report.Problems.Count > 0 ? 0 : 1;
        }));
        return command;
    }

    /// <summary>Loads a model folder, evaluates it with a progress bar, writes the files and prints the table.</summary>
    public static EvalReport Run(string modelDir, ITask task, SamplingParams sampling, EvalOptions options, string outDir, string? title = null)
    {
        var sampler = RolloutSampler.ForModel(ManagedBackend.Instance, modelDir, sampling);
        EvalReport report = null!;
        if (AnsiConsole.Profile.Capabilities.Interactive)
        {
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var bar = ctx.AddTask($"eval {task.Name}", maxValue: options.Problems);
                    report = Evaluator.Run(task, sampler, options, (done, total) => { bar.MaxValue = total; bar.Value = done; });
                });
        }
        else
        {
            report = Evaluator.Run(task, sampler, options);
        }
        Evaluator.Write(report, outDir, new Dictionary<string, string>
        {
            ["model"] = Path.GetFullPath(modelDir),
            ["temperature"] = sampling.Temperature.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["top_p"] = sampling.TopP.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["max_new_tokens"] = sampling.MaxTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["seed"] = options.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        AnsiConsole.Write(Table(report, title ?? $"{task.Name}: {report.Problems.Count} held-out problems x {report.Samples} samples"));
        return report;
    }

    private static string SafeName(string name) => string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));

    /// <summary>A metric / value table: pass@k rows, then avg@n and maj@n.</summary>
    public static Table Table(EvalReport report, string title)
    {
        var table = new Table().Title(Markup.Escape(title)).AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        foreach (var (name, value) in report.Named())
            table.AddRow(name, value.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture));
        return table;
    }
}

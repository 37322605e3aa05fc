using System.CommandLine;
using Pacs.Eval;
using Pacs.Models;
using Pacs.Rewards;
using Pacs.Rewards.Tasks;
using Pacs.Rl.Training;
using Pacs.Text;
using Spectre.Console;

namespace Pacs.Cli.Commands;

/// <summary>`pacs eval`: pass@k / avg@n / maj@n of a model on held-out problems, with every response saved.</summary>
public sealed class EvalCommand : ICliCommand
{
    public Command Build()
    {
        var model = new Option<string>("--model") { Description = "Model directory (config.json, model.safetensors, tokenizer)", Required = true };
        var adapter = new Option<string?>("--adapter") { Description = "A LoRA adapter folder (PEFT format) applied unmerged on top of --model" };
        var task = new Option<string>("--task") { Description = "Synthetic task: arith or countdown", DefaultValueFactory = _ => "arith" };
        var dataset = new Option<string?>("--dataset") { Description = "Math dataset instead of a synthetic task: math500, aime24, aime25, amc23, gsm8k, or FILE.jsonl" };
        var samples = new Option<int>("--samples") { Description = "Samples per problem (n); pass@k is reported for k = 1, 2, 4, ..., n", DefaultValueFactory = _ => 16 };
        var problems = new Option<int>("--problems") { Description = "Held-out problems to evaluate (the first ones of the test split)", DefaultValueFactory = _ => 200 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (0 = greedy)", DefaultValueFactory = _ => 1f };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling threshold", DefaultValueFactory = _ => 1f };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Longest response", DefaultValueFactory = _ => 128 };
        var seed = new Option<long>("--seed") { Description = "Seed of the sampling streams (and of the task generator)", DefaultValueFactory = _ => 0 };
        var level = new Option<int?>("--level") { Description = "Task difficulty preset 1..5 (default: the task's defaults; use the one the model was trained on)" };
        var verifierPolicy = new Option<string>("--verifier-policy")
        {
            Description = "Math datasets: strict (default: a decimal equals an exact gold only when it is the same number) or lenient (a decimal of 2+ places may round a non-terminating exact gold)",
            DefaultValueFactory = _ => "strict",
        };
        var output = new Option<string?>("--out") { Description = "Where to write eval_metrics.json and rollouts.jsonl (default: runs/eval/MODEL-TASK)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the contents of the output folder if it holds files" };
        var command = new Command("eval", "Sample n responses per held-out problem, verify them, and report pass@k, avg@n and maj@n");
        var dtype = DtypeOption.Create();
        foreach (var option in new Option[] { model, adapter, task, dataset, samples, problems, temperature, topP, maxNew, seed, level, verifierPolicy, output, overwrite, dtype }) command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            string modelDir = parse.GetValue(model)!;
            string? adapterDir = parse.GetValue(adapter);
            var policy = Pacs.Rewards.Math.EquivalenceOptions.ParsePolicy(parse.GetValue(verifierPolicy)!);
            var weightDtype = DtypeOption.Parse(parse.GetValue(dtype)!);
            var evalTask = parse.GetValue(dataset) is { } datasetName
                ? TaskRegistry.Create(datasetName, level: parse.GetValue(level), verifierPolicy: policy)
                : TaskRegistry.Create(parse.GetValue(task)!, parse.GetValue(seed), parse.GetValue(level));
            var sampling = SamplingParams.Of(parse.GetValue(temperature), parse.GetValue(maxNew), stopTokenIds: [], topP: parse.GetValue(topP));
            var options = new EvalOptions { Samples = parse.GetValue(samples), Problems = parse.GetValue(problems), Seed = (ulong)parse.GetValue(seed) };
            string outDir = parse.GetValue(output) ?? DefaultOutDir(modelDir, evalTask.Name);
            OutputFolder.Prepare(outDir, parse.GetValue(overwrite), [modelDir, .. adapterDir is null ? Array.Empty<string>() : [adapterDir]]);
            string? policyName = parse.GetValue(dataset) is null ? null : policy.ToString().ToLowerInvariant();
            EvalReport report;
            try
            {
                // Prompts that do not fit the model's context with the response budget are dropped up front, and counted.
                var fitted = DataCommand.FitToModel(evalTask, modelDir, parse.GetValue(maxNew));
                Console.WriteLine(fitted.Report);
                report = Run(modelDir, fitted, sampling, options, outDir, verifierPolicy: policyName, dtype: weightDtype, adapterDir: adapterDir);
            }
            catch
            {
                if (!OutputFolder.IsNonEmpty(outDir)) Directory.Delete(outDir); // nothing written: leave nothing but the error
                throw;
            }
            AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(Path.Combine(outDir, Evaluator.MetricsFileName))}[/] and {Evaluator.RolloutsFileName}");
            if (report.Problems.Count > 0) return 0;
            Console.Error.WriteLine($"error: {evalTask.Name} has no held-out problems to evaluate");
            return ErrorReporting.UserErrorExitCode;
        }));
        return command;
    }

    /// <summary>Loads a model folder, evaluates it with a progress bar, writes the files and prints the table. A math
    /// dataset's <paramref name="verifierPolicy"/>, when given, is recorded with the metrics.</summary>
    public static EvalReport Run(string modelDir, ITask task, SamplingParams sampling, EvalOptions options, string outDir, string? title = null,
        string? verifierPolicy = null, WeightDtype dtype = WeightDtype.Auto, string? adapterDir = null)
    {
        var engine = adapterDir is null ? null : new ManagedRollout(ManagedBackend.LoadFrozenModel(modelDir, dtype, adapterDir));
        var sampler = RolloutSampler.ForModel(ManagedBackend.Instance, modelDir, sampling, dtype, engine);
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
        var metadata = new Dictionary<string, string>
        {
            ["model"] = Path.GetFullPath(modelDir),
            ["temperature"] = sampling.Temperature.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["top_p"] = sampling.TopP.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["max_new_tokens"] = sampling.MaxTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["seed"] = options.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (verifierPolicy is not null) metadata["verifier_policy"] = verifierPolicy;
        if (adapterDir is not null) metadata["adapter"] = Path.GetFullPath(adapterDir);
        Evaluator.Write(report, outDir, metadata);
        AnsiConsole.Write(Table(report, title ?? $"{task.Name}: {report.Problems.Count} held-out problems x {report.Samples} samples"));
        return report;
    }

    /// <summary>`runs/eval/MODEL-TASK`: under runs/, never inside the model folder (`.../step_000030/model` is named `step_000030-model`).</summary>
    public static string DefaultOutDir(string modelDir, string taskName)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDir));
        string name = Path.GetFileName(full);
        if (name == "model" && Path.GetFileName(Path.GetDirectoryName(full)) is { Length: > 0 } parent) name = parent + "-" + name;
        return Path.Combine("runs", "eval", SafeName(name + "-" + taskName));
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

using System.CommandLine;
using System.Globalization;
using Pacs.Models;
using Pacs.Rl.Config;
using Pacs.Rl.Data;
using Pacs.Text;

namespace Pacs.Cli.Commands;

/// <summary>`pacs data inspect`: what a prompt set looks like to a model before a run: rows, prompt lengths, the limit, the first rendered prompt.</summary>
public sealed class DataCommand : ICliCommand
{
    public Command Build()
    {
        var file = new Argument<string>("file") { Description = "A .jsonl or .parquet prompt set (verl rows or plain rows), or a shipped dataset name (gsm8k_train, math500, ...)" };
        var model = new Option<string>("--model") { Description = "Model folder whose tokenizer, chat template and context are used", Required = true };
        var promptKey = new Option<string>("--prompt-key") { Description = "Field holding a plain row's prompt (as data.prompt_key)", DefaultValueFactory = _ => "problem" };
        var answerKey = new Option<string>("--answer-key") { Description = "Field holding a plain row's gold answer (as data.answer_key)", DefaultValueFactory = _ => "answer" };
        var maxPrompt = new Option<int>("--max-prompt-tokens") { Description = "The limit to count prompts against (as data.max_prompt_tokens); 0: the context minus --max-response-tokens", DefaultValueFactory = _ => 0 };
        var maxResponse = new Option<int>("--max-response-tokens") { Description = "The response budget (as rollout.max_response_tokens)", DefaultValueFactory = _ => 0 };
        var inspect = new Command("inspect", "Row count, prompt-length percentiles under the model's tokenizer, how many exceed the limit, and the first prompt as the chat template renders it");
        inspect.Arguments.Add(file);
        foreach (var option in new Option[] { model, promptKey, answerKey, maxPrompt, maxResponse }) inspect.Options.Add(option);
        inspect.SetAction(parse => ErrorReporting.Run(() =>
        {
            var config = new TrainConfig();
            config.Data.PromptKey = parse.GetValue(promptKey)!;
            config.Data.AnswerKey = parse.GetValue(answerKey)!;
            config.Data.MaxPromptTokens = parse.GetValue(maxPrompt);
            config.Rollout.MaxResponseTokens = parse.GetValue(maxResponse);
            Console.Write(Inspect(parse.GetValue(file)!, parse.GetValue(model)!, config));
            return 0;
        }));
        var command = new Command("data", "Look at prompt sets before training on them");
        command.Subcommands.Add(inspect);
        return command;
    }

    /// <summary>
    /// The task with every prompt longer than the model's context minus <paramref name="maxNewTokens"/> dropped (at
    /// least one position is left for the response); its Report says how many were dropped.
    /// </summary>
    public static PromptFilter FitToModel(Rewards.ITask task, string modelDir, int maxNewTokens)
    {
        var tokenizer = TokenizerFiles.Load(modelDir);
        var prompts = PromptEncoder.ForModel(modelDir, tokenizer);
        int context = ManagedBackend.Instance.Describe(modelDir).MaxPositions; // a LoRA adapter folder: its base's
        int limit = context - maxNewTokens >= 1 ? context - maxNewTokens : context - 1;
        return PromptFilter.Apply(task, p => prompts.Encode(p.Prompt, p.System).Length, limit, $"context {context} - --max-new-tokens {maxNewTokens}");
    }

    /// <summary>The report `pacs data inspect` prints.</summary>
    public static string Inspect(string file, string modelDir, TrainConfig config)
    {
        var problems = RunData.LoadProblems(file, config.Data);
        var tokenizer = TokenizerFiles.Load(modelDir);
        var prompts = PromptEncoder.ForModel(modelDir, tokenizer, PromptBudget.TemplateVariables(config.Data));
        int context = ModelConfig.Load(Path.Combine(modelDir, ModelConfig.FileName)).MaxPositionEmbeddings;
        var (limit, source) = PromptBudget.Of(config, context);
        var lengths = problems.Select(p => prompts.Encode(p.Prompt, p.System).Length).ToArray();
        var sorted = lengths.Order().ToArray();
        int Percentile(double q) => sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(q * sorted.Length) - 1)];
        int over = lengths.Count(n => n > limit);
        var w = new StringWriter(CultureInfo.InvariantCulture);
        w.WriteLine($"{file}: {problems.Count} rows");
        w.WriteLine($"prompt tokens ({(prompts.Template is null ? "no chat template" : "chat template")} of {modelDir}): min {sorted[0]}, p50 {Percentile(0.5)}, p90 {Percentile(0.9)}, p99 {Percentile(0.99)}, max {sorted[^1]}");
        w.WriteLine($"longer than {limit} ({source}): {over} of {problems.Count} ({100.0 * over / problems.Count:0.0}%), dropped before step 1 by pacs train");
        w.WriteLine($"first prompt ({problems[0].Id}, gold answer {problems[0].Answer}) as the model sees it:");
        w.WriteLine(prompts.Render(problems[0].Prompt, problems[0].System));
        return w.ToString();
    }
}

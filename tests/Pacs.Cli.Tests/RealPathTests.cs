using System.Text.RegularExpressions;
using Pacs.Cli.Commands;
using Pacs.Engine.Managed;
using Pacs.Rewards.Datasets;
using Pacs.Rl.Training;
using Pacs.Text;

namespace Pacs.Cli.Tests;

/// <summary>
/// The real path end to end: `pacs init` a tiny Qwen3-shaped model with the Qwen3 tokenizer and chat template, then
/// two PACS steps of configs/gsm8k-pacs.yaml on gsm8k_train (template, stop ids, prompt filter, verifier).
/// </summary>
public sealed class RealPathTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("pacs-real-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    internal static string Repo(params string[] parts)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pacs.sln"))) dir = dir.Parent;
        return Path.Combine([dir!.FullName, .. parts]);
    }

    /// <summary>The Qwen3 template's output for one user turn with thinking off, as @huggingface/jinja renders it
    /// (tests/fixtures/text/chat_templates.jsonl).</summary>
    private static string Qwen3NoThinking(string user) => $"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";

    [Fact]
    public void Two_pacs_steps_of_the_gsm8k_recipe_on_a_tiny_qwen3_through_the_real_path()
    {
        string model = Path.Combine(_temp, "qwen3-tiny");
        var (_, parameters) = InitCommand.Write("qwen3", "tiny", Repo("models", "tokenizers", "qwen3"), model, seed: 7);
        Assert.True(parameters > 9_000_000, $"{parameters}"); // the real 151,936-row vocabulary at hidden 64

        // Stop ids: the instruct model's generation_config.json (<|im_end|> and <|endoftext|>).
        var tokenizer = TokenizerFiles.Load(model);
        Assert.Equal([151645, 151643], tokenizer.EosIds.Order().Reverse());

        const int limit = 110;
        var config = TrainCommand.Resolve(Repo("configs", "gsm8k-pacs.yaml"), model, steps: 2, seed: 3,
        [
            $"data.max_prompt_tokens={limit}", "rollout.batch_prompts=2", "rollout.group_size=2", "rollout.max_response_tokens=6",
            "update.mini_batches=1", "update.micro_batch_size=0", "trainer.eval_every=2", "task.eval_problems=2", "task.eval_samples=2",
            "trainer.save_every=0",
        ]);
        var messages = new List<string>();
        var trainer = RlTrainer.Start(ManagedBackend.Instance, config, Path.Combine(_temp, "run"));
        trainer.Message += messages.Add;
        var outcome = trainer.Run();
        Assert.Equal(StopReason.Completed, outcome.Reason);

        // The prompts the trainer renders are the template's reference rendering of the recipe's prompt.
        var problem = MathDatasets.Open("gsm8k_train").Get(Rewards.Split.Train, 0);
        string reference = Qwen3NoThinking(problem.Prompt);
        var encoder = PromptEncoder.ForModel(model, tokenizer, new Dictionary<string, object?> { ["enable_thinking"] = false });
        Assert.Equal(reference, encoder.Render(problem.Prompt));
        Assert.Equal(tokenizer.Encode(reference), encoder.Encode(problem.Prompt, null));

        // Filtered prompts are counted: recount them from the reference rendering.
        var train = MathDatasets.Open("gsm8k_train");
        int tooLong = Enumerable.Range(0, (int)train.Count(Rewards.Split.Train))
            .Count(i => tokenizer.Encode(Qwen3NoThinking(train.Get(Rewards.Split.Train, i).Prompt)).Length > limit);
        Assert.InRange(tooLong, 1, 7472);
        string report = Assert.Single(messages, m => m.StartsWith("prompts of", StringComparison.Ordinal));
        Assert.Contains($"train 7473 prompts, {tooLong} dropped longer than {limit} tokens", report);
        Assert.Matches(new Regex(@"test 1319 prompts"), report);

        var steps = MetricsLog.Read(Path.Combine(trainer.RunDir, MetricsLog.FileName));
        Assert.Equal([0.0, 1.0, 2.0], steps.Select(m => m["step"]));
        Assert.All(steps.Where(m => m["step"] > 0), m => Assert.True(double.IsFinite(m["actor/loss"]) && m["response/length_max"] <= 6));
        Assert.True(steps[^1].ContainsKey("val/pass@1"));
    }

    [Fact]
    public void Data_inspect_reports_rows_lengths_the_limit_and_the_rendered_first_prompt()
    {
        string model = Path.Combine(_temp, "qwen3-inspect");
        InitCommand.Write("qwen3", "tiny", Repo("models", "tokenizers", "qwen3"), model, seed: 1);
        var config = new Rl.Config.TrainConfig();
        config.Data.MaxPromptTokens = 100;
        string report = DataCommand.Inspect(Repo("tests", "Pacs.Rewards.Tests", "Data", "verl_rows.parquet"), model, config);
        Assert.Contains("verl_rows.parquet: 3 rows", report);
        Assert.Matches(new Regex(@"prompt tokens \(chat template of .*\): min \d+, p50 \d+, p90 \d+, p99 \d+, max \d+"), report);
        Assert.Contains("longer than 100 (data.max_prompt_tokens): 0 of 3", report);
        Assert.Contains("first prompt (openai/gsm8k-0, gold answer 72) as the model sees it:\n<|im_start|>user\nNatalia sold clips", report.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Init_refuses_an_unknown_preset_and_an_occupied_folder()
    {
        var e = Assert.Throws<ArgumentException>(() => InitCommand.Write("llama", "0.5b", Repo("models", "tokenizers", "llama3"), Path.Combine(_temp, "x"), 0));
        Assert.Contains("--preset: llama has no preset '0.5b'", e.Message);
        string model = Path.Combine(_temp, "llama-tiny");
        InitCommand.Write("llama", "tiny", Repo("models", "tokenizers", "llama3"), model, 0);
        Assert.Contains(128009, TokenizerFiles.Load(model).EosIds); // <|eot_id|>, where an instruct Llama stops
        var again = Assert.Throws<ArgumentException>(() => InitCommand.Write("llama", "tiny", Repo("models", "tokenizers", "llama3"), model, 0));
        Assert.Contains("already holds a model", again.Message);
    }

    [Fact]
    public void Eval_drops_the_math500_prompts_that_do_not_fit_stories260k_before_sampling()
    {
        // 512 positions minus 128 new tokens: a run over all 500 problems used to die on the first long prompt.
        var fitted = DataCommand.FitToModel(MathDatasets.Open("math500"), Repo("models", "stories260K"), maxNewTokens: 128);
        long kept = fitted.Count(Rewards.Split.Test);
        Assert.InRange(kept, 1, 499);
        Assert.Contains($"test 500 prompts, {500 - kept} dropped longer than 384 tokens", fitted.Report);
        Assert.Contains("context 512 - --max-new-tokens 128", fitted.Report);
    }
}

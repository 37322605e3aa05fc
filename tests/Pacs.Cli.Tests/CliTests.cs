namespace Pacs.Cli.Tests;

/// <summary>
/// The command line as a user meets it: exit codes and the one-line errors for bad input. One class, so its tests
/// run one at a time (they redirect the process-wide Console).
/// </summary>
public sealed partial class CliTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("pacs-cli-tests-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pacs.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Pacs.sln not found above " + AppContext.BaseDirectory);
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            int code = Program.Main(args);
            return (code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    private static void AssertUserError(int code, string err, params string[] mentions)
    {
        Assert.Equal(ErrorReporting.UserErrorExitCode, code);
        var line = err.Trim();
        Assert.StartsWith("error: ", line);
        Assert.DoesNotContain('\n', line);
        foreach (var m in mentions) Assert.Contains(m, line);
    }

    [Fact]
    public void Every_documented_command_is_registered()
    {
        var names = Program.BuildRoot().Subcommands.Select(c => c.Name).ToHashSet();
        foreach (var name in new[] { "bench", "demo", "eval", "generate", "report", "repro", "sft", "tokenize", "train", "verify" })
            Assert.Contains(name, names);
    }

    [Fact]
    public void Verify_prints_an_equal_verdict_and_exits_zero()
    {
        var (code, stdout, _) = Run("verify", "--gold", "\\frac12", "--response", "so \\boxed{0.5}");
        Assert.Equal(0, code);
        Assert.Contains("0.5", stdout);
    }

    [Fact]
    public void Verify_of_a_wrong_answer_exits_one()
    {
        var (code, _, _) = Run("verify", "--gold", "3", "--response", "\\boxed{4}");
        Assert.Equal(1, code);
    }

    [Fact]
    public void Verify_is_strict_about_rounded_decimals_unless_asked_to_be_lenient()
    {
        Assert.Equal(1, Run("verify", "--gold", "\\frac13", "--response", "\\boxed{0.33}").Code);
        Assert.Equal(0, Run("verify", "--gold", "\\frac13", "--response", "\\boxed{0.33}", "--verifier-policy", "lenient").Code);
        var (code, _, err) = Run("verify", "--gold", "1", "--response", "1", "--verifier-policy", "loose");
        AssertUserError(code, err, "verifier policy", "loose");
    }

    [Fact]
    public void Verify_jsonl_honours_each_lines_verifier_policy_and_precision()
    {
        var file = Path.Combine(_temp, "pairs.jsonl");
        File.WriteAllLines(file,
        [
            """{"gold": "\\frac13", "response": "\\boxed{0.33}", "expected": false}""",
            """{"gold": "\\frac13", "response": "\\boxed{0.33}", "verifier_policy": "lenient", "expected": true}""",
            """{"gold": "1/3", "pred": "0.333", "precision": 3, "expected": true}""",
            """{"gold": "1/3", "pred": "0.333", "precision": 4, "expected": false}""",
        ]);
        // the verdicts go to stdout (the process's own stream); the agreement with "expected" to stderr
        var (code, _, stderr) = Run("verify", "--jsonl", file);
        Assert.Equal(0, code);
        Assert.Contains("agreement with \"expected\": 4/4", stderr);

        File.WriteAllLines(file, ["""{"gold": "1", "pred": "1"}""", """{"gold": "1", "pred": "1", "precision": "six"}"""]);
        var (badCode, _, err) = Run("verify", "--jsonl", file);
        AssertUserError(badCode, err, "pairs.jsonl:2", "precision");
    }

    [Fact]
    public void Unknown_verifier_policy_is_rejected_by_train_and_eval_naming_the_option()
    {
        var config = Path.Combine(RepoRoot(), "configs", "arith-pacs.yaml");
        var stories = Path.Combine(RepoRoot(), "models", "stories260K");
        var (code, _, err) = Run("train", "--config", config, "--model", stories, "--out", Path.Combine(_temp, "run"), "--set", "task.verifier_policy=loose");
        AssertUserError(code, err, "task.verifier_policy", "loose");
        Assert.False(File.Exists(Path.Combine(_temp, "run", "metrics.jsonl")));
        var (evalCode, _, evalErr) = Run("eval", "--model", stories, "--dataset", "math500", "--verifier-policy", "loose", "--out", Path.Combine(_temp, "eval"));
        AssertUserError(evalCode, evalErr, "verifier policy", "loose");
    }

    [Fact]
    public void Train_picks_the_remote_rollout_engine_from_the_config_and_names_an_unreachable_server()
    {
        var config = Path.Combine(RepoRoot(), "configs", "arith-pacs.yaml");
        var stories = Path.Combine(RepoRoot(), "models", "stories260K");
        string run = Path.Combine(_temp, "remote");
        var (code, _, err) = Run("train", "--config", config, "--model", stories, "--out", run, "--set", "rollout.engine=vllm");
        AssertUserError(code, err, "rollout.servers");
        (code, _, err) = Run("train", "--config", config, "--model", stories, "--out", run, "--set", "rollout.engine=openai", "--set", "rollout.servers=http://127.0.0.1:9");
        AssertUserError(code, err, "rollout.engine=openai cannot load the weights");
        // Nothing listens on port 9: the first weight sync (before step 1) fails naming the server, and leaves no run behind.
        (code, _, err) = Run("train", "--config", config, "--model", stories, "--out", run, "--set", "rollout.engine=pacs",
            "--set", "rollout.servers=http://127.0.0.1:9", "--set", "rollout.sync_dir=" + Path.Combine(_temp, "sync"), "--set", "rollout.max_retries=0");
        AssertUserError(code, err, "server http://127.0.0.1:9/ did not answer");
        Assert.False(Directory.Exists(run));
        Assert.True(File.Exists(Path.Combine(_temp, "sync", "v00000000", "tokenizer.json")));
    }

    [Fact]
    public void Eval_on_a_math_dataset_records_its_verifier_policy()
    {
        var stories = Path.Combine(RepoRoot(), "models", "stories260K");
        foreach (var policy in new[] { "strict", "lenient" })
        {
            var outDir = Path.Combine(_temp, "eval-" + policy);
            string[] args = ["eval", "--model", stories, "--dataset", "math500", "--problems", "2", "--samples", "1", "--max-new-tokens", "4", "--out", outDir];
            var (code, _, _) = Run(policy == "strict" ? args : [.. args, "--verifier-policy", policy]);
            Assert.Equal(0, code);
            var metrics = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "eval_metrics.json"))).RootElement;
            Assert.Equal(policy, metrics.GetProperty("verifier_policy").GetString());
        }
    }

    [Fact]
    public void Unknown_task_is_a_user_error_naming_it()
    {
        var (code, _, err) = Run("sft", "--task", "nosuchtask", "--out", Path.Combine(_temp, "m"), "--steps", "1");
        AssertUserError(code, err, "nosuchtask");
    }

    [Fact]
    public void Missing_model_directory_is_a_user_error()
    {
        var missing = Path.Combine(_temp, "no-model");
        var (code, _, err) = Run("generate", "--model", missing, "--prompt", "hi");
        AssertUserError(code, err, "no-model");
    }

    [Fact]
    public void Truncated_safetensors_is_a_user_error_naming_the_file_and_nothing_is_overwritten()
    {
        var model = Path.Combine(_temp, "stories");
        Directory.CreateDirectory(model);
        foreach (var file in Directory.GetFiles(Path.Combine(RepoRoot(), "models", "stories260K")))
            File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        var weights = Path.Combine(model, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);

        var (code, _, err) = Run("generate", "--model", model, "--prompt", "Once", "--max-tokens", "2");

        AssertUserError(code, err, "model.safetensors");
        Assert.Equal(bytes.Length / 2, new FileInfo(weights).Length);
    }

    [Fact]
    public void Unknown_config_key_is_rejected_before_work_naming_the_key()
    {
        var config = Path.Combine(RepoRoot(), "configs", "arith-pacs.yaml");
        var (code, _, err) = Run("train", "--config", config, "--model", Path.Combine(RepoRoot(), "models", "stories260K"),
            "--out", Path.Combine(_temp, "run"), "--set", "optim.no_such_knob=1");
        AssertUserError(code, err, "no_such_knob");
        Assert.False(File.Exists(Path.Combine(_temp, "run", "metrics.jsonl")));
    }

    [Fact]
    public void Wrongly_typed_config_value_is_rejected_naming_the_key()
    {
        var config = Path.Combine(RepoRoot(), "configs", "arith-grpo.yaml");
        var (code, _, err) = Run("train", "--config", config, "--model", Path.Combine(RepoRoot(), "models", "stories260K"),
            "--out", Path.Combine(_temp, "run"), "--set", "optim.lr=abc");
        AssertUserError(code, err, "lr");
    }

    [Theory]
    [InlineData("--seed", "-3", "a whole number from 0 to 18446744073709551615", "generate", "--model", "m", "--prompt", "p")]
    [InlineData("--steps", "abc", "an integer from", "sft", "--out", "m")]
    [InlineData("--temperature", "hot", "a number", "eval", "--model", "m")]
    public void Option_parse_errors_are_one_line_naming_the_option_and_what_it_accepts(string option, string value, string accepts, params string[] rest)
    {
        var (code, stdout, err) = Run([.. rest, option, value]);
        AssertUserError(code, err, option, $"'{value}'", accepts);
        Assert.DoesNotContain("System.", err);
        Assert.Equal("", stdout); // no help dump
    }

    [Fact]
    public void Errors_carry_no_parameter_suffix_and_debug_adds_the_stack_trace()
    {
        var (code, _, err) = Run("sft", "--task", "math500", "--out", Path.Combine(_temp, "m"), "--steps", "1");
        AssertUserError(code, err, "math500");
        Assert.DoesNotContain("(Parameter", err);
        Assert.False(Directory.Exists(Path.Combine(_temp, "m")));

        var (debugCode, _, debugErr) = Run("sft", "--task", "math500", "--out", Path.Combine(_temp, "m"), "--steps", "1", "--debug");
        Assert.Equal(ErrorReporting.UserErrorExitCode, debugCode);
        Assert.StartsWith("error: ", debugErr);
        Assert.Contains(" at ", debugErr);
    }

    [Fact]
    public void Verify_policy_error_lists_every_accepted_name()
    {
        var (code, _, err) = Run("verify", "--gold", "1", "--response", "1", "--policy", "foo");
        AssertUserError(code, err, "default", "lenient", "boxed", "number");
    }

    [Fact]
    public void Sft_refuses_a_model_folder_unless_overwrite_which_leaves_nothing_stale()
    {
        var model = Path.Combine(_temp, "stories");
        Directory.CreateDirectory(model);
        foreach (var file in Directory.GetFiles(Path.Combine(RepoRoot(), "models", "stories260K")))
            File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        var before = Directory.GetFiles(model).Select(Path.GetFileName).Order().ToList();

        var (code, _, err) = Run("sft", "--out", model, "--steps", "1", "--batch-size", "2");
        AssertUserError(code, err, "already holds a model", "--overwrite");
        Assert.Equal(before, Directory.GetFiles(model).Select(Path.GetFileName).Order().ToList());

        var (overwritten, _, overwriteErr) = Run("sft", "--out", model, "--steps", "1", "--batch-size", "2", "--overwrite");
        Assert.True(overwritten == 0, overwriteErr);
        Assert.False(File.Exists(Path.Combine(model, "tokenizer.json"))); // stories260K's tokenizer is gone, the char one is there
        Assert.True(File.Exists(Path.Combine(model, "char_tokenizer.json")));
    }

    [Fact]
    public void Overwrite_never_removes_the_folder_holding_an_input()
    {
        var outer = Path.Combine(_temp, "outer");
        var model = Path.Combine(outer, "model");
        Directory.CreateDirectory(model);
        File.WriteAllText(Path.Combine(model, "config.json"), "{}");
        var (code, _, err) = Run("eval", "--model", model, "--out", outer, "--overwrite");
        AssertUserError(code, err, "refusing to --overwrite", "model");
        Assert.True(File.Exists(Path.Combine(model, "config.json")));
    }

    [Fact]
    public void Demo_and_report_refuse_existing_outputs_without_overwrite()
    {
        var demo = Path.Combine(_temp, "demo");
        Directory.CreateDirectory(demo);
        File.WriteAllText(Path.Combine(demo, "earlier.txt"), "x");
        var (code, _, err) = Run("demo", "--out", demo);
        AssertUserError(code, err, "--overwrite");

        var html = Path.Combine(_temp, "report.html");
        File.WriteAllText(html, "mine");
        var (reportCode, _, reportErr) = Run("report", _temp, "--out", html);
        AssertUserError(reportCode, reportErr, "--overwrite");
        Assert.Equal("mine", File.ReadAllText(html));
    }

    [Fact]
    public void Train_with_zero_steps_is_a_success_not_an_error()
    {
        var run = Path.Combine(_temp, "zero");
        var (code, _, err) = Run("train", "--model", Path.Combine(RepoRoot(), "models", "stories260K"), "--out", run, "--steps", "0",
            "--set", "trainer.eval_every=0");
        Assert.True(code == 0, err);
        Assert.Equal("", err);
    }

    [Fact]
    public void Eval_writes_under_runs_by_default_not_into_the_model_folder()
    {
        Assert.Equal(Path.Combine("runs", "eval", "arith-base-arith"), Commands.EvalCommand.DefaultOutDir("/m/arith-base", "arith"));
        Assert.Equal(Path.Combine("runs", "eval", "step_000030-model-arith"), Commands.EvalCommand.DefaultOutDir("/r/checkpoints/step_000030/model/", "arith"));
    }

    [Fact]
    public void Tokenizer_directory_without_tokenizer_json_is_a_user_error()
    {
        var (code, _, err) = Run("tokenize", "--tokenizer", _temp, "--text", "Once upon a time");
        AssertUserError(code, err);
    }
    [Fact]
    public void Unknown_bench_memory_mode_is_a_user_error_naming_it()
    {
        var (code, _, err) = Run("bench", "--only", "train", "--train-memory", "nosuchmode");
        AssertUserError(code, err, "nosuchmode");
    }

    [Fact]
    public void Bench_training_memory_modes_train_the_same_model()
    {
        var config = Bench.BenchShapes.BenchTiny() with { NumHiddenLayers = 2 };
        var losses = Bench.TrainMemory.Names
            .Select(mode => Bench.BenchRunner.Train(config, batch: 2, seqLen: 16, repeats: 2, memory: mode))
            .Select(f => (f.FirstLoss, f.LastLoss)).ToList();
        Assert.All(losses, l => Assert.Equal(losses[0], l));
        Assert.NotEqual(losses[0].FirstLoss, losses[0].LastLoss);
    }

    [Fact]
    public void Init_and_data_inspect_from_the_command_line()
    {
        string model = Path.Combine(_temp, "qwen3-tiny");
        var (code, stdout, err) = Run("init", "--arch", "qwen3", "--preset", "tiny", "--tokenizer", Path.Combine(RepoRoot(), "models", "tokenizers", "qwen3"), "--out", model, "--seed", "2");
        Assert.True(code == 0, err);
        Assert.Contains("parameters (random, seed 2)", stdout);
        (code, stdout, err) = Run("data", "inspect", Path.Combine(RepoRoot(), "tests", "Pacs.Rewards.Tests", "Data", "verl_rows.jsonl"), "--model", model);
        Assert.True(code == 0, err);
        Assert.Contains("verl_rows.jsonl: 3 rows", stdout);
        // A second init into the same folder is refused without --overwrite, and replaces it with it.
        var (again, _, againErr) = Run("init", "--arch", "qwen3", "--preset", "tiny", "--tokenizer", Path.Combine(RepoRoot(), "models", "tokenizers", "qwen3"), "--out", model, "--seed", "3");
        AssertUserError(again, againErr, "--overwrite");
        (again, _, againErr) = Run("init", "--arch", "qwen3", "--preset", "tiny", "--tokenizer", Path.Combine(RepoRoot(), "models", "tokenizers", "qwen3"), "--out", model, "--seed", "3", "--overwrite");
        Assert.True(again == 0, againErr);
        (code, _, err) = Run("init", "--arch", "gpt2", "--tokenizer", Path.Combine(RepoRoot(), "models", "tokenizers", "qwen3"), "--out", Path.Combine(_temp, "x"));
        AssertUserError(code, err, "--arch", "gpt2");
    }

    [Fact]
    public void Init_writes_bf16_weights_and_generate_reads_them_in_either_precision()
    {
        string model = Path.Combine(_temp, "qwen2-tiny-bf16");
        string tokenizer = Path.Combine(RepoRoot(), "models", "tokenizers", "qwen3");
        var (code, stdout, err) = Run("init", "--arch", "qwen2", "--preset", "tiny", "--tokenizer", tokenizer, "--out", model, "--seed", "4", "--dtype", "bfloat16");
        Assert.True(code == 0, err);
        Assert.Contains("bfloat16 weights", stdout);
        using (var file = Pacs.Models.SafetensorsFile.Open(Path.Combine(model, "model.safetensors")))
            Assert.All(file.Entries.Values, e => Assert.Equal(Pacs.Models.SafetensorsDtype.BF16, e.Dtype));
        Assert.Equal(Pacs.Tensors.TensorDtype.BFloat16, Pacs.Models.Transformer.Load(model).WeightDtype);
        var (bf16Code, bf16Out, bf16Err) = Run("generate", "--model", model, "--prompt", "Hello", "--max-tokens", "4", "--greedy", "--json");
        Assert.True(bf16Code == 0, bf16Err);
        var (f32Code, f32Out, f32Err) = Run("generate", "--model", model, "--prompt", "Hello", "--max-tokens", "4", "--greedy", "--json", "--dtype", "float32");
        Assert.True(f32Code == 0, f32Err);
        Assert.Equal(f32Out, bf16Out);
        (code, _, err) = Run("generate", "--model", model, "--prompt", "Hello", "--dtype", "fp8");
        AssertUserError(code, err, "--dtype", "fp8");
        (code, _, err) = Run("init", "--arch", "qwen2", "--tokenizer", tokenizer, "--out", Path.Combine(_temp, "y"), "--dtype", "auto");
        AssertUserError(code, err, "--dtype");
    }

    [Fact]
    public void A_tokenizer_larger_than_the_models_vocabulary_is_one_error_line_for_eval_and_train()
    {
        string model = Path.Combine(_temp, "small-vocab");
        var tokenizer = new Pacs.Text.CharTokenizer();
        new Pacs.Models.Transformer(new Pacs.Models.ModelConfig
        {
            ModelType = "llama",
            VocabSize = 8,
            HiddenSize = 16,
            NumHiddenLayers = 1,
            NumAttentionHeads = 2,
            NumKeyValueHeads = 1,
            HeadDim = 8,
            IntermediateSize = 32,
            MaxPositionEmbeddings = 512,
        }, seed: 1).Save(model);
        tokenizer.Save(model);
        var (code, _, err) = Run("eval", "--model", model, "--task", "arith", "--out", Path.Combine(_temp, "eval"));
        AssertUserError(code, err, model, "vocab_size");
        Assert.False(Directory.Exists(Path.Combine(_temp, "eval")));
        var config = Path.Combine(RepoRoot(), "configs", "arith-pacs.yaml");
        (code, _, err) = Run("train", "--config", config, "--model", model, "--out", Path.Combine(_temp, "run"));
        AssertUserError(code, err, model, "vocab_size");
        Assert.False(Directory.Exists(Path.Combine(_temp, "run")));
    }
}

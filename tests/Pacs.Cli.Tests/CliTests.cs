namespace Pacs.Cli.Tests;

/// <summary>
/// The command line as a user meets it: exit codes and the one-line errors for bad input. One class, so its tests
/// run one at a time (they redirect the process-wide Console).
/// </summary>
public sealed class CliTests : IDisposable
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
        (code, _, err) = Run("init", "--arch", "gpt2", "--tokenizer", Path.Combine(RepoRoot(), "models", "tokenizers", "qwen3"), "--out", Path.Combine(_temp, "x"));
        AssertUserError(code, err, "--arch", "gpt2");
    }
}

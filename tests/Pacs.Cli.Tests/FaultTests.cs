using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Pacs.Models;
using Pacs.Rl.Training;
using Pacs.Text;

namespace Pacs.Cli.Tests;

/// <summary>A tiny base model (hidden 32, one layer) and the metrics of one uninterrupted run on it, shared by the fault tests.</summary>
public sealed class TinyTrainFixture : IDisposable
{
    public TinyTrainFixture()
    {
        Root = Directory.CreateTempSubdirectory("pacs-fault-tests-").FullName;
        ModelDir = Path.Combine(Root, "base");
        var tokenizer = new CharTokenizer();
        var config = new ModelConfig
        {
            ModelType = "llama",
            VocabSize = tokenizer.VocabSize,
            HiddenSize = 32,
            NumHiddenLayers = 1,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            HeadDim = 8,
            IntermediateSize = 64,
            MaxPositionEmbeddings = 128,
            BosTokenId = tokenizer.BosId,
            EosTokenIds = tokenizer.EosIds,
            PadTokenId = tokenizer.PadId,
        };
        new Transformer(config, seed: 3).Save(ModelDir);
        tokenizer.Save(ModelDir);
        string reference = Path.Combine(Root, "reference");
        var run = PacsProcess.RunToEnd(Root, null, TrainArgs(reference));
        Assert.True(run.Code == 0, run.Err);
        Reference = FaultTests.Deterministic(reference);
    }

    public string Root { get; }

    public string ModelDir { get; }

    /// <summary>Steps 0 (validation before training) .. <see cref="Steps"/> of the uninterrupted run, machine-dependent keys left out.</summary>
    public List<Dictionary<string, double>> Reference { get; }

    public const int Steps = 4;

    /// <summary>4 prompts x 4 samples, 6-token responses, validation and a checkpoint every 2 steps.</summary>
    public string[] TrainArgs(string outDir, params string[] extra) =>
    [
        "train", "--model", ModelDir, "--out", outDir, "--steps", Steps.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seed", "11",
        "--set", "algorithm.name=pacs", "task.name=arith", "task.level=1", "task.eval_problems=4", "task.eval_samples=2",
        "rollout.batch_prompts=4", "rollout.group_size=4", "rollout.max_response_tokens=6", "optim.lr=0.01", "update.mini_batches=2",
        "update.micro_batch_size=4", "update.epochs=1", "trainer.eval_every=2", "trainer.save_every=2", .. extra,
    ];

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>
/// The real `pacs` process under faults: SIGTERM and Ctrl-C at seeded steps, SIGKILL at seeded file operations of a
/// checkpoint save and at seeded random times, a cut `metrics.jsonl`, a `latest` naming nothing, a run killed
/// before its first checkpoint, `--out` on a file or on a run. Every case must end resumable (or restartable) and,
/// once resumed to the end, have exactly the metrics of the uninterrupted run. Processes are stopped at exact
/// points through <see cref="TestHooks"/>; every wait is bounded and every process is killed on the way out.
/// </summary>
public sealed class FaultTests(TinyTrainFixture tiny) : IClassFixture<TinyTrainFixture>, IDisposable
{
    private const int SigInt = 2, SigKill = 9, SigTerm = 15;

    private readonly string _temp = Directory.CreateTempSubdirectory("pacs-fault-case-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    internal static List<Dictionary<string, double>> Deterministic(string runDir) =>
        MetricsLog.Read(Path.Combine(runDir, MetricsLog.FileName))
            .Select(r => r.Where(kv => MetricsLog.IsDeterministic(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value))
            .ToList();

    private void AssertEqualsReference(string runDir)
    {
        var actual = Deterministic(runDir);
        Assert.Equal(tiny.Reference.Count, actual.Count);
        for (int i = 0; i < actual.Count; i++)
        {
            Assert.Equal(tiny.Reference[i].Keys.Order(), actual[i].Keys.Order());
            foreach (var (key, value) in tiny.Reference[i])
                Assert.True(value.Equals(actual[i][key]), $"step {value}: {key} = {value:R} uninterrupted vs {actual[i][key]:R} after the fault");
        }
        var leftovers = Directory.GetFileSystemEntries(Path.Combine(runDir, RunFiles.CheckpointsDir)).Select(Path.GetFileName)
            .Where(n => n!.Contains(".tmp", StringComparison.Ordinal) || n.Contains(".old", StringComparison.Ordinal)).ToList();
        Assert.Empty(leftovers);
    }

    private string ResumeToEnd(string runDir)
    {
        var run = PacsProcess.RunToEnd(_temp, null, ["train", "--resume", runDir]);
        Assert.True(run.Code == 0, $"resume exited {run.Code}: {run.Err}");
        AssertEqualsReference(runDir);
        return run.Out;
    }

    private static void AssertOneErrorLine(int code, string err, params string[] mentions)
    {
        Assert.Equal(2, code);
        string line = err.Trim();
        Assert.StartsWith("error: ", line);
        Assert.DoesNotContain('\n', line);
        foreach (var m in mentions) Assert.Contains(m, line);
    }

    /// <summary>Seeded (signal, step to pause after) pairs: SIGTERM and Ctrl-C, before the first step and later.</summary>
    public static TheoryData<int, int> SignalCases()
    {
        var random = new Random(1717);
        return new TheoryData<int, int> { { SigTerm, 0 }, { SigTerm, 1 + random.Next(TinyTrainFixture.Steps - 1) }, { SigInt, 1 + random.Next(TinyTrainFixture.Steps - 1) } };
    }

    [Theory]
    [MemberData(nameof(SignalCases))]
    public void Sigterm_and_ctrl_c_save_then_exit_143_or_130_and_the_resumed_run_equals_an_uninterrupted_one(int signal, int step)
    {
        string run = Path.Combine(_temp, "run");
        using (var pacs = PacsProcess.Start(_temp, new() { [TestHooks.PauseAfterStepVariable] = $"{step}" }, tiny.TrainArgs(run)))
        {
            pacs.WaitFor($"paused after step {step}");
            pacs.Signal(signal);
            Assert.Equal(signal == SigTerm ? 143 : 130, pacs.Exit());
            Assert.Contains($"saved step {step}", pacs.Err);
        }
        Assert.Equal(step, Checkpointer.Find(run)!.Step);
        Assert.Contains($"resuming from step {step}", ResumeToEnd(run));
    }

    /// <summary>Seeded file operations to stall at (and kill at), counted over all the saves of a run (about 7 each).</summary>
    public static TheoryData<int> SaveOps()
    {
        var random = new Random(2024);
        return [.. Enumerable.Range(0, 3).Select(_ => 1 + random.Next(14))];
    }

    [Theory]
    [MemberData(nameof(SaveOps))]
    public void Sigkill_inside_a_checkpoint_save_leaves_a_run_that_resumes_to_the_uninterrupted_metrics(int op)
    {
        string run = Path.Combine(_temp, "run");
        using (var pacs = PacsProcess.Start(_temp, new() { [TestHooks.StallAtSaveOpVariable] = $"{op}" }, tiny.TrainArgs(run)))
        {
            pacs.WaitFor($"stalled at save operation {op}");
            pacs.Signal(SigKill);
            pacs.Exit();
        }
        ResumeToEnd(run);
    }

    [Fact]
    public void Sigkill_while_resaving_an_existing_step_restores_the_old_copy()
    {
        string run = Path.Combine(_temp, "run");
        Assert.Equal(0, PacsProcess.RunToEnd(_temp, null, tiny.TrainArgs(run)).Code);
        // Resuming a finished run saves its last step again: stall where the old copy is aside and the new one not yet in place.
        using (var pacs = PacsProcess.Start(_temp, new() { [TestHooks.StallAtSaveOpVariable] = "6" }, ["train", "--resume", run]))
        {
            pacs.WaitFor("stalled at save operation 6: rename into place");
            pacs.Signal(SigKill);
            pacs.Exit();
        }
        string last = Path.Combine(run, RunFiles.CheckpointsDir, Checkpointer.DirName(TinyTrainFixture.Steps));
        Assert.False(Directory.Exists(last));
        Assert.Contains($"restored {Checkpointer.DirName(TinyTrainFixture.Steps)}", ResumeToEnd(run));
    }

    /// <summary>Seeded delays: SIGKILL wherever the run happens to be (a step, a save, the start), then resume.</summary>
    public static TheoryData<int> KillDelays()
    {
        var random = new Random(31337);
        return [.. Enumerable.Range(0, 2).Select(_ => random.Next(200, 2500))];
    }

    [Theory]
    [MemberData(nameof(KillDelays))]
    public void Sigkill_at_a_random_time_leaves_a_resumable_or_restartable_run(int delayMs)
    {
        string run = Path.Combine(_temp, "run");
        using (var pacs = PacsProcess.Start(_temp, null, tiny.TrainArgs(run)))
        {
            Thread.Sleep(delayMs);
            pacs.Signal(SigKill);
            pacs.Exit();
        }
        if (File.Exists(Path.Combine(run, RunFiles.ConfigFile)))
        {
            ResumeToEnd(run);
            return;
        }
        // Killed before the run saved its config: the folder is absent or empty, and a fresh run may use it.
        var fresh = PacsProcess.RunToEnd(_temp, null, tiny.TrainArgs(run));
        Assert.True(fresh.Code == 0, fresh.Err);
        AssertEqualsReference(run);
    }

    [Fact]
    public void A_cut_metrics_line_and_latest_naming_nothing_are_repaired_on_resume()
    {
        string run = Path.Combine(_temp, "run");
        using (var pacs = PacsProcess.Start(_temp, new() { [TestHooks.PauseAfterStepVariable] = "3" }, tiny.TrainArgs(run)))
        {
            pacs.WaitFor("paused after step 3");
            pacs.Signal(SigKill);
            pacs.Exit();
        }
        string metrics = Path.Combine(run, MetricsLog.FileName);
        string text = File.ReadAllText(metrics).TrimEnd('\n');
        File.WriteAllText(metrics, text[..(text.LastIndexOf('\n') + 40)]); // the step 3 line, cut short
        File.WriteAllText(Path.Combine(run, RunFiles.CheckpointsDir, RunFiles.LatestFile), Checkpointer.DirName(99) + "\n");
        string output = ResumeToEnd(run);
        Assert.Contains("using the newest complete checkpoint", output);
        Assert.Contains("resuming from step 2", output);
    }

    [Fact]
    public void A_run_killed_before_its_first_checkpoint_is_refused_as_out_but_restarts_on_resume()
    {
        string run = Path.Combine(_temp, "run");
        using (var pacs = PacsProcess.Start(_temp, new() { [TestHooks.PauseAfterStepVariable] = "1" }, tiny.TrainArgs(run)))
        {
            pacs.WaitFor("paused after step 1");
            pacs.Signal(SigKill);
            pacs.Exit();
        }
        Assert.Null(Checkpointer.Find(run));
        var again = PacsProcess.RunToEnd(_temp, null, tiny.TrainArgs(run));
        AssertOneErrorLine(again.Code, again.Err, "no checkpoint yet", "--resume", "--overwrite");
        Assert.Contains("restarting from step 0", ResumeToEnd(run));
    }

    [Fact]
    public void Out_on_a_file_is_an_error_and_out_on_a_run_needs_overwrite_which_starts_over()
    {
        string file = Path.Combine(_temp, "notes.txt");
        File.WriteAllText(file, "keep me");
        var onFile = PacsProcess.RunToEnd(_temp, null, tiny.TrainArgs(file));
        AssertOneErrorLine(onFile.Code, onFile.Err, "is a file");
        Assert.Equal("keep me", File.ReadAllText(file));

        string run = Path.Combine(_temp, "run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "stale.txt"), "from before");
        var refused = PacsProcess.RunToEnd(_temp, null, tiny.TrainArgs(run));
        AssertOneErrorLine(refused.Code, refused.Err, "--overwrite");
        Assert.True(File.Exists(Path.Combine(run, "stale.txt")));
        var overwritten = PacsProcess.RunToEnd(_temp, null, tiny.TrainArgs(run, "--overwrite"));
        Assert.True(overwritten.Code == 0, overwritten.Err);
        Assert.False(File.Exists(Path.Combine(run, "stale.txt")));
        AssertEqualsReference(run);
    }

    [Fact]
    public void A_fresh_run_failing_in_its_first_step_leaves_nothing_but_one_error_line()
    {
        // A tokenizer without '=' passes every check but cannot encode the first arith prompt (a bad prompt).
        string model = Path.Combine(_temp, "no-equals");
        Directory.CreateDirectory(model);
        foreach (var file in Directory.GetFiles(tiny.ModelDir)) File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        string tokenizerPath = Path.Combine(model, CharTokenizer.FileName);
        var tokenizer = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(tokenizerPath))!;
        var vocab = tokenizer["vocab"]!.AsArray();
        vocab[vocab.Select(v => v!.GetValue<string>()).ToList().IndexOf("=")] = "\u00a7";
        File.WriteAllText(tokenizerPath, tokenizer.ToJsonString());

        string run = Path.Combine(_temp, "run");
        var failed = PacsProcess.RunToEnd(_temp, null, [.. tiny.TrainArgs(run).Select(a => a == tiny.ModelDir ? model : a)]);
        AssertOneErrorLine(failed.Code, failed.Err, "not in the vocabulary");
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void Sigterm_stops_sft_with_exit_143_and_says_how_to_start_again()
    {
        string model = Path.Combine(_temp, "model");
        using var pacs = PacsProcess.Start(_temp, null, ["sft", "--out", model, "--steps", "100000", "--batch-size", "2"]);
        pacs.WaitFor("parameters"); // the banner, printed once SIGTERM is handled
        pacs.Signal(SigTerm);
        Assert.Equal(143, pacs.Exit());
        Assert.Contains("--overwrite", pacs.Err);
    }
}

/// <summary>A `pacs` child process with its output captured; every wait is bounded and Dispose kills it if it still runs.</summary>
internal sealed class PacsProcess : IDisposable
{
    /// <summary>A guard against hangs, not a timing assertion: no case comes near it.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    private readonly Process _process;
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _err = new();
    private readonly Lock _lock = new();

    /// <summary>
    /// A process started in the background of a non-interactive shell (`nohup .ci/run &amp;`) ignores SIGINT, its
    /// children inherit that, and the .NET runtime then leaves SIGINT ignored in `pacs` too, so the Ctrl-C case would
    /// wait out <see cref="Limit"/>. The default action is restored here, once, before the first child starts.
    /// </summary>
    static unsafe PacsProcess()
    {
        const int sigInt = 2;
        const nint ignore = 1, defaultAction = 0;
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        // struct sigaction starts with the handler on both; the buffer is larger than either struct.
        byte* current = stackalloc byte[512];
        if (NativeSigaction(sigInt, null, current) == 0 && *(nint*)current == ignore) NativeSignal(sigInt, defaultAction);
    }

    private PacsProcess(string workDir, Dictionary<string, string>? env, string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "pacs"))
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        foreach (var (key, value) in env ?? []) start.Environment[key] = value;
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Append(_out, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(_err, e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static PacsProcess Start(string workDir, Dictionary<string, string>? env, string[] args) => new(workDir, env, args);

    public static (int Code, string Out, string Err) RunToEnd(string workDir, Dictionary<string, string>? env, string[] args)
    {
        using var pacs = Start(workDir, env, args);
        int code = pacs.Exit();
        return (code, pacs.Out, pacs.Err);
    }

    public string Out
    {
        get { lock (_lock) return _out.ToString(); }
    }

    public string Err
    {
        get { lock (_lock) return _err.ToString(); }
    }

    /// <summary>Waits until the output contains <paramref name="text"/>; fails if the process ends first.</summary>
    public void WaitFor(string text)
    {
        var clock = Stopwatch.StartNew();
        while (!(Out + Err).Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited && _process.WaitForExit(1000) && !(Out + Err).Contains(text, StringComparison.Ordinal))
                Assert.Fail($"pacs exited with {_process.ExitCode} before printing '{text}': {Err}");
            if (clock.Elapsed > Limit) Assert.Fail($"pacs did not print '{text}' within {Limit}: {Err}");
            Thread.Sleep(10);
        }
    }

    public void Signal(int signal)
    {
        if (!_process.HasExited) Assert.Equal(0, NativeKill(_process.Id, signal));
    }

    /// <summary>Waits for the process to end and returns its exit code (128 + n when a signal n ended it).</summary>
    public int Exit()
    {
        if (!_process.WaitForExit(Limit)) Assert.Fail($"pacs still running after {Limit}: {Err}");
        _process.WaitForExit(); // drains the output
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
        _process.Dispose();
    }

    private void Append(StringBuilder buffer, string? line)
    {
        if (line is null) return;
        lock (_lock) buffer.AppendLine(line);
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int NativeKill(int pid, int signal);

    [DllImport("libc", EntryPoint = "signal")]
    private static extern nint NativeSignal(int signal, nint handler);

    [DllImport("libc", EntryPoint = "sigaction")]
    private static extern unsafe int NativeSigaction(int signal, byte* action, byte* previous);
}

using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Pacs.Eval;
using Pacs.Models;
using Pacs.Rewards.Tasks;
using Pacs.Rl.Config;
using Pacs.Rl.Reporting;
using Pacs.Rl.Sft;
using Pacs.Rl.Training;

namespace Pacs.Cli.Commands;

/// <summary>The sizes of one reproduction: the quick one checks the pipeline in minutes, the full one is the result.</summary>
public sealed record ReproProfile(
    string Name, SftOptions Sft, int Steps, int BatchPrompts, int GroupSize, int MaxResponseTokens,
    double[] LearningRates, int Seeds, int EvalProblems, int EvalSamples, bool Ablations)
{
    /// <summary>
    /// Minutes on 2 cores: the default 1000-step SFT base (pass@1 about 0.3: a weaker 400-step base, about 0.09, left
    /// most groups all wrong and no method moved it), 100 RL steps of 8 prompts x 8 at the rate the full profile's
    /// search picks for PACS (3e-5, a grid of one to save the search), 3 seeds, and 500 held-out problems so that the
    /// evaluation's standard error of a change (about 0.007) is below the gains it is meant to show.
    /// </summary>
    public static ReproProfile Quick { get; } = new("quick",
        new SftOptions { Task = "arith", Level = 1 },
        Steps: 100, BatchPrompts: 8, GroupSize: 8, MaxResponseTokens: 40, LearningRates: [3e-5], Seeds: 3, EvalProblems: 500, EvalSamples: 16, Ablations: false);

    /// <summary>
    /// `--quick` with more methods than its default three (`--methods all` is 13): the same base, run budget and
    /// evaluation, but one seed per method, so that all registered methods take about 10 minutes on 2 cores (the
    /// estimate and the measurement are in docs/results.md). Each method's margin over the base is then judged by the
    /// evaluation's standard error, paired over the same held-out problems (the quick profile's seeds spread its
    /// pass@1 by 0.001-0.003, a tenth of the gains); `--seeds` still overrides.
    /// </summary>
    public static ReproProfile QuickMany { get; } = Quick with { Name = "quick-many", Seeds = 1 };

    /// <summary>The profile `pacs repro` runs: full, or quick (one seed per method when more than the default methods are asked for).</summary>
    public static ReproProfile For(bool quick, int methods) => !quick ? Full : methods > ReproCommand.Methods(ablations: false).Count ? QuickMany : Quick;

    /// <summary>
    /// About an hour on 2 cores: the default SFT base (`pacs sft`: 128x4, 1000 steps of 64), 100 RL steps of 16 prompts x 8
    /// on the task's RL split, 3 seeds, 200 held-out problems x 64 samples, and the PACS ablations.
    /// </summary>
    public static ReproProfile Full { get; } = new("full",
        new SftOptions { Task = "arith", Level = 1 },
        Steps: 100, BatchPrompts: 16, GroupSize: 8, MaxResponseTokens: 40, LearningRates: [3e-5, 1e-4], Seeds: 3, EvalProblems: 200, EvalSamples: 64, Ablations: true);
}

/// <summary>
/// `pacs repro`: one SFT base, then PACS, GRPO and PPO with the same rollout budget (prompts per step, group size,
/// steps) and the same learning-rate search (seed 0 at every grid value, pick the highest mean training reward over
/// the second half of the run: no held-out data is used to choose), then the remaining seeds at the chosen rate;
/// every final model and the base are evaluated at pass@1, 2, 4, ... on held-out problems. Writes results.json,
/// results.md and passk.svg.
/// </summary>
public sealed class ReproCommand : ICliCommand
{
    public Command Build()
    {
        var output = new Option<string>("--out") { Description = "Output directory (base/, runs/, eval/, results.json, results.md, passk.svg)", DefaultValueFactory = _ => Path.Combine("runs", "repro") };
        var quick = new Option<bool>("--quick") { Description = "The small version: minutes on 2 cores (1000-step base, 100 steps x 8 x 8 at lr 3e-5, 3 seeds, 500 held-out problems x 16; 1 seed per method when more than pacs,grpo,ppo are asked for)" };
        var seeds = new Option<int?>("--seeds") { Description = "Seeds per method (default 3; 1 with --quick and more methods than pacs,grpo,ppo)" };
        var steps = new Option<int?>("--steps") { Description = "RL steps per run (default: the profile's)" };
        var baseModel = new Option<string?>("--base") { Description = "Use this SFT base model directory instead of training one (it must match the profile's task and level)" };
        var lrs = new Option<string?>("--lrs") { Description = "Learning-rate grid, comma-separated (default: the profile's)" };
        var methodList = new Option<string?>("--methods") { Description = "Methods to compare, comma-separated: algorithm names (pacs, grpo, gspo, ...), NAME+pods, PACS ablations, or all (default: pacs,grpo,ppo and, in the full profile, the ablations)" };
        var commonLr = new Option<double?>("--common-lr") { Description = "The common learning rate of the second table (default: the grid rate most methods' own searches chose)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the contents of --out if it holds an earlier reproduction" };
        var command = new Command("repro", "Reproduce the comparison: SFT base, then PACS vs GRPO vs PPO (same budget, same lr search), pass@k over seeds");
        foreach (var option in new Option[] { output, quick, seeds, steps, baseModel, lrs, methodList, commonLr, overwrite }) command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            var profile = parse.GetValue(quick) ? ReproProfile.Quick : ReproProfile.Full;
            var methods = parse.GetValue(methodList) is { } list ? MethodComparison.Parse(list, profile.GroupSize) : null;
            profile = ReproProfile.For(parse.GetValue(quick), methods?.Count ?? 0);
            if (parse.GetValue(seeds) is { } s) profile = profile with { Seeds = s };
            if (parse.GetValue(steps) is { } n) profile = profile with { Steps = n };
            if (parse.GetValue(lrs) is { } grid)
                profile = profile with { LearningRates = grid.Split(',').Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var lr) && lr > 0 ? lr : throw new ArgumentException($"--lrs: '{v}' is not a positive number")).ToArray() };
            if (profile.Seeds < 1) throw new ArgumentException($"--seeds must be >= 1, got {profile.Seeds}");
            if (parse.GetValue(commonLr) is { } common && !(common > 0)) throw new ArgumentException($"--common-lr must be > 0, got {common}");
            string outDir = parse.GetValue(output)!;
            string? baseDir = parse.GetValue(baseModel);
            if (baseDir is not null && !Directory.Exists(baseDir)) throw new DirectoryNotFoundException($"--base: model directory not found: {baseDir}");
            OutputFolder.Prepare(outDir, parse.GetValue(overwrite), baseDir is null ? [] : [baseDir]);
            Run(profile, outDir, baseDir, methods, parse.GetValue(commonLr));
            return 0;
        }));
        return command;
    }

    /// <summary>A method of the comparison: its algorithm and the overrides that make it (ablations differ from PACS by one key).</summary>
    public sealed record Method(string Label, string Algorithm, string[] Overrides);

    public static IReadOnlyList<Method> Methods(bool ablations)
    {
        var methods = new List<Method> { new("pacs", "pacs", []), new("grpo", "grpo", []), new("ppo", "ppo", []) };
        if (ablations)
        {
            methods.Add(new("pacs_weights_none", "pacs", ["algorithm.weights=none"]));
            methods.Add(new("pacs_reference_initial", "pacs", ["algorithm.reference=initial"]));
            methods.Add(new("pacs_psi_grpo", "pacs", ["algorithm.psi=grpo"]));
        }
        return methods;
    }

    public static TrainConfig ConfigFor(ReproProfile profile, Method method, string baseDir, double lr, int seed)
    {
        var config = new TrainConfig();
        ConfigBinder.Set(config, "algorithm.name=" + method.Algorithm);
        var level = profile.Sft.Level ?? 0;
        foreach (var kv in new[]
        {
            $"model.dir={baseDir}", $"task.name={profile.Sft.Task}", $"task.level={level}", $"task.seed={profile.Sft.Seed}",
            $"rollout.batch_prompts={profile.BatchPrompts}", $"rollout.group_size={profile.GroupSize}",
            $"rollout.max_response_tokens={profile.MaxResponseTokens}", "rollout.temperature=1",
            $"trainer.steps={profile.Steps}", $"trainer.seed={seed}", "trainer.eval_every=0", "trainer.save_every=0",
            "trainer.keep_checkpoints=1", "update.epochs=1", "update.mini_batches=2",
        })
            ConfigBinder.Set(config, kv);
        foreach (var kv in method.Overrides) ConfigBinder.Set(config, kv);
        config.Optim.Lr = lr;
        return config;
    }

    public static void Run(ReproProfile profile, string outDir, string? existingBase = null, IReadOnlyList<Method>? methods = null, double? commonLr = null)
    {
        methods ??= Methods(profile.Ablations);
        var total = Stopwatch.StartNew();
        Directory.CreateDirectory(outDir);
        string baseDir = existingBase ?? Path.Combine(outDir, "base");
        if (existingBase is not null && !Directory.Exists(existingBase)) throw new DirectoryNotFoundException($"--base: model directory not found: {existingBase}");
        var log = new StreamWriter(Path.Combine(outDir, "repro.log"), append: false) { AutoFlush = true };
        void Say(string line)
        {
            string stamped = $"[{total.Elapsed:hh\\:mm\\:ss}] {line}";
            Console.WriteLine(stamped);
            log.WriteLine(stamped);
        }

        Say($"repro ({profile.Name}): SFT base, then {string.Join(", ", methods.Select(m => m.Label))}; {profile.Steps} steps x {profile.BatchPrompts} prompts x {profile.GroupSize} samples, {profile.Seeds} seeds, lr grid {string.Join(", ", profile.LearningRates)}");
        if (existingBase is null)
        {
            var sft = new SftTrainer(profile.Sft, ManagedBackend.Instance);
            Say($"sft: {sft.Model.TrainableParameterCount:N0} parameters, {profile.Sft.Steps} steps");
            double sftLoss = sft.Train(baseDir);
            Say($"sft: final loss {sftLoss:0.0000}");
        }
        else
        {
            Say($"sft: using the existing base {existingBase}");
        }

        var task = TaskRegistry.Create(profile.Sft.Task, profile.Sft.Seed, profile.Sft.Level);
        var sampling = SamplingParams.Of(1f, profile.MaxResponseTokens, stopTokenIds: []);
        var evalOptions = new EvalOptions { Samples = profile.EvalSamples, Problems = profile.EvalProblems, Seed = 12345 };
        EvalReport Evaluate(string label, string modelDir)
        {
            var report = Evaluator.Run(task, RolloutSampler.ForModel(ManagedBackend.Instance, modelDir, sampling), evalOptions);
            Evaluator.Write(report, Path.Combine(outDir, "eval", label));
            Say($"eval {label}: " + string.Join(" ", report.PassAtK.Select(p => $"pass@{p.K} {p.PassAtK:0.000}")));
            return report;
        }

        var evals = new Dictionary<string, List<EvalReport>> { ["base"] = [Evaluate("base", baseDir)] };
        var chosenLr = new Dictionary<string, double>();
        var search = new Dictionary<string, Dictionary<string, double>>();
        var stepTimes = new Dictionary<string, Dictionary<string, double>>();
        var runsAt = new Dictionary<(string Label, double Lr), List<string>>();
        foreach (var method in methods)
        {
            // Learning-rate search: seed 0 at every grid value, scored by the training reward of the second half.
            var candidates = new Dictionary<double, (string RunDir, double Score)>();
            foreach (double lr in profile.LearningRates)
            {
                string runDir = Path.Combine(outDir, "runs", $"{method.Label}-lr{lr.ToString("0e0", CultureInfo.InvariantCulture)}-seed0");
                double score = TrainRun(ConfigFor(profile, method, baseDir, lr, seed: 0), runDir, Say);
                candidates[lr] = (runDir, score);
            }
            var best = candidates.OrderByDescending(c => c.Value.Score).ThenBy(c => c.Key).First();
            chosenLr[method.Label] = best.Key;
            search[method.Label] = candidates.ToDictionary(c => c.Key.ToString("R", CultureInfo.InvariantCulture), c => c.Value.Score);
            Say($"{method.Label}: lr {best.Key} chosen (second-half train reward {best.Value.Score:0.000})");
            var runs = new List<string> { best.Value.RunDir };
            for (int seed = 1; seed < profile.Seeds; seed++)
            {
                string runDir = Path.Combine(outDir, "runs", $"{method.Label}-seed{seed}");
                TrainRun(ConfigFor(profile, method, baseDir, best.Key, seed), runDir, Say);
                runs.Add(runDir);
            }
            evals[method.Label] = runs.Select((run, i) => Evaluate($"{method.Label}-seed{i}", Path.Combine(Checkpointer.Latest(run), "model"))).ToList();
            stepTimes[method.Label] = MeanTimes(runs);
            foreach (var (lr, candidate) in candidates) runsAt[(method.Label, lr)] = [candidate.RunDir];
            runsAt[(method.Label, best.Key)] = runs;
        }

        // The second table: every method at one common rate (seed 0 of it exists from the search; the other seeds are
        // trained here unless the method's own search chose that rate), so the objective, not the step size, differs.
        double common = commonLr ?? MethodComparison.CommonRate(chosenLr);
        var commonEvals = new Dictionary<string, List<EvalReport>>();
        foreach (var method in methods)
        {
            if (chosenLr[method.Label] == common)
            {
                commonEvals[method.Label] = evals[method.Label];
                continue;
            }
            var runs = runsAt.GetValueOrDefault((method.Label, common)) ?? [];
            for (int seed = runs.Count; seed < profile.Seeds; seed++)
            {
                string runDir = Path.Combine(outDir, "runs", $"{method.Label}-lr{common.ToString("0e0", CultureInfo.InvariantCulture)}-seed{seed}");
                TrainRun(ConfigFor(profile, method, baseDir, common, seed), runDir, Say);
                runs.Add(runDir);
            }
            commonEvals[method.Label] = runs.Select((run, i) => Evaluate($"{method.Label}-common-seed{i}", Path.Combine(Checkpointer.Latest(run), "model"))).ToList();
        }

        var summary = Summarise(evals);
        WriteResults(outDir, profile, summary, chosenLr, search, stepTimes, evals, total.Elapsed, existingBase);
        WriteComparison(outDir, profile, chosenLr, common, evals, commonEvals);
        Say($"repro finished in {total.Elapsed:hh\\:mm\\:ss}: {Path.Combine(outDir, "results.md")}");
    }

    /// <summary>Trains one run quietly (a line every few steps); returns the mean training reward of its second half.</summary>
    private static double TrainRun(TrainConfig config, string runDir, Action<string> say)
    {
        if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);
        var trainer = RlTrainer.Start(ManagedBackend.Instance, config, runDir);
        var rewards = new List<double>();
        int every = Math.Max(1, config.Trainer.Steps / 4);
        trainer.StepCompleted += (step, m) =>
        {
            if (m.TryGetValue("reward/mean", out var reward)) rewards.Add(reward); // step 0 holds only validation
            if (step % every == 0 || step == config.Trainer.Steps) say($"  {Path.GetFileName(runDir)} {TrainCommand.StepLine(step, config.Trainer.Steps, m)}");
        };
        var outcome = trainer.Run();
        if (outcome.Reason != StopReason.Completed) throw new InvalidOperationException($"{runDir}: {outcome.Message}");
        return rewards.Skip(rewards.Count / 2).DefaultIfEmpty(0).Average();
    }

    private static Dictionary<string, double> MeanTimes(IEnumerable<string> runDirs)
    {
        var records = runDirs.SelectMany(d => MetricsLog.Read(Path.Combine(d, MetricsLog.FileName))).ToList();
        var keys = new[] { "time/rollout", "time/score", "time/logprob", "time/update", "time/step", "perf/rollout_tokens_per_s", "perf/update_tokens_per_s" };
        return keys.ToDictionary(k => k, k => records.Where(r => r.ContainsKey(k)).Select(r => r[k]).DefaultIfEmpty(double.NaN).Average());
    }

    /// <summary>Per method, per pass@k: mean and sample std over seeds (std 0 for a single model).</summary>
    public static Dictionary<string, Dictionary<string, (double Mean, double Std)>> Summarise(Dictionary<string, List<EvalReport>> evals)
    {
        var result = new Dictionary<string, Dictionary<string, (double, double)>>();
        foreach (var (label, reports) in evals)
        {
            var perK = new Dictionary<string, (double, double)>();
            foreach (var (k, _) in reports[0].PassAtK)
            {
                var values = reports.Select(r => r.PassAt(k)).ToList();
                double mean = values.Average();
                double std = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
                perK[$"pass@{k}"] = (mean, std);
            }
            result[label] = perK;
        }
        return result;
    }

    private static void WriteResults(string outDir, ReproProfile profile, Dictionary<string, Dictionary<string, (double Mean, double Std)>> summary,
        Dictionary<string, double> chosenLr, Dictionary<string, Dictionary<string, double>> search, Dictionary<string, Dictionary<string, double>> times,
        Dictionary<string, List<EvalReport>> evals, TimeSpan elapsed, string? baseGiven)
    {
        var inv = CultureInfo.InvariantCulture;
        using (var stream = File.Create(Path.Combine(outDir, "results.json")))
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartObject("methods");
            foreach (var (label, perK) in summary)
            {
                w.WriteStartObject(label);
                foreach (var (k, (mean, std)) in perK)
                {
                    w.WriteStartObject(k);
                    w.WriteNumber("mean", mean);
                    w.WriteNumber("std", std);
                    w.WriteNumber("n", evals[label].Count);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteString("profile", profile.Name);
            w.WriteNumber("steps", profile.Steps);
            w.WriteNumber("batch_prompts", profile.BatchPrompts);
            w.WriteNumber("group_size", profile.GroupSize);
            w.WriteNumber("seeds", profile.Seeds);
            w.WriteNumber("eval_problems", profile.EvalProblems);
            w.WriteNumber("eval_samples", profile.EvalSamples);
            w.WriteStartObject("chosen_lr");
            foreach (var (label, lr) in chosenLr) w.WriteNumber(label, lr);
            w.WriteEndObject();
            w.WriteStartObject("lr_search_train_reward");
            foreach (var (label, scores) in search)
            {
                w.WriteStartObject(label);
                foreach (var (lr, score) in scores) w.WriteNumber(lr, score);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteStartObject("mean_step_times_s");
            foreach (var (label, t) in times)
            {
                w.WriteStartObject(label);
                foreach (var (k, v) in t) if (double.IsFinite(v)) w.WriteNumber(k, v);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteNumber("elapsed_s", elapsed.TotalSeconds);
            w.WriteEndObject();
        }

        var ks = summary["base"].Keys.ToList();
        var md = new StringBuilder();
        md.AppendLine($"# Reproduction ({profile.Name})").AppendLine();
        md.AppendLine($"Task arith (level {profile.Sft.Level?.ToString(inv) ?? "default"}), SFT base {(baseGiven is null ? $"of {profile.Sft.HiddenSize} hidden x {profile.Sft.Layers} layers trained {profile.Sft.Steps} steps" : $"given by --base {baseGiven}")}. "
            + $"RL: {profile.Steps} steps x {profile.BatchPrompts} prompts x {profile.GroupSize} samples for every method, {profile.Seeds} seeds; "
            + $"held-out: {profile.EvalProblems} test problems x {profile.EvalSamples} samples at temperature 1. Mean +- std over seeds (base: one model, std 0).").AppendLine();
        md.Append("| method | lr |");
        foreach (var k in ks) md.Append($" {k} |");
        md.AppendLine();
        md.Append("|---|---|").Append(string.Concat(ks.Select(_ => "---|"))).AppendLine();
        foreach (var (label, perK) in summary)
        {
            md.Append($"| {label} | {(chosenLr.TryGetValue(label, out var lr) ? lr.ToString("0e0", inv) : "-")} |");
            foreach (var k in ks) md.Append($" {perK[k].Mean.ToString("0.000", inv)} +- {perK[k].Std.ToString("0.000", inv)} |");
            md.AppendLine();
        }
        md.AppendLine();
        double basePass1 = summary["base"]["pass@1"].Mean;
        foreach (var (label, perK) in summary.Where(s => s.Key != "base"))
            md.AppendLine($"- {label}: pass@1 {perK["pass@1"].Mean.ToString("0.000", inv)} vs base {basePass1.ToString("0.000", inv)}: {(perK["pass@1"].Mean > basePass1 ? "improves" : "does NOT improve")} on the base.");
        if (summary.ContainsKey("pacs") && summary.ContainsKey("grpo") && summary.ContainsKey("ppo"))
        {
            double p = summary["pacs"]["pass@1"].Mean, g = summary["grpo"]["pass@1"].Mean, o = summary["ppo"]["pass@1"].Mean;
            md.AppendLine($"- PACS vs baselines at pass@1: PACS {p.ToString("0.000", inv)}, GRPO {g.ToString("0.000", inv)}, PPO {o.ToString("0.000", inv)}: PACS {(p > Math.Max(g, o) ? "is best" : "does not beat both baselines")} on the mean; "
                + "differences smaller than the std over seeds are not evidence either way.");
        }
        md.AppendLine().AppendLine("Mean seconds per RL step (rollout / scoring / log-probs / update) and tokens/s:").AppendLine();
        md.AppendLine("| method | rollout | score | logprob | update | step | rollout tok/s | update tok/s |").AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var (label, t) in times)
            md.AppendLine($"| {label} | {t["time/rollout"].ToString("0.00", inv)} | {t["time/score"].ToString("0.000", inv)} | {t["time/logprob"].ToString("0.00", inv)} | {t["time/update"].ToString("0.00", inv)} | {t["time/step"].ToString("0.00", inv)} | {t["perf/rollout_tokens_per_s"].ToString("0", inv)} | {t["perf/update_tokens_per_s"].ToString("0", inv)} |");
        if (times.ContainsKey("pacs") && times.ContainsKey("grpo"))
            md.AppendLine().AppendLine($"PACS / GRPO update time per step: {(times["pacs"]["time/update"] / times["grpo"]["time/update"]).ToString("0.00", inv)} (same batch shapes; measured on a shared machine).");
        md.AppendLine().AppendLine($"Learning rates chosen by the second-half training reward of seed 0 (no held-out data): {string.Join("; ", search.Select(s => $"{s.Key}: " + string.Join(", ", s.Value.Select(v => $"{v.Key} -> {v.Value.ToString("0.000", inv)}"))))}.");
        md.AppendLine().AppendLine($"Total time {elapsed:hh\\:mm\\:ss}. Plot: passk.svg.");
        File.WriteAllText(Path.Combine(outDir, "results.md"), md.ToString());

        var series = summary.Select(s => new Series(s.Key, ks.Select(k => ((double)int.Parse(k[5..], inv), s.Value[k].Mean)).ToList())).ToList();
        var bands = summary.Select(s => ks.Select(k => (s.Value[k].Mean - s.Value[k].Std, s.Value[k].Mean + s.Value[k].Std)).ToArray()).ToList();
        File.WriteAllText(Path.Combine(outDir, "passk.svg"), SvgPlot.Line("held-out pass@k (mean +- std over seeds)", series, xLabel: "k", logX: true, width: 640, height: 400, bands: bands));
    }

    /// <summary>
    /// comparison.md and comparison.json: pass@1 of every method at its own rate and at the common rate, with the
    /// standard errors of the differences to the base and to PACS (see <see cref="MethodComparison"/>).
    /// </summary>
    private static void WriteComparison(string outDir, ReproProfile profile, Dictionary<string, double> chosenLr, double common,
        Dictionary<string, List<EvalReport>> evals, Dictionary<string, List<EvalReport>> commonEvals)
    {
        var inv = CultureInfo.InvariantCulture;
        var baseReport = evals["base"][0];
        var own = evals.Where(e => e.Key != "base").ToDictionary(e => e.Key, e => e.Value);
        var md = new StringBuilder();
        md.AppendLine($"# Method comparison ({profile.Name})").AppendLine();
        md.AppendLine($"Same rollout budget for every method ({profile.Steps} steps x {profile.BatchPrompts} prompts x {profile.GroupSize} samples), lr grid {string.Join(", ", profile.LearningRates.Select(l => l.ToString("0e0", inv)))}, {profile.Seeds} seeds; "
            + $"held-out pass@1 on {profile.EvalProblems} problems x {profile.EvalSamples} samples. SE of a method: std over seeds / sqrt(seeds); of the base: the evaluation's SE over problems; SE of a difference: sqrt(SE_a^2 + SE_b^2); paired eval SE: the evaluation-only SE of the difference to the base, paired over the same problems (std over problems of the per-problem difference / sqrt(problems)).").AppendLine();
        md.AppendLine("## Each method at the rate its own search chose (second-half training reward of seed 0)").AppendLine();
        md.Append(MethodComparison.Table(chosenLr, own, baseReport)).AppendLine();
        md.AppendLine($"## Every method at the common rate {common.ToString("0e0", inv)}").AppendLine();
        md.Append(MethodComparison.Table(commonEvals.ToDictionary(e => e.Key, _ => common), commonEvals, baseReport));
        File.WriteAllText(Path.Combine(outDir, "comparison.md"), md.ToString());

        using var stream = File.Create(Path.Combine(outDir, "comparison.json"));
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        var basePass = MethodComparison.Pass1([baseReport]);
        w.WriteStartObject("base");
        w.WriteNumber("pass1", basePass.Mean);
        w.WriteNumber("se", basePass.StdErr);
        w.WriteEndObject();
        w.WriteNumber("common_lr", common);
        foreach (var (table, reports, lrs) in new[] { ("own_rate", own, chosenLr), ("common_rate", commonEvals, commonEvals.ToDictionary(e => e.Key, _ => common)) })
        {
            w.WriteStartObject(table);
            foreach (var (label, seeds) in reports)
            {
                var pass = MethodComparison.Pass1(seeds);
                var (diff, se) = MethodComparison.Difference(pass, basePass);
                w.WriteStartObject(label);
                w.WriteNumber("lr", lrs[label]);
                w.WriteNumber("pass1", pass.Mean);
                w.WriteNumber("se", pass.StdErr);
                w.WriteNumber("seeds", pass.Seeds);
                w.WriteNumber("vs_base", diff);
                w.WriteNumber("vs_base_se", se);
                w.WriteNumber("vs_base_paired_eval_se", MethodComparison.PairedDifference(seeds, baseReport).StdErr);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }
}

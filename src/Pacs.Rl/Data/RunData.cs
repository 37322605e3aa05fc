using Pacs.Rewards;
using Pacs.Rewards.Datasets;
using Pacs.Rewards.Math;
using Pacs.Rewards.Tasks;
using Pacs.Rl.Config;

namespace Pacs.Rl.Data;

/// <summary>
/// The problems of a run from its config: a synthetic task as it is, or a dataset task with explicit splits: the RL
/// prompt set (`data.train_files`, else the dataset `task.name`) and the validation set (`data.eval_dataset`, else a
/// held-out `data.eval_fraction` of the prompt set, else the task's own test split, if any).
/// </summary>
public static class RunData
{
    public static ITask CreateTask(TrainConfig config)
    {
        var data = config.Data;
        string source = data.TrainFiles.Length > 0 ? data.TrainFiles : config.Task.Name;
        bool synthetic = TaskRegistry.SyntheticNames.Contains(source.Trim().ToLowerInvariant());
        if (synthetic)
        {
            if (data.EvalDataset.Length > 0 || data.EvalFraction > 0)
                throw new ArgumentException($"data.eval_dataset / data.eval_fraction: task '{source}' is synthetic and has its own test split; they apply to dataset prompt sets");
            return TaskRegistry.Create(config.Task.Name, config.Task.Seed, config.Task.Level == 0 ? null : config.Task.Level, config.Task.VerifierPolicy);
        }
        if (config.Task.Level != 0) throw new ArgumentException($"task.level applies only to {string.Join(", ", TaskRegistry.SyntheticNames)}, not to dataset '{source}'");
        var (prompts, ownTest) = Load(source, data, "data.train_files");
        IReadOnlyList<Problem> validation = [];
        if (data.EvalDataset.Length > 0) validation = Load(data.EvalDataset, data, "data.eval_dataset").Problems;
        else if (data.EvalFraction > 0) (prompts, validation) = HoldOut(prompts, data.EvalFraction, config.Task.Seed);
        else if (ownTest)
        {
            // A shipped test set used as the prompt set (e.g. task.name: gsm8k) still validates on itself, as before.
            validation = prompts;
        }
        if (prompts.Count == 0) throw new ArgumentException($"data.eval_fraction={data.EvalFraction} leaves no prompts of {source} to train on");
        return new DatasetTask(Path.GetFileNameWithoutExtension(source.Trim()), prompts, validation, MathVerifierOptions.ForPolicy(config.Task.VerifierPolicy));
    }

    /// <summary>The problems of a shipped dataset or a .jsonl/.parquet file, read and templated as a run reads them.</summary>
    public static IReadOnlyList<Problem> LoadProblems(string nameOrPath, DataSection data) => Load(nameOrPath, data, "dataset").Problems;

    /// <summary>A shipped dataset by name or a file by path, as problems; whether it is a shipped test split.</summary>
    private static (IReadOnlyList<Problem> Problems, bool IsTest) Load(string nameOrPath, DataSection data, string key)
    {
        var shipped = MathDatasets.Shipped(nameOrPath);
        string path = shipped?.Path ?? nameOrPath.Trim();
        if (shipped is null && !File.Exists(path))
            throw new FileNotFoundException($"{key}: '{nameOrPath}' is neither a shipped dataset ({string.Join(", ", MathDatasets.Names)}) nor an existing .jsonl/.parquet file", path);
        // Shipped files use the standard keys; a user's file the data.*_key names.
        var keys = shipped is null ? new DatasetKeys(data.PromptKey, data.AnswerKey, data.IdKey) : DatasetKeys.Default;
        string template = data.PromptTemplate.Length > 0 ? data.PromptTemplate : JsonlMathTask.DefaultPromptTemplate;
        string? system = data.SystemPrompt.Length > 0 ? data.SystemPrompt : null;
        var problems = DatasetReader.Read(path, keys)
            .Select(row => WithSystem(JsonlMathTask.ToProblem(row, template), system))
            .ToList();
        return (problems, shipped?.Split == Split.Test);
    }

    /// <summary>data.system_prompt for rows that bring no system message of their own.</summary>
    private static Problem WithSystem(Problem problem, string? system) =>
        problem.System is null && system is not null ? problem with { System = system } : problem;

    /// <summary>A fixed, seeded `fraction` of the problems (chosen by a hash of their ids) as validation; the rest in file order.</summary>
    public static (IReadOnlyList<Problem> Train, IReadOnlyList<Problem> Test) HoldOut(IReadOnlyList<Problem> problems, double fraction, long seed)
    {
        int held = (int)Math.Round(problems.Count * fraction);
        var test = problems.OrderBy(p => Rng.Hash(seed, StableHash(p.Id))).ThenBy(p => p.Id, StringComparer.Ordinal).Take(held).ToList();
        var testIds = test.Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
        return (problems.Where(p => !testIds.Contains(p.Id)).ToList(), test);
    }

    /// <summary>FNV-1a of the id's UTF-16 code units: the same on every run and platform (string.GetHashCode is not).</summary>
    private static long StableHash(string text)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in text)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }
        return (long)hash;
    }
}

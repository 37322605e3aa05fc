using Pacs.Rewards.Math;

namespace Pacs.Rewards.Datasets;

/// <summary>
/// The math datasets shipped under <c>data/</c> (see data/README.md for provenance), loadable by name, or any JSONL
/// file with <c>problem</c>/<c>answer</c> fields by path. The data folder is found from $PACS_DATA, else by walking up
/// from the current directory and from the program's directory to a folder holding data/math500.jsonl.
/// </summary>
public static class MathDatasets
{
    private static readonly Dictionary<string, (string File, Split Split)> Files = new(StringComparer.OrdinalIgnoreCase)
    {
        ["math500"] = ("math500.jsonl", Split.Test),
        ["aime24"] = ("aime24.jsonl", Split.Test),
        ["aime25"] = ("aime25.jsonl", Split.Test),
        ["amc23"] = ("amc23.jsonl", Split.Test),
        ["gsm8k"] = ("gsm8k_test.jsonl", Split.Test),
        ["math_train"] = ("train_math.jsonl", Split.Train),
        ["gsm8k_train"] = ("gsm8k_train.jsonl", Split.Train),
    };

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["math-500"] = "math500",
        ["aime2024"] = "aime24",
        ["aime_2024"] = "aime24",
        ["aime2025"] = "aime25",
        ["aime_2025"] = "aime25",
        ["amc2023"] = "amc23",
        ["gsm8k_test"] = "gsm8k",
        ["train_math"] = "math_train",
        ["math-train"] = "math_train",
    };

    public static IReadOnlyList<string> Names { get; } = [.. Files.Keys];

    /// <summary>The file and split of a shipped dataset name or alias; null for anything else (a path).</summary>
    public static (string Path, Split Split)? Shipped(string name)
    {
        var key = name.Trim();
        if (Aliases.TryGetValue(key, out var canonical)) key = canonical;
        return Files.TryGetValue(key, out var entry) ? (System.IO.Path.Combine(DataDirectory(), entry.File), entry.Split) : null;
    }

    /// <summary>Whether <paramref name="name"/> is a shipped dataset name or alias (not a path).</summary>
    public static bool IsKnown(string name) => Files.ContainsKey(name) || Aliases.ContainsKey(name);

    /// <summary>A dataset by name (math500, aime24, aime25, amc23, gsm8k, math_train) or a JSONL path. The prompt is
    /// <paramref name="promptTemplate"/> with {problem} replaced (default: the problem, then the \boxed{} instruction).</summary>
    public static ITask Open(string nameOrJsonlPath, string? promptTemplate = null, MathVerifierOptions? verifier = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrJsonlPath);
        var key = nameOrJsonlPath.Trim();
        if (Aliases.TryGetValue(key, out var canonical)) key = canonical;
        if (Files.TryGetValue(key, out var entry))
        {
            var path = System.IO.Path.Combine(DataDirectory(), entry.File);
            return new JsonlMathTask(key.ToLowerInvariant(), path, entry.Split, promptTemplate, verifier);
        }
        if (File.Exists(key) || key.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || key.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
            return new JsonlMathTask(System.IO.Path.GetFileNameWithoutExtension(key), key, Split.Test, promptTemplate, verifier);
        throw new ArgumentException($"unknown dataset '{nameOrJsonlPath}'; known datasets: {string.Join(", ", Names)} (or a path to a .jsonl file)");
    }

    /// <summary>The folder holding the shipped JSONL files.</summary>
    public static string DataDirectory()
    {
        var env = Environment.GetEnvironmentVariable("PACS_DATA");
        if (!string.IsNullOrEmpty(env))
        {
            if (!File.Exists(System.IO.Path.Combine(env, "math500.jsonl")))
                throw new DirectoryNotFoundException($"PACS_DATA={env} does not hold math500.jsonl");
            return env;
        }
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = System.IO.Path.Combine(dir.FullName, "data");
                if (File.Exists(System.IO.Path.Combine(candidate, "math500.jsonl"))) return candidate;
            }
        }
        throw new DirectoryNotFoundException("cannot find the data/ folder with math500.jsonl above the current or program directory; set PACS_DATA");
    }
}

using Pacs.Rewards.Math;

namespace Pacs.Rewards.Datasets;

/// <summary>
/// A math task read from JSON Lines: one object per line with <c>problem</c> and <c>answer</c> strings (and optional
/// <c>id</c>, <c>solution</c>). All rows form one split (Test for benchmarks, Train for training sets); the other split
/// is empty. Responses are checked with <see cref="MathVerifier"/>.
/// </summary>
public sealed class JsonlMathTask : ITask
{
    public const string DefaultPromptTemplate = "{problem}\nPlease reason step by step, and put your final answer within \\boxed{}.";

    private readonly IReadOnlyList<Problem> _problems;
    private readonly Split _split;
    private readonly MathVerifierOptions _verifier;

    public string Name { get; }
    public string Path { get; }

    public JsonlMathTask(string name, string path, Split split = Split.Test, string? promptTemplate = null, MathVerifierOptions? verifier = null)
    {
        promptTemplate ??= DefaultPromptTemplate;
        if (!promptTemplate.Contains("{problem}", StringComparison.Ordinal))
            throw new ArgumentException($"prompt template for {name} has no {{problem}} placeholder: '{promptTemplate}'");
        Name = name;
        Path = path;
        _split = split;
        _verifier = verifier ?? MathVerifierOptions.Default;
        _problems = Load(name, path, promptTemplate);
    }

    public long Count(Split split) => split == _split ? _problems.Count : 0;

    public Problem Get(Split split, long index)
    {
        if (split != _split) throw new ArgumentOutOfRangeException(nameof(split), $"{Name} has no {split} split (its problems are all in {_split})");
        if (index < 0 || index >= _problems.Count)
            throw new ArgumentOutOfRangeException(nameof(index), $"{Name}: index {index} outside 0..{_problems.Count - 1}");
        return _problems[(int)index];
    }

    public Verdict Verify(Problem problem, string response) => MathVerifier.Verify(response, problem.Answer, _verifier);

    private static List<Problem> Load(string name, string path, string template)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"dataset {name}: file not found: {path}", path);
        return [.. DatasetReader.Read(path).Select(row => ToProblem(row, template))];
    }

    /// <summary>A row as a problem: the template wraps the prompt unless the row is already formatted (verl's).</summary>
    public static Problem ToProblem(DatasetRow row, string template) =>
        new(row.Id, row.Formatted ? row.Prompt : template.Replace("{problem}", row.Prompt, StringComparison.Ordinal), row.Answer, row.Solution)
        {
            System = row.System,
        };
}

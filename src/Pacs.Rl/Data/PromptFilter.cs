using Pacs.Rewards;

namespace Pacs.Rl.Data;

/// <summary>
/// A task whose finite splits hold only the prompts that fit the run's prompt budget, checked once before step 1 so
/// a run never dies mid-way on a long prompt. Unbounded splits (synthetic generators) are checked as problems are
/// drawn; one that does not fit stops the run with an error naming the problem id. <see cref="Report"/> says in
/// one line what was dropped.
/// </summary>
public sealed class PromptFilter : ITask
{
    private static readonly Split[] Splits = [Split.Train, Split.Rl, Split.Test];

    private readonly ITask _inner;
    private readonly Func<Problem, int> _length;
    private readonly Dictionary<Split, int[]> _kept = [];

    private PromptFilter(ITask inner, Func<Problem, int> length, int limit, string limitSource)
    {
        _inner = inner;
        _length = length;
        Limit = limit;
        LimitSource = limitSource;
    }

    /// <summary>Most prompt tokens a kept problem has.</summary>
    public int Limit { get; }

    /// <summary>Where the limit comes from, as the user can change it (e.g. "data.max_prompt_tokens").</summary>
    public string LimitSource { get; }

    /// <summary>One line: per split, how many prompts there were and how many were dropped (with the longest one).</summary>
    public string Report { get; private set; } = "";

    public string Name => _inner.Name;

    /// <summary>Filters every finite split of <paramref name="task"/>; <paramref name="length"/> is a prompt's token count as the model sees it.</summary>
    public static PromptFilter Apply(ITask task, Func<Problem, int> length, int limit, string limitSource)
    {
        var filter = new PromptFilter(task, length, limit, limitSource);
        var parts = new List<string>();
        foreach (var split in Splits)
        {
            long count = task.Count(split);
            if (count == 0 || count == long.MaxValue) continue;
            var kept = new List<int>((int)count);
            (int Tokens, string Id) longest = (0, "");
            for (int i = 0; i < count; i++)
            {
                var problem = task.Get(split, i);
                int tokens = length(problem);
                if (tokens <= limit) kept.Add(i);
                else if (tokens > longest.Tokens) longest = (tokens, problem.Id);
            }
            filter._kept[split] = [.. kept];
            int dropped = (int)count - kept.Count;
            string part = $"{split.ToString().ToLowerInvariant()} {count} prompts";
            if (dropped > 0) part += $", {dropped} dropped longer than {limit} tokens (longest {longest.Tokens}: {longest.Id})";
            parts.Add(part);
            if (kept.Count == 0)
                throw new ArgumentException($"{task.Name}: all {count} {split} prompts are longer than {limit} tokens ({limitSource}); the longest is {longest.Id} with {longest.Tokens}");
        }
        filter.Report = $"prompts of {task.Name} ({limitSource} = {limit} tokens): " + (parts.Count > 0 ? string.Join("; ", parts) : "drawn from a generator, checked as drawn");
        return filter;
    }

    public long Count(Split split) => _kept.TryGetValue(split, out var kept) ? kept.Length : _inner.Count(split);

    public Problem Get(Split split, long index)
    {
        if (_kept.TryGetValue(split, out var kept)) return _inner.Get(split, kept[index]);
        var problem = _inner.Get(split, index);
        int tokens = _length(problem);
        if (tokens > Limit)
            throw new InvalidDataException($"problem {problem.Id}: prompt of {tokens} tokens is longer than {Limit} ({LimitSource})");
        return problem;
    }

    public Verdict Verify(Problem problem, string response) => _inner.Verify(problem, response);
}

using System.Globalization;
using System.Text.Json;
using Pacs.Rewards;
using Pacs.Rl.Algorithms;
using Pacs.Text;

namespace Pacs.Rl.Training;

/// <summary>
/// A*-PO's stage 1: V*(x) of each training prompt from <see cref="AStarPoOptions.ValueSamples"/> samples of the frozen
/// initial policy (<see cref="AStarPoAlgorithm.OptimalValue"/>). The released code computes it offline for the whole
/// dataset; prompts here are drawn as training goes, so each is estimated the first time it is drawn and kept, in
/// memory and appended to <see cref="FileName"/> in the run directory, so a resumed run does not re-sample it.
/// Samples are seeded by (trainer seed, prompt index, sample), so the values do not depend on the batch they fall in.
/// </summary>
public sealed class OptimalValueStage
{
    public const string FileName = "astar_values.jsonl";

    private readonly IRolloutEngine _initialPolicy;
    private readonly ITokenizer _tokenizer;
    private readonly ITask _task;
    private readonly AStarPoOptions _options;
    private readonly string _path;
    private readonly long _seed;
    private readonly int _maxBatchRows;
    private readonly Dictionary<long, double> _values = [];

    /// <param name="maxBatchRows">Most samples asked of the engine at once (`rollout.max_batch_rows`; 0: all at once).</param>
    public OptimalValueStage(IRolloutEngine initialPolicy, ITokenizer tokenizer, ITask task, AStarPoOptions options, string runDir, long seed, int maxBatchRows = 0)
    {
        _initialPolicy = initialPolicy;
        (_tokenizer, _task, _options, _seed, _maxBatchRows) = (tokenizer, task, options, seed, maxBatchRows);
        _path = Path.Combine(runDir, FileName);
        if (!File.Exists(_path)) return;
        int line = 0;
        foreach (var text in File.ReadLines(_path))
        {
            line++;
            try
            {
                var row = JsonDocument.Parse(text).RootElement;
                _values[row.GetProperty("index").GetInt64()] = row.GetProperty("v_star").GetDouble();
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                throw new InvalidDataException($"{_path}: line {line}: not an A*-PO value record ({e.Message})");
            }
        }
    }

    /// <summary>Prompts estimated so far.</summary>
    public int Count => _values.Count;

    /// <summary>V* of each row of a batch: <paramref name="group"/> consecutive rows per prompt, prompts in the order given.</summary>
    public float[] ForRows(IReadOnlyList<long> indices, IReadOnlyList<Problem> problems, IReadOnlyList<int[]> promptIds, int group, SamplingParams sampling)
    {
        var missing = Enumerable.Range(0, indices.Count).Where(p => !_values.ContainsKey(indices[p])).DistinctBy(p => indices[p]).ToList();
        if (missing.Count > 0)
        {
            int n = _options.ValueSamples;
            var requests = missing.SelectMany(p => Enumerable.Range(0, n).Select(j => new RolloutRequest(promptIds[p], Rng.Hash(_seed, 0xA5, indices[p], j), sampling))).ToList();
            var results = RolloutBatches.Generate(_initialPolicy, requests, _maxBatchRows);
            using var writer = File.AppendText(_path);
            for (int m = 0; m < missing.Count; m++)
            {
                int p = missing[m];
                var rewards = Enumerable.Range(0, n).Select(j => _task.Verify(problems[p], _tokenizer.Decode(results[m * n + j].ResponseIds, skipSpecialTokens: true)).Reward).ToList();
                double value = AStarPoAlgorithm.OptimalValue(rewards, _options.Beta1);
                _values[indices[p]] = value;
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"index\":{indices[p]},\"v_star\":{value:R},\"reward_mean\":{rewards.Average():R}}}"));
            }
        }
        var rows = new float[indices.Count * group];
        for (int r = 0; r < rows.Length; r++) rows[r] = (float)_values[indices[r / group]];
        return rows;
    }
}

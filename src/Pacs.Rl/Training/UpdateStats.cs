namespace Pacs.Rl.Training;

/// <summary>
/// What the optimizer steps of one RL step add up to: the algorithm's metrics averaged over mini-batches, losses,
/// grad norms and learning rates. Within a mini-batch, a metric named `*_loss` is a micro-batch's share of the
/// mini-batch's loss (normalised by the mini-batch's totals), so the shares add up; `*_min` / `*_max` keep the
/// extremes; any other metric is an average over the micro-batch, weighted by its share of rows.
/// </summary>
internal sealed class UpdateStats
{
    private readonly Dictionary<string, double> _sums = [];
    private readonly Dictionary<string, double> _mins = [];
    private readonly Dictionary<string, double> _maxs = [];
    private int _miniBatches;

    public long Tokens { get; set; }
    public double LossSum { get; set; }
    public double GradNormSum { get; set; }
    public double CriticGradNormSum { get; set; }
    public int OptimizerSteps { get; set; }
    public double LearningRate { get; set; }
    public double CriticLearningRate { get; set; }

    /// <summary>Adds one micro-batch's metrics with weight <paramref name="share"/> (its rows over the mini-batch's).</summary>
    public void AddMetrics(IReadOnlyDictionary<string, double> metrics, double share)
    {
        foreach (var (k, v) in metrics)
        {
            if (!double.IsFinite(v)) continue;
            if (k.EndsWith("_min", StringComparison.Ordinal)) _mins[k] = Math.Min(_mins.GetValueOrDefault(k, double.PositiveInfinity), v);
            else if (k.EndsWith("_max", StringComparison.Ordinal)) _maxs[k] = Math.Max(_maxs.GetValueOrDefault(k, double.NegativeInfinity), v);
            else _sums[k] = _sums.GetValueOrDefault(k) + (k.EndsWith("_loss", StringComparison.Ordinal) ? v : share * v);
        }
    }

    /// <summary>Marks the end of a mini-batch's micro-batches.</summary>
    public void EndMiniBatch() => _miniBatches++;

    public Dictionary<string, double> Average()
    {
        var result = new Dictionary<string, double>();
        foreach (var (k, v) in _sums) result[k] = _miniBatches > 0 ? v / _miniBatches : double.NaN;
        foreach (var (k, v) in _mins) result[k] = v;
        foreach (var (k, v) in _maxs) result[k] = v;
        return result;
    }
}

using Pacs.Rl.Algorithms;
using Pacs.Rl.Config;

namespace Pacs.Rl.Training;

/// <summary>
/// The update's built-in-loss path (docs/tinker.md): where the policy can take a built-in loss in one round trip
/// (<see cref="IBuiltInLossModel"/>) and the algorithm's loss is exactly one (<see cref="IRlAlgorithm.BuiltInForm"/>),
/// a micro-batch is sent as that loss and its forward is skipped. The metrics are the custom path's: the algorithm's
/// loss evaluated at the log-probs the server reports with the gradient (the same weights a forward would score).
/// </summary>
internal sealed class BuiltInLossUpdate
{
    /// <summary>1 for a micro-batch sent as a built-in loss, averaged as a rate (not a `*_loss` share); the trainer logs 0 when none was.</summary>
    public const string Metric = "actor/builtin_loss_used";

    private readonly IRlAlgorithm _algorithm;
    private readonly IBuiltInLossModel? _model;
    private readonly string? _off;
    private readonly Action<string> _log;
    private bool _reported;

    public BuiltInLossUpdate(TrainConfig config, IRlAlgorithm algorithm, ITrainableModel policy, bool withCritic, Action<string> log)
    {
        _algorithm = algorithm;
        _log = log;
        if (policy is not IBuiltInLossModel model) return;
        _off = config.Tinker.BuiltinLoss == BuiltInLossMode.Off ? "tinker.builtin_loss=off"
            : withCritic ? $"algorithm {algorithm.Name} trains a critic"
            : config.Rollout.Temperature != 1 ? $"rollout.temperature={config.Rollout.Temperature}: a built-in loss scores at temperature 1"
            : null;
        _model = _off is null ? model : null;
    }

    /// <summary>Micro-batches may go to the server as a built-in loss, which carries the old log-probs: they are needed before any forward.</summary>
    public bool MaySend => _model is not null && _algorithm.HasBuiltInForm;

    /// <summary>
    /// Sends <paramref name="micro"/>'s loss as a built-in loss when it is exact and returns the loss output (its
    /// gradient is on the server; entropy, when reported, goes into <paramref name="entropy"/> by row); null: take
    /// the custom path. <paramref name="masked"/> rows and the <paramref name="correction"/> weights act on the
    /// advantages as the custom path applies them to the gradient: each token's term is positively homogeneous in
    /// its advantage, so scaling A by c ≥ 0 scales that token's gradient by c.
    /// </summary>
    public LossOutput? Backward(PolicyBatch micro, IPackedRows packed, int[] rows, bool[]? masked, float[][]? correction, float[]?[]? entropy)
    {
        if (_model is null)
        {
            if (_off is not null) Report($"update: the custom-loss path ({_off})");
            return null;
        }
        var form = _algorithm.HasBuiltInForm ? _algorithm.BuiltInForm(micro) : null;
        if (form is null || !Finite(form))
        {
            Report(form is null
                ? $"update: the custom-loss path (algorithm {_algorithm.Name} with these options has no exact built-in loss; docs/tinker.md lists which do)"
                : "update: the custom-loss path for a micro-batch with non-finite advantages or log-probs");
            return null;
        }
        if (masked is not null)
            for (int i = 0; i < rows.Length; i++)
                if (masked[rows[i]]) Array.Clear(form.Advantages[i]);
        if (correction is not null) RolloutCorrection.Apply(form.Advantages, [.. rows.Select(r => correction[r])]);
        Report($"update: the built-in {form.WireName} loss (clip {form.ClipLow:R}..{form.ClipHigh:R}): one forward_backward per micro-batch, no forward");

        var result = _model.BackwardBuiltIn(packed, form);
        if (entropy is not null && result.Entropy is { } rowEntropy)
            for (int i = 0; i < rows.Length; i++) entropy[rows[i]] = rowEntropy[i];
        if (result.LogProbs is null)
            return new LossOutput(result.Loss, [], null, new Dictionary<string, double> { [Metric] = 1 });
        micro.LogProbs = result.LogProbs;
        var output = _algorithm.Loss(micro);
        var metrics = new Dictionary<string, double>(output.Metrics) { [Metric] = 1 };
        return output with { Metrics = metrics };
    }

    private static bool Finite(BuiltInLoss form) =>
        form.Advantages.All(row => row.All(float.IsFinite)) && form.OldLogProbs.All(row => row.All(float.IsFinite));

    /// <summary>Says once per run which path the update takes.</summary>
    private void Report(string message)
    {
        if (_reported) return;
        _reported = true;
        _log(message);
    }
}

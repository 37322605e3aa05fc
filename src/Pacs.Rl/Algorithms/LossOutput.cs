namespace Pacs.Rl.Algorithms;

/// <summary>
/// A scalar loss and its gradient with respect to every input the model produced. The trainer back-propagates
/// <see cref="GradLogProbs"/> ([R][T_r], same layout as <see cref="PolicyBatch.LogProbs"/>) through the policy and
/// <see cref="GradValues"/> (same layout as <see cref="PolicyBatch.Values"/>) through the critic.
/// The loss is the mean over this batch as the algorithm defines it. When a mini-batch is split into micro-batches,
/// set each micro-batch's <see cref="PolicyBatch.Totals"/> to <see cref="MiniBatchTotals.Of"/>(mini-batch): the
/// micro-batch losses and gradients then add up to the mini-batch's, with no further scaling (the trainer always
/// does this, so an algorithm must honour <see cref="PolicyBatch.Totals"/> in every term of its loss).
/// Metrics are per call: a metric named `*_loss` is this batch's share of the loss (shares are added up over
/// micro-batches), `*_min` / `*_max` are extremes, anything else is an average over this batch.
/// </summary>
public sealed record LossOutput(double Loss, float[][] GradLogProbs, float[][]? GradValues, IReadOnlyDictionary<string, double> Metrics);

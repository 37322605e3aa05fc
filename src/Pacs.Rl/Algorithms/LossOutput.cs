namespace Pacs.Rl.Algorithms;

/// <summary>
/// A scalar loss and its gradient with respect to every input the model produced. The trainer back-propagates
/// <see cref="GradLogProbs"/> ([R][T_r], same layout as <see cref="PolicyBatch.LogProbs"/>) through the policy and
/// <see cref="GradValues"/> (same layout as <see cref="PolicyBatch.Values"/>) through the critic.
/// The loss is the mean over this batch as the algorithm defines it; when a mini-batch is split into micro-batches
/// the trainer scales each micro-batch's loss and gradients by its share of the mini-batch.
/// </summary>
public sealed record LossOutput(double Loss, float[][] GradLogProbs, float[][]? GradValues, IReadOnlyDictionary<string, double> Metrics);

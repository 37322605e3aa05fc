namespace Pacs.Engine;

/// <summary>
/// A frozen model's teacher-forced scores, without gradients: the rollout policy's log-probs, the initial
/// reference's, or a critic's values.
/// </summary>
public interface IScorer
{
    /// <summary>Per-response-token outputs of <paramref name="rows"/> (log-probs at <paramref name="temperature"/>, or values).</summary>
    float[][] Score(IPackedRows rows, float temperature);
}

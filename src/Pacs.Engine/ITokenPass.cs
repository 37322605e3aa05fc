namespace Pacs.Engine;

/// <summary>
/// One teacher-forced forward pass over packed rows, holding its activations until disposed.
/// For a policy <see cref="Outputs"/> are the log-probs of the response tokens at the pass's temperature; for a
/// critic they are the values V(prefix) that score each response token.
/// </summary>
public interface ITokenPass : IDisposable
{
    /// <summary>[rows][T_r] per-response-token outputs (copies: they stay valid after <see cref="IDisposable.Dispose"/>).</summary>
    float[][] Outputs { get; }

    /// <summary>[rows][T_r] entropy of the policy's distribution at each response token, when the pass was asked for it.</summary>
    float[][]? Entropy { get; }

    /// <summary>
    /// Back-propagates d loss / d output ([rows][T_r], same layout as <see cref="Outputs"/>) times
    /// <paramref name="scale"/>, adding to the model's gradients. Throws for a pass made without gradients.
    /// </summary>
    void Backward(float[][] gradOutputs, double scale = 1.0);
}

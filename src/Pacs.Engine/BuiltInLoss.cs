namespace Pacs.Engine;

/// <summary>
/// The Tinker API's built-in policy losses (thinking-machines-lab/tinker src/tinker/types/loss_fn_type.py), each a
/// sum over tokens of a per-token term of the current log-prob, the sampler's log-prob and an advantage.
/// </summary>
public enum BuiltInLossKind
{
    /// <summary>`importance_sampling`: −r A.</summary>
    ImportanceSampling,

    /// <summary>`ppo`: −min(r A, clip(r, lo, hi) A).</summary>
    Ppo,

    /// <summary>`cispo`: −sg(clip(r, lo, hi)) A log p.</summary>
    Cispo,
}

/// <summary>
/// One micro-batch's built-in loss: <see cref="OldLogProbs"/> and <see cref="Advantages"/> are [rows][T_r] over the
/// response tokens (the API's `logprobs` and `advantages` inputs), <see cref="ClipLow"/> / <see cref="ClipHigh"/> the
/// ratio bounds of `loss_fn_config` (`clip_low_threshold` / `clip_high_threshold`; unused by importance_sampling).
/// </summary>
public sealed record BuiltInLoss(BuiltInLossKind Kind, float[][] OldLogProbs, float[][] Advantages, double ClipLow, double ClipHigh)
{
    /// <summary>The `loss_fn` name on the wire.</summary>
    public string WireName => BuiltInLosses.WireName(Kind);
}

/// <summary>What a model reports after a built-in loss's forward-backward.</summary>
/// <param name="Loss">The summed loss the server computed (NaN when it reports none).</param>
/// <param name="LogProbs">[rows][T_r] log-probs of the response tokens under the weights the gradient was taken at, when reported.</param>
/// <param name="Entropy">[rows][T_r] entropy at each response token, when reported.</param>
public sealed record BuiltInLossResult(double Loss, float[][]? LogProbs, float[][]? Entropy);

/// <summary>
/// A trainable model that can take the gradient of a built-in loss in one round trip, without the forward pass a
/// custom loss needs first (the Tinker engine; the managed engine computes every loss itself and does not).
/// </summary>
public interface IBuiltInLossModel
{
    /// <summary>
    /// Adds the gradient of <paramref name="loss"/> over <paramref name="rows"/> (packed by this model's backend) to
    /// the model's accumulated gradients, as <see cref="ITokenPass.Backward"/> does for a custom loss; log-probs are at
    /// temperature 1 (the Tinker API's).
    /// </summary>
    BuiltInLossResult BackwardBuiltIn(IPackedRows rows, BuiltInLoss loss);
}

/// <summary>
/// The per-token terms of the built-in losses with their derivative with respect to the current log-prob, r =
/// exp(log p − old log p). They follow SkyRL's JAX losses (NovaSky-AI/SkyRL skyrl/tinker/loss_fns.py:
/// importance_sampling_loss, ppo_loss, cispo_loss) and Tinker's loss docs (tinker-cookbook
/// tutorials/202_loss_functions.py); the loss of a batch is the plain sum of the terms.
/// </summary>
public static class BuiltInLosses
{
    /// <summary>The `loss_fn` name of <paramref name="kind"/>.</summary>
    public static string WireName(BuiltInLossKind kind) => kind switch
    {
        BuiltInLossKind.ImportanceSampling => "importance_sampling",
        BuiltInLossKind.Ppo => "ppo",
        BuiltInLossKind.Cispo => "cispo",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown built-in loss"),
    };

    /// <summary>The built-in loss named <paramref name="name"/>; false for any other name (cross_entropy, dro, ...).</summary>
    public static bool TryParse(string name, out BuiltInLossKind kind)
    {
        foreach (var k in Enum.GetValues<BuiltInLossKind>())
        {
            if (WireName(k) == name)
            {
                kind = k;
                return true;
            }
        }
        kind = default;
        return false;
    }

    /// <summary>
    /// One token's term and d term / d log p. PPO takes the gradient of the unclipped term where it is the minimum
    /// (ties included: there both terms are the same function of r, or A = 0) and none where the clipped one is; CISPO's
    /// clipped ratio is a constant of the backward pass. A token with A = 0 contributes nothing (also where r overflows).
    /// </summary>
    public static (double Loss, double Grad) Token(BuiltInLossKind kind, double logProb, double oldLogProb, double advantage, double clipLow, double clipHigh)
    {
        if (advantage == 0) return (0, 0);
        double ratio = Math.Exp(logProb - oldLogProb);
        switch (kind)
        {
            case BuiltInLossKind.ImportanceSampling:
                return (-ratio * advantage, -ratio * advantage);
            case BuiltInLossKind.Ppo:
                double clipped = Math.Clamp(ratio, clipLow, clipHigh) * advantage;
                return ratio * advantage <= clipped ? (-ratio * advantage, -ratio * advantage) : (-clipped, 0);
            case BuiltInLossKind.Cispo:
                double weight = Math.Clamp(ratio, clipLow, clipHigh);
                return (-weight * advantage * logProb, -weight * advantage);
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown built-in loss");
        }
    }
}

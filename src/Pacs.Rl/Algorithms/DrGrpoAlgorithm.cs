namespace Pacs.Rl.Algorithms;

/// <summary>
/// Dr.GRPO ("Understanding R1-Zero-Like Training", Liu et al. 2025): GRPO without the std division and with the
/// length-unbiased seq-mean-token-sum-norm aggregation (set <see cref="ClippedPolicyOptions.LossNormalizer"/> to the
/// generation budget) and no KL loss.
/// </summary>
public sealed class DrGrpoOptions : GrpoOptions
{
    public DrGrpoOptions()
    {
        NormAdvByStd = false;
        LossAggMode = LossAggMode.SeqMeanTokenSumNorm;
    }
}

public sealed class DrGrpoAlgorithm(DrGrpoOptions options) : GrpoAlgorithm(options, "dr_grpo");

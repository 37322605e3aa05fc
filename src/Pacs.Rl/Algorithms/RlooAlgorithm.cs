namespace Pacs.Rl.Algorithms;

/// <summary>Options of RLOO (Ahmadian et al. 2024): the shared clipped-surrogate knobs.</summary>
public sealed class RlooOptions : ClippedPolicyOptions;

/// <summary>RLOO: A_i = r_i − mean of the other G−1 rewards of the group, on every token; PPO clipped surrogate.</summary>
public sealed class RlooAlgorithm(RlooOptions options) : ClippedPolicyAlgorithm("rloo", options)
{
    public RlooOptions Options { get; } = options;

    public override int MinGroupSize => 2;

    /// <summary>The built-in `ppo` loss when dual_clip_c and kl_loss_coef are 0.</summary>
    public override BuiltInLoss? BuiltInForm(PolicyBatch miniBatch) => PpoForm(miniBatch);

    public override bool HasBuiltInForm => HasPpoForm;

    public override IReadOnlyDictionary<string, double> Prepare(PolicyBatch batch)
    {
        var perResponse = AdvantageEstimators.Rloo(batch.Rewards.Select(r => (double)r).ToArray(), batch.GroupSize);
        batch.Advantages = AdvantageEstimators.Broadcast(perResponse, batch.OldLogProbs);
        var metrics = RewardMetrics(batch);
        AddAdvantageMetrics(metrics, batch.Advantages);
        return metrics;
    }
}

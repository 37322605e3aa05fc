using System.ComponentModel;

namespace Pacs.Rl.Algorithms;

/// <summary>Options of GRPO (DeepSeekMath, Shao et al. 2024) and, with other defaults, Dr.GRPO.</summary>
public class GrpoOptions : ClippedPolicyOptions
{
    [Description("Divide the group-centred reward by the group's std (GRPO); false = Dr.GRPO's r − mean.")]
    public bool NormAdvByStd { get; set; } = true;

    [Description("Unbiased group std (÷(G−1), torch.std as in verl); false = biased (÷G).")]
    public bool UnbiasedStd { get; set; } = true;

    [Description("ε added to the std before dividing.")]
    public double StdEpsilon { get; set; } = 1e-6;

    internal override void Validate(string algorithm)
    {
        base.Validate(algorithm);
        if (!(StdEpsilon >= 0)) throw new ArgumentException($"algorithm {algorithm}: std_epsilon must be >= 0, got {StdEpsilon}");
    }
}

/// <summary>
/// GRPO: outcome advantage A_i = (r_i − mean_g)/(std_g + ε) shared by every token of response i, PPO clipped
/// surrogate, optional KL loss against the reference model.
/// </summary>
public class GrpoAlgorithm(GrpoOptions options, string name = "grpo") : ClippedPolicyAlgorithm(name, options)
{
    public GrpoOptions Options { get; } = options;

    public override int MinGroupSize => 2;

    /// <summary>The built-in `ppo` loss (Dr.GRPO and DAPO too) when dual_clip_c and kl_loss_coef are 0.</summary>
    public override BuiltInLoss? BuiltInForm(PolicyBatch miniBatch) => PpoForm(miniBatch);

    public override bool HasBuiltInForm => HasPpoForm;

    public override IReadOnlyDictionary<string, double> Prepare(PolicyBatch batch)
    {
        var rewards = batch.Rewards.Select(r => (double)r).ToArray();
        var perResponse = AdvantageEstimators.Grpo(rewards, batch.GroupSize, Options.NormAdvByStd, Options.UnbiasedStd, Options.StdEpsilon);
        batch.Advantages = AdvantageEstimators.Broadcast(perResponse, batch.OldLogProbs);
        var metrics = RewardMetrics(batch);
        AddAdvantageMetrics(metrics, batch.Advantages);
        return metrics;
    }
}

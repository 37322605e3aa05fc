using System.ComponentModel;

namespace Pacs.Rl.Algorithms;

/// <summary>
/// Options of VinePPO (Kazemnejad et al. 2024, "VinePPO: Unlocking RL Potential for LLM Reasoning Through Refined
/// Credit Assignment", arXiv 2410.01679): the shared clipped-surrogate knobs (PPO clip 0.2, token-mean) and K.
/// </summary>
public sealed class VinePpoOptions : ClippedPolicyOptions
{
    [Description("K, the Monte-Carlo rollouts from each reasoning-step boundary that estimate its value. 9 is the paper's main setting as we read it; the released configs were not checked for it.")]
    public int McRollouts { get; set; } = 9;

    internal override void Validate(string algorithm)
    {
        base.Validate(algorithm);
        if (McRollouts < 1) throw new ArgumentException($"algorithm {algorithm}: mc_rollouts must be >= 1, got {McRollouts}");
    }
}

/// <summary>
/// VinePPO: PPO-clip without a critic, whose advantages come from Monte-Carlo values of the states at reasoning-step
/// boundaries (response lines here). The trainer's <c>Training/VineValueStage</c> samples K continuations of the
/// current policy from every step start and calls <see cref="StepAdvantages"/>, which follows the released
/// MathEpisodeGeneratorWithMCAdvantages (McGill-NLP/VinePPO,
/// src/treetune/episode_generators/math_episode_generator_with_mc_advantages.py, _compute_step_advantages and
/// _compute_token_advantages): with V_0..V_{S−1} the values of the S step starts, V_S = 0 (terminal) and the reward
/// on the last step, A_i = r_i + V_{i+1} − V_i, and every token takes its step's advantage. Prepare only checks that
/// the stage filled <see cref="PolicyBatch.Advantages"/>. The released code maps characters to tokens by offsets; here
/// steps are whole tokens, a step ending with the token that holds its newline.
/// </summary>
public sealed class VinePpoAlgorithm(VinePpoOptions options) : ClippedPolicyAlgorithm("vineppo", options)
{
    public VinePpoOptions Options { get; } = options;

    /// <summary>
    /// Per-token advantages of one response of <paramref name="length"/> tokens whose steps start at
    /// <paramref name="stepStarts"/> (ascending, first 0) with Monte-Carlo values <paramref name="values"/>.
    /// </summary>
    public static float[] StepAdvantages(IReadOnlyList<int> stepStarts, IReadOnlyList<double> values, double reward, int length)
    {
        if (stepStarts.Count != values.Count) throw new ArgumentException($"vineppo: {stepStarts.Count} step starts but {values.Count} values");
        if (length > 0 && (stepStarts.Count == 0 || stepStarts[0] != 0)) throw new ArgumentException("vineppo: the first step must start at token 0");
        var advantages = new float[length];
        for (int i = 0; i < stepStarts.Count; i++)
        {
            int end = i + 1 < stepStarts.Count ? stepStarts[i + 1] : length;
            if (end <= stepStarts[i]) throw new ArgumentException($"vineppo: step starts must increase within the response, got {stepStarts[i]} then {end}");
            bool last = i + 1 == stepStarts.Count;
            double advantage = (last ? reward : 0) + (last ? 0 : values[i + 1]) - values[i];
            for (int t = stepStarts[i]; t < end; t++) advantages[t] = (float)advantage;
        }
        return advantages;
    }

    /// <summary>The built-in `ppo` loss when dual_clip_c and kl_loss_coef are 0 (the Monte-Carlo advantages come before the loss).</summary>
    public override BuiltInLoss? BuiltInForm(PolicyBatch miniBatch) => PpoForm(miniBatch);

    public override bool HasBuiltInForm => HasPpoForm;

    public override IReadOnlyDictionary<string, double> Prepare(PolicyBatch batch)
    {
        var advantages = batch.Require(batch.Advantages, "advantages (set by the trainer's VinePPO value stage)", Name);
        var metrics = RewardMetrics(batch);
        AddAdvantageMetrics(metrics, advantages);
        return metrics;
    }
}

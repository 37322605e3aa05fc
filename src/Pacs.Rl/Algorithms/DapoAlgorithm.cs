namespace Pacs.Rl.Algorithms;

/// <summary>
/// DAPO's loss (Yu et al. 2025, arXiv 2503.14476) as a preset of the clipped surrogate: clip-higher (ε_low 0.2,
/// ε_high 0.28), token-level mean over the whole mini-batch, no KL loss — the values of verl's DAPO recipe
/// (volcengine/verl, recipe/dapo/run_dapo_qwen2.5_32b.sh: adv_estimator grpo, kl_loss_coef 0, clip_ratio_low 0.2,
/// clip_ratio_high 0.28, use_token_level_loss True; the script leaves verl's dual clip c = 3 in place) — with the
/// GRPO group advantage. DAPO's other two parts belong to the rollout and the reward, and every algorithm can use them:
/// dynamic sampling (`rollout.filter_groups`, `rollout.max_draw_batches`) and overlong reward shaping
/// (`reward.overlong_buffer`, `reward.overlong_penalty`); `configs` spell them out.
/// </summary>
public sealed class DapoOptions : GrpoOptions
{
    public DapoOptions()
    {
        ClipEpsLow = 0.2;
        ClipEpsHigh = 0.28;
        DualClipC = 3.0;
        LossAggMode = LossAggMode.TokenMean;
        KlLossCoef = 0;
    }
}

public sealed class DapoAlgorithm(DapoOptions options) : GrpoAlgorithm(options, "dapo");

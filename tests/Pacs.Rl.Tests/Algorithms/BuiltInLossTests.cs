using Pacs.Rl.Algorithms;

namespace Pacs.Rl.Tests.Algorithms;

/// <summary>
/// The Tinker API's built-in losses against our algorithms: where <see cref="IRlAlgorithm.BuiltInForm"/> gives one,
/// the built-in loss (a plain sum of <see cref="BuiltInLosses.Token"/> over tokens) with its per-token advantages has
/// the algorithm's loss and the same d loss / d log p on every token; where the options add a term no built-in has,
/// there is no form.
/// </summary>
public sealed class BuiltInLossTests
{
    private static readonly Dictionary<string, BuiltInLossKind> Eligible = new()
    {
        ["grpo"] = BuiltInLossKind.Ppo,
        ["dr_grpo"] = BuiltInLossKind.Ppo,
        ["rloo"] = BuiltInLossKind.Ppo,
        ["reinforce_plus_plus"] = BuiltInLossKind.Ppo,
        ["dapo"] = BuiltInLossKind.Ppo,
        ["vineppo"] = BuiltInLossKind.Ppo,
        ["cispo"] = BuiltInLossKind.Cispo,
    };

    public static TheoryData<string, string> EligibleCases()
    {
        var cases = new TheoryData<string, string>();
        foreach (var name in Eligible.Keys)
            foreach (var mode in LossAggregation.Modes) cases.Add(name, ConfigEnum.Name(mode));
        return cases;
    }

    /// <summary>Log-probs up to ±0.45 off the old ones (ratios 0.64..1.57): both sides of every clip are hit.</summary>
    private static PolicyBatch RandomBatch(int seed) => MicroBatchInvarianceTests.RandomBatch(seed, spread: 0.9);

    private static IRlAlgorithm Create(string name, Action<ClippedPolicyOptions> set)
    {
        var options = (ClippedPolicyOptions)AlgorithmRegistry.DefaultOptions(name);
        set(options);
        return AlgorithmRegistry.Create(name, options);
    }

    [Theory]
    [MemberData(nameof(EligibleCases))]
    public void The_built_in_loss_has_the_algorithms_loss_and_gradient_on_every_token(string name, string lossAggMode)
    {
        var algorithm = Create(name, o =>
        {
            o.LossAggMode = ConfigEnum.Parse<LossAggMode>(lossAggMode, "loss_agg_mode");
            o.DualClipC = 0;
            o.KlLossCoef = 0;
            if (name != "cispo") o.ClipEpsHigh = 0.28;
        });
        var batch = RandomBatch(23);
        algorithm.Prepare(batch);
        // A micro-batch of 8 rows normalised by the whole batch, as the trainer sends them.
        var micro = batch.SelectRows([.. Enumerable.Range(2, 8)]);
        micro.Totals = MiniBatchTotals.Of(batch);
        var custom = algorithm.Loss(micro);
        var form = algorithm.BuiltInForm(micro);

        Assert.NotNull(form);
        Assert.Equal(Eligible[name], form.Kind);
        var options = (ClippedPolicyOptions)AlgorithmRegistry.DefaultOptions(name);
        Assert.Equal(1 - (name == "cispo" ? options.ClipEpsLow : 0.2), form.ClipLow, 12);
        Assert.Same(micro.OldLogProbs, form.OldLogProbs);
        double loss = 0;
        for (int r = 0; r < micro.Count; r++)
            for (int t = 0; t < micro.TokenCount(r); t++)
            {
                var (term, grad) = BuiltInLosses.Token(form.Kind, micro.LogProbs![r][t], form.OldLogProbs[r][t], form.Advantages[r][t], form.ClipLow, form.ClipHigh);
                loss += term;
                Assert.True(Math.Abs(grad - custom.GradLogProbs[r][t]) <= 1e-6, $"{name} {lossAggMode}: row {r} token {t}: built-in d/dlogp {grad:R}, custom {custom.GradLogProbs[r][t]:R}");
            }
        Assert.True(Math.Abs(loss - custom.Loss) <= 1e-6 * Math.Max(1, Math.Abs(custom.Loss)), $"{name} {lossAggMode}: built-in loss {loss:R}, custom {custom.Loss:R}");
        // Both sides of the clip are exercised: some tokens clipped, some not.
        Assert.InRange(custom.Metrics["actor/pg_clipfrac"], 0.05, 0.95);
        Assert.Contains(custom.GradLogProbs.SelectMany(g => g), g => Math.Abs(g) > 1e-3);
    }

    [Fact]
    public void Only_the_eligible_algorithms_have_a_built_in_form_and_never_with_a_dual_clip_or_a_KL_loss()
    {
        foreach (var name in AlgorithmRegistry.Names)
        {
            var options = AlgorithmRegistry.DefaultOptions(name);
            if (options is ClippedPolicyOptions clipped) (clipped.DualClipC, clipped.KlLossCoef) = (0, 0);
            var batch = RandomBatch(5);
            var algorithm = AlgorithmRegistry.Create(name, options);
            algorithm.Prepare(batch);
            var form = algorithm.BuiltInForm(batch);
            if (Eligible.TryGetValue(name, out var kind)) Assert.Equal(kind, form?.Kind);
            else Assert.True(form is null, $"{name} must have no built-in form");
            Assert.True(algorithm.HasBuiltInForm == form is not null, $"{name}: HasBuiltInForm {algorithm.HasBuiltInForm}, form {form?.Kind}");
        }
        foreach (var name in Eligible.Keys)
        {
            var batch = RandomBatch(5);
            var withKl = Create(name, o => (o.DualClipC, o.KlLossCoef) = (0, 0.01));
            withKl.Prepare(batch);
            Assert.Null(withKl.BuiltInForm(batch));
            Assert.False(withKl.HasBuiltInForm);
            if (name == "cispo") continue; // no dual clip in CISPO
            var dualClip = Create(name, o => (o.DualClipC, o.KlLossCoef) = (3, 0));
            dualClip.Prepare(batch);
            Assert.Null(dualClip.BuiltInForm(batch));
            Assert.False(dualClip.HasBuiltInForm);
        }
        // Our defaults keep verl's dual clip (c = 3), so GRPO, DAPO, ... take the custom path unless it is turned off.
        var grpo = AlgorithmRegistry.Create("grpo");
        var defaults = RandomBatch(5);
        grpo.Prepare(defaults);
        Assert.Null(grpo.BuiltInForm(defaults));
        Assert.False(grpo.HasBuiltInForm);
        var cispo = AlgorithmRegistry.Create("cispo");
        cispo.Prepare(defaults);
        Assert.Equal(BuiltInLossKind.Cispo, cispo.BuiltInForm(defaults)?.Kind);
        Assert.True(cispo.HasBuiltInForm);
    }

    [Fact]
    public void The_built_in_token_terms_are_the_documented_formulas()
    {
        double lnOneHalf = Math.Log(1.5);
        // importance_sampling: -r A.
        Assert.Equal((-3.0, -3.0), Round(BuiltInLosses.Token(BuiltInLossKind.ImportanceSampling, lnOneHalf - 1, -1, 2, 0.8, 1.2)));
        // ppo, r = 1.5 > hi: A > 0 takes the clipped term (no gradient), A < 0 the unclipped one.
        Assert.Equal((-2.4, 0.0), Round(BuiltInLosses.Token(BuiltInLossKind.Ppo, lnOneHalf - 1, -1, 2, 0.8, 1.2)));
        Assert.Equal((1.5, 1.5), Round(BuiltInLosses.Token(BuiltInLossKind.Ppo, lnOneHalf - 1, -1, -1, 0.8, 1.2)));
        // ppo, r = 0.5 < lo: A < 0 takes the clipped term, A > 0 the unclipped one.
        Assert.Equal((0.8, 0.0), Round(BuiltInLosses.Token(BuiltInLossKind.Ppo, Math.Log(0.5), 0, -1, 0.8, 1.2)));
        Assert.Equal((-0.5, -0.5), Round(BuiltInLosses.Token(BuiltInLossKind.Ppo, Math.Log(0.5), 0, 1, 0.8, 1.2)));
        // cispo: -sg(clip(r)) A log p; d/dlogp = -clip(r) A.
        Assert.Equal(Round((-1.2 * 2 * (lnOneHalf - 1), -2.4)), Round(BuiltInLosses.Token(BuiltInLossKind.Cispo, lnOneHalf - 1, -1, 2, 0, 1.2)));
        // No advantage, no term (even where r overflows).
        Assert.Equal((0.0, 0.0), BuiltInLosses.Token(BuiltInLossKind.Ppo, 0, -1000, 0, 0.8, 1.2));
        Assert.True(BuiltInLosses.TryParse("cispo", out var kind) && kind == BuiltInLossKind.Cispo);
        Assert.False(BuiltInLosses.TryParse("dro", out _));
    }

    private static (double, double) Round((double Loss, double Grad) v) => (Math.Round(v.Loss, 12), Math.Round(v.Grad, 12));
}

using Pacs.Rl.Algorithms;
using Pacs.Rl.Config;
using Pacs.Rl.Training;

namespace Pacs.Rl.Tests.Engine;

/// <summary>
/// The update's built-in-loss path on the table bandit, whose policy takes built-in losses as a Tinker server does:
/// a run through it repeats the custom-loss run (metrics and final weights) without the update's forward passes, and
/// masked rows and rollout-correction weights act on its advantages exactly as on the custom gradient.
/// </summary>
public sealed class BuiltInLossTrainerTests : IDisposable
{
    private readonly Training.TinyRun _run = new();

    public void Dispose() => _run.Dispose();

    /// <summary>
    /// Two epochs over two mini-batches of two micro-batches: the second epoch's ratios move off 1 and clip. The two
    /// paths' gradients agree to float rounding, not to the bit, so Adam runs with a large eps: its step is then a
    /// smooth function of the gradient (with eps ≈ 0 the first step is lr × sign(g), and a rounding-sized gradient
    /// would step a whole lr either way).
    /// </summary>
    private TrainConfig Bandit(string algorithm, string settings) => _run.Config(algorithm,
        [
            "trainer.steps=4", "trainer.eval_every=0", "trainer.save_every=0", "rollout.batch_prompts=4", "rollout.group_size=8",
            "rollout.max_response_tokens=4", "update.micro_batch_size=8", "update.mini_batches=2", "update.epochs=2", "optim.lr=1",
            "optim.eps=0.1", .. settings.Split(' ', StringSplitOptions.RemoveEmptyEntries),
        ]);

    private (List<Dictionary<string, double>> Metrics, BuiltInTableModel Policy, List<string> Messages) Train(string algorithm, string settings, string name)
    {
        string dir = _run.RunDir(name);
        var trainer = RlTrainer.Start(new BuiltInTableBackend(), Bandit(algorithm, settings), dir, new Training.LetterAtTask(2));
        var messages = new List<string>();
        trainer.Message += messages.Add;
        trainer.Run();
        var metrics = MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName))
            .Where(m => m["step"] > 0)
            .Select(m => m.Where(kv => MetricsLog.IsDeterministic(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value))
            .ToList();
        return (metrics, (BuiltInTableModel)trainer.Policy, messages);
    }

    [Theory]
    [InlineData("grpo", "algorithm.dual_clip_c=0")]
    [InlineData("dr_grpo", "algorithm.dual_clip_c=0 optim.lr=4")] // its token-sum-norm weights are small: a larger step for the ratios to clip
    [InlineData("rloo", "algorithm.dual_clip_c=0 algorithm.loss_agg_mode=seq-mean-token-mean")]
    [InlineData("reinforce_plus_plus", "algorithm.dual_clip_c=0")]
    [InlineData("dapo", "algorithm.dual_clip_c=0")]
    [InlineData("vineppo", "algorithm.dual_clip_c=0 algorithm.mc_rollouts=2")]
    [InlineData("cispo", "")]
    [InlineData("grpo", "algorithm.dual_clip_c=0 algorithm.rollout_correction=tis_token algorithm.rollout_correction_threshold=0.5")]
    public void A_run_through_the_built_in_loss_repeats_the_custom_loss_run_without_update_forwards(string algorithm, string settings)
    {
        var custom = Train(algorithm, settings + " tinker.builtin_loss=off", "custom");
        var builtIn = Train(algorithm, settings, "builtin");

        Assert.Equal(4, builtIn.Metrics.Count);
        Assert.All(custom.Metrics, m => Assert.Equal(0, m[BuiltInLossUpdate.Metric]));
        Assert.All(builtIn.Metrics, m => Assert.Equal(1, m[BuiltInLossUpdate.Metric]));
        // The gradient is not zero (mixed rewards), and clipping acted in some step.
        Assert.Contains(custom.Metrics, m => m["actor/grad_norm"] > 1e-3);
        Assert.Contains(custom.Metrics, m => m["actor/pg_clipfrac"] > 0);
        for (int i = 0; i < custom.Metrics.Count; i++)
        {
            Assert.Equal(custom.Metrics[i].Keys.Order(), builtIn.Metrics[i].Keys.Order());
            foreach (var (key, value) in custom.Metrics[i])
            {
                if (key == BuiltInLossUpdate.Metric) continue;
                double other = builtIn.Metrics[i][key];
                Assert.True(Math.Abs(value - other) <= 1e-5 * Math.Max(1, Math.Abs(value)), $"{algorithm} step {i + 1} {key}: custom {value:R}, built-in {other:R}");
            }
        }
        for (int i = 0; i < custom.Policy.Table.Theta.Length; i++)
            Assert.True(Math.Abs(custom.Policy.Table.Theta[i] - builtIn.Policy.Table.Theta[i]) <= 1e-5, $"{algorithm}: weight {i}: custom {custom.Policy.Table.Theta[i]:R}, built-in {builtIn.Policy.Table.Theta[i]:R}");
        // 4 steps x 2 epochs x 4 micro-batches: a forward with gradients each on the custom path, none on the built-in one.
        Assert.Equal((32, 0), (custom.Policy.GradientForwards, custom.Policy.BuiltInBackwards));
        Assert.Equal((0, 32), (builtIn.Policy.GradientForwards, builtIn.Policy.BuiltInBackwards));
        Assert.Single(builtIn.Messages, m => m.StartsWith("update: the built-in", StringComparison.Ordinal));
        Assert.Single(custom.Messages, m => m == "update: the custom-loss path (tinker.builtin_loss=off)");
    }

    [Fact]
    public void An_algorithm_without_an_exact_built_in_form_takes_the_custom_path_and_says_so_once()
    {
        foreach (var (algorithm, settings) in new[] { ("pacs", ""), ("grpo", "algorithm.dual_clip_c=3"), ("grpo", "algorithm.dual_clip_c=0 algorithm.kl_loss_coef=0.01") })
        {
            var run = Train(algorithm, settings, $"{algorithm}-{settings.Length}");
            Assert.All(run.Metrics, m => Assert.Equal(0, m[BuiltInLossUpdate.Metric]));
            Assert.Equal(0, run.Policy.BuiltInBackwards);
            Assert.Equal(32, run.Policy.GradientForwards);
            Assert.Single(run.Messages, m => m.StartsWith($"update: the custom-loss path (algorithm {algorithm} with these options has no exact built-in loss", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// Masked rows and per-token correction weights c ≥ 0 on the advantages give the custom path's gradient with the
    /// rows cleared and each token's gradient times c (every built-in term is positively homogeneous in A).
    /// </summary>
    [Theory]
    [InlineData("grpo")]
    [InlineData("cispo")]
    public void Masked_rows_and_correction_weights_act_on_the_advantages_as_on_the_custom_gradient(string name)
    {
        var random = new Random(7);
        var options = (ClippedPolicyOptions)AlgorithmRegistry.DefaultOptions(name);
        options.DualClipC = 0;
        var algorithm = AlgorithmRegistry.Create(name, options);
        var responses = Enumerable.Range(0, 8).Select(r => Enumerable.Range(0, 1 + r % 4).Select(_ => random.Next(6)).ToArray()).ToArray();
        var prompts = responses.Select(_ => new[] { 1 }).ToArray();
        var rows = new TableRows(prompts, responses);
        TableModel Model()
        {
            var model = new TableModel(4, 6, valueHead: false, new OptimizerSettings());
            var seeded = new Random(3);
            for (int i = 0; i < model.Theta.Length; i++) model.Theta[i] = seeded.NextDouble() - 0.5;
            return model;
        }
        var custom = Model();
        var old = responses.Select(r => r.Select(_ => (float)(-Math.Log(6) + (random.NextDouble() - 0.5))).ToArray()).ToArray();
        var batch = new PolicyBatch(4, [1, 0, 0, 1, 0, 1, 1, 1], old);
        algorithm.Prepare(batch);
        bool[] masked = [false, true, false, false, false, false, true, false];
        var correction = old.Select(r => r.Select(_ => (float)(2 * random.NextDouble())).ToArray()).ToArray();
        int[] all = [.. Enumerable.Range(0, 8)];

        // The custom path: forward, loss, the trainer's mask and correction on the gradient, backward.
        using (var pass = custom.Forward(rows, 1f))
        {
            batch.LogProbs = pass.Outputs;
            var output = algorithm.Loss(batch);
            foreach (int r in all.Where(r => masked[r])) Array.Clear(output.GradLogProbs[r]);
            RolloutCorrection.Apply(output.GradLogProbs, correction);
            pass.Backward(output.GradLogProbs);
        }
        var builtIn = new BuiltInTableModel(Model());
        var update = new BuiltInLossUpdate(new TrainConfig(), algorithm, builtIn, withCritic: false, _ => { });
        var fresh = new PolicyBatch(4, batch.Rewards, old) { Advantages = batch.Advantages };
        var sent = update.Backward(fresh, rows, all, masked, correction, entropy: null);

        Assert.NotNull(sent);
        Assert.Equal(1, builtIn.BuiltInBackwards);
        Assert.Contains(custom.Grad, g => Math.Abs(g) > 1e-3);
        for (int i = 0; i < custom.Grad.Length; i++)
            Assert.True(Math.Abs(custom.Grad[i] - builtIn.Table.Grad[i]) <= 1e-6, $"{name}: weight {i}: custom {custom.Grad[i]:R}, built-in {builtIn.Table.Grad[i]:R}");
        // The reported loss is the algorithm's own (masks and corrections act on gradients only, on both paths).
        Assert.Equal(algorithm.Loss(batch).Loss, sent.Loss, 9);
    }

    [Fact]
    public void A_model_without_built_in_losses_or_the_knob_off_leaves_the_custom_path_to_the_trainer()
    {
        var algorithm = AlgorithmRegistry.Create("cispo");
        var batch = new PolicyBatch(2, [1, 0], [[-1f], [-2f]]);
        algorithm.Prepare(batch);
        var rows = new TableRows([[1], [1]], [[2], [3]]);
        var messages = new List<string>();
        var plain = new BuiltInLossUpdate(new TrainConfig(), algorithm, new TableModel(2, 6, false, new OptimizerSettings()), withCritic: false, messages.Add);
        Assert.Null(plain.Backward(batch, rows, [0, 1], null, null, null));
        Assert.Empty(messages);
        var off = new TrainConfig();
        off.Tinker.BuiltinLoss = BuiltInLossMode.Off;
        var model = new BuiltInTableModel(new TableModel(2, 6, false, new OptimizerSettings()));
        var offUpdate = new BuiltInLossUpdate(off, algorithm, model, withCritic: false, messages.Add);
        Assert.Null(offUpdate.Backward(batch, rows, [0, 1], null, null, null));
        Assert.Null(offUpdate.Backward(batch, rows, [0, 1], null, null, null));
        Assert.Equal(["update: the custom-loss path (tinker.builtin_loss=off)"], messages);
        Assert.Equal(0, model.BuiltInBackwards);
    }
}

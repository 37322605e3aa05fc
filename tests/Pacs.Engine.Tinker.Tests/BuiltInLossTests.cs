using Pacs.Rewards;
using Pacs.Rl.Config;
using Pacs.Rl.Tests.Training;
using Pacs.Rl.Training;

namespace Pacs.Engine.Tinker.Tests;

/// <summary>
/// The built-in losses (importance_sampling, ppo, cispo) on `pacs serve --tinker`'s server and through the client:
/// the server's gradient is its formula's, bad configs are user errors naming the key, and a GRPO or CISPO run that
/// sends them repeats the custom-loss run of the same seeds with fewer `forward` requests.
/// </summary>
public sealed class BuiltInLossTests : IDisposable
{
    private readonly TinyRun _model = new();
    private readonly LoopbackServer _server;

    public BuiltInLossTests() => _server = new LoopbackServer(_model.ModelDir, _model.RunDir("server-state"));

    public void Dispose()
    {
        _server.Dispose();
        _model.Dispose();
    }

    private TinkerBackend Backend(HttpMessageHandler? handler = null) => new(LoopbackServer.Options("http://localhost"), handler ?? _server.Handler);

    private static readonly int[][] Prompts = [[1, 5, 6], [1, 7], [1, 9, 9, 4]];
    private static readonly int[][] Responses = [[8, 9, 2], [6, 2], [3, 4, 5, 6, 2]];

    /// <summary>
    /// Two models from the same start: one takes the built-in loss on the server, the other the same gradient computed
    /// here from its formula and sent as cross_entropy weights (the custom path). Old log-probs up to ±0.5 off the
    /// current ones, so ppo and cispo clip on both sides.
    /// </summary>
    [Theory]
    [InlineData(BuiltInLossKind.ImportanceSampling)]
    [InlineData(BuiltInLossKind.Ppo)]
    [InlineData(BuiltInLossKind.Cispo)]
    public void The_servers_built_in_loss_has_the_gradient_of_its_formula(BuiltInLossKind kind)
    {
        using var backend = Backend();
        var settings = new TrainingSettings(new OptimizerSettings());
        var builtIn = (TinkerTrainingModel)backend.LoadPolicy("unused", settings);
        var custom = backend.LoadPolicy("unused", settings);
        var rows = backend.Pack(Prompts, Responses, padId: 0);
        var random = new Random(kind.GetHashCode() + 11);

        using var pass = custom.Forward(rows, 1f);
        var logProbs = pass.Outputs;
        var old = logProbs.Select(row => row.Select(lp => lp + (float)(random.NextDouble() - 0.5)).ToArray()).ToArray();
        var advantages = logProbs.Select(row => row.Select(_ => (float)(2 * random.NextDouble() - 1)).ToArray()).ToArray();
        double low = kind == BuiltInLossKind.Cispo ? 0 : 0.8, high = 1.2;
        double expectedLoss = 0;
        var grad = new float[rows.Count][];
        for (int r = 0; r < rows.Count; r++)
        {
            grad[r] = new float[logProbs[r].Length];
            for (int t = 0; t < grad[r].Length; t++)
            {
                var (term, d) = BuiltInLosses.Token(kind, logProbs[r][t], old[r][t], advantages[r][t], low, high);
                expectedLoss += term;
                grad[r][t] = (float)d;
            }
        }
        if (kind == BuiltInLossKind.Ppo) Assert.Contains(grad.SelectMany(g => g), g => g == 0); // some tokens clipped
        pass.Backward(grad);

        var result = builtIn.BackwardBuiltIn(rows, new BuiltInLoss(kind, old, advantages, low, high));
        Assert.Equal(expectedLoss, result.Loss, 9);
        Assert.Equal(logProbs, result.LogProbs);
        Assert.NotNull(result.Entropy); // our server's extra output
        double builtInNorm = builtIn.ClipGradNorm(0), customNorm = custom.ClipGradNorm(0);
        Assert.True(customNorm > 0);
        Assert.Equal(customNorm, builtInNorm, 6);
        Assert.True(builtIn.Step(0.05) && custom.Step(0.05));
        var after = custom.Score(rows, 1f);
        var builtInAfter = builtIn.Score(rows, 1f);
        Assert.NotEqual(logProbs, after);
        for (int r = 0; r < rows.Count; r++)
            for (int t = 0; t < after[r].Length; t++) Assert.Equal(after[r][t], builtInAfter[r][t], 5);
    }

    private ForwardBackwardOutput Forward(TinkerBackend backend, string model, string lossFn, Dictionary<string, double>? config, bool withAdvantages = true)
    {
        var packed = (TinkerPackedRows)backend.Pack(Prompts, Responses, padId: 0);
        var data = Enumerable.Range(0, packed.Count).Select(r =>
        {
            var datum = packed.ToBuiltInDatum(r, [.. Responses[r].Select(_ => -1.5f)], [.. Responses[r].Select((_, t) => t % 2 == 0 ? 1f : -1f)]);
            if (!withAdvantages) datum.LossFnInputs.Remove("advantages");
            return datum;
        }).ToArray();
        var c = backend.Connection;
        return c.Call<ForwardBackwardOutput>("api/v1/forward", new ForwardRequest(new ForwardBackwardInput(data, lossFn, config), model, null), "forward");
    }

    [Fact]
    public void Clip_thresholds_default_as_the_sdk_documents_and_a_config_the_server_cannot_run_is_a_user_error_naming_it()
    {
        using var backend = Backend();
        string model = ((TinkerTrainingModel)backend.LoadPolicy("unused", new TrainingSettings(new OptimizerSettings()))).ModelId;
        double Loss(string lossFn, Dictionary<string, double>? config) => Forward(backend, model, lossFn, config).Metrics["loss:sum"];

        Assert.Equal(Loss("ppo", new() { ["clip_low_threshold"] = 0.8, ["clip_high_threshold"] = 1.2 }), Loss("ppo", null));
        Assert.NotEqual(Loss("ppo", new() { ["clip_low_threshold"] = 0.9, ["clip_high_threshold"] = 1.1 }), Loss("ppo", null));
        Assert.Equal(Loss("cispo", new() { ["clip_low_threshold"] = 0, ["clip_high_threshold"] = 4 }), Loss("cispo", null));

        foreach (var (lossFn, config, withAdvantages, message) in new (string, Dictionary<string, double>?, bool, string)[]
        {
            ("ppo", new() { ["beta"] = 0.1 }, true, "forward: loss_fn_config: ppo takes clip_low_threshold, clip_high_threshold, got beta"),
            ("importance_sampling", new() { ["clip_low_threshold"] = 0.8 }, true, "forward: loss_fn_config: importance_sampling takes no keys, got clip_low_threshold"),
            ("ppo", new() { ["clip_low_threshold"] = 1.3, ["clip_high_threshold"] = 1.2 }, true, "forward: loss_fn_config: ppo needs 0 <= clip_low_threshold <= clip_high_threshold, got 1.3 and 1.2"),
            ("dro", null, true, "forward: loss_fn 'dro': this server runs cross_entropy, importance_sampling, ppo and cispo"),
            ("cispo", null, false, "forward: datum 0: loss_fn cispo needs advantages"),
        })
        {
            var e = Assert.Throws<TinkerException>(() => Forward(backend, model, lossFn, config, withAdvantages));
            Assert.Contains($"failed on the server (user): {message}", e.Message);
        }
    }

    /// <summary>Reward 1 when the response's first character has an even code: about half the samples of the tiny model, so groups are mixed and GRPO has a gradient.</summary>
    private sealed class EvenFirstCharTask : ITask
    {
        public string Name => "even-first-char";

        public Problem Get(Split split, long index) => new($"{split}-{index}", "Say:", "even");

        public long Count(Split split) => split == Split.Train ? long.MaxValue : 4;

        public Verdict Verify(Problem problem, string response) =>
            response.Length > 0 && response[0] % 2 == 0 ? new Verdict(true, response[..1], "even") : new Verdict(false, null, "odd or empty");
    }

    /// <summary>
    /// The two paths' gradients agree to float rounding, not to the bit (A x w_r goes as float32), so Adam's eps is
    /// large: its step is then smooth in the gradient (with eps ≈ 0 the first step is lr × sign(g), and a
    /// rounding-sized gradient would move a weight a whole lr either way).
    /// </summary>
    private TrainConfig Config(string algorithm, params string[] extra) => Pacs.Cli.Commands.TrainCommand.Resolve(null, _model.ModelDir, 3, 11,
    [
        $"algorithm.name={algorithm}", "rollout.batch_prompts=4", "rollout.group_size=4", "rollout.max_response_tokens=6", "optim.lr=0.05", "optim.eps=0.01",
        "update.mini_batches=1", "update.micro_batch_size=8", "update.epochs=2", "trainer.eval_every=0", "trainer.save_every=0",
        "engine=tinker", "tinker.base_url=http://localhost", "tinker.base_model=base", "tinker.lora_rank=0", .. extra,
    ]);

    /// <summary>A run's deterministic metrics, the counted requests, and the final policy's log-probs on fixed rows.</summary>
    private (List<Dictionary<string, double>> Metrics, IReadOnlyDictionary<string, int> Calls, float[][] Final) Train(TrainConfig config, string name)
    {
        var counting = new FaultHandler(_server.Handler) { Route = "none" };
        using var backend = Backend(counting);
        string dir = _model.RunDir(name);
        var trainer = RlTrainer.Start(backend, config, dir, new EvenFirstCharTask());
        Assert.Equal(StopReason.Completed, trainer.Run().Reason);
        var calls = counting.Calls; // before the final scoring, which is one more forward
        var final = trainer.Policy.Score(backend.Pack(Prompts, Responses, padId: 0), 1f);
        return (RunMetrics.Read(dir).Where(m => m["step"] > 0).ToList(), calls, final);
    }

    [Theory]
    [InlineData("grpo", "algorithm.dual_clip_c=0")]
    [InlineData("cispo", "algorithm.clip_eps_high=0.05")]
    public void A_run_through_the_built_in_loss_repeats_the_custom_loss_run_with_fewer_forward_requests(string algorithm, string setting)
    {
        var custom = Train(Config(algorithm, setting, "tinker.builtin_loss=off"), $"{algorithm}-custom");
        var builtIn = Train(Config(algorithm, setting), $"{algorithm}-builtin");

        Assert.Equal(3, custom.Metrics.Count);
        Assert.All(custom.Metrics, m => Assert.Equal(0, m[BuiltInLossUpdate.Metric]));
        Assert.All(builtIn.Metrics, m => Assert.Equal(1, m[BuiltInLossUpdate.Metric]));
        Assert.All(custom.Metrics, m => Assert.True(m["actor/grad_norm"] > 1e-4, $"step {m["step"]}: the rewards must be mixed for a gradient"));
        Assert.Contains(custom.Metrics, m => m["reward/mean"] is > 0 and < 1);
        RunMetrics.AssertSame(custom.Metrics, builtIn.Metrics, 1e-5, $"{algorithm}: custom vs built-in loss", floor: 1, skip: BuiltInLossUpdate.Metric);
        for (int r = 0; r < custom.Final.Length; r++)
            for (int t = 0; t < custom.Final[r].Length; t++) Assert.Equal(custom.Final[r][t], builtIn.Final[r][t], 5);

        // Per step (16 rows, micro-batches of 8, 2 epochs): custom 2 (rollout log-probs) + 2 (reference) + 4 (the
        // update's) forwards; built-in 2 + 2, the update being its 4 forward_backwards alone.
        Assert.Equal(3 * 8, custom.Calls["forward"]);
        Assert.Equal(3 * 4, builtIn.Calls["forward"]);
        Assert.Equal(3 * 4, custom.Calls["forward_backward"]);
        Assert.Equal(3 * 4, builtIn.Calls["forward_backward"]);
    }
}

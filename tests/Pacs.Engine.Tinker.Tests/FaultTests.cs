using Pacs.Rl.Tests.Training;
using Pacs.Rl.Config;
using Pacs.Rl.Training;

namespace Pacs.Engine.Tinker.Tests;

/// <summary>
/// Faults between the client and the server: a 5xx, a lost answer (timeout), a dropped connection are retried and
/// the step is applied exactly once; a failed future, a persistent 5xx and a dropped session stop the run with an
/// error naming the request, and never a silently skipped step.
/// </summary>
public sealed class FaultTests : IDisposable
{
    private readonly TinyRun _model = new();
    private readonly LoopbackServer _server;

    public FaultTests() => _server = new LoopbackServer(_model.ModelDir, _model.RunDir("server-state"));

    public void Dispose()
    {
        _server.Dispose();
        _model.Dispose();
    }

    private TinkerBackend Backend(HttpMessageHandler? handler = null) => new(LoopbackServer.Options("http://localhost"), handler ?? _server.Handler);

    /// <summary>One optimizer step on fixed rows; the policy's log-probs after it.</summary>
    private static float[][] StepOnce(TinkerBackend backend)
    {
        var policy = backend.LoadPolicy(_modelDirUnused, new TrainingSettings(new OptimizerSettings()));
        var rows = backend.Pack([[1, 5, 6], [1, 7]], [[8, 9, 2], [6, 2]], padId: 0);
        using (var pass = policy.Forward(rows, 1f))
            pass.Backward(pass.Outputs.Select(r => r.Select(_ => -1f).ToArray()).ToArray());
        Assert.True(double.IsFinite(policy.ClipGradNorm(1.0)));
        Assert.True(policy.Step(0.05));
        return policy.Score(rows, 1f);
    }

    private const string _modelDirUnused = "unused";

    [Theory]
    [InlineData(FaultHandler.Fault.ServerError, "forward_backward")]
    [InlineData(FaultHandler.Fault.ServerError, "retrieve_future")]
    [InlineData(FaultHandler.Fault.TimeoutAfterServer, "optim_step")]
    [InlineData(FaultHandler.Fault.TimeoutAfterServer, "forward_backward")]
    [InlineData(FaultHandler.Fault.ConnectionDropped, "optim_step")]
    public void A_transient_fault_is_retried_and_the_step_is_applied_exactly_once(FaultHandler.Fault kind, string route)
    {
        float[][] clean;
        using (var backend = Backend()) clean = StepOnce(backend);
        var faults = new FaultHandler(_server.Handler) { Route = route, Kind = kind };
        using (var backend = Backend(faults))
        {
            var faulted = StepOnce(backend);
            Assert.Equal(1, faults.Injected);
            Assert.Equal(clean, faulted);
        }
    }

    [Theory]
    [InlineData(true, null, null, "lora_config.train_unembed: this server puts adapters on the attention and MLP projections only")]
    [InlineData(null, false, false, "lora_config: train_attn and train_mlp are both false")]
    public void A_lora_config_the_server_cannot_train_fails_create_model_naming_the_field(bool? unembed, bool? mlp, bool? attn, string message)
    {
        using var backend = Backend();
        var c = backend.Connection;
        var request = new CreateModelRequest(c.SessionId, c.NextModelSeq(), "base", null, new LoraConfig(4, 7, unembed, mlp, attn));
        var e = Assert.Throws<TinkerException>(() => c.Call<CreateModelResponse>("api/v1/create_model", request, "create_model of base"));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_persistent_5xx_fails_after_the_retries_naming_the_route()
    {
        var faults = new FaultHandler(_server.Handler) { Route = "optim_step", Kind = FaultHandler.Fault.ServerError, Times = int.MaxValue };
        using var backend = Backend(faults);
        var e = Assert.Throws<TinkerException>(() => StepOnce(backend));
        Assert.Contains("optim_step of model", e.Message);
        Assert.Contains("failed after 4 attempts: HTTP 503", e.Message);
    }

    private TrainConfig Config() => Pacs.Cli.Commands.TrainCommand.Resolve(null, _model.ModelDir, 3, 11,
    [
        "algorithm.name=pacs", "task.level=1", "task.eval_problems=4", "task.eval_samples=2", "rollout.batch_prompts=4", "rollout.group_size=4",
        "rollout.max_response_tokens=6", "optim.lr=0.01", "update.mini_batches=1", "update.micro_batch_size=8", "trainer.eval_every=0",
        "trainer.save_every=0", "engine=tinker", "tinker.base_url=http://localhost", "tinker.base_model=base", "tinker.lora_rank=0",
    ]);

    [Fact]
    public void A_failed_future_stops_the_run_with_an_error_naming_the_request_and_logs_no_step()
    {
        // The second step's first forward_backward fails on the server.
        var faults = new FaultHandler(_server.Handler) { Route = "forward_backward", Call = 3, Kind = FaultHandler.Fault.FailedFuture };
        using var backend = Backend(faults);
        string run = _model.RunDir("failed-future");
        var trainer = RlTrainer.Start(backend, Config(), run);
        var e = Assert.Throws<TinkerException>(() => trainer.Run());
        Assert.Matches(@"^tinker forward_backward of model model-\d+ \(request req-\d+\) failed on the server \(server\): CUDA out of memory", e.Message);
        Assert.Equal([1.0], RunMetrics.Read(run).Select(r => r["step"]));
    }

    [Fact]
    public void A_dropped_session_stops_the_run_with_an_error_and_logs_no_step()
    {
        using var backend = Backend();
        string run = _model.RunDir("dropped");
        var trainer = RlTrainer.Start(backend, Config(), run);
        trainer.StepCompleted += (step, _) => { if (step == 1) _server.Server.EndSession(backend.Connection.SessionId); };
        var e = Assert.Throws<TinkerException>(() => trainer.Run());
        Assert.Contains($"tinker session {backend.Connection.SessionId} was dropped by the server", e.Message);
        Assert.Contains("has ended (heartbeat lost)", e.Message);
        Assert.Contains("pacs train --resume", e.Message);
        Assert.Equal([1.0], RunMetrics.Read(run).Select(r => r["step"]));
    }

    [Fact]
    public void A_lost_heartbeat_fails_the_next_request_before_it_is_sent()
    {
        var counting = new FaultHandler(_server.Handler) { Route = "none" };
        using var backend = Backend(counting);
        var policy = backend.LoadPolicy(_modelDirUnused, new TrainingSettings(new OptimizerSettings()));
        _server.Server.EndSession(backend.Connection.SessionId);
        backend.Connection.Heartbeat();
        var e = Assert.Throws<TinkerException>(() => policy.Step(0.01));
        Assert.Contains("heartbeat answered HTTP 404", e.Message);
        Assert.Contains("optim_step of model", e.Message);
        Assert.Contains("was not sent", e.Message);
    }

    /// <param name="logProbsFromUpdate">
    /// PACS has no built-in form, so its micro-batches take the custom path; on this on-policy step the update's
    /// forward gives the rollout log-probs (trainer.logprobs_from_update), one forward per micro-batch fewer.
    /// </param>
    [Theory]
    [InlineData(false, 2 + 2 + 2)] // rollout log-probs, reference log-probs, the update's pass: one per micro-batch each
    [InlineData(true, 2 + 2)]
    public void One_custom_loss_step_costs_the_round_trips_docs_tinker_md_lists(bool logProbsFromUpdate, int forwards)
    {
        // 4 prompts x 4 samples = 16 rows in 2 micro-batches of 8; one optimizer step; the end-of-run checkpoint.
        var counting = new FaultHandler(_server.Handler) { Route = "none" };
        using var backend = Backend(counting);
        var config = Config();
        config.Trainer.Steps = 1;
        config.Trainer.LogprobsFromUpdate = logProbsFromUpdate;
        Assert.Equal(StopReason.Completed, RlTrainer.Start(backend, config, _model.RunDir($"costs-{logProbsFromUpdate}")).Run().Reason);
        var calls = counting.Calls;
        Assert.Equal(2, calls["create_model"]); // the policy and the frozen reference
        Assert.Equal(16, calls["asample"]); // one per response
        Assert.Equal(forwards, calls["forward"]);
        Assert.Equal(2, calls["forward_backward"]); // one per micro-batch
        Assert.Equal(1, calls["optim_step"]);
        Assert.Equal(2, calls["save_weights_for_sampler"]); // before the first rollout and after the step
        Assert.Equal(1, calls["save_weights"]); // the checkpoint
        int queued = calls.Where(kv => kv.Key is not ("create_session" or "session_heartbeat" or "retrieve_future")).Sum(kv => kv.Value);
        Assert.Equal(queued, calls["retrieve_future"]); // every request is a future, polled once when it is ready
    }

    [Fact]
    public void A_snapshot_restores_the_weights_and_the_step_count_after_a_step()
    {
        using var backend = Backend();
        var policy = backend.LoadPolicy(_modelDirUnused, new TrainingSettings(new OptimizerSettings()));
        var rows = backend.Pack([[1, 5, 6]], [[8, 9, 2]], padId: 0);
        var before = policy.Score(rows, 1f);
        var snapshot = policy.Snapshot();
        using (var pass = policy.Forward(rows, 1f))
            pass.Backward([[-1f, -1f, -1f]]);
        policy.ClipGradNorm(0);
        Assert.True(policy.Step(0.05));
        Assert.NotEqual(before, policy.Score(rows, 1f));
        snapshot.Restore();
        Assert.Equal(0, policy.StepCount);
        Assert.Equal(before, policy.Score(rows, 1f));
    }

    [Theory]
    [InlineData("engine=remote", "engine 'remote' is not known")]
    [InlineData("tinker.base_url=", "tinker.base_url is empty")]
    [InlineData("rollout.temperature=0.7", "rollout.temperature=0.7: engine tinker needs 1")]
    [InlineData("tinker.lora_rank=-1", "tinker.lora_rank must be >= 0")]
    public void A_bad_engine_setting_is_refused_naming_the_key(string setting, string message)
    {
        var config = Config();
        ConfigBinder.Set(config, setting);
        var e = Assert.Throws<ArgumentException>(() => TrainConfigValidator.Validate(config));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void The_server_keeps_only_the_newest_answers_and_an_evicted_one_is_a_404_naming_it()
    {
        using var server = new LoopbackServer(_model.ModelDir, _model.RunDir("small-state"), keptFutures: 1);
        using var backend = new TinkerBackend(LoopbackServer.Options("http://localhost"), server.Handler);
        var c = backend.Connection;
        var first = c.Post<UntypedApiFuture>("api/v1/create_model", new CreateModelRequest(c.SessionId, 0, "base", null, null), "create_model");
        var second = c.Post<UntypedApiFuture>("api/v1/create_model", new CreateModelRequest(c.SessionId, 1, "base", null, null), "create_model");
        Assert.NotNull(c.Await<CreateModelResponse>(second.RequestId, "second").ModelId);
        var e = Assert.Throws<TinkerException>(() => c.Await<CreateModelResponse>(first.RequestId, "first"));
        Assert.Contains($"HTTP 404: {{\"detail\":\"retrieve_future: unknown request_id '{first.RequestId}'\"}}", e.Message);
    }

    [Fact]
    public void Try_again_answers_are_polled_until_the_result()
    {
        using var server = new LoopbackServer(_model.ModelDir, _model.RunDir("slow-state"), tryAgainPolls: 2);
        using var slow = new TinkerBackend(LoopbackServer.Options("http://localhost"), server.Handler);
        using var fast = Backend();
        Assert.Equal(StepOnce(fast), StepOnce(slow));
    }
}

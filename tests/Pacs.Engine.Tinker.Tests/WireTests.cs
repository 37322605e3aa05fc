using System.Text.Json.Nodes;

namespace Pacs.Engine.Tinker.Tests;

/// <summary>
/// The client's requests and its parsing of answers, against bodies recorded from the SDK's types and SkyRL-tx's
/// models (fixtures/README.md names the source file of each).
/// </summary>
public sealed class WireTests
{
    private static JsonNode Fixture(string name) => JsonNode.Parse(ScriptedHandler.Fixture(name))!;

    private static void AssertSameJson(JsonNode expected, JsonNode actual, string what) =>
        Assert.True(JsonNode.DeepEquals(expected, actual), $"{what}:\nexpected {expected.ToJsonString()}\nactual   {actual.ToJsonString()}");

    private static TinkerOptions Options => new("http://tinker.test", "tml-key", "Qwen/Qwen3-8B", LoraRank: 32, Retries: 0, HeartbeatInterval: TimeSpan.Zero);

    [Fact]
    public void One_training_round_sends_the_recorded_requests_and_reads_the_recorded_answers()
    {
        var handler = new ScriptedHandler();
        using var backend = new TinkerBackend(Options, handler);
        var policy = (TinkerTrainingModel)backend.LoadPolicy("unused", new TrainingSettings(new OptimizerSettings()));
        Assert.Equal("model-2", policy.ModelId);

        var rows = backend.Pack([[5, 6]], [[7, 8]], padId: 0);
        using var pass = policy.Forward(rows, 1f, withEntropy: true);
        Assert.Equal([-0.25f, -0.125f], pass.Outputs[0]);
        Assert.Null(pass.Entropy); // the hosted API returns none
        pass.Backward([[0.5f, -0.25f]]);
        Assert.Equal(0, policy.ClipGradNorm(1.0)); // no pacs/grad_norm from this server
        Assert.True(policy.Step(0.001));
        Assert.Equal(1, policy.StepCount);

        string checkpoint = Directory.CreateTempSubdirectory("pacs-wire-").FullName;
        try
        {
            policy.SaveState(checkpoint);
            policy.LoadState(checkpoint);
        }
        finally
        {
            Directory.Delete(checkpoint, recursive: true);
        }

        var rollout = backend.CreateRollout(policy);
        rollout.SyncWeights(policy, 1);
        var result = Assert.Single(rollout.Generate([new RolloutRequest([1, 2, 3], 0xAAAAAAAAAAAAAAAA, SamplingParams.Of(1f, 6, [2]))]));
        Assert.Equal([4, 2], result.ResponseIds);
        Assert.Equal([-0.5f, -0.75f], result.LogProbs);
        Assert.Equal(FinishReason.Stop, result.Finish);
        Assert.Equal(1, result.WeightVersion);

        var sent = handler.Requests.Where(r => r.Route != "retrieve_future").ToList();
        Assert.Equal(["create_session", "create_model", "forward", "forward_backward", "optim_step", "save_weights", "load_weights", "save_weights_for_sampler", "asample"],
            sent.Select(r => r.Route));
        var body = sent.ToDictionary(r => r.Route, r => r.Body);
        // The checkpoint name carries a unique suffix (a resumed run saves the same step again; SkyRL-tx refuses a name twice).
        string savedName = body["save_weights"]["path"]!.GetValue<string>();
        Assert.StartsWith("step-000001-", savedName);
        body["save_weights"]["path"] = "step-000001";
        foreach (var route in new[] { "create_session", "create_model", "forward", "forward_backward", "optim_step", "save_weights", "load_weights", "save_weights_for_sampler" })
            AssertSameJson(Fixture(route + "_request.json"), body[route], route);
        AssertSameJson(Fixture("sample_request.json"), body["asample"], "asample");
        Assert.All(handler.Requests.Where(r => r.Route == "retrieve_future"), r => AssertSameJson(Fixture("retrieve_future_request.json"), r.Body, "retrieve_future"));
    }

    [Fact]
    public void A_built_in_loss_is_one_recorded_forward_backward_whose_answer_gives_loss_and_log_probs()
    {
        var handler = new ScriptedHandler { Results = { ["forward_backward"] = "forward_backward_ppo_result.json" } };
        using var backend = new TinkerBackend(Options, handler);
        var policy = (TinkerTrainingModel)backend.LoadPolicy("unused", new TrainingSettings(new OptimizerSettings()));
        var rows = backend.Pack([[5, 6]], [[7, 8]], padId: 0);

        var result = policy.BackwardBuiltIn(rows, new BuiltInLoss(BuiltInLossKind.Ppo, [[-0.5f, -0.75f]], [[0.25f, -0.5f]], 0.8, 1.25));

        Assert.Equal(0.6215, result.Loss);
        Assert.Equal([-0.25f, -0.125f], Assert.Single(result.LogProbs!));
        Assert.Null(result.Entropy); // the hosted API returns none
        Assert.Equal(0, policy.ClipGradNorm(0)); // sent already: nothing left to send, and no norm reported
        var sent = handler.Requests.Where(r => r.Route != "retrieve_future").ToList();
        Assert.Equal(["create_session", "create_model", "forward_backward"], sent.Select(r => r.Route));
        AssertSameJson(Fixture("forward_backward_ppo_request.json"), sent[^1].Body, "forward_backward ppo");
    }

    [Fact]
    public void Try_again_is_polled_again_until_the_result()
    {
        var handler = new ScriptedHandler { BeforeEachResult = "try_again.json" };
        using var backend = new TinkerBackend(Options, handler);
        var policy = (TinkerTrainingModel)backend.LoadPolicy("unused", new TrainingSettings(new OptimizerSettings()));
        Assert.Equal("model-2", policy.ModelId);
        Assert.Equal(2, handler.Requests.Count(r => r.Route == "retrieve_future"));
    }

    [Fact]
    public void A_request_failed_body_is_an_error_naming_the_request_and_its_category()
    {
        var handler = new ScriptedHandler { BeforeEachResult = "request_failed.json" };
        using var backend = new TinkerBackend(Options, handler);
        var e = Assert.Throws<TinkerException>(() => backend.LoadPolicy("unused", new TrainingSettings(new OptimizerSettings())));
        Assert.Contains("create_model of Qwen/Qwen3-8B (request req-7) failed on the server (server): CUDA out of memory", e.Message);
    }

    [Fact]
    public void SkyRL_tx_futures_and_create_model_answers_parse()
    {
        var future = TinkerJson.Read<UntypedApiFuture>(ScriptedHandler.Fixture("skyrl_future_response.json"), "future");
        Assert.Equal("12", future.RequestId);
        var created = TinkerJson.Read<UntypedApiFuture>(ScriptedHandler.Fixture("skyrl_create_model_response.json"), "create_model");
        Assert.Equal(("12", "model_1a2b3c4d"), (created.RequestId, created.ModelId));
        Assert.Equal("model_1a2b3c4d", TinkerJson.Read<CreateModelResponse>(ScriptedHandler.Fixture("skyrl_create_model_output.json"), "result").ModelId);
    }

    [Fact]
    public void Recorded_answers_parse_field_for_field()
    {
        var output = TinkerJson.Read<ForwardBackwardOutput>(ScriptedHandler.Fixture("forward_result.json"), "forward");
        Assert.Equal("ArrayRecord", output.LossFnOutputType);
        Assert.Equal([-1.5f, -0.25f, -0.125f], output.LossFnOutputs[0]["logprobs"].ToFloats());
        Assert.Equal(0.0, output.Metrics["loss:sum"]);
        var sample = TinkerJson.Read<SampleResponse>(ScriptedHandler.Fixture("sample_result.json"), "sample");
        Assert.Equal("stop", sample.Sequences[0].StopReason);
        var session = TinkerJson.Read<CreateSessionResponse>(ScriptedHandler.Fixture("create_session_response.json"), "session");
        Assert.Equal("session-1", session.SessionId);
        var sampler = TinkerJson.Read<SaveWeightsForSamplerResponse>(ScriptedHandler.Fixture("save_weights_for_sampler_result.json"), "sampler");
        Assert.Equal(("sampler-9", null), (sampler.SamplingSessionId, sampler.Path));
        Assert.Null(TinkerJson.Read<OptimStepResponse>(ScriptedHandler.Fixture("optim_step_result.json"), "optim").Metrics);
        var e = Assert.Throws<TinkerException>(() => TinkerJson.Read<SampleResponse>("""{"sequences": 3}""", "tinker asample"));
        Assert.StartsWith("tinker asample: response is not a SampleResponse", e.Message);
    }
}

using Pacs.Rl.Algorithms;
using Pacs.Rl.Config;

namespace Pacs.Rl.Tests.Training;

/// <summary>The `rollout.engine` keys and `algorithm.rollout_correction` in configs: binding, round trips, validation.</summary>
public sealed class RolloutEngineConfigTests : IDisposable
{
    private readonly TinyRun _run = new();

    public void Dispose() => _run.Dispose();

    private TrainConfig Remote(params string[] overrides) => _run.Config("grpo",
        ["rollout.engine=sglang", "rollout.servers=http://127.0.0.1:30000,http://127.0.0.1:30001", "rollout.sync_dir=" + _run.RunDir("sync"), .. overrides]);

    private static string Error(TrainConfig config) => Assert.Throws<ArgumentException>(() => TrainConfigValidator.Validate(config)).Message;

    [Fact]
    public void Servers_are_a_yaml_list_or_a_comma_list_and_round_trip()
    {
        var config = new TrainConfig();
        ConfigBinder.ApplyYaml(config, "rollout:\n  engine: vllm\n  servers: [http://a:8000, http://b:8000]\n  max_inflight: 8\n", "test.yaml");
        Assert.Equal(["http://a:8000", "http://b:8000"], config.Rollout.Servers);
        var again = new TrainConfig();
        ConfigBinder.ApplyYaml(again, ConfigBinder.ToYaml(config), "saved.yaml");
        Assert.Equal(config.Rollout.Servers, again.Rollout.Servers);
        Assert.Equal("vllm", again.Rollout.Engine);
        ConfigBinder.Set(again, "rollout.servers=http://c:1,http://d:2");
        Assert.Equal(["http://c:1", "http://d:2"], again.Rollout.Servers);
        Assert.Contains(ConfigBinder.Knobs(again), k => k.Key == "rollout.servers" && k.Value == "http://c:1,http://d:2");
    }

    [Fact]
    public void Rollout_correction_belongs_to_every_algorithm_and_survives_a_name_change()
    {
        var config = new TrainConfig();
        ConfigBinder.ApplyYaml(config, "algorithm:\n  rollout_correction: tis_sequence\n  rollout_correction_threshold: 3\n  name: gspo\n", "test.yaml");
        Assert.Equal(RolloutCorrectionMode.TisSequence, config.Algorithm.RolloutCorrection);
        Assert.Equal(3, config.Algorithm.RolloutCorrectionThreshold);
        ConfigBinder.Set(config, "algorithm.name=pacs");
        Assert.Equal(RolloutCorrectionMode.TisSequence, config.Algorithm.RolloutCorrection);
        var again = new TrainConfig();
        ConfigBinder.ApplyYaml(again, ConfigBinder.ToYaml(config), "saved.yaml");
        Assert.Equal(RolloutCorrectionMode.TisSequence, again.Algorithm.RolloutCorrection);
        var e = Assert.Throws<FormatException>(() => ConfigBinder.Set(config, "algorithm.rollout_correction=tis"));
        Assert.Contains("algorithm.rollout_correction", e.Message);
        Assert.Contains("mis_sequence", e.Message);
    }

    [Fact]
    public void A_remote_engine_is_checked_before_the_run()
    {
        TrainConfigValidator.Validate(Remote());
        Assert.Contains("rollout.engine 'tgi'", Error(Remote("rollout.engine=tgi")));
        Assert.Contains("trainer.recompute_logprobs", Error(Remote("trainer.recompute_logprobs=false")));
        Assert.Contains("rollout.sync_dir", Error(Remote("rollout.sync_dir=")));
        Assert.Contains("rollout.servers", Error(Remote("rollout.servers=")));
        Assert.Contains("rollout.servers: 'gpu1:8000'", Error(Remote("rollout.servers=gpu1:8000")));
        Assert.Contains("rollout.max_inflight", Error(Remote("rollout.max_inflight=0")));
        Assert.Contains("rollout.request_timeout_s", Error(Remote("rollout.request_timeout_s=0")));
        Assert.Contains("PACS_TEST_UNSET_KEY", Error(Remote("rollout.api_key_env=PACS_TEST_UNSET_KEY")));
        Assert.Contains("rollout.servers is set but rollout.engine is local", Error(Remote("rollout.engine=local")));
    }

    [Fact]
    public void An_openai_server_is_only_for_a_fixed_policy()
    {
        Assert.Contains("rollout.engine=openai cannot load the weights", Error(Remote("rollout.engine=openai")));
        TrainConfigValidator.Validate(Remote("rollout.engine=openai", "trainer.steps=0", "rollout.sync_dir="));
    }
}

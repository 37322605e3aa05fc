using Pacs.Rl.Config;

namespace Pacs.Rl.Tests.Training;

public class ConfigBinderTests
{
    [Fact]
    public void Yaml_overlays_only_the_given_keys()
    {
        var config = new TrainConfig();
        ConfigBinder.ApplyYaml(config, "rollout:\n  group_size: 4\n  temperature: 0.7\nalgorithm:\n  norm_adv_by_std: false\n  name: grpo\n", "t.yaml");
        Assert.Equal(4, config.Rollout.GroupSize);
        Assert.Equal(0.7, config.Rollout.Temperature);
        Assert.Equal("grpo", config.Algorithm.Name);
        Assert.False(Assert.IsType<Pacs.Rl.Algorithms.GrpoOptions>(config.Algorithm.Options).NormAdvByStd);
        Assert.Equal(new TrainConfig().Rollout.BatchPrompts, config.Rollout.BatchPrompts);
    }

    [Fact]
    public void Unknown_key_is_rejected_naming_the_dotted_key()
    {
        var e = Assert.Throws<InvalidDataException>(() => ConfigBinder.ApplyYaml(new TrainConfig(), "rollout:\n  group_sise: 4\n", "t.yaml"));
        Assert.Contains("rollout.group_sise", e.Message);
        Assert.Contains("t.yaml", e.Message);
        var s = Assert.Throws<InvalidDataException>(() => ConfigBinder.Set(new TrainConfig(), "optim.learning_rate=1"));
        Assert.Contains("optim.learning_rate", s.Message);
    }

    [Theory]
    [InlineData("algorithm:\n  name: pacs\n  psi: foo\n", "line 3", "algorithm.psi", "rloo, grpo, none")]
    [InlineData("algorithm:\n  name: grpo\n  loss_agg_mode: tokens\n", "line 3", "algorithm.loss_agg_mode", "token-mean, seq-mean-token-sum")]
    [InlineData("model:\n  dir: m\n  dtype: fp8\n", "line 3", "model.dtype", "auto, bfloat16, float32")]
    public void Enum_values_are_checked_while_binding_naming_file_line_and_choices(string yaml, string line, string key, string choices)
    {
        var e = Assert.Throws<FormatException>(() => ConfigBinder.ApplyYaml(new TrainConfig(), yaml, "bad.yaml"));
        Assert.StartsWith($"bad.yaml: {line}: ", e.Message);
        Assert.Contains(key, e.Message);
        Assert.Contains(choices, e.Message);
    }

    [Theory]
    [InlineData("optim:\n  lr: 0.001\n  schedule: cosin\n", "line 3", "optim.schedule")]
    [InlineData("task:\n  prompt_split: sometimes\n", "line 2", "task.prompt_split")]
    [InlineData("task:\n  name: nosuchtask\n", "line 2", "nosuchtask")]
    [InlineData("rollout:\n  group_size: 0\n", "line 2", "rollout.group_size")]
    public void Checks_after_binding_name_the_file_and_line_of_the_bad_value(string yaml, string line, string mention)
    {
        var config = new TrainConfig();
        ConfigBinder.ApplyYaml(config, yaml, "bad.yaml");
        config.Model.Dir = Path.GetTempPath();
        var e = Assert.ThrowsAny<ArgumentException>(() => TrainConfigValidator.Validate(config));
        Assert.StartsWith($"bad.yaml: {line}: ", e.Message);
        Assert.Contains(mention, e.Message);

        var set = new TrainConfig();
        ConfigBinder.Set(set, "optim.schedule=cosin");
        set.Model.Dir = Path.GetTempPath();
        Assert.StartsWith("--set: optim.schedule", Assert.ThrowsAny<ArgumentException>(() => TrainConfigValidator.Validate(set)).Message);
    }

    [Fact]
    public void Model_dtype_defaults_to_the_checkpoints_and_binds_bfloat16()
    {
        Assert.Equal(Pacs.Engine.WeightDtype.Auto, new TrainConfig().Model.Dtype);
        var config = new TrainConfig();
        ConfigBinder.ApplyYaml(config, "model:\n  dtype: bfloat16\n", "a.yaml");
        Assert.Equal(Pacs.Engine.WeightDtype.Bfloat16, config.Model.Dtype);
        Assert.Contains("dtype: \"bfloat16\"", ConfigBinder.ToYaml(config));
    }

    [Fact]
    public void Wrong_type_is_rejected_naming_the_key()
    {
        var e = Assert.Throws<FormatException>(() => ConfigBinder.ApplyYaml(new TrainConfig(), "rollout:\n  group_size: four\n", "t.yaml"));
        Assert.Contains("rollout.group_size", e.Message);
        Assert.Contains("integer", e.Message);
        var b = Assert.Throws<FormatException>(() => ConfigBinder.Set(new TrainConfig(), "trainer.recompute_logprobs=yes"));
        var a = Assert.Throws<InvalidDataException>(() => ConfigBinder.Set(new TrainConfig(), "algorithm.clip_eps_low=0.1"));
        Assert.Contains("algorithm.clip_eps_low", a.Message); // pacs has no ratio clip
        var n = Assert.Throws<InvalidDataException>(() => ConfigBinder.Set(new TrainConfig(), "algorithm.name=ppo2"));
        Assert.Contains("algorithm.name", n.Message);
        Assert.Contains("trainer.recompute_logprobs", b.Message);
        Assert.Throws<InvalidDataException>(() => ConfigBinder.ApplyYaml(new TrainConfig(), "rollout: 3\n", "t.yaml"));
    }

    [Fact]
    public void Set_overrides_any_key()
    {
        var config = new TrainConfig();
        ConfigBinder.Set(config, "optim.lr=3e-4");
        ConfigBinder.Set(config, "task.name=countdown");
        ConfigBinder.Set(config, "trainer.seed=-7");
        Assert.Equal(3e-4, config.Optim.Lr);
        Assert.Equal("countdown", config.Task.Name);
        Assert.Equal(-7, config.Trainer.Seed);
        Assert.Throws<ArgumentException>(() => ConfigBinder.Set(config, "optim.lr"));
        Assert.Throws<InvalidDataException>(() => ConfigBinder.Set(config, "optim=1"));
    }

    [Fact]
    public void Saved_yaml_round_trips_every_knob_with_its_doc()
    {
        var config = new TrainConfig();
        ConfigBinder.Set(config, "optim.lr=0.000123");
        ConfigBinder.Set(config, "model.dir=some \"dir\"");
        ConfigBinder.Set(config, "algorithm.name=grpo");
        ConfigBinder.Set(config, "algorithm.kl_loss_coef=0.05");
        string yaml = ConfigBinder.ToYaml(config);
        Assert.Contains("# Peak learning rate of the policy.", yaml);
        var reloaded = new TrainConfig();
        ConfigBinder.ApplyYaml(reloaded, yaml, "saved.yaml");
        Assert.Equal(ConfigBinder.Knobs(config).ToList(), ConfigBinder.Knobs(reloaded).ToList());
        Assert.All(ConfigBinder.Knobs(config), k => Assert.False(string.IsNullOrWhiteSpace(k.Doc)));
    }

    [Fact]
    public void Shipped_configs_load_and_name_their_algorithm()
    {
        string root = RepoRoot.Find();
        foreach (var name in new[] { "pacs", "grpo", "ppo" })
        {
            var config = ConfigBinder.LoadFile<TrainConfig>(Path.Combine(root, "configs", $"arith-{name}.yaml"));
            Assert.Equal(name, config.Algorithm.Name);
            // Every knob is spelled out in the shipped file.
            string text = File.ReadAllText(Path.Combine(root, "configs", $"arith-{name}.yaml"));
            foreach (var (key, _, _) in ConfigBinder.Knobs(config))
                Assert.Contains(key[(key.LastIndexOf('.') + 1)..] + ":", text);
        }
    }

    [Fact]
    public void Lora_target_modules_bind_from_a_yaml_list_and_an_unknown_module_names_key_and_line()
    {
        var config = new TrainConfig();
        ConfigBinder.ApplyYaml(config, "model:\n  lora:\n    rank: 8\n    target_modules: [q_proj, v_proj]\n", "a.yaml");
        Assert.Equal(["q_proj", "v_proj"], config.Model.Lora.Targets());
        Assert.Equal(8, config.Model.Lora.ToSettings(0)!.Rank);
        ConfigBinder.ApplyYaml(config, "model:\n  dir: \"" + RepoRoot.Find().Replace("\\", "/") + "\"\n  lora:\n    target_modules:\n      - q_proj\n      - lm_head\n", "b.yaml");
        var e = Assert.Throws<ArgumentException>(() => TrainConfigValidator.Validate(config));
        Assert.Equal("b.yaml: line 5: model.lora.target_modules: unknown target module 'lm_head' (known: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)", e.Message);
        ConfigBinder.Set(config, "model.lora.target_modules=q_proj");
        ConfigBinder.Set(config, "model.lora.dropout=1");
        Assert.Contains("--set: model.lora.dropout must be in [0, 1), got 1", Assert.Throws<ArgumentException>(() => TrainConfigValidator.Validate(config)).Message);
        // Rank 0 (the default) is full fine-tuning.
        Assert.Null(new TrainConfig().Model.Lora.ToSettings(0));
    }
}

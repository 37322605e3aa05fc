using Pacs.Rl.Algorithms;

namespace Pacs.Rl.Tests.Algorithms;

public class AlgorithmRegistryTests
{
    [Fact]
    public void EveryNameCreatesItsAlgorithmWithDefaults()
    {
        Assert.Equal(["pacs", "grpo", "dr_grpo", "rloo", "reinforce_plus_plus", "ppo", "gspo", "cispo", "dapo", "rebel", "asymre", "astar_po", "vineppo"], AlgorithmRegistry.Names);
        foreach (var name in AlgorithmRegistry.Names)
        {
            var algorithm = AlgorithmRegistry.Create(name);
            Assert.Equal(name, algorithm.Name);
            Assert.IsType(AlgorithmRegistry.OptionsType(name), AlgorithmRegistry.DefaultOptions(name));
        }
        Assert.Equal(["pacs", "rebel"], AlgorithmRegistry.Names.Where(n => AlgorithmRegistry.Create(n).NeedsWholeGroups));
        Assert.Equal(["ppo"], AlgorithmRegistry.Names.Where(n => AlgorithmRegistry.Create(n).NeedsCritic));
    }

    [Fact]
    public void DrGrpoDefaultsDropTheStdAndUseTheConstantNormaliser()
    {
        var options = new DrGrpoOptions();
        Assert.False(options.NormAdvByStd);
        Assert.Equal(LossAggMode.SeqMeanTokenSumNorm, options.LossAggMode);
        Assert.True(new GrpoOptions().NormAdvByStd);
    }

    [Fact]
    public void RejectsUnknownNamesWrongOptionTypesAndBadKnobs()
    {
        Assert.Contains("not one of", Assert.Throws<ArgumentException>(() => AlgorithmRegistry.Create("dpo")).Message);
        Assert.Throws<ArgumentException>(() => AlgorithmRegistry.Create("grpo", new RlooOptions()));
        Assert.Contains("dual_clip_c", Assert.Throws<ArgumentException>(() => AlgorithmRegistry.Create("rloo", new RlooOptions { DualClipC = 0.5 })).Message);
    }

    [Fact]
    public void Enum_options_are_parsed_once_from_their_config_names_and_written_back_by_them()
    {
        var config = new Pacs.Rl.Config.TrainConfig();
        Pacs.Rl.Config.ConfigBinder.Set(config, "algorithm.name=grpo");
        var e = Assert.Throws<FormatException>(() => Pacs.Rl.Config.ConfigBinder.Set(config, "algorithm.loss_agg_mode=sum"));
        Assert.Contains("algorithm.loss_agg_mode", e.Message);
        Assert.Contains("token-mean, seq-mean-token-sum, seq-mean-token-mean, seq-mean-token-sum-norm", e.Message);
        Assert.Contains("kl_loss_type", Assert.Throws<FormatException>(() => Pacs.Rl.Config.ConfigBinder.Set(config, "algorithm.kl_loss_type=k9")).Message);
        Pacs.Rl.Config.ConfigBinder.Set(config, "algorithm.kl_loss_type=k3");
        Assert.Equal(KlEstimator.K3, ((GrpoOptions)config.Algorithm.Options).KlLossType);
        string yaml = Pacs.Rl.Config.ConfigBinder.ToYaml(config);
        Assert.Contains("kl_loss_type: \"low_var_kl\"", yaml);
        Assert.Contains("loss_agg_mode: \"token-mean\"", yaml);
        var back = new Pacs.Rl.Config.TrainConfig();
        Pacs.Rl.Config.ConfigBinder.ApplyYaml(back, yaml, "saved");
        Assert.Equal(yaml, Pacs.Rl.Config.ConfigBinder.ToYaml(back));
    }

    [Fact]
    public void Every_option_of_every_algorithm_is_documented()
    {
        foreach (var name in AlgorithmRegistry.Names)
        {
            var config = new Pacs.Rl.Config.TrainConfig();
            Pacs.Rl.Config.ConfigBinder.Set(config, "algorithm.name=" + name);
            Assert.All(Pacs.Rl.Config.ConfigBinder.Knobs(config).Where(k => k.Key.StartsWith("algorithm.", StringComparison.Ordinal)), k => Assert.False(string.IsNullOrWhiteSpace(k.Doc), k.Key));
        }
    }

    [Fact]
    public void OptionsBindFromUnderscoredYaml()
    {
        var config = new Pacs.Rl.Config.TrainConfig();
        Pacs.Rl.Config.ConfigBinder.ApplyYaml(config, "algorithm:\n  name: grpo\n  clip_eps_low: 0.1\n  clip_eps_high: 0.28\n  loss_agg_mode: seq-mean-token-sum\n  kl_loss_coef: 0.001\n  norm_adv_by_std: false\n", "test.yaml");
        var grpo = (GrpoOptions)config.Algorithm.Options;
        Assert.Equal(0.1, grpo.ClipEpsLow);
        Assert.Equal(0.28, grpo.ClipEpsHigh);
        Assert.Equal(LossAggMode.SeqMeanTokenSum, grpo.LossAggMode);
        Assert.False(grpo.NormAdvByStd);
        Assert.True(AlgorithmRegistry.Create("grpo", grpo).NeedsReference);
        Pacs.Rl.Config.ConfigBinder.ApplyYaml(config, "algorithm:\n  name: pacs\n  beta: 2.0\n  reference: initial\n  psi: grpo\n  weights: positive_only\n", "test.yaml");
        var pacs = (PacsOptions)config.Algorithm.Options;
        Assert.Equal(2.0, pacs.Beta);
        Assert.Equal(PacsReference.Initial, pacs.Reference);
        Assert.Equal(PacsWeights.PositiveOnly, pacs.Weights);
        Assert.Equal(PacsReference.Rollout, new PacsOptions().Reference);
        Assert.True(AlgorithmRegistry.Create("pacs", pacs).NeedsReference);
        var bad = Assert.Throws<FormatException>(() => Pacs.Rl.Config.ConfigBinder.ApplyYaml(config, "algorithm:\n  name: pacs\n  psi: gae\n", "test.yaml"));
        Assert.Contains("test.yaml: line 3", bad.Message);
        Assert.Contains("rloo, grpo, none", bad.Message);
    }
}

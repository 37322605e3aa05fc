using Pacs.Rl.Algorithms;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

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
        Assert.Equal(LossAggregation.SeqMeanTokenSumNorm, options.LossAggMode);
        Assert.True(new GrpoOptions().NormAdvByStd);
    }

    [Fact]
    public void RejectsUnknownNamesWrongOptionTypesAndBadKnobs()
    {
        Assert.Contains("not one of", Assert.Throws<ArgumentException>(() => AlgorithmRegistry.Create("dpo")).Message);
        Assert.Throws<ArgumentException>(() => AlgorithmRegistry.Create("grpo", new RlooOptions()));
        Assert.Contains("loss_agg_mode", Assert.Throws<ArgumentException>(() => AlgorithmRegistry.Create("grpo", new GrpoOptions { LossAggMode = "sum" })).Message);
        Assert.Contains("dual_clip_c", Assert.Throws<ArgumentException>(() => AlgorithmRegistry.Create("rloo", new RlooOptions { DualClipC = 0.5 })).Message);
        Assert.Contains("kl_loss_type", Assert.Throws<ArgumentException>(() => AlgorithmRegistry.Create("grpo", new GrpoOptions { KlLossType = "k9" })).Message);
    }

    [Fact]
    public void OptionsBindFromUnderscoredYaml()
    {
        var deserializer = new DeserializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build();
        var grpo = (GrpoOptions)deserializer.Deserialize("clip_eps_low: 0.1\nclip_eps_high: 0.28\nloss_agg_mode: seq-mean-token-sum\nkl_loss_coef: 0.001\nnorm_adv_by_std: false\n", AlgorithmRegistry.OptionsType("grpo"))!;
        Assert.Equal(0.1, grpo.ClipEpsLow);
        Assert.Equal(0.28, grpo.ClipEpsHigh);
        Assert.Equal("seq-mean-token-sum", grpo.LossAggMode);
        Assert.False(grpo.NormAdvByStd);
        Assert.True(AlgorithmRegistry.Create("grpo", grpo).NeedsReference);
        var pacs = (PacsOptions)deserializer.Deserialize("beta: 2.0\nreference: initial\npsi: grpo\nweights: positive_only\n", typeof(PacsOptions))!;
        Assert.Equal(2.0, pacs.Beta);
        Assert.Equal("initial", pacs.Reference);
        Assert.Equal("rollout", new PacsOptions().Reference);
        Assert.True(AlgorithmRegistry.Create("pacs", pacs).NeedsReference);
    }
}

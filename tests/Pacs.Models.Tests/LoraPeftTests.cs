using Pacs.Tensors;

namespace Pacs.Models.Tests;

/// <summary>PEFT adapter folders: written, read back, read from the fixture script, and bad ones refused.</summary>
public class LoraPeftTests
{
    private static string Base => TestPaths.Fixture("llama_tied_gqa");

    [Fact]
    public void SavedAdapterReadsBackExactly()
    {
        var (model, adapter) = LoraTests.ModelWithAdapter(LoraTargets.Parse("k_proj gate_proj down_proj", "t"));
        string dir = TestPaths.TempDir();
        PeftAdapter.Save(adapter, dir, "some/base");
        var (config, baseModel) = PeftAdapter.ReadConfig(dir);
        Assert.Equal("some/base", baseModel);
        Assert.Equal(adapter.Config.Rank, config.Rank);
        Assert.Equal(adapter.Config.Targets, config.Targets);
        var back = PeftAdapter.Load(dir, model);
        Assert.Equal(adapter.Parameters.Select(p => p.Key), back.Parameters.Select(p => p.Key));
        for (int i = 0; i < adapter.Parameters.Count; i++) Assert.Equal(adapter.Parameters[i].Value.Data, back.Parameters[i].Value.Data);
        using var file = SafetensorsFile.Open(Path.Combine(dir, PeftAdapter.WeightsFileName));
        var q = file.Entry("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight");
        Assert.Equal([model.Config.HiddenSize, adapter.Config.Rank], q.Shape);
        Directory.Delete(dir, true);
    }

    /// <summary>
    /// The adapter Pacs writes for a fixed set of factors is, byte for byte, the committed
    /// tests/fixtures/lora/pacs_written, whose logits tools/make_lora_fixtures.py checks with PEFT's equations; and
    /// Pacs's logits with it are the committed ones. PACS_WRITE_LORA_FIXTURE=1 rewrites that folder.
    /// </summary>
    [Fact]
    public void PacsWrittenAdapterIsTheCommittedFixture()
    {
        var model = LoraTests.FrozenBase(Base);
        var rng = new SplitMix64(99);
        model.Adapter = LoraAdapter.Build(model, new LoraConfig(3, 6, 0.05, LoraTargets.Parse("q_proj,v_proj,o_proj,up_proj,down_proj", "t")), 0,
            (_, _, r, c) => Enumerable.Range(0, r * c).Select(_ => (float)(rng.NextGaussian() / Math.Sqrt(c))).ToArray(),
            (_, _, r, c) => Enumerable.Range(0, r * c).Select(_ => (float)(0.1 * rng.NextGaussian())).ToArray());
        int[] tokens = [1, 5, 9, 13, 17, 21, 25, 29, 1, 60, 50, 40, 30, 20, 10, 0];
        float[] logits;
        using (Autograd.NoGrad()) logits = model.Forward(tokens, 2, 8, [8, 6]).Data;
        string committed = LoraTests.LoraFixture("pacs_written");
        bool rewrite = Environment.GetEnvironmentVariable("PACS_WRITE_LORA_FIXTURE") == "1";
        string dir = rewrite ? committed : TestPaths.TempDir();
        PeftAdapter.Save(model.Adapter, dir, "tests/fixtures/models/llama_tied_gqa");
        if (rewrite)
        {
            SafetensorsFile.Write(Path.Combine(dir, "pacs_logits.safetensors"), [new NamedArray("logits", [16, model.Config.VocabSize], logits)]);
            File.WriteAllText(Path.Combine(dir, "fixture.json"), "{\"tokens\": [" + string.Join(", ", tokens) + "], \"batch\": 2, \"seq_len\": 8, \"valid_lengths\": [8, 6]}\n");
            return;
        }
        foreach (var name in new[] { PeftAdapter.ConfigFileName, PeftAdapter.WeightsFileName })
            Assert.True(File.ReadAllBytes(Path.Combine(committed, name)).SequenceEqual(File.ReadAllBytes(Path.Combine(dir, name))), $"{name} differs from the committed fixture");
        using var expected = SafetensorsFile.Open(Path.Combine(committed, "pacs_logits.safetensors"));
        Assert.Equal(expected.ReadFloat32("logits"), logits);
        Directory.Delete(dir, true);
    }

    private static string CopyFixture(string name)
    {
        string dir = TestPaths.TempDir();
        foreach (var file in Directory.GetFiles(LoraTests.LoraFixture(name))) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        return dir;
    }

    [Theory]
    [InlineData("\"target_modules\": [", "\"target_modules\": [\"lm_head\", ", "unknown target module 'lm_head'")]
    [InlineData("\"peft_type\": \"LORA\"", "\"peft_type\": \"IA3\"", "peft_type 'IA3' is not LORA")]
    [InlineData("\"use_dora\": false", "\"use_dora\": true", "use_dora is not supported")]
    [InlineData("\"r\": 4", "\"r\": 5", "has shape [4, 32], the base model and r imply [5, 32]")]
    public void BadAdapterConfigIsOneClearError(string find, string replace, string message)
    {
        string dir = CopyFixture("llama_all_targets");
        string path = Path.Combine(dir, PeftAdapter.ConfigFileName);
        File.WriteAllText(path, File.ReadAllText(path).Replace(find, replace));
        var e = Assert.ThrowsAny<Exception>(() => PeftAdapter.Load(dir, LoraTests.FrozenBase(Base)));
        Assert.Contains(message, e.Message);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void AdapterForAnotherShapeIsRefused()
    {
        string dir = CopyFixture("qwen3_all_targets");
        var e = Assert.Throws<InvalidDataException>(() => PeftAdapter.Load(dir, LoraTests.FrozenBase(Base)));
        Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight' has shape [64, 8], the base model and r imply [32, 8]", e.Message);
        Directory.Delete(dir, true);
    }
}

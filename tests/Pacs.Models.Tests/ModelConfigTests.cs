using System.Text.Json;

namespace Pacs.Models.Tests;

public class ModelConfigTests
{
    private static ModelConfig Parse(string json) => ModelConfig.Parse(JsonDocument.Parse(json).RootElement, "config.json");

    private const string Qwen2 = """
        {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864,
         "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2, "vocab_size": 151936,
         "rope_theta": 1000000.0, "rms_norm_eps": 1e-06, "tie_word_embeddings": true, "use_sliding_window": false,
         "sliding_window": 32768, "max_position_embeddings": 32768, "bos_token_id": 151643, "eos_token_id": 151643,
         "hidden_act": "silu", "torch_dtype": "bfloat16"}
        """;

    [Fact]
    public void ParsesQwen2WithDefaults()
    {
        var c = Parse(Qwen2);
        Assert.Equal("qwen2", c.ModelType);
        Assert.Equal(64, c.HeadDim);
        Assert.True(c.QkvBias);
        Assert.False(c.OutputBias);
        Assert.False(c.QkNorm);
        Assert.Equal(7, c.KvGroups);
        Assert.Equal([151643], c.EosTokenIds);
    }

    [Fact]
    public void ParsesLlama3ScalingAndEosList()
    {
        var c = Parse("""
            {"architectures": ["LlamaForCausalLM"], "hidden_size": 2048, "intermediate_size": 8192, "num_attention_heads": 32,
             "num_hidden_layers": 16, "num_key_value_heads": 8, "vocab_size": 128256, "rope_theta": 500000.0,
             "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                              "original_max_position_embeddings": 8192, "rope_type": "llama3"},
             "eos_token_id": [128001, 128008, 128009], "bos_token_id": 128000, "tie_word_embeddings": true,
             "max_position_embeddings": 131072}
            """);
        Assert.Equal("llama", c.ModelType);
        Assert.Equal(new RopeScaling("llama3", 32, 1, 4, 8192), c.RopeScaling);
        Assert.Equal([128001, 128008, 128009], c.EosTokenIds);
        Assert.False(c.QkvBias);
    }

    [Fact]
    public void SaveAndLoadRoundTrip()
    {
        string dir = TestPaths.TempDir();
        try
        {
            foreach (var c in new[] { Parse(Qwen2), ModelConfig.Load(TestPaths.Fixture("qwen3_qknorm")), ModelConfig.Load(TestPaths.Fixture("llama3_rope_scaling")) })
            {
                c.Save(dir);
                var back = ModelConfig.Load(dir);
                Assert.Equal(c with { EosTokenIds = [] }, back with { EosTokenIds = [] });
                Assert.Equal(c.EosTokenIds, back.EosTokenIds);
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("\"architectures\": [\"GPT2LMHeadModel\"]", typeof(NotSupportedException), "architectures")]
    [InlineData("\"model_type\": \"mistral\"", typeof(NotSupportedException), "model_type")]
    [InlineData("\"num_attention_heads\": 5", typeof(InvalidDataException), "hidden_size")]
    [InlineData("\"num_key_value_heads\": 3", typeof(InvalidDataException), "num_key_value_heads")]
    [InlineData("\"vocab_size\": \"big\"", typeof(InvalidDataException), "vocab_size")]
    [InlineData("\"hidden_act\": \"gelu\"", typeof(NotSupportedException), "hidden_act")]
    [InlineData("\"use_sliding_window\": true", typeof(NotSupportedException), "use_sliding_window")]
    [InlineData("\"eos_token_id\": 999999", typeof(InvalidDataException), "eos_token_id")]
    [InlineData("\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}", typeof(NotSupportedException), "rope_scaling")]
    public void RejectsBadFieldsNamingThem(string replacement, Type exception, string field)
    {
        string key = replacement[..(replacement.IndexOf(':'))];
        using var doc = JsonDocument.Parse(Qwen2);
        var props = doc.RootElement.EnumerateObject().Where(p => "\"" + p.Name + "\"" != key).Select(p => $"\"{p.Name}\": {p.Value.GetRawText()}");
        if (key == "\"architectures\"") props = props.Where(p => !p.StartsWith("\"model_type\"", StringComparison.Ordinal));
        string json = "{" + string.Join(", ", props.Append(replacement)) + "}";
        var e = Assert.Throws(exception, () => Parse(json));
        Assert.Contains("config.json", e.Message);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void MissingFileAndBadJson()
    {
        string dir = TestPaths.TempDir();
        try
        {
            Assert.Throws<FileNotFoundException>(() => ModelConfig.Load(dir));
            File.WriteAllText(Path.Combine(dir, "config.json"), "{ not json");
            var e = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(dir));
            Assert.Contains("config.json", e.Message);
            File.WriteAllText(Path.Combine(dir, "config.json"), "{\"model_type\": \"llama\", \"vocab_size\": 10}");
            e = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(dir));
            Assert.Contains("hidden_size", e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

using System.Text;
using Pacs.Tensors;

namespace Pacs.Models.Tests;

public class CheckpointTests
{
    private static ModelConfig SmallConfig(string type = "qwen2", bool tied = false) => new()
    {
        ModelType = type,
        VocabSize = 40,
        HiddenSize = 16,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 4,
        IntermediateSize = 24,
        TieWordEmbeddings = tied,
        QkvBias = type == "qwen2",
        QkNorm = type == "qwen3",
        MaxPositionEmbeddings = 64,
        BosTokenId = 1,
        EosTokenIds = [2, 3],
    };

    [Theory]
    [InlineData("qwen2", false, 1L << 30)]
    [InlineData("qwen3", true, 4000L)]
    [InlineData("llama", false, 3000L)]
    public void SaveLoadRoundTripsExactly(string type, bool tied, long shardBytes)
    {
        var model = new Transformer(SmallConfig(type, tied), seed: 3);
        foreach (var (_, p) in model.Parameters) for (int i = 0; i < p.Numel; i++) p.Data[i] += 0.001f * (i % 7); // norms/biases too
        string dir = TestPaths.TempDir();
        try
        {
            model.Save(dir, shardBytes);
            bool sharded = File.Exists(Path.Combine(dir, SafetensorsCheckpoint.IndexFileName));
            Assert.Equal(shardBytes < 1 << 20, sharded);
            Assert.NotEqual(sharded, File.Exists(Path.Combine(dir, SafetensorsCheckpoint.SingleFileName)));
            var loaded = Transformer.Load(dir);
            Assert.Equal(model.Config with { EosTokenIds = [] }, loaded.Config with { EosTokenIds = [] });
            Assert.Equal(model.Config.EosTokenIds, loaded.Config.EosTokenIds);
            Assert.Equal(model.Parameters.Select(p => p.Key), loaded.Parameters.Select(p => p.Key));
            for (int i = 0; i < model.Parameters.Count; i++)
                Assert.Equal(model.Parameters[i].Value.Data, loaded.Parameters[i].Value.Data);
            // Saving again unsharded replaces the shards.
            loaded.Save(dir);
            Assert.False(File.Exists(Path.Combine(dir, SafetensorsCheckpoint.IndexFileName)));
            Assert.Empty(Directory.GetFiles(dir, "model-*-of-*.safetensors"));
            Assert.Equal(model.Embed.Data, Transformer.Load(dir).Embed.Data);
            Assert.Empty(Directory.GetFiles(dir, "*.tmp-*"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void SeededInitIsDeterministicWithHfStatistics()
    {
        var a = new Transformer(SmallConfig(), seed: 9);
        var b = new Transformer(SmallConfig(), seed: 9);
        var c = new Transformer(SmallConfig(), seed: 10);
        Assert.Equal(a.Embed.Data, b.Embed.Data);
        Assert.NotEqual(a.Embed.Data, c.Embed.Data);
        var w = a.Layers[0].GateProj.Data;
        double mean = w.Average(), std = Math.Sqrt(w.Select(x => (x - mean) * (x - mean)).Average());
        Assert.InRange(std, 0.018, 0.022);
        Assert.All(a.Layers[0].InputNorm.Data, x => Assert.Equal(1f, x));
        Assert.All(a.Layers[0].QBias!.Data, x => Assert.Equal(0f, x));
        Assert.Equal(a.ParameterCount, a.Parameters.Sum(p => (long)p.Value.Numel));
    }

    [Fact]
    public void ReadsF16AndBF16WithRounding()
    {
        string dir = TestPaths.TempDir();
        try
        {
            float[] values = [1f, -2.5f, 0.1f, 3.14159f, 65504f, 1e-3f];
            string f16 = Path.Combine(dir, "f16.safetensors"), bf16 = Path.Combine(dir, "bf16.safetensors");
            SafetensorsFile.Write(f16, [new NamedArray("x", [2, 3], values)], SafetensorsDtype.F16);
            SafetensorsFile.Write(bf16, [new NamedArray("x", [2, 3], values)], SafetensorsDtype.BF16);
            using (var f = SafetensorsFile.Open(f16))
            {
                Assert.Equal(SafetensorsDtype.F16, f.Entry("x").Dtype);
                Assert.Equal(values.Select(v => (float)(Half)v).ToArray(), f.ReadFloat32("x"));
            }
            using (var f = SafetensorsFile.Open(bf16))
            {
                var read = f.ReadFloat32("x");
                for (int i = 0; i < values.Length; i++) Assert.True(Math.Abs(read[i] - values[i]) <= Math.Abs(values[i]) / 256, $"{values[i]} -> {read[i]}");
                Assert.Equal(0.10009765625f, read[2]); // 0.1 rounds to nearest-even bf16 0x3DCD
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void TruncatedAndMalformedFilesFailWithOneLineNamingTheFile()
    {
        string dir = TestPaths.TempDir();
        try
        {
            string good = Path.Combine(dir, "good.safetensors");
            SafetensorsFile.Write(good, [new NamedArray("a.weight", [4, 4], new float[16])]);
            byte[] bytes = File.ReadAllBytes(good);

            string truncated = Path.Combine(dir, "truncated.safetensors");
            File.WriteAllBytes(truncated, bytes[..^8]);
            var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(truncated));
            Assert.Contains("truncated.safetensors", e.Message);
            Assert.Contains("a.weight", e.Message);

            string tiny = Path.Combine(dir, "tiny.safetensors");
            File.WriteAllBytes(tiny, [1, 2, 3]);
            Assert.Contains("tiny.safetensors", Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(tiny)).Message);

            string header = Path.Combine(dir, "header.safetensors");
            var bad = (byte[])bytes.Clone();
            bad[8] = (byte)'X';
            File.WriteAllBytes(header, bad);
            e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(header));
            Assert.Contains("header.safetensors: bad header", e.Message);

            string huge = Path.Combine(dir, "huge.safetensors");
            var h = (byte[])bytes.Clone();
            BitConverter.GetBytes(1UL << 40).CopyTo(h, 0);
            File.WriteAllBytes(huge, h);
            Assert.Contains("huge.safetensors", Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(huge)).Message);

            string dtype = Path.Combine(dir, "dtype.safetensors");
            File.WriteAllBytes(dtype, Encoding.UTF8.GetBytes(Encoding.Latin1.GetString(bytes).Replace("\"F32\"", "\"I64\"")).Select(b => b).ToArray());
            var ns = Assert.Throws<NotSupportedException>(() => SafetensorsFile.Open(dtype));
            Assert.Contains("a.weight", ns.Message);
            Assert.Contains("I64", ns.Message);

            Assert.Throws<FileNotFoundException>(() => SafetensorsFile.Open(Path.Combine(dir, "absent.safetensors")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void CheckpointMismatchesNameTheTensor()
    {
        string dir = TestPaths.TempDir();
        try
        {
            var model = new Transformer(SmallConfig(), seed: 1);
            model.Save(dir);
            var tensors = model.Parameters.Select(p => new NamedArray(p.Key, p.Value.Shape, p.Value.Data)).ToList();

            // Wrong shape.
            var wrong = tensors.Select(t => t.Name == "model.layers.1.mlp.up_proj.weight" ? new NamedArray(t.Name, [12, 32], t.Data) : t).ToList();
            SafetensorsCheckpoint.Save(dir, wrong);
            var e = Assert.Throws<InvalidDataException>(() => Transformer.Load(dir));
            Assert.Contains("model.layers.1.mlp.up_proj.weight", e.Message);
            Assert.Contains("[12, 32]", e.Message);

            // Missing tensor.
            SafetensorsCheckpoint.Save(dir, tensors.Where(t => t.Name != "model.layers.0.self_attn.k_proj.bias").ToList());
            e = Assert.Throws<InvalidDataException>(() => Transformer.Load(dir));
            Assert.Contains("model.layers.0.self_attn.k_proj.bias", e.Message);

            // Unexpected tensor (config says no q_norm).
            SafetensorsCheckpoint.Save(dir, [.. tensors, new NamedArray("model.layers.0.self_attn.q_norm.weight", [4], new float[4])]);
            e = Assert.Throws<InvalidDataException>(() => Transformer.Load(dir));
            Assert.Contains("q_norm", e.Message);

            // Missing shard.
            SafetensorsCheckpoint.Save(dir, tensors, maxShardBytes: 3000);
            var shard = Directory.GetFiles(dir, "model-00002-of-*.safetensors").Single();
            File.Delete(shard);
            var fnf = Assert.Throws<FileNotFoundException>(() => Transformer.Load(dir));
            Assert.Contains(Path.GetFileName(shard), fnf.Message);

            // No weights at all.
            foreach (var f in Directory.GetFiles(dir, "*.safetensors*")) File.Delete(f);
            Assert.Throws<FileNotFoundException>(() => Transformer.Load(dir));
            Assert.Throws<DirectoryNotFoundException>(() => Transformer.Load(Path.Combine(dir, "nope")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

public class LoadMemoryTests
{
    [Theory]
    [InlineData("stories260K")]
    [InlineData("verl-tiny-llama-bf16")]
    public void LoadingAllocatesAtMost1Point3TimesTheFloat32Weights(string name)
    {
        Transformer.Load(TestPaths.Models(name)); // warm up JIT and statics
        long before = GC.GetAllocatedBytesForCurrentThread();
        var model = Transformer.Load(TestPaths.Models(name));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long weights = model.ParameterCount * sizeof(float);
        Assert.True(allocated <= 1.3 * weights, $"{name}: allocated {allocated} bytes for {weights} bytes of float32 weights");
    }
}

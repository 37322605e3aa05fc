using System.Text.Json;
using Pacs.Tensors;

namespace Pacs.Models.Tests;

/// <summary>LoRA against tools/make_lora_fixtures.py (PyTorch), finite differences, and the base model itself.</summary>
public class LoraTests
{
    private sealed record Fixture(int[] Tokens, int Batch, int SeqLen, int[] ValidLengths, int[] Targets, float[] LossMask,
        float Temperature, double Loss, string Base);

    internal static string LoraFixture(string name) => Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "lora", name);

    private static Fixture ReadFixture(string dir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "fixture.json")));
        var r = doc.RootElement;
        int[] Ints(string k) => r.GetProperty(k).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        return new Fixture(Ints("tokens"), r.GetProperty("batch").GetInt32(), r.GetProperty("seq_len").GetInt32(), Ints("valid_lengths"),
            Ints("targets"), r.GetProperty("loss_mask").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray(),
            (float)r.GetProperty("temperature").GetDouble(), r.GetProperty("loss").GetDouble(),
            Path.Combine(TestPaths.RepoRoot, r.GetProperty("base").GetString()!));
    }

    private static void AssertClose(float[] expected, float[] actual, string what, double tolerance = 1e-4, Func<int, bool>? select = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (select is not null && !select(i)) continue;
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }
        Assert.True(maxRef > 0, $"{what}: nothing to compare");
        Assert.True(maxDiff <= tolerance * maxRef, $"{what}: max diff {maxDiff:E3} vs max |expected| {maxRef:E3} (relative {maxDiff / maxRef:E3})");
    }

    /// <summary>The base model with its weights frozen, as a LoRA run holds it.</summary>
    internal static Transformer FrozenBase(string dir)
    {
        var model = Transformer.Load(dir);
        foreach (var (_, p) in model.Parameters) p.RequiresGrad = false;
        return model;
    }

    private static Tensor Loss(Transformer model, Fixture f)
    {
        var (logProbs, _) = model.TokenLogProbs(f.Tokens, f.Batch, f.SeqLen, f.Targets, f.Temperature, f.ValidLengths);
        return Ops.Scale(Ops.MaskedMean(logProbs, f.LossMask), -1f);
    }

    [Theory]
    [InlineData("llama_all_targets")]
    [InlineData("qwen2_qv_default_names")]
    [InlineData("qwen3_all_targets")]
    public void AdapterMatchesPyTorchLogitsAndGradients(string name)
    {
        string dir = LoraFixture(name);
        var f = ReadFixture(dir);
        var model = FrozenBase(f.Base);
        model.Adapter = PeftAdapter.Load(dir, model);
        using var expected = SafetensorsFile.Open(Path.Combine(dir, "expected.safetensors"));
        int vocab = model.Config.VocabSize;
        bool ValidRow(int row) => row % f.SeqLen < f.ValidLengths[row / f.SeqLen];

        var logits = model.Forward(f.Tokens, f.Batch, f.SeqLen, f.ValidLengths);
        AssertClose(expected.ReadFloat32("logits"), logits.Data, name + " logits", select: i => ValidRow(i / vocab));
        var loss = Loss(model, f);
        Assert.Equal(f.Loss, loss.Item(), 1e-4 * Math.Abs(f.Loss));
        loss.Backward();
        Assert.NotEmpty(model.Adapter.Parameters);
        foreach (var (param, tensor) in model.Adapter.Parameters)
            AssertClose(expected.ReadFloat32("grad." + param), tensor.Grad ?? new float[tensor.Numel], $"{name} grad {param}");
        // The base is frozen: no gradient buffer is ever allocated for it.
        Assert.All(model.Parameters, p => Assert.Null(p.Value.Grad));
    }

    [Fact]
    public void FreshAdapterReproducesTheBaseBitForBit()
    {
        var f = ReadFixture(LoraFixture("llama_all_targets"));
        var model = FrozenBase(f.Base);
        var baseLogits = model.Forward(f.Tokens, f.Batch, f.SeqLen, f.ValidLengths).Data;
        var basePrompt = new Generator(model).PromptLogits(f.Tokens[..f.SeqLen]);
        model.Adapter = LoraAdapter.Create(model, new LoraConfig(4, 8, 0.1, LoraTargets.All), seed: 3);
        Assert.All(model.Adapter.Parameters.Where(p => p.Key.Contains("lora_B")), p => Assert.All(p.Value.Data, v => Assert.Equal(0f, v)));
        // Training mode (autograd on, dropout drawn) and inference both add exactly 0.
        var adapted = model.Forward(f.Tokens, f.Batch, f.SeqLen, f.ValidLengths).Data;
        Assert.Equal(baseLogits, adapted);
        Assert.Equal(basePrompt, new Generator(model).PromptLogits(f.Tokens[..f.SeqLen]));
    }

    [Fact]
    public void AddingAZeroLowRankTermKeepsEveryBit()
    {
        var y = Tensor.FromArray([1.5f, -3.25e-7f, 7e30f, -0.1f, 1e-38f, 42f], 2, 3);
        var t = Tensor.FromArray([0.3f, -2f, 5f, 1e20f], 2, 2);
        var b = Tensor.FromArray(new float[6], 3, 2);
        var sum = Ops.AddLowRank(y, t, b, 4f);
        Assert.Equal(y.Data.Select(BitConverter.SingleToInt32Bits), sum.Data.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void KaimingUniformBoundsAndShapes()
    {
        var model = FrozenBase(ReadFixture(LoraFixture("qwen3_all_targets")).Base);
        var adapter = LoraAdapter.Create(model, new LoraConfig(8, 16, 0, LoraTargets.All), seed: 11);
        Assert.Equal(2f, adapter.Config.Scale);
        var q = adapter.Pair(0, LoraTarget.QProj)!;
        var down = adapter.Pair(1, LoraTarget.DownProj)!;
        Assert.Equal([8, model.Config.HiddenSize], q.A.Shape);
        Assert.Equal([model.Layers[0].QProj.Shape[0], 8], q.B.Shape);
        Assert.Equal([8, model.Config.IntermediateSize], down.A.Shape);
        double bound = 1 / Math.Sqrt(model.Config.IntermediateSize);
        Assert.All(down.A.Data, v => Assert.InRange(v, -bound, bound));
        Assert.True(down.A.Data.Max() > 0.8 * bound && down.A.Data.Min() < -0.8 * bound);
        // The same seed gives the same adapter.
        Assert.Equal(q.A.Data, LoraAdapter.Create(model, adapter.Config, seed: 11).Pair(0, LoraTarget.QProj)!.A.Data);
    }

    [Fact]
    public void AdapterGradientsMatchFiniteDifferencesWithDropout()
    {
        var f = ReadFixture(LoraFixture("qwen3_all_targets"));
        var model = FrozenBase(f.Base);
        var pyTorch = PeftAdapter.Load(LoraFixture("qwen3_all_targets"), model);
        // The fixture's factors, with dropout on: every pass below draws the same masks (same pass counter).
        model.Adapter = LoraAdapter.Build(model, pyTorch.Config with { Dropout = 0.2 }, 7,
            (l, t, _, _) => (float[])pyTorch.Pair(l, t)!.A.Data.Clone(), (l, t, _, _) => (float[])pyTorch.Pair(l, t)!.B.Data.Clone());
        var adapter = model.Adapter;
        double LossAt()
        {
            adapter.DropoutPasses = 0;
            return Loss(model, f).Item();
        }
        adapter.DropoutPasses = 0;
        Loss(model, f).Backward();
        // Dropout is on (the loss differs from the fixture's, which has none).
        Assert.NotEqual(f.Loss, LossAt(), 1e-3);
        var rng = new SplitMix64(5);
        int checkedEntries = 0;
        foreach (var (name, p) in adapter.Parameters.Where((_, i) => i % 5 == 0))
        {
            int i = (int)(rng.NextUInt64() % (ulong)p.Numel);
            float saved = p.Data[i];
            const float h = 1e-2f;
            p.Data[i] = saved + h;
            double plus = LossAt();
            p.Data[i] = saved - h;
            double minus = LossAt();
            p.Data[i] = saved;
            double numeric = (plus - minus) / (2 * h), analytic = p.Grad![i];
            Assert.True(Math.Abs(numeric - analytic) <= 2e-3 + 2e-2 * Math.Abs(analytic), $"{name}[{i}]: finite difference {numeric:E4} vs gradient {analytic:E4}");
            checkedEntries++;
        }
        Assert.True(checkedEntries >= 5);
    }

    [Fact]
    public void GradientCheckpointingRecomputesTheSameDropoutMasks()
    {
        var f = ReadFixture(LoraFixture("llama_all_targets"));
        float[][] Gradients(bool checkpointing)
        {
            var model = FrozenBase(f.Base);
            var loaded = PeftAdapter.Load(LoraFixture("llama_all_targets"), model);
            model.Adapter = LoraAdapter.Build(model, loaded.Config with { Dropout = 0.3 }, 5,
                (l, t, _, _) => loaded.Pair(l, t)!.A.Data, (l, t, _, _) => loaded.Pair(l, t)!.B.Data);
            model.GradientCheckpointing = checkpointing;
            using (TensorScope.Begin()) Loss(model, f).Backward();
            return [.. model.Adapter.Parameters.Select(p => p.Value.Grad!)];
        }
        Assert.Equal(Gradients(false), Gradients(true));
    }

    [Fact]
    public void DropoutIsOffWithoutAutograd()
    {
        var f = ReadFixture(LoraFixture("llama_all_targets"));
        var model = FrozenBase(f.Base);
        var loaded = PeftAdapter.Load(LoraFixture("llama_all_targets"), model);
        model.Adapter = loaded;
        float[] noDropout;
        using (Autograd.NoGrad()) noDropout = model.Forward(f.Tokens, f.Batch, f.SeqLen, f.ValidLengths).Data;
        model.Adapter = LoraAdapter.Build(model, loaded.Config with { Dropout = 0.5 }, 1,
            (l, t, _, _) => loaded.Pair(l, t)!.A.Data, (l, t, _, _) => loaded.Pair(l, t)!.B.Data);
        using (Autograd.NoGrad()) Assert.Equal(noDropout, model.Forward(f.Tokens, f.Batch, f.SeqLen, f.ValidLengths).Data);
        Assert.NotEqual(noDropout, model.Forward(f.Tokens, f.Batch, f.SeqLen, f.ValidLengths).Data);
    }

    private static string GenerationBase => TestPaths.Fixture("qwen3_qknorm");

    /// <summary>A random adapter (B not zero) on a small fixture model, for generation tests.</summary>
    internal static (Transformer Model, LoraAdapter Adapter) ModelWithAdapter(IReadOnlyList<LoraTarget> targets)
    {
        var model = FrozenBase(GenerationBase);
        var rng = new SplitMix64(17);
        float[] Fill(int rows, int cols, double std) => Enumerable.Range(0, rows * cols).Select(_ => (float)(std * rng.NextGaussian())).ToArray();
        var adapter = LoraAdapter.Build(model, new LoraConfig(4, 8, 0, targets), 0,
            (_, _, r, c) => Fill(r, c, 1 / Math.Sqrt(c)), (_, _, r, c) => Fill(r, c, 0.05));
        return (model, adapter);
    }

    public static TheoryData<bool, string> GenerationCases => new()
    {
        { false, "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj" },
        { true, "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj" },
        { true, "v_proj,up_proj" },
    };

    [Theory]
    [MemberData(nameof(GenerationCases))]
    public void MergedAndUnmergedGenerationAgree(bool panels, string targets)
    {
        var (model, adapter) = ModelWithAdapter(LoraTargets.Parse(targets, "targets"));
        model.Adapter = adapter;
        var generator = new Generator(model) { UsePanels = panels };
        var requests = new[] { new GenerationRequest([1, 40, 47, 26], 1), new GenerationRequest([1, 7, 8, 9, 10, 11], 2) };
        var options = new SamplingOptions(Temperature: 1f, MaxNewTokens: 24, StopTokenIds: []);
        var unmerged = generator.Generate(requests, options);

        var merged = Transformer.Load(GenerationBase);
        adapter.MergeInto(merged);
        using var _ = Autograd.NoGrad();
        for (int r = 0; r < requests.Length; r++)
        {
            int[] sequence = [.. requests[r].PromptIds, .. unmerged[r].Tokens];
            var inputs = sequence[..^1];
            var targetIds = inputs.Select((_, i) => i + 1 < requests[r].PromptIds.Length ? -1 : sequence[i + 1]).ToArray();
            var mergedLp = merged.TokenLogProbs(inputs, 1, inputs.Length, targetIds).LogProbs.Data[(requests[r].PromptIds.Length - 1)..];
            var unmergedLp = model.TokenLogProbs(inputs, 1, inputs.Length, targetIds).LogProbs.Data[(requests[r].PromptIds.Length - 1)..];
            for (int j = 0; j < mergedLp.Length; j++)
            {
                Assert.True(Math.Abs(mergedLp[j] - unmergedLp[j]) <= 1e-5, $"request {r} token {j}: merged {mergedLp[j]} vs unmerged {unmergedLp[j]} (teacher-forced)");
                Assert.True(Math.Abs(mergedLp[j] - unmerged[r].LogProbs[j]) <= 1e-5, $"request {r} token {j}: merged {mergedLp[j]} vs unmerged decode {unmerged[r].LogProbs[j]}");
            }
        }
        // The adapter changes what is sampled (the test is not vacuous).
        model.Adapter = null;
        var plain = new Generator(model) { UsePanels = panels }.Generate(requests, options);
        Assert.NotEqual(plain[0].LogProbs, unmerged[0].LogProbs);
    }
}

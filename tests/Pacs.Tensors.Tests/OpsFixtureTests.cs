using System.Text.Json;
using Pacs.Tensors.Kernels;

namespace Pacs.Tensors.Tests;

/// <summary>Ops against PyTorch 1.13 golden values written by tools/make_op_fixtures.py (tests/fixtures/ops).</summary>
public class OpsFixtureTests
{
    private const double MaxRelativeError = 1e-4;

    private static JsonElement Load(string file)
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Pacs.sln"))) dir = Path.GetDirectoryName(dir);
        Assert.NotNull(dir);
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(dir!, "tests", "fixtures", "ops", file))).RootElement;
    }

    private static int[] Shape(JsonElement e) => e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray();

    private static float[] Floats(JsonElement e) => e.GetProperty("data").EnumerateArray().Select(x => (float)x.GetDouble()).ToArray();

    private static int[] Ints(JsonElement e) => e.GetProperty("data").EnumerateArray().Select(x => x.GetInt32()).ToArray();

    private static Tensor Param(JsonElement e) => Tensor.Parameter(Floats(e), Shape(e));

    /// <summary>max |actual - expected| relative to max |expected| (so near-zero elements are judged on the tensor's scale).</summary>
    private static void AssertClose(JsonElement expected, float[] actual, string what)
    {
        var exp = Floats(expected);
        Assert.Equal(exp.Length, actual.Length);
        double scale = Math.Max(exp.Max(x => Math.Abs((double)x)), 1e-12), worst = 0;
        int at = -1;
        for (int i = 0; i < exp.Length; i++)
        {
            double err = Math.Abs(actual[i] - (double)exp[i]) / scale;
            if (err > worst) { worst = err; at = i; }
        }
        Assert.True(worst <= MaxRelativeError, $"{what}: relative error {worst:E2} at {at} (expected {(at >= 0 ? exp[at] : 0)}, got {(at >= 0 ? actual[at] : 0)})");
    }

    [Theory]
    [InlineData("gqa_causal_lengths")]
    [InlineData("gqa_causal")]
    [InlineData("gqa_bidirectional_lengths")]
    public void Attention_matches_torch(string name)
    {
        var c = Load("attention.json").GetProperty(name);
        var q = Param(c.GetProperty("q"));
        var k = Param(c.GetProperty("k"));
        var v = Param(c.GetProperty("v"));
        int[]? lengths = c.TryGetProperty("valid_lengths", out var l) ? l.EnumerateArray().Select(x => x.GetInt32()).ToArray() : null;
        var o = Ops.Attention(q, k, v, c.GetProperty("causal").GetBoolean(), lengths);
        AssertClose(c.GetProperty("out"), o.Data, name + " out");
        o.Backward(Floats(c.GetProperty("upstream")));
        AssertClose(c.GetProperty("grad_q"), q.Grad!, name + " grad q");
        AssertClose(c.GetProperty("grad_k"), k.Grad!, name + " grad k");
        AssertClose(c.GetProperty("grad_v"), v.Grad!, name + " grad v");
    }

    [Theory]
    [InlineData("default")]
    [InlineData("llama3")]
    public void Rope_matches_transformers(string name)
    {
        var c = Load("rope.json").GetProperty(name);
        var x = Param(c.GetProperty("x"));
        RopeScaling? scaling = null;
        if (c.GetProperty("rope_scaling").ValueKind == JsonValueKind.Object)
        {
            var s = c.GetProperty("rope_scaling");
            scaling = new RopeScaling((float)s.GetProperty("factor").GetDouble(), (float)s.GetProperty("low_freq_factor").GetDouble(),
                (float)s.GetProperty("high_freq_factor").GetDouble(), s.GetProperty("original_max_position_embeddings").GetInt32());
        }
        var table = new RopeTable(x.Shape[3], c.GetProperty("max_positions").GetInt32(), c.GetProperty("theta").GetDouble(), scaling);
        AssertClose(c.GetProperty("inv_freq"), table.InvFreq, name + " inv_freq");
        var y = Ops.Rope(x, Ints(c.GetProperty("positions")), table);
        AssertClose(c.GetProperty("out"), y.Data, name + " out");
        y.Backward(Floats(c.GetProperty("upstream")));
        AssertClose(c.GetProperty("grad_x"), x.Grad!, name + " grad x");
    }

    [Fact]
    public void RmsNorm_matches_transformers()
    {
        var c = Load("rmsnorm.json");
        var x = Param(c.GetProperty("x"));
        var w = Param(c.GetProperty("weight"));
        var y = Ops.RmsNorm(x, w, (float)c.GetProperty("eps").GetDouble());
        AssertClose(c.GetProperty("out"), y.Data, "rmsnorm out");
        y.Backward(Floats(c.GetProperty("upstream")));
        AssertClose(c.GetProperty("grad_x"), x.Grad!, "rmsnorm grad x");
        AssertClose(c.GetProperty("grad_weight"), w.Grad!, "rmsnorm grad weight");
    }

    [Fact]
    public void GatherLogProbs_matches_torch()
    {
        var c = Load("logprobs.json").GetProperty("gather_logprobs");
        var logits = Param(c.GetProperty("logits"));
        var y = Ops.GatherLogProbs(logits, Ints(c.GetProperty("targets")), (float)c.GetProperty("temperature").GetDouble());
        AssertClose(c.GetProperty("out"), y.Data, "logprobs out");
        y.Backward(Floats(c.GetProperty("upstream")));
        AssertClose(c.GetProperty("grad_logits"), logits.Grad!, "logprobs grad");
    }

    [Fact]
    public void Entropy_matches_torch()
    {
        var c = Load("logprobs.json").GetProperty("entropy");
        var logits = Param(c.GetProperty("logits"));
        var y = Ops.Entropy(logits, (float)c.GetProperty("temperature").GetDouble());
        AssertClose(c.GetProperty("out"), y.Data, "entropy out");
        y.Backward(Floats(c.GetProperty("upstream")));
        AssertClose(c.GetProperty("grad_logits"), logits.Grad!, "entropy grad");
    }

    [Fact]
    public void CrossEntropy_matches_torch_ignore_index()
    {
        var c = Load("logprobs.json").GetProperty("cross_entropy");
        var logits = Param(c.GetProperty("logits"));
        var loss = Ops.CrossEntropy(logits, Ints(c.GetProperty("targets")));
        AssertClose(c.GetProperty("out"), loss.Data, "cross-entropy out");
        loss.Backward();
        AssertClose(c.GetProperty("grad_logits"), logits.Grad!, "cross-entropy grad");
    }

    [Fact]
    public void BceWithLogits_matches_torch()
    {
        var c = Load("logprobs.json").GetProperty("bce_with_logits");
        var logits = Param(c.GetProperty("logits"));
        var y = Ops.BceWithLogits(logits, Floats(c.GetProperty("targets")), Floats(c.GetProperty("weights")));
        AssertClose(c.GetProperty("out"), y.Data, "bce out");
        y.Backward(Floats(c.GetProperty("upstream")));
        AssertClose(c.GetProperty("grad_logits"), logits.Grad!, "bce grad");
    }
}

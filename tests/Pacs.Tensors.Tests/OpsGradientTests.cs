using Pacs.Tensors.Kernels;

namespace Pacs.Tensors.Tests;

public class OpsGradientTests
{
    private static readonly Random Rng = new(1234);

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatMul_shared_and_batched(bool transA, bool transB)
    {
        var rng = new Random(1);
        var a = GradCheck.Param(rng, transA ? [2, 4, 3] : [2, 3, 4]);
        var bShared = GradCheck.Param(rng, transB ? [5, 4] : [4, 5]);
        var bBatched = GradCheck.Param(rng, transB ? [2, 5, 4] : [2, 4, 5]);
        GradCheck.Check(() => Ops.MatMul(a, bShared, transA, transB), [a, bShared]);
        GradCheck.Check(() => Ops.MatMul(a, bBatched, transA, transB), [a, bBatched]);
        Assert.Equal([2, 3, 5], Ops.MatMul(a, bShared, transA, transB).Shape);
    }

    [Fact]
    public void MatMul_matches_naive_product()
    {
        var rng = new Random(2);
        var a = GradCheck.Param(rng, 3, 4);
        var b = GradCheck.Param(rng, 4, 2);
        var c = Ops.MatMul(a, b);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 2; j++)
            {
                double s = 0;
                for (int p = 0; p < 4; p++) s += a.Data[i * 4 + p] * b.Data[p * 2 + j];
                Assert.Equal(s, c.Data[i * 2 + j], 5);
            }
    }

    [Fact]
    public void Linear_with_and_without_bias()
    {
        var rng = new Random(3);
        var x = GradCheck.Param(rng, 2, 3, 4);
        var w = GradCheck.Param(rng, 5, 4);
        var b = GradCheck.Param(rng, 5);
        GradCheck.Check(() => Ops.Linear(x, w, b), [x, w, b]);
        GradCheck.Check(() => Ops.Linear(x, w), [x, w]);
        var y = Ops.Linear(x, w, b);
        Assert.Equal([2, 3, 5], y.Shape);
        double expected = b.Data[2];
        for (int p = 0; p < 4; p++) expected += x.Data[4 + p] * w.Data[2 * 4 + p];
        Assert.Equal(expected, y.Data[5 + 2], 5);
    }

    [Fact]
    public void Add_Mul_Sub_broadcast_over_leading_dims()
    {
        var rng = new Random(4);
        var a = GradCheck.Param(rng, 3, 2, 5);
        var same = GradCheck.Param(rng, 3, 2, 5);
        var suffix = GradCheck.Param(rng, 2, 5);
        var row = GradCheck.Param(rng, 5);
        foreach (var b in new[] { same, suffix, row })
        {
            GradCheck.Check(() => Ops.Add(a, b), [a, b]);
            GradCheck.Check(() => Ops.Mul(a, b), [a, b]);
            GradCheck.Check(() => Ops.Sub(a, b), [a, b]);
        }
        Assert.Equal(a.Data[7] * row.Data[2], Ops.Mul(a, row).Data[7]);
    }

    [Fact]
    public void Unary_ops()
    {
        var rng = new Random(5);
        var x = GradCheck.Param(rng, 3f, 4, 6);
        GradCheck.Check(() => Ops.Scale(x, -1.7f), [x]);
        GradCheck.Check(() => Ops.AddScalar(x, 0.3f), [x]);
        GradCheck.Check(() => Ops.Silu(x), [x]);
        GradCheck.Check(() => Ops.Sigmoid(x), [x]);
        GradCheck.Check(() => Ops.LogSigmoid(x), [x]);
        GradCheck.Check(() => Ops.Exp(x), [x]);
        GradCheck.Check(() => Ops.Square(x), [x]);
        GradCheck.Check(() => Ops.Clamp(x, -1f, 1.5f), [x]);
        var positive = Tensor.Parameter(GradCheck.RandomArray(rng, 12, 0.5f, 3f), [12]);
        GradCheck.Check(() => Ops.Log(positive), [positive]);
        Assert.Equal(MathF.Log(1f / (1f + MathF.Exp(30f))), Ops.LogSigmoid(Tensor.FromArray([-30f], 1)).Data[0], 4);
    }

    [Fact]
    public void Minimum_Maximum_route_gradient_to_the_chosen_input()
    {
        var rng = new Random(6);
        var a = GradCheck.Param(rng, 10);
        var b = GradCheck.Param(rng, 10);
        GradCheck.Check(() => Ops.Minimum(a, b), [a, b]);
        GradCheck.Check(() => Ops.Maximum(a, b), [a, b]);
    }

    [Fact]
    public void SwiGlu_equals_silu_times_up()
    {
        var rng = new Random(7);
        var gate = GradCheck.Param(rng, 3f, 3, 37);
        var up = GradCheck.Param(rng, 3, 37);
        GradCheck.Check(() => Ops.SwiGlu(gate, up), [gate, up]);
        var fused = Ops.SwiGlu(gate, up).Data;
        var composed = Ops.Mul(Ops.Silu(gate), up).Data;
        for (int i = 0; i < fused.Length; i++) Assert.Equal(composed[i], fused[i], 5);
    }

    [Fact]
    public void Reshape_shares_data_and_passes_gradient()
    {
        var rng = new Random(8);
        var x = GradCheck.Param(rng, 2, 6);
        var y = Ops.Reshape(x, 3, -1);
        Assert.Same(x.Data, y.Data);
        Assert.Equal([3, 4], y.Shape);
        var w = GradCheck.Param(rng, 4);
        GradCheck.Check(() => Ops.Mul(Ops.Reshape(x, 3, 4), w), [x, w]);
    }

    [Fact]
    public void Embedding_scatter_adds_repeated_ids()
    {
        var rng = new Random(9);
        var weight = GradCheck.Param(rng, 5, 3);
        int[] ids = [2, 0, 2, 4, 2];
        GradCheck.Check(() => Ops.Embedding(weight, ids), [weight]);
        var y = Ops.Embedding(weight, ids);
        y.Backward(Enumerable.Repeat(1f, 15).ToArray());
        Assert.Equal(3f, weight.Grad![2 * 3 + 1]);
        Assert.Equal(0f, weight.Grad![1 * 3]);
        Assert.Throws<ArgumentException>(() => Ops.Embedding(weight, [5]));
    }

    [Fact]
    public void Concat_Slice_GatherRows()
    {
        var rng = new Random(10);
        var a = GradCheck.Param(rng, 2, 3);
        var b = GradCheck.Param(rng, 4, 3);
        GradCheck.Check(() => Ops.Concat([a, b]), [a, b]);
        GradCheck.Check(() => Ops.Concat([a, Ops.Slice(b, 0, 1, 2)], axis: 1), [a, b]);
        GradCheck.Check(() => Ops.SliceRows(b, 1, 2), [b]);
        GradCheck.Check(() => Ops.GatherRows(b, [3, 0, 3]), [b]);
        var c = Ops.Concat([a, b]);
        Assert.Equal([6, 3], c.Shape);
        Assert.Equal(b.Data[4], c.Data[6 + 4]);
    }

    [Fact]
    public void RmsNorm_matches_definition_and_gradient()
    {
        var rng = new Random(11);
        var x = GradCheck.Param(rng, 2f, 3, 2, 8);
        var w = GradCheck.Param(rng, 8);
        GradCheck.Check(() => Ops.RmsNorm(x, w, 1e-5f), [x, w]);
        var y = Ops.RmsNorm(x, w, 1e-5f);
        double ms = 0;
        for (int i = 0; i < 8; i++) ms += x.Data[i] * x.Data[i];
        double inv = 1 / Math.Sqrt(ms / 8 + 1e-5);
        Assert.Equal(x.Data[3] * inv * w.Data[3], y.Data[3], 5);
    }

    [Fact]
    public void Rope_gradient_with_and_without_llama3_scaling()
    {
        var rng = new Random(12);
        var x = GradCheck.Param(rng, 2, 3, 2, 8);
        int[] positions = [0, 5, 9, 3, 1, 30];
        var plain = new RopeTable(8, 64, 10000);
        var scaled = new RopeTable(8, 64, 500000, new RopeScaling(8f, 1f, 4f, 16));
        GradCheck.Check(() => Ops.Rope(x, positions, plain), [x]);
        GradCheck.Check(() => Ops.Rope(x, positions, scaled), [x]);
        // position 0 is the identity
        var y = Ops.Rope(x, positions, plain);
        for (int i = 0; i < 16; i++) Assert.Equal(x.Data[i], y.Data[i]);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void Attention_gqa_gradient(bool causal, bool withLengths)
    {
        var rng = new Random(13);
        var q = GradCheck.Param(rng, 2, 5, 4, 3);
        var k = GradCheck.Param(rng, 2, 5, 2, 3);
        var v = GradCheck.Param(rng, 2, 5, 2, 3);
        int[]? lengths = withLengths ? [5, 3] : null;
        GradCheck.Check(() => Ops.Attention(q, k, v, causal, lengths), [q, k, v], maxChecks: 60);
    }

    [Fact]
    public void Attention_gradient_with_wide_heads_and_odd_lengths()
    {
        // hd = 48 runs the 16-wide vector loops, 21 rows leave a partial 4-row block, 21 keys a partial 16-key pad.
        var rng = new Random(23);
        var q = GradCheck.Param(rng, 1, 21, 4, 48);
        var k = GradCheck.Param(rng, 1, 21, 1, 48);
        var v = GradCheck.Param(rng, 1, 21, 1, 48);
        GradCheck.Check(() => Ops.Attention(q, k, v, causal: true, validLengths: [19]), [q, k, v], maxChecks: 40);
    }

    [Fact]
    public void Attention_matches_naive_softmax_attention()
    {
        var rng = new Random(14);
        int batch = 2, t = 23, hq = 4, hkv = 2, hd = 40;
        var q = GradCheck.Param(rng, batch, t, hq, hd);
        var k = GradCheck.Param(rng, batch, t, hkv, hd);
        var v = GradCheck.Param(rng, batch, t, hkv, hd);
        int[] lengths = [23, 17];
        var o = Ops.Attention(q, k, v, causal: true, lengths);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < hq; h++)
                for (int i = 0; i < t; i++)
                {
                    int kvh = h / (hq / hkv), n = Math.Min(i + 1, lengths[b]);
                    var s = new double[n];
                    for (int j = 0; j < n; j++)
                    {
                        for (int d = 0; d < hd; d++)
                            s[j] += q.Data[((b * t + i) * hq + h) * hd + d] * k.Data[((b * t + j) * hkv + kvh) * hd + d];
                        s[j] /= Math.Sqrt(hd);
                    }
                    double max = s.Max(), z = s.Sum(x => Math.Exp(x - max));
                    for (int d = 0; d < hd; d++)
                    {
                        double expected = 0;
                        for (int j = 0; j < n; j++) expected += Math.Exp(s[j] - max) / z * v.Data[((b * t + j) * hkv + kvh) * hd + d];
                        Assert.True(Math.Abs(expected - o.Data[((b * t + i) * hq + h) * hd + d]) < 2e-6, $"b{b} h{h} i{i} d{d}");
                    }
                }
    }

    [Fact]
    public void Softmax_and_LogSoftmax()
    {
        var rng = new Random(15);
        var x = GradCheck.Param(rng, 3f, 3, 7);
        GradCheck.Check(() => Ops.Softmax(x), [x]);
        GradCheck.Check(() => Ops.LogSoftmax(x), [x]);
        var p = Ops.Softmax(x).Data;
        Assert.Equal(1.0, p.Take(7).Sum(), 5);
        var lp = Ops.LogSoftmax(x).Data;
        Assert.Equal(Math.Log(p[3]), lp[3], 5);
    }

    [Fact]
    public void CrossEntropy_ignores_minus_one()
    {
        var rng = new Random(16);
        var logits = GradCheck.Param(rng, 3f, 4, 6);
        int[] targets = [1, -1, 5, 0];
        GradCheck.Check(() => Ops.CrossEntropy(logits, targets), [logits]);
        var loss = Ops.CrossEntropy(logits, targets).Item();
        var lp = Ops.LogSoftmax(logits).Data;
        Assert.Equal(-(lp[1] + lp[2 * 6 + 5] + lp[3 * 6]) / 3, loss, 5);
    }

    [Fact]
    public void GatherLogProbs_and_Entropy_with_temperature()
    {
        var rng = new Random(17);
        var logits = GradCheck.Param(rng, 3f, 5, 9);
        int[] targets = [0, 8, 3, -1, 4];
        foreach (float temperature in new[] { 1f, 0.7f })
        {
            GradCheck.Check(() => Ops.GatherLogProbs(logits, targets, temperature), [logits]);
            GradCheck.Check(() => Ops.Entropy(logits, temperature), [logits]);
        }
        var lp = Ops.LogSoftmax(Ops.Scale(logits, 1f / 0.7f)).Data;
        Assert.Equal(lp[9 + 8], Ops.GatherLogProbs(logits, targets, 0.7f).Data[1], 5);
        Assert.Equal(0f, Ops.GatherLogProbs(logits, targets).Data[3]);
        double h = 0;
        for (int c = 0; c < 9; c++) h -= Math.Exp(lp[c]) * lp[c];
        Assert.Equal(h, Ops.Entropy(logits, 0.7f).Data[0], 5);
    }

    [Fact]
    public void BceWithLogits_weighted()
    {
        var rng = new Random(18);
        var x = GradCheck.Param(rng, 4f, 8);
        float[] y = [0, 1, 1, 0, 0.3f, 1, 0, 1];
        float[] w = [1, 2, 0.5f, 0, 1, 1, 3, 1];
        GradCheck.Check(() => Ops.BceWithLogits(x, y), [x]);
        GradCheck.Check(() => Ops.BceWithLogits(x, y, w), [x]);
        var l = Ops.BceWithLogits(x, y, w).Data;
        double s = 1 / (1 + Math.Exp(-x.Data[1]));
        Assert.Equal(-2 * Math.Log(s), l[1], 4);
    }

    [Fact]
    public void Reductions()
    {
        var rng = new Random(19);
        var x = GradCheck.Param(rng, 3, 5);
        float[] mask = [1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 1];
        GradCheck.Check(() => Ops.Sum(x), [x]);
        GradCheck.Check(() => Ops.Mean(x), [x]);
        GradCheck.Check(() => Ops.MaskedSum(x, mask), [x]);
        GradCheck.Check(() => Ops.MaskedMean(x, mask), [x]);
        GradCheck.Check(() => Ops.SumLastDim(x), [x]);
        double masked = 0;
        for (int i = 0; i < 15; i++) masked += x.Data[i] * mask[i];
        Assert.Equal(masked / 8, Ops.MaskedMean(x, mask).Item(), 5);
        Assert.Equal([3], Ops.SumLastDim(x).Shape);
        Assert.Equal(0f, Ops.MaskedMean(x, new float[15]).Item());
    }

    [Fact]
    public void Gradients_accumulate_into_shared_parameters()
    {
        var rng = new Random(20);
        var w = GradCheck.Param(rng, 4, 3);
        // tied embedding: used as the embedding table and as the output projection
        GradCheck.Check(() => Ops.Linear(Ops.Embedding(w, [1, 3, 1]), w), [w]);
        var x = GradCheck.Param(rng, 4);
        GradCheck.Check(() => Ops.Add(Ops.Mul(x, x), x), [x]);
    }

    [Fact]
    public void NoGrad_records_nothing()
    {
        var rng = new Random(21);
        var x = GradCheck.Param(rng, 2, 4);
        var w = GradCheck.Param(rng, 3, 4);
        using (Autograd.NoGrad())
        {
            var y = Ops.Linear(x, w);
            Assert.True(y.IsLeaf);
            Assert.False(y.RequiresGrad);
        }
        Assert.False(Ops.Linear(x, w).IsLeaf);
    }

    [Fact]
    public void Shape_mismatches_name_op_and_shapes()
    {
        var a = Tensor.Zeros(2, 3);
        var b = Tensor.Zeros(4);
        var e = Assert.Throws<ArgumentException>(() => Ops.Add(a, b));
        Assert.Contains("Add", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4]", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.MatMul(a, Tensor.Zeros(4, 2)));
        Assert.Contains("MatMul", e.Message);
        Assert.Contains("[4, 2]", e.Message);
        Assert.Throws<ArgumentException>(() => Ops.Linear(a, Tensor.Zeros(3, 2)));
        Assert.Throws<ArgumentException>(() => Ops.Attention(Tensor.Zeros(1, 2, 3, 4), Tensor.Zeros(1, 2, 2, 4), Tensor.Zeros(1, 2, 2, 4)));
        Assert.Throws<ArgumentException>(() => Ops.RmsNorm(a, Tensor.Zeros(2), 1e-5f));
    }
}

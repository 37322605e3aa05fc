using Pacs.Tensors.Kernels;

namespace Pacs.Tensors.Tests;

/// <summary>
/// The output layer and log-softmax fused over chunks of rows (<see cref="Ops.ChunkedLogProbs"/>) against the plain
/// path (Linear to [N, V] logits, then GatherLogProbs): the same log-probs and input gradients to the bit, a trained
/// weight's gradient within rounding, and finite differences.
/// </summary>
public class ChunkedLogProbsTests
{
    private const int Rows = 40, Dim = 12, Vocab = 37;

    // Every row but a few, in order, as a packed batch's response positions are.
    private static readonly int[] s_scored = [.. Enumerable.Range(0, Rows).Where(r => r % 7 != 3)];

    private static int[] Targets(Random rng) => [.. Enumerable.Range(0, Rows).Select(_ => rng.Next(Vocab))];

    private static void AssertBitEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string label)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{label}: element {i} is {actual[i]:R}, the plain path gives {expected[i]:R}");
    }

    /// <summary>The plain path's log-probs at the scored rows and x's gradient for upstream g there (0 elsewhere).</summary>
    private static (float[] LogProbs, float[] GradX, float[]? GradW) Plain(Tensor x, Tensor w, int[] targets, float temperature, float[] upstream)
    {
        x.Grad = null;
        if (w.Dtype == TensorDtype.Float32) w.Grad = null;
        var lp = Ops.GatherLogProbs(Ops.Linear(x, w), targets, temperature);
        var values = s_scored.Select(r => lp.Data[r]).ToArray();
        lp.Backward(upstream);
        return (values, (float[])x.Grad!.Clone(), w.RequiresGrad ? (float[])w.Grad!.Clone() : null);
    }

    private static (float[] LogProbs, float[] GradX, float[]? GradW) Chunked(Tensor x, Tensor w, int[] targets, float temperature, float[] upstream, int chunk)
    {
        x.Grad = null;
        if (w.Dtype == TensorDtype.Float32) w.Grad = null;
        var lp = Ops.ChunkedLogProbs(x, w, s_scored, targets, temperature, chunk);
        for (int r = 0; r < Rows; r++)
            if (!s_scored.Contains(r)) Assert.Equal(0f, lp.Data[r]);
        var values = s_scored.Select(r => lp.Data[r]).ToArray();
        lp.Backward(upstream);
        return (values, (float[])x.Grad!.Clone(), w.RequiresGrad ? (float[])w.Grad!.Clone() : null);
    }

    private static float[] Upstream(Random rng)
    {
        var g = new float[Rows];
        foreach (int r in s_scored) g[r] = (float)(rng.NextDouble() * 2 - 1);
        return g;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Frozen_weight_gives_the_plain_log_probs_and_input_gradient_to_the_bit(bool bf16)
    {
        var rng = new Random(41);
        var x = GradCheck.Param(rng, 2f, Rows, Dim);
        var values = GradCheck.RandomArray(rng, Vocab * Dim);
        Tensor w;
        if (bf16)
        {
            var bits = new ushort[values.Length];
            BFloat16.Round(values, bits);
            w = Tensor.FromBFloat16(bits, [Vocab, Dim]);
        }
        else w = new Tensor(values, [Vocab, Dim]);
        var targets = Targets(rng);
        var upstream = Upstream(rng);
        foreach (float temperature in new[] { 1f, 0.7f })
        {
            var plain = Plain(x, w, targets, temperature, upstream);
            // 1 and 3 rows per chunk (the GEMM's small-m path), 16 and more than all scored rows at once.
            foreach (int chunk in new[] { 1, 3, 16, 1000 })
            {
                var chunked = Chunked(x, w, targets, temperature, upstream, chunk);
                AssertBitEqual(plain.LogProbs, chunked.LogProbs, $"log-probs, chunk {chunk}, T {temperature}");
                AssertBitEqual(plain.GradX, chunked.GradX, $"dx, chunk {chunk}, T {temperature}");
            }
        }
    }

    [Fact]
    public void Same_results_inside_a_tensor_scope_and_the_chunks_see_the_plain_logits()
    {
        var rng = new Random(42);
        var x = GradCheck.Param(rng, 2f, Rows, Dim);
        var w = new Tensor(GradCheck.RandomArray(rng, Vocab * Dim), [Vocab, Dim]);
        var targets = Targets(rng);
        var upstream = Upstream(rng);
        var plain = Plain(x, w, targets, 1f, upstream);
        var logits = Ops.Linear(x, w).Data;
        var seen = new List<int>();
        using (TensorScope.Begin())
        {
            x.Grad = null;
            var lp = Ops.ChunkedLogProbs(x, w, s_scored, targets, 1f, 5, (first, chunk, count) =>
            {
                for (int i = 0; i < count; i++)
                {
                    int row = s_scored[first + i];
                    AssertBitEqual(logits.AsSpan(row * Vocab, Vocab), chunk.AsSpan(i * Vocab, Vocab), $"logits of row {row}");
                    seen.Add(row);
                }
            });
            AssertBitEqual(plain.LogProbs, s_scored.Select(r => lp.Data[r]).ToArray(), "log-probs in a scope");
            lp.Backward(upstream);
            AssertBitEqual(plain.GradX, x.Grad!, "dx in a scope");
        }
        Assert.Equal(s_scored, seen);
    }

    [Fact]
    public void Trained_weight_gradient_matches_the_plain_sum_within_rounding_and_finite_differences()
    {
        var rng = new Random(43);
        var x = GradCheck.Param(rng, 2f, Rows, Dim);
        var w = GradCheck.Param(rng, 1f, Vocab, Dim);
        var targets = Targets(rng);
        var upstream = Upstream(rng);
        var plain = Plain(x, w, targets, 0.8f, upstream);
        var chunked = Chunked(x, w, targets, 0.8f, upstream, 6);
        AssertBitEqual(plain.LogProbs, chunked.LogProbs, "log-probs");
        AssertBitEqual(plain.GradX, chunked.GradX, "dx");
        for (int i = 0; i < plain.GradW!.Length; i++)
            Assert.True(Math.Abs(plain.GradW[i] - chunked.GradW![i]) <= 1e-6 + 1e-5 * Math.Abs(plain.GradW[i]), $"dW[{i}]: {chunked.GradW[i]} vs {plain.GradW[i]}");

        var small = GradCheck.Param(rng, 2f, 6, 5);
        var head = GradCheck.Param(rng, 1f, 9, 5);
        int[] rows = [0, 2, 3, 5], smallTargets = [4, 0, 8, -1, 3, 1];
        foreach (float temperature in new[] { 1f, 0.7f })
            GradCheck.Check(() => Ops.ChunkedLogProbs(small, head, rows, smallTargets, temperature, 3), [small, head]);
    }

    [Fact]
    public void Bad_arguments_name_the_op()
    {
        var x = new Tensor(new float[6], [2, 3]);
        var w = new Tensor(new float[12], [4, 3]);
        Assert.Contains("row 2 is outside [0, 2)", Assert.Throws<ArgumentException>(() => Ops.ChunkedLogProbs(x, w, [2], [0, 0], 1f, 4)).Message);
        Assert.Contains("chunkRows must be >= 1", Assert.Throws<ArgumentException>(() => Ops.ChunkedLogProbs(x, w, [0], [0, 0], 1f, 0)).Message);
        Assert.Contains("ChunkedLogProbs", Assert.Throws<ArgumentException>(() => Ops.ChunkedLogProbs(x, new Tensor(new float[8], [4, 2]), [0], [0, 0], 1f, 4)).Message);
    }

    [Fact]
    public void An_inference_block_gives_its_intermediates_back_as_soon_as_it_ends()
    {
        var rng = new Random(44);
        var x = new Tensor(GradCheck.RandomArray(rng, 64 * 64), [64, 64]);
        var w = new Tensor(GradCheck.RandomArray(rng, 64 * 64), [64, 64]);
        Tensor Block(Tensor[] t) => Ops.Add(t[0], Ops.Linear(Ops.Linear(t[0], w), w));
        var expected = Block([x]).Data;
        using var scope = TensorScope.Begin();
        using (Autograd.NoGrad())
        {
            var y = Ops.InferenceBlock(Block, x);
            AssertBitEqual(expected, y.Data, "inference block");
            // Only the output stays rented: the two Linear results went back when the block ended.
            Assert.Equal(4L * 64 * 64, scope.RentedBytes);
        }
    }
}

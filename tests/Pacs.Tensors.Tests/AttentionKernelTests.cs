using Pacs.Tensors.Kernels;

namespace Pacs.Tensors.Tests;

public class AttentionKernelTests
{
    /// <summary>Decoding one token per sequence against a KV cache gives the last row of full causal attention.</summary>
    [Fact]
    public void Cache_decode_step_matches_full_attention_rows()
    {
        var rng = new Random(31);
        int batch = 3, t = 11, hq = 6, hkv = 2, hd = 20, capacity = 16;
        var q = GradCheck.RandomArray(rng, batch * t * hq * hd);
        var k = GradCheck.RandomArray(rng, batch * t * hkv * hd);
        var v = GradCheck.RandomArray(rng, batch * t * hkv * hd);
        var full = new float[q.Length];
        Attention.Forward(q, k, v, full, new Attention.Dims(batch, t, t, hq, hkv, hd));

        // Cache [B, capacity, Hkv, hd] filled with each sequence's first len tokens; the step query is token len-1.
        int[] lengths = [11, 4, 7];
        var kCache = new float[batch * capacity * hkv * hd];
        var vCache = new float[kCache.Length];
        var qStep = new float[batch * hq * hd];
        int kvRow = hkv * hd, qRow = hq * hd;
        for (int b = 0; b < batch; b++)
        {
            Array.Copy(k, b * t * kvRow, kCache, b * capacity * kvRow, lengths[b] * kvRow);
            Array.Copy(v, b * t * kvRow, vCache, b * capacity * kvRow, lengths[b] * kvRow);
            Array.Copy(q, (b * t + lengths[b] - 1) * qRow, qStep, b * qRow, qRow);
        }
        var oStep = new float[qStep.Length];
        Attention.DecodeStep(qStep, kCache, vCache, lengths, capacity, hq, hkv, hd, oStep);
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < qRow; i++)
                Assert.Equal(full[(b * t + lengths[b] - 1) * qRow + i], oStep[b * qRow + i], 5);
    }

    [Fact]
    public void Rows_that_see_no_key_output_zeros()
    {
        var rng = new Random(32);
        int batch = 2, t = 3, h = 2, hd = 4;
        var q = Tensor.Parameter(GradCheck.RandomArray(rng, batch * t * h * hd), [batch, t, h, hd]);
        var k = Tensor.Parameter(GradCheck.RandomArray(rng, batch * t * h * hd), [batch, t, h, hd]);
        var v = Tensor.Parameter(GradCheck.RandomArray(rng, batch * t * h * hd), [batch, t, h, hd]);
        var o = Ops.Attention(q, k, v, causal: false, validLengths: [0, 3]);
        Assert.All(o.Data.Take(t * h * hd), x => Assert.Equal(0f, x));
        o.Backward(Enumerable.Repeat(1f, o.Numel).ToArray());
        Assert.All(k.Grad!.Take(t * h * hd), x => Assert.Equal(0f, x));
        Assert.All(q.Grad!, x => Assert.True(float.IsFinite(x)));
    }
}

public class ReductionOrderTests
{
    /// <summary>
    /// Reductions must not depend on where an array happens to sit in memory (vector lanes assigned by alignment
    /// would change the rounding between runs): the same values at every float offset give the same bits.
    /// </summary>
    [Fact]
    public void Row_reductions_do_not_depend_on_alignment()
    {
        var rng = new Random(41);
        foreach (int n in new[] { 37, 256, 4099 })
        {
            var values = GradCheck.RandomArray(rng, n, -50f, 50f);
            var other = GradCheck.RandomArray(rng, n);
            var seen = new HashSet<(int, int, int, int, int)>();
            for (int offset = 0; offset < 16; offset++)
            {
                var a = new float[n + 16];
                var b = new float[n + 16];
                Array.Copy(values, 0, a, offset, n);
                Array.Copy(other, 0, b, offset, n);
                var xs = a.AsSpan(offset, n);
                var ys = b.AsSpan(offset, n);
                var y = new float[n];
                var inv = new float[1];
                Normalization.RmsNormForward(xs, ys, 1e-5f, y, inv);
                seen.Add((BitConverter.SingleToInt32Bits(Simd.Dot(xs, ys)), BitConverter.SingleToInt32Bits((float)Reductions.Sum(xs)),
                    BitConverter.SingleToInt32Bits(Softmax.LogSumExp(xs, 0.9f, new float[n])), BitConverter.SingleToInt32Bits(inv[0]),
                    BitConverter.SingleToInt32Bits((float)Reductions.Sum(xs, ys))));
            }
            Assert.Single(seen);
        }
    }
}

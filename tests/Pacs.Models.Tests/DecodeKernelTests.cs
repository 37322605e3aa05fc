namespace Pacs.Models.Tests;

public class DecodeKernelTests
{
    /// <summary>A row's outputs must not depend on how many rows share the call (batch independence).</summary>
    [Theory]
    [InlineData(37, 11)]
    [InlineData(64, 256)]
    [InlineData(5, 3)]
    [InlineData(80, 7)]
    public unsafe void LinearRowsAreBitIdenticalForAnyRowCount(int inDim, int outDim)
    {
        var rng = new SplitMix64(4);
        float[] x = Enumerable.Range(0, 9 * inDim).Select(_ => (float)rng.NextGaussian()).ToArray();
        float[] w = Enumerable.Range(0, outDim * inDim).Select(_ => (float)rng.NextGaussian()).ToArray();
        float[] b = Enumerable.Range(0, outDim).Select(_ => (float)rng.NextGaussian()).ToArray();
        var single = new float[9 * outDim];
        fixed (float* xp = x, wp = w, bp = b, sp = single)
            for (int r = 0; r < 9; r++) DecodeKernels.Linear(xp + r * inDim, 1, inDim, wp, outDim, bp, sp + r * outDim);
        for (int n = 2; n <= 9; n++)
        {
            var y = new float[n * outDim];
            fixed (float* xp = x, wp = w, bp = b, yp = y)
                DecodeKernels.Linear(xp, n, inDim, wp, outDim, bp, yp);
            Assert.Equal(single[..(n * outDim)], y);
        }
        // And the values are the dot products (to rounding).
        for (int j = 0; j < outDim; j++)
        {
            double expected = b[j];
            for (int i = 0; i < inDim; i++) expected += (double)x[i] * w[j * inDim + i];
            Assert.Equal(expected, single[j], 1e-4 * Math.Max(1, Math.Abs(expected)));
        }
    }

    /// <summary>The SIMD attention path computes the same operations as the scalar one: bit-identical outputs.</summary>
    [Theory]
    [InlineData(2, 32, 1)]
    [InlineData(2, 32, 17)]
    [InlineData(2, 32, 64)]
    [InlineData(2, 32, 100)]
    [InlineData(1, 64, 65)]
    [InlineData(3, 48, 130)]
    [InlineData(2, 16, 31)]
    public unsafe void AttendSimdIsBitIdenticalToScalar(int groups, int hd, int ctx)
    {
        var rng = new SplitMix64((ulong)(groups * 1000 + hd * 10 + ctx));
        int pad = DecodeKernels.PadKeys(ctx);
        float[] q = Enumerable.Range(0, groups * hd).Select(_ => (float)rng.NextGaussian()).ToArray();
        // Keys in blocks of 16 positions; the padding past ctx holds junk that must not matter.
        float[] kt = Enumerable.Range(0, pad * hd).Select(_ => (float)rng.NextGaussian() * 2).ToArray();
        float[] v = Enumerable.Range(0, ctx * hd).Select(_ => (float)rng.NextGaussian()).ToArray();
        var simd = new float[groups * hd];
        var scalar = new float[groups * hd];
        var scores = new float[groups * pad];
        float scale = 1f / MathF.Sqrt(hd);
        fixed (float* qp = q, kp = kt, vp = v, sp = scores, o1 = simd, o2 = scalar)
        {
            DecodeKernels.Attend(qp, groups, hd, kp, vp, ctx, scale, sp, o1);
            DecodeKernels.Attend(qp, groups, hd, kp, vp, ctx, scale, sp, o2, allowSimd: false);
        }
        Assert.Equal(scalar, simd);
        // And it is attention (to rounding), against a double-precision softmax.
        for (int g = 0; g < groups; g++)
        {
            var s = new double[ctx];
            for (int t = 0; t < ctx; t++)
            {
                double dot = 0;
                for (int e = 0; e < hd; e++) dot += (double)q[g * hd + e] * kt[(t / 16) * hd * 16 + e * 16 + t % 16];
                s[t] = dot * scale;
            }
            double max = s.Max(), sum = s.Sum(x => Math.Exp(x - max));
            for (int e = 0; e < hd; e++)
            {
                double expected = 0;
                for (int t = 0; t < ctx; t++) expected += Math.Exp(s[t] - max) / sum * v[t * hd + e];
                Assert.Equal(expected, scalar[g * hd + e], 1e-5);
            }
        }
    }
}

namespace Pacs.Models.Tests;

public class DecodeKernelTests
{
    /// <summary>A row's outputs must not depend on how many rows share the call (batch independence).</summary>
    [Theory]
    [InlineData(37, 11)]
    [InlineData(64, 256)]
    [InlineData(5, 3)]
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
}

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

    /// <summary>
    /// Repacked weights: every output is one fused multiply-add chain over the input index, then + bias, then added
    /// to y when accumulating, whatever the row count (tiles of 8, 4, 2 and 1 rows) or the panel (32 columns, the last
    /// one partial). The expected values are that chain computed element by element, so the comparison is exact.
    /// </summary>
    [Theory]
    [InlineData(37, 11, 19)]
    [InlineData(64, 256, 8)]
    [InlineData(5, 3, 7)]
    [InlineData(80, 70, 15)]
    [InlineData(256, 704, 64)]
    public unsafe void PanelProjectionIsTheFusedMultiplyAddChainForAnyRowCount(int inDim, int outDim, int rows)
    {
        var rng = new SplitMix64((ulong)(inDim * 7 + outDim));
        float[] x = Enumerable.Range(0, rows * inDim).Select(_ => (float)rng.NextGaussian()).ToArray();
        float[] w = Enumerable.Range(0, outDim * inDim).Select(_ => (float)rng.NextGaussian()).ToArray();
        float[] b = Enumerable.Range(0, outDim).Select(_ => (float)rng.NextGaussian()).ToArray();
        float[] y0 = Enumerable.Range(0, rows * outDim).Select(_ => (float)rng.NextGaussian()).ToArray();
        var panels = new PanelMatrix(outDim, inDim);
        fixed (float* wp = w) panels.Pack(wp);
        for (int p = 0; p < panels.Panels; p++)
            for (int e = 0; e < inDim; e++)
                for (int c = 0; c < PanelMatrix.Width; c++)
                {
                    int j = p * PanelMatrix.Width + c;
                    Assert.Equal(j < outDim ? w[j * inDim + e] : 0f, panels.Panel(p)[e * PanelMatrix.Width + c]);
                }
        if (!PanelKernels.Supported) return; // the kernels need AVX-512

        var expected = new float[rows * outDim];
        var accumulated = new float[rows * outDim];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < outDim; j++)
            {
                float s = 0;
                for (int i = 0; i < inDim; i++) s = MathF.FusedMultiplyAdd(x[r * inDim + i], w[j * inDim + i], s);
                expected[r * outDim + j] = s + b[j];
                accumulated[r * outDim + j] = y0[r * outDim + j] + (s + b[j]);
            }
        for (int n = 1; n <= rows; n++)
        {
            var y = new float[n * outDim];
            var acc = y0[..(n * outDim)];
            fixed (float* xp = x, wp = w, bp = b, yp = y, ap = acc)
            {
                DecodeKernels.Project(xp, n, inDim, [new(wp, outDim, bp, yp, panels: panels)]);
                DecodeKernels.Project(xp, n, inDim, [new(wp, outDim, bp, ap, accumulate: true, panels: panels)], parallel: false);
            }
            Assert.Equal(expected[..(n * outDim)], y);
            Assert.Equal(accumulated[..(n * outDim)], acc);
        }
    }

    /// <summary>The gate/up/SwiGLU panel loop gives SwiGLU of the two panel projections, whole-row, for any row count.</summary>
    [Theory]
    [InlineData(48, 70, 11)]
    [InlineData(256, 704, 9)]
    public unsafe void PanelGateUpSwiGluMatchesProjectionsThenSwiGlu(int inDim, int outDim, int rows)
    {
        if (!PanelKernels.Supported) return;
        var rng = new SplitMix64(21);
        float[] x = Enumerable.Range(0, rows * inDim).Select(_ => (float)rng.NextGaussian()).ToArray();
        float[] wg = Enumerable.Range(0, outDim * inDim).Select(_ => (float)rng.NextGaussian() * 0.2f).ToArray();
        float[] wu = Enumerable.Range(0, outDim * inDim).Select(_ => (float)rng.NextGaussian() * 0.2f).ToArray();
        var gate = new PanelMatrix(outDim, inDim);
        var up = new PanelMatrix(outDim, inDim);
        fixed (float* g = wg, u = wu)
        {
            gate.Pack(g);
            up.Pack(u);
        }
        var g0 = new float[rows * outDim];
        var u0 = new float[rows * outDim];
        var expected = new float[rows * outDim];
        fixed (float* xp = x, g = wg, u = wu, gp = g0, up0 = u0)
        {
            DecodeKernels.Project(xp, rows, inDim, [new(g, outDim, null, gp, panels: gate), new(u, outDim, null, up0, panels: up)]);
        }
        for (int r = 0; r < rows; r++)
            Pacs.Tensors.Kernels.Activations.SwiGluForward(g0.AsSpan(r * outDim, outDim), u0.AsSpan(r * outDim, outDim), expected.AsSpan(r * outDim, outDim));
        for (int n = 1; n <= rows; n++)
        {
            var y = new float[n * outDim];
            fixed (float* xp = x, yp = y)
                DecodeKernels.GateUpSwiGlu(xp, n, gate, up, yp);
            Assert.Equal(expected[..(n * outDim)], y);
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

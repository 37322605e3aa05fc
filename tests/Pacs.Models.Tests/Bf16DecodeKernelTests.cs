using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pacs.Tensors.Kernels;

namespace Pacs.Models.Tests;

/// <summary>
/// The decode kernels on bfloat16 weights (32 weights a step, widened by <see cref="BFloat16.Load512x2"/>) against
/// the float32 kernels on the widened weights, to the bit, and against a scalar reference of the kernels' summation
/// order: 16 lanes of fused multiply-adds (weight i in lane i % 16), a fixed tree over the lanes, then a scalar tail.
/// Input sizes around multiples of 16 and 32 exercise the 32-step loop, the 16-step loop and the scalar tail; row
/// counts 1 to 9 the one-row kernels (eight or four weight rows a block) and the four-row kernel; output counts that are
/// not multiples of 4 the single dot product; an input of more than 2048 the prefetch of long rows.
/// </summary>
public class Bf16DecodeKernelTests
{
    public static TheoryData<int, int> Sizes => new()
    {
        { 1, 5 }, { 15, 9 }, { 16, 4 }, { 17, 7 }, { 31, 13 }, { 32, 16 }, { 33, 19 }, { 47, 3 }, { 48, 21 },
        { 63, 33 }, { 64, 12 }, { 65, 37 }, { 100, 18 }, { 129, 23 }, { 200, 40 }, { 2085, 17 },
    };

    private static float[] Gaussians(SplitMix64 rng, int count, double scale = 1) =>
        Enumerable.Range(0, count).Select(_ => (float)(rng.NextGaussian() * scale)).ToArray();

    private static void AssertBitEqual(float[] expected, float[] actual, string label)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{label}: element {i} is {actual[i]}, expected {expected[i]}");
    }

    /// <summary>x . w in the AVX-512 kernels' order, one scalar operation at a time.</summary>
    private static float LaneOrderDot(ReadOnlySpan<float> x, ReadOnlySpan<float> w)
    {
        int k = x.Length, vectorEnd = k - k % 16;
        var lanes = new float[16];
        for (int i = 0; i < vectorEnd; i++) lanes[i % 16] = MathF.FusedMultiplyAdd(x[i], w[i], lanes[i % 16]);
        var half = new float[8];
        for (int l = 0; l < 8; l++) half[l] = lanes[l] + lanes[l + 8];
        var quarter = new float[4];
        for (int l = 0; l < 4; l++) quarter[l] = half[l] + half[l + 4];
        float s = (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]);
        for (int i = vectorEnd; i < k; i++) s = MathF.FusedMultiplyAdd(x[i], w[i], s);
        return s;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public unsafe void Bf16ProjectionEqualsFloat32AndTheLaneOrderReference(int inDim, int outDim)
    {
        const int maxRows = 9;
        var rng = new SplitMix64((ulong)(inDim * 100 + outDim));
        float[] x = Gaussians(rng, maxRows * inDim);
        ushort[] bits = BFloat16.RoundArray(Gaussians(rng, outDim * inDim, 0.3));
        float[] wide = BFloat16.ToSingleArray(bits);
        float[] bias = Gaussians(rng, outDim);
        float[] y0 = Gaussians(rng, maxRows * outDim);
        for (int n = 1; n <= maxRows; n++)
        {
            var expected = new float[n * outDim];
            var expectedAccumulated = new float[n * outDim];
            for (int r = 0; r < n; r++)
                for (int j = 0; j < outDim; j++)
                {
                    float dot = LaneOrderDot(x.AsSpan(r * inDim, inDim), wide.AsSpan(j * inDim, inDim));
                    expected[r * outDim + j] = dot + bias[j];
                    expectedAccumulated[r * outDim + j] = y0[r * outDim + j] + (dot + bias[j]);
                }
            var f32 = new float[n * outDim];
            var bf16 = new float[n * outDim];
            var accumulated = y0[..(n * outDim)];
            fixed (float* xp = x, wp = wide, bp = bias, fp = f32, yp = bf16, ap = accumulated)
            fixed (ushort* w16 = bits)
            {
                DecodeKernels.Project(xp, n, inDim, [new(wp, outDim, bp, fp)]);
                DecodeKernels.Project(xp, n, inDim, [new(null, outDim, bp, yp, w16: w16)]);
                DecodeKernels.Project(xp, n, inDim, [new(null, outDim, bp, ap, accumulate: true, w16: w16)], parallel: false);
            }
            string label = $"in {inDim}, out {outDim}, rows {n}";
            AssertBitEqual(f32, bf16, label + ": bf16 against float32 on the widened weights");
            if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
            {
                AssertBitEqual(expected, bf16, label + ": bf16 against the lane-order reference");
                AssertBitEqual(expectedAccumulated, accumulated, label + ": accumulated bf16 against the lane-order reference");
            }
            else
            {
                for (int e = 0; e < expected.Length; e++) Assert.Equal(expected[e], bf16[e], 1e-4 * Math.Max(1, Math.Abs(expected[e])));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public unsafe void Bf16GateUpSwiGluEqualsFloat32(int inDim, int outDim)
    {
        const int maxRows = 9;
        var rng = new SplitMix64((ulong)(inDim * 100 + outDim + 7));
        float[] x = Gaussians(rng, maxRows * inDim);
        ushort[] gate16 = BFloat16.RoundArray(Gaussians(rng, outDim * inDim, 0.3));
        ushort[] up16 = BFloat16.RoundArray(Gaussians(rng, outDim * inDim, 0.3));
        float[] gate = BFloat16.ToSingleArray(gate16), up = BFloat16.ToSingleArray(up16);
        for (int n = 1; n <= maxRows; n++)
        {
            var f32 = new float[n * outDim];
            var bf16 = new float[n * outDim];
            fixed (float* xp = x, g = gate, u = up, fp = f32, yp = bf16)
            fixed (ushort* g16 = gate16, u16 = up16)
            {
                DecodeKernels.GateUpSwiGlu(xp, n, inDim, g, u, outDim, fp);
                DecodeKernels.GateUpSwiGlu(xp, n, inDim, g16, u16, outDim, yp);
            }
            AssertBitEqual(f32, bf16, $"gate/up in {inDim}, out {outDim}, rows {n}");
            // And it is SwiGLU of the two projections (to rounding).
            for (int r = 0; r < n; r++)
                for (int j = 0; j < outDim; j++)
                {
                    double g = 0, u = 0;
                    for (int i = 0; i < inDim; i++)
                    {
                        g += (double)x[r * inDim + i] * gate[j * inDim + i];
                        u += (double)x[r * inDim + i] * up[j * inDim + i];
                    }
                    double expected = g / (1 + Math.Exp(-g)) * u;
                    Assert.Equal(expected, bf16[r * outDim + j], 1e-4 * Math.Max(1, Math.Abs(expected)));
                }
        }
    }
}

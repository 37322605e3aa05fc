using Pacs.Tensors.Optim;

namespace Pacs.Tensors.Tests;

public class OptimScheduleAndGradientTests
{
    [Fact]
    public void ClipGlobalNormScalesOnlyAboveTheThresholdAndReturnsTheNorm()
    {
        var a = Tensor.Parameter([0f, 0f], [2], "a");
        var b = Tensor.Parameter([0f], [1], "b");
        var frozen = Tensor.Parameter([0f], [1], "frozen");
        a.Grad = [3f, 0f];
        b.Grad = [4f];
        Assert.Equal(5, GradientTools.ClipGlobalNorm([a, b, frozen], maxNorm: 10), 6);
        Assert.Equal([3f, 0f], a.Grad);
        Assert.Equal(5, GradientTools.ClipGlobalNorm([a, b, frozen], maxNorm: 1), 6);
        float coef = (float)(1 / (5 + 1e-6));
        Assert.Equal(3 * coef, a.Grad[0], 6);
        Assert.Equal(4 * coef, b.Grad[0], 6);
        Assert.Equal(1, GradientTools.GlobalNorm([a, b]), 5);
    }

    [Fact]
    public void NonFiniteDetectionAndAccumulationScaling()
    {
        var a = Tensor.Parameter(new float[100], [10, 10], "a");
        a.Grad = Enumerable.Range(0, 100).Select(i => (float)i).ToArray();
        Assert.True(GradientTools.AllFinite([a]));
        a.Grad[57] = float.NegativeInfinity;
        Assert.False(GradientTools.AllFinite([a]));
        Assert.Equal(["a"], GradientTools.NonFiniteGradients([a]));
        Assert.True(double.IsInfinity(GradientTools.ClipGlobalNorm([a], 1)));
        // Huge but finite gradients overflow g·g in float32 without being non-finite.
        a.Grad = Enumerable.Repeat(1e30f, 100).ToArray();
        Assert.True(GradientTools.AllFinite([a]));
        a.Grad = [.. Enumerable.Repeat(2f, 100)];
        GradientTools.Scale([a], 0.25f);
        Assert.All(a.Grad, g => Assert.Equal(0.5f, g));
    }

    [Fact]
    public void NoDecayGroupHoldsBiasesNormsAndVectors()
    {
        var w = Tensor.Parameter(new float[4], [2, 2], "h.0.attn.wq");
        var bias = Tensor.Parameter(new float[2], [2], "h.0.attn.bias");
        var norm = Tensor.Parameter(new float[4], [2, 2], "h.0.norm_scale_matrix");
        var groups = ParameterGroup.DecayAndNoDecay([w, bias, norm], 0.1);
        Assert.Equal(("decay", 0.1), (groups[0].Name, groups[0].WeightDecay));
        Assert.Equal([w], groups[0].Parameters);
        Assert.Equal(("no_decay", 0.0), (groups[1].Name, groups[1].WeightDecay));
        Assert.Equal([bias, norm], groups[1].Parameters);
    }
}

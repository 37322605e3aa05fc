using Pacs.Tensors.Optim;

namespace Pacs.Tensors.Tests;

public class OptimScheduleAndGradientTests
{
    private static void AssertAll(double[] expected, IEnumerable<double> actual, int digits)
    {
        var got = actual.ToArray();
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], got[i], digits);
    }

    [Fact]
    public void ConstantWithWarmup()
    {
        var schedule = new LrSchedule("constant", 1e-3, warmupSteps: 4);
        AssertAll([0.25e-3, 0.5e-3, 0.75e-3, 1e-3, 1e-3, 1e-3], Enumerable.Range(0, 6).Select(s => schedule.LearningRate(s)).ToArray(), 15);
        Assert.Equal(2e-5, new LrSchedule("constant", 2e-5).LearningRate(0));
    }

    [Fact]
    public void CosineWithWarmupAndMinRatio()
    {
        // Peak 1, warm-up 2, total 10, min 0.1: decay over steps 2..10, p = (s − 2)/8.
        var schedule = new LrSchedule("cosine", 1.0, warmupSteps: 2, totalSteps: 10, minLrRatio: 0.1);
        Assert.Equal(0.5, schedule.LearningRate(0), 12);
        Assert.Equal(1.0, schedule.LearningRate(2), 12);
        Assert.Equal(0.1 + 0.45 * (1 + Math.Cos(Math.PI / 4)), schedule.LearningRate(4), 12);
        Assert.Equal(0.55, schedule.LearningRate(6), 12);
        Assert.Equal(0.1, schedule.LearningRate(10), 12);
        Assert.Equal(0.1, schedule.LearningRate(50), 12);
    }

    [Fact]
    public void LinearDecay()
    {
        var schedule = new LrSchedule("linear", 2.0, warmupSteps: 0, totalSteps: 4, minLrRatio: 0);
        AssertAll([2.0, 1.5, 1.0, 0.5, 0.0], Enumerable.Range(0, 5).Select(s => schedule.LearningRate(s)).ToArray(), 12);
    }

    [Fact]
    public void ScheduleRejectsBadSettings()
    {
        Assert.Throws<ArgumentException>(() => new LrSchedule("step", 1));
        Assert.Throws<ArgumentException>(() => new LrSchedule("cosine", 1, warmupSteps: 10, totalSteps: 10));
        Assert.Throws<ArgumentException>(() => new LrSchedule("cosine", 1, totalSteps: 10, minLrRatio: 2));
    }

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

namespace Pacs.Engine.Tests;

public class LrScheduleTests
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
}

using System.Text.Json;
using Pacs.Tensors.Optim;

namespace Pacs.Tensors.Tests;

public class OptimAdamWTests
{
    private static JsonElement LoadFixture()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pacs.sln"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException("Pacs.sln not found above " + AppContext.BaseDirectory);
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.FullName, "tests", "fixtures", "rl", "adamw.json"))).RootElement;
    }

    private static float[] Floats(JsonElement array) => array.EnumerateArray().Select(v => v.GetSingle()).ToArray();

    [Fact]
    public void MatchesTorchAdamWOverSixStepsWithGroupsAndChangingLr()
    {
        var fixture = LoadFixture();
        var initial = fixture.GetProperty("initial");
        var shapes = fixture.GetProperty("shapes");
        var parameters = new Dictionary<string, Tensor>();
        foreach (var p in initial.EnumerateObject())
            parameters[p.Name] = Tensor.Parameter(Floats(p.Value), shapes.GetProperty(p.Name).EnumerateArray().Select(d => d.GetInt32()).ToArray(), p.Name);
        var betas = Floats(fixture.GetProperty("betas"));
        var groups = ParameterGroup.DecayAndNoDecay(parameters.Values, fixture.GetProperty("weight_decay").GetDouble());
        Assert.Equal(["wte"], groups[0].Parameters.Select(p => p.Name!));
        var optimizer = new AdamW(groups, new AdamWOptions { Beta1 = 0.9, Beta2 = 0.95, Epsilon = fixture.GetProperty("eps").GetDouble() });
        Assert.Equal(0.95, betas[1], 6);
        int steps = 0;
        foreach (var step in fixture.GetProperty("steps").EnumerateArray())
        {
            optimizer.LearningRate = step.GetProperty("lr").GetDouble();
            foreach (var g in step.GetProperty("grads").EnumerateObject()) parameters[g.Name].Grad = Floats(g.Value);
            Assert.False(optimizer.Step().Skipped);
            foreach (var expected in step.GetProperty("params").EnumerateObject())
            {
                var want = Floats(expected.Value);
                var got = parameters[expected.Name].Data;
                for (int i = 0; i < want.Length; i++)
                    Assert.True(Math.Abs(want[i] - got[i]) <= 2e-6 * Math.Max(1, Math.Abs(want[i])), $"step {steps} {expected.Name}[{i}]: torch {want[i]}, ours {got[i]}");
            }
            steps++;
        }
        Assert.Equal(6, steps);
        Assert.Equal(6, optimizer.StepCount);
    }

    [Fact]
    public void FirstStepMovesEachWeightByTheLearningRateAgainstItsGradientSign()
    {
        // Bias-corrected m/sqrt(v) = g/|g| at step 1, so p ← p(1 − lr λ) − lr sign(g) (ε negligible).
        var p = Tensor.Parameter([1f, -2f, 3f, 0.5f], [2, 2], "w");
        p.Grad = [0.3f, -4f, 1e-3f, -0.2f];
        var optimizer = new AdamW([p], new AdamWOptions { LearningRate = 0.1, WeightDecay = 0.5 });
        optimizer.Step();
        double[] expected = [0.95 * 1 - 0.1, 0.95 * -2 + 0.1, 0.95 * 3 - 0.1, 0.95 * 0.5 + 0.1];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], p.Data[i], 1e-5);
    }

    [Fact]
    public void NonFiniteGradientsSkipTheStepAndChangeNothing()
    {
        var a = Tensor.Parameter([1f, 2f], [2], "a");
        var b = Tensor.Parameter([3f, 4f], [2], "b");
        var optimizer = new AdamW([a, b], new AdamWOptions { LearningRate = 0.1 });
        a.Grad = [1f, 1f];
        b.Grad = [float.NaN, 0f];
        var result = optimizer.Step();
        Assert.True(result.Skipped);
        Assert.Contains("b", result.Reason);
        Assert.Equal([1f, 2f], a.Data);
        Assert.Equal(0, optimizer.StepCount);
        Assert.Equal(1, optimizer.SkippedSteps);
        Assert.All(optimizer.ExportState()["a.exp_avg"], v => Assert.Equal(0f, v));
        b.Grad = [float.PositiveInfinity, 0f];
        Assert.True(optimizer.Step().Skipped);
        b.Grad = [1f, 1f];
        Assert.False(optimizer.Step().Skipped);
        Assert.NotEqual(1f, a.Data[0]);
    }

    [Fact]
    public void ParametersWithoutGradientsAreLeftAlone()
    {
        var a = Tensor.Parameter([1f, 2f], [2], "a");
        var frozen = Tensor.Parameter([3f], [1], "frozen");
        var optimizer = new AdamW([a, frozen], new AdamWOptions());
        a.Grad = [1f, -1f];
        optimizer.Step();
        Assert.Equal([3f], frozen.Data);
        Assert.Equal([0f], optimizer.ExportState()["frozen.step"]);
        Assert.Equal([1f], optimizer.ExportState()["a.step"]);
    }

    [Fact]
    public void ExportedStateResumesBitIdentically()
    {
        var rng = new Random(42);
        float[] RandomArray(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var initial = RandomArray(37);
        var original = Tensor.Parameter((float[])initial.Clone(), [37], "w");
        var options = new AdamWOptions { LearningRate = 0.01, WeightDecay = 0.1 };
        var optimizer = new AdamW([original], options);
        var grads = Enumerable.Range(0, 6).Select(_ => RandomArray(37)).ToArray();
        for (int s = 0; s < 3; s++)
        {
            original.Grad = (float[])grads[s].Clone();
            optimizer.Step();
        }
        var resumed = Tensor.Parameter((float[])original.Data.Clone(), [37], "w");
        var resumedOptimizer = new AdamW([resumed], options);
        resumedOptimizer.ImportState(optimizer.ExportState());
        Assert.Equal(3, resumedOptimizer.StepCount);
        for (int s = 3; s < 6; s++)
        {
            original.Grad = (float[])grads[s].Clone();
            resumed.Grad = (float[])grads[s].Clone();
            optimizer.Step();
            resumedOptimizer.Step();
        }
        Assert.Equal(original.Data, resumed.Data);
        Assert.NotEqual(initial, original.Data);
    }

    [Fact]
    public void ExportWithoutCopyHandsOutTheLiveMomentsAndTheDefaultCopies()
    {
        var w = Tensor.Parameter([1f, 2f], [2], "w");
        var optimizer = new AdamW([w], new AdamWOptions { LearningRate = 0.1 });
        w.Grad = [0.5f, -1f];
        optimizer.Step();
        var copied = optimizer.ExportState();
        var live = optimizer.ExportState(copy: false);
        Assert.Equal(copied["w.exp_avg"], live["w.exp_avg"]);
        w.Grad = [1f, 1f];
        optimizer.Step();
        Assert.NotEqual(copied["w.exp_avg"], live["w.exp_avg"]);
        Assert.Equal(optimizer.ExportState()["w.exp_avg"], live["w.exp_avg"]);
        Assert.Equal(optimizer.ExportState()["w.exp_avg_sq"], live["w.exp_avg_sq"]);
    }

    [Fact]
    public void ImportRejectsMissingOrMisshapenState()
    {
        var w = Tensor.Parameter([1f, 2f], [2], "w");
        var optimizer = new AdamW([w], new AdamWOptions());
        var state = optimizer.ExportState().ToDictionary(kv => kv.Key, kv => kv.Value);
        state.Remove("w.exp_avg_sq");
        Assert.Contains("w.exp_avg_sq", Assert.Throws<InvalidDataException>(() => optimizer.ImportState(state)).Message);
        state["w.exp_avg_sq"] = [1f];
        Assert.Contains("w.exp_avg_sq", Assert.Throws<InvalidDataException>(() => optimizer.ImportState(state)).Message);
    }

    [Fact]
    public void DuplicateNamesAreRejectedBecauseTheyKeyTheState()
    {
        var a = Tensor.Parameter([1f], [1], "x");
        var b = Tensor.Parameter([1f], [1], "x");
        Assert.Throws<ArgumentException>(() => new AdamW([a, b], new AdamWOptions()));
    }
}

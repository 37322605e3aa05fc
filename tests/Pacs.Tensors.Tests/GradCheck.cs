namespace Pacs.Tensors.Tests;

/// <summary>
/// Checks an op's backward against central finite differences of L = sum(out * r) for a fixed random r.
/// The forward runs in float32, so L is accumulated in double and the step is large enough for float rounding.
/// </summary>
internal static class GradCheck
{
    public static Tensor Param(Random rng, params int[] shape) => Param(rng, 1f, shape);

    public static Tensor Param(Random rng, float scale, params int[] shape)
    {
        var data = new float[Shapes.Numel(shape)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return Tensor.Parameter(data, shape);
    }

    public static float[] RandomArray(Random rng, int n, float lo = -1f, float hi = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (float)rng.NextDouble() * (hi - lo);
        return a;
    }

    /// <summary>
    /// Runs forward once with autograd to get analytic gradients, then perturbs up to maxChecks elements of each
    /// input and compares (L(x+h) - L(x-h)) / 2h. Fails on |analytic - numeric| > atol + rtol * max(|a|, |n|).
    /// </summary>
    public static void Check(Func<Tensor> forward, Tensor[] inputs, int seed = 7, float h = 1e-2f, float atol = 3e-4f,
        float rtol = 3e-3f, int maxChecks = 48)
    {
        foreach (var t in inputs) t.Grad = null;
        var output = forward();
        var rng = new Random(seed);
        var r = RandomArray(rng, output.Numel);
        output.Backward(r);
        foreach (var input in inputs)
        {
            Assert.NotNull(input.Grad);
            var analytic = (float[])input.Grad!.Clone();
            var indices = Enumerable.Range(0, input.Numel).ToArray();
            if (indices.Length > maxChecks) indices = indices.OrderBy(_ => rng.Next()).Take(maxChecks).ToArray();
            foreach (int i in indices)
            {
                float saved = input.Data[i];
                input.Data[i] = saved + h;
                double plus = Loss(forward, r);
                input.Data[i] = saved - h;
                double minus = Loss(forward, r);
                input.Data[i] = saved;
                double numeric = (plus - minus) / (2 * h);
                double a = analytic[i];
                double tol = atol + rtol * Math.Max(Math.Abs(a), Math.Abs(numeric));
                Assert.True(Math.Abs(a - numeric) <= tol,
                    $"{input} element {i}: analytic {a} vs numeric {numeric} (tolerance {tol})");
            }
        }
        foreach (var t in inputs) t.Grad = null;
    }

    private static double Loss(Func<Tensor> forward, float[] r)
    {
        using var _ = Autograd.NoGrad();
        var y = forward().Data;
        double sum = 0;
        for (int i = 0; i < y.Length; i++) sum += (double)y[i] * r[i];
        return sum;
    }
}

using System.Buffers;
using System.Numerics.Tensors;
using Pacs.Tensors.Kernels;

namespace Pacs.Tensors;

public static partial class Ops
{
    /// <summary>softmax over the last dimension.</summary>
    public static Tensor Softmax(Tensor x)
    {
        var (rows, cols) = RowsCols("Softmax", x);
        float[] xd = x.Data, y = TensorScope.Allocate(xd.Length);
        if (rows > 0) Kernels.Softmax.Forward(xd, y, cols);
        var result = new Tensor(y, (int[])x.Shape.Clone());
        if (Autograd.Needs(x))
            result.SetGraph([x], () =>
            {
                float[] g = result.Grad!, gx = x.EnsureGrad();
                // dx = y * (g - sum(g * y))
                RowParallel.For(rows, 4L * cols, r =>
                {
                    var yr = y.AsSpan(r * cols, cols);
                    var gr = g.AsSpan(r * cols, cols);
                    var dr = gx.AsSpan(r * cols, cols);
                    float dot = TensorPrimitives.Dot(gr, yr);
                    for (int c = 0; c < cols; c++) dr[c] += yr[c] * (gr[c] - dot);
                });
            });
        return result;
    }

    /// <summary>log_softmax over the last dimension.</summary>
    public static Tensor LogSoftmax(Tensor x)
    {
        var (rows, cols) = RowsCols("LogSoftmax", x);
        float[] xd = x.Data, y = TensorScope.Allocate(xd.Length);
        if (rows > 0) Kernels.Softmax.LogForward(xd, y, cols);
        var result = new Tensor(y, (int[])x.Shape.Clone());
        if (Autograd.Needs(x))
            result.SetGraph([x], () =>
            {
                float[] g = result.Grad!, gx = x.EnsureGrad();
                // dx = g - exp(y) * sum(g)
                RowParallel.For(rows, 4L * cols, r =>
                {
                    var yr = y.AsSpan(r * cols, cols);
                    var gr = g.AsSpan(r * cols, cols);
                    var dr = gx.AsSpan(r * cols, cols);
                    float total = TensorPrimitives.Sum(gr);
                    for (int c = 0; c < cols; c++) dr[c] += gr[c] - MathF.Exp(yr[c]) * total;
                });
            });
        return result;
    }

    private static void CheckLogits(string op, Tensor logits, int targetCount)
    {
        if (logits.Rank != 2) throw new ArgumentException($"{op}: logits must be [N, V], got {Describe(logits)}");
        if (targetCount != logits.Shape[0]) throw new ArgumentException($"{op}: {targetCount} targets for logits {Describe(logits)}");
    }

    /// <summary>
    /// For the backward of the fused log-prob ops: dz[r, :] += rowCoef[r] * (softmax(z[r] / T) + extra), where extra is
    /// computed per element by addExtra (it receives the row's probabilities, the row index and the gradient row).
    /// </summary>
    private static void SoftmaxRowsBackward(float[] logits, int rows, int cols, float temperature, float[] lse,
        float[] gz, Action<int, float[], Span<float>> rowGrad)
    {
        RowParallel.ForRange(rows, 6L * cols, (r0, r1) =>
        {
            float[] p = ArrayPool<float>.Shared.Rent(cols);
            for (int r = r0; r < r1; r++)
            {
                var ps = p.AsSpan(0, cols);
                var zr = logits.AsSpan(r * cols, cols);
                if (temperature == 1f) zr.CopyTo(ps);
                else TensorPrimitives.Divide(zr, temperature, ps);
                TensorPrimitives.Subtract(ps, lse[r], ps);
                TensorPrimitives.Exp(ps, ps);
                rowGrad(r, p, gz.AsSpan(r * cols, cols));
            }
            ArrayPool<float>.Shared.Return(p);
        });
    }

    /// <summary>Mean over rows whose target is not -1 of -log_softmax(logits)[n, target]; logits [N, V] -> scalar.</summary>
    public static Tensor CrossEntropy(Tensor logits, int[] targets)
    {
        CheckLogits("CrossEntropy", logits, targets.Length);
        int rows = logits.Shape[0], cols = logits.Shape[1];
        var logProbs = TensorScope.Allocate(rows);
        var lse = TensorScope.Allocate(rows);
        Kernels.Softmax.GatherLogProbs(logits.Data, targets, cols, 1f, logProbs, lse);
        int count = 0;
        double total = 0;
        for (int n = 0; n < rows; n++)
            if (targets[n] >= 0) { count++; total -= logProbs[n]; }
        var result = Tensor.Scalar(count == 0 ? 0f : (float)(total / count));
        if (Autograd.Needs(logits) && count > 0)
        {
            int[] tg = (int[])targets.Clone();
            float[] zd = logits.Data;
            result.SetGraph([logits], () =>
            {
                float coef = result.Grad![0] / count;
                SoftmaxRowsBackward(zd, rows, cols, 1f, lse, logits.EnsureGrad(), (r, p, dz) =>
                {
                    if (tg[r] < 0) return;
                    Simd.Axpy(coef, p.AsSpan(0, cols), dz);
                    dz[tg[r]] -= coef;
                });
            });
        }
        return result;
    }

    /// <summary>
    /// [N]: log_softmax(logits / temperature)[n, targets[n]] for logits [N, V], fused (no [N, V] buffer is kept).
    /// A target of -1 gives 0 with no gradient.
    /// </summary>
    public static Tensor GatherLogProbs(Tensor logits, int[] targets, float temperature = 1f)
    {
        CheckLogits("GatherLogProbs", logits, targets.Length);
        int rows = logits.Shape[0], cols = logits.Shape[1];
        var y = TensorScope.Allocate(rows);
        bool needs = Autograd.Needs(logits);
        var lse = TensorScope.Allocate(needs ? rows : 0);
        Kernels.Softmax.GatherLogProbs(logits.Data, targets, cols, temperature, y, needs ? lse : default);
        var result = new Tensor(y, [rows]);
        if (needs)
        {
            int[] tg = (int[])targets.Clone();
            float[] zd = logits.Data;
            result.SetGraph([logits], () =>
            {
                float[] g = result.Grad!;
                // d/dz = g / T * (onehot(target) - p)
                SoftmaxRowsBackward(zd, rows, cols, temperature, lse, logits.EnsureGrad(), (r, p, dz) =>
                {
                    if (tg[r] < 0) return;
                    float coef = g[r] / temperature;
                    Simd.Axpy(-coef, p.AsSpan(0, cols), dz);
                    dz[tg[r]] += coef;
                });
            });
        }
        return result;
    }

    /// <summary>[N]: entropy of softmax(logits / temperature) for logits [N, V].</summary>
    public static Tensor Entropy(Tensor logits, float temperature = 1f)
    {
        if (logits.Rank != 2) throw new ArgumentException($"Entropy: logits must be [N, V], got {Describe(logits)}");
        int rows = logits.Shape[0], cols = logits.Shape[1];
        var h = TensorScope.Allocate(rows);
        bool needs = Autograd.Needs(logits);
        var lse = TensorScope.Allocate(needs ? rows : 0);
        Kernels.Softmax.Entropy(logits.Data, cols, temperature, h, needs ? lse : default);
        var result = new Tensor(h, [rows]);
        if (needs)
        {
            float[] zd = logits.Data;
            result.SetGraph([logits], () =>
            {
                float[] g = result.Grad!;
                // dH/du_k = -p_k (log p_k + H), u = z / T
                SoftmaxRowsBackward(zd, rows, cols, temperature, lse, logits.EnsureGrad(), (r, p, dz) =>
                {
                    float coef = -g[r] / temperature, hr = h[r];
                    var zr = zd.AsSpan(r * cols, cols);
                    for (int c = 0; c < cols; c++)
                    {
                        float logP = zr[c] / temperature - lse[r];
                        dz[c] += coef * p[c] * (logP + hr);
                    }
                });
            });
        }
        return result;
    }

    /// <summary>
    /// [N]: weights[n] * (-(y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))) for logits x [N] and targets y [N],
    /// computed as max(x, 0) - x y + log1p(exp(-|x|)).
    /// </summary>
    public static Tensor BceWithLogits(Tensor logits, float[] targets, float[]? weights = null)
    {
        if (logits.Rank != 1 || targets.Length != logits.Numel || (weights is not null && weights.Length != logits.Numel))
            throw new ArgumentException($"BceWithLogits: logits {Describe(logits)} needs [N] with {targets.Length} targets and {weights?.Length.ToString() ?? "no"} weights");
        int n = logits.Numel;
        float[] x = logits.Data, y = TensorScope.Allocate(n), tg = (float[])targets.Clone(), w = weights is null ? [] : (float[])weights.Clone();
        for (int i = 0; i < n; i++)
        {
            float l = MathF.Max(x[i], 0f) - x[i] * tg[i] + MathF.Log(1f + MathF.Exp(-MathF.Abs(x[i])));
            y[i] = weights is null ? l : w[i] * l;
        }
        var result = new Tensor(y, [n]);
        if (Autograd.Needs(logits))
            result.SetGraph([logits], () =>
            {
                float[] g = result.Grad!, gx = logits.EnsureGrad();
                for (int i = 0; i < n; i++)
                    gx[i] += g[i] * (w.Length == 0 ? 1f : w[i]) * (Activations.Sigmoid(x[i]) - tg[i]);
            });
        return result;
    }
}

using System.Buffers;
using System.Numerics.Tensors;

namespace Pacs.Tensors.Kernels;

/// <summary>Row-wise softmax-family kernels over [rows, cols] buffers, parallel over rows.</summary>
public static class Softmax
{
    /// <summary>log(sum(exp(row / temperature))), computed stably; scratch must hold row.Length floats.</summary>
    public static float LogSumExp(ReadOnlySpan<float> row, float temperature, Span<float> scratch)
    {
        var u = scratch[..row.Length];
        if (temperature == 1f) row.CopyTo(u);
        else TensorPrimitives.Divide(row, temperature, u);
        float max = TensorPrimitives.Max(u);
        if (float.IsNegativeInfinity(max)) return max;
        TensorPrimitives.Subtract(u, max, u);
        TensorPrimitives.Exp(u, u);
        return max + MathF.Log(TensorPrimitives.Sum(u));
    }

    /// <summary>y = softmax(x / temperature) per row of cols elements (y may be x).</summary>
    public static unsafe void Forward(ReadOnlySpan<float> x, Span<float> y, int cols, float temperature = 1f)
    {
        CheckRows("Softmax", x.Length, y.Length, cols);
        fixed (float* xp0 = x, yp0 = y)
        {
            float* xp = xp0, yp = yp0;
            RowParallel.For(x.Length / cols, 4L * cols, r =>
            {
                var xr = new ReadOnlySpan<float>(xp + (long)r * cols, cols);
                var yr = new Span<float>(yp + (long)r * cols, cols);
                if (temperature == 1f) xr.CopyTo(yr);
                else TensorPrimitives.Divide(xr, temperature, yr);
                float max = TensorPrimitives.Max(yr);
                TensorPrimitives.Subtract(yr, max, yr);
                TensorPrimitives.Exp(yr, yr);
                TensorPrimitives.Multiply(yr, 1f / TensorPrimitives.Sum(yr), yr);
            });
        }
    }

    /// <summary>y = log_softmax(x / temperature) per row (y may be x).</summary>
    public static unsafe void LogForward(ReadOnlySpan<float> x, Span<float> y, int cols, float temperature = 1f)
    {
        CheckRows("LogSoftmax", x.Length, y.Length, cols);
        fixed (float* xp0 = x, yp0 = y)
        {
            float* xp = xp0, yp = yp0;
            RowParallel.ForRange(x.Length / cols, 4L * cols, (r0, r1) =>
            {
                float[] scratch = ArrayPool<float>.Shared.Rent(cols);
                for (int r = r0; r < r1; r++)
                {
                    var xr = new ReadOnlySpan<float>(xp + (long)r * cols, cols);
                    var yr = new Span<float>(yp + (long)r * cols, cols);
                    float lse = LogSumExp(xr, temperature, scratch);
                    if (temperature == 1f) xr.CopyTo(yr);
                    else TensorPrimitives.Divide(xr, temperature, yr);
                    TensorPrimitives.Subtract(yr, lse, yr);
                }
                ArrayPool<float>.Shared.Return(scratch);
            });
        }
    }

    /// <summary>
    /// logProbs[n] = log_softmax(logits[n] / temperature)[targets[n]] for logits [rows, cols]; a target of -1 gives 0.
    /// logSumExp (optional, [rows]) receives each row's log-normaliser of logits / temperature.
    /// </summary>
    public static unsafe void GatherLogProbs(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, int cols, float temperature,
        Span<float> logProbs, Span<float> logSumExp = default)
    {
        int rows = CheckRows("GatherLogProbs", logits.Length, logits.Length, cols);
        if (targets.Length != rows || logProbs.Length != rows || (!logSumExp.IsEmpty && logSumExp.Length != rows))
            throw new ArgumentException($"GatherLogProbs: {targets.Length} targets, {logProbs.Length} outputs, {logSumExp.Length} lse slots for {rows} rows");
        CheckTemperature("GatherLogProbs", temperature);
        for (int n = 0; n < rows; n++)
            if (targets[n] < -1 || targets[n] >= cols) throw new ArgumentException($"GatherLogProbs: targets[{n}] = {targets[n]} is outside [0, {cols}) (or -1 to skip)");
        fixed (float* zp0 = logits, op0 = logProbs, lp0 = logSumExp)
        fixed (int* tp0 = targets)
        {
            float* zp = zp0, opp = op0, lp = lp0;
            int* tp = tp0;
            bool keep = !logSumExp.IsEmpty;
            RowParallel.ForRange(rows, 4L * cols, (r0, r1) =>
            {
                float[] scratch = ArrayPool<float>.Shared.Rent(cols);
                for (int r = r0; r < r1; r++)
                {
                    var zr = new ReadOnlySpan<float>(zp + (long)r * cols, cols);
                    float lse = LogSumExp(zr, temperature, scratch);
                    if (keep) lp[r] = lse;
                    int t = tp[r];
                    opp[r] = t < 0 ? 0f : (temperature == 1f ? zr[t] : zr[t] / temperature) - lse;
                }
                ArrayPool<float>.Shared.Return(scratch);
            });
        }
    }

    /// <summary>
    /// entropy[n] of softmax(logits[n] / temperature) for logits [rows, cols]; logSumExp (optional, [rows]) receives
    /// each row's log-normaliser.
    /// </summary>
    public static unsafe void Entropy(ReadOnlySpan<float> logits, int cols, float temperature, Span<float> entropy, Span<float> logSumExp = default)
    {
        int rows = CheckRows("Entropy", logits.Length, logits.Length, cols);
        if (entropy.Length != rows || (!logSumExp.IsEmpty && logSumExp.Length != rows))
            throw new ArgumentException($"Entropy: {entropy.Length} outputs, {logSumExp.Length} lse slots for {rows} rows");
        CheckTemperature("Entropy", temperature);
        fixed (float* zp0 = logits, ep0 = entropy, lp0 = logSumExp)
        {
            float* zp = zp0, ep = ep0, lp = lp0;
            bool keep = !logSumExp.IsEmpty;
            RowParallel.ForRange(rows, 6L * cols, (r0, r1) =>
            {
                float[] u = ArrayPool<float>.Shared.Rent(cols), p = ArrayPool<float>.Shared.Rent(cols);
                for (int r = r0; r < r1; r++)
                {
                    var zr = new ReadOnlySpan<float>(zp + (long)r * cols, cols);
                    var us = u.AsSpan(0, cols);
                    var ps = p.AsSpan(0, cols);
                    if (temperature == 1f) zr.CopyTo(us);
                    else TensorPrimitives.Divide(zr, temperature, us);
                    float max = TensorPrimitives.Max(us);
                    TensorPrimitives.Subtract(us, max, ps);
                    TensorPrimitives.Exp(ps, ps);
                    float sum = TensorPrimitives.Sum(ps);
                    float lse = max + MathF.Log(sum);
                    // H = lse - sum(p * u)
                    ep[r] = lse - TensorPrimitives.Dot(ps, us) / sum;
                    if (keep) lp[r] = lse;
                }
                ArrayPool<float>.Shared.Return(u);
                ArrayPool<float>.Shared.Return(p);
            });
        }
    }

    internal static void CheckTemperature(string op, float temperature)
    {
        if (!(temperature > 0) || float.IsInfinity(temperature)) throw new ArgumentException($"{op}: temperature must be positive and finite, got {temperature}");
    }

    private static int CheckRows(string op, int xLength, int yLength, int cols)
    {
        if (cols <= 0 || xLength % cols != 0 || yLength != xLength)
            throw new ArgumentException($"{op}: buffers of {xLength} and {yLength} elements are not [rows, {cols}]");
        return xLength / cols;
    }
}

/// <summary>Deterministic scalar reductions: fixed blocks summed in parallel, then the block sums added in order in double.</summary>
public static class Reductions
{
    private const int Block = 8192;

    /// <summary>Sum of x[i] * weight[i] (weight empty = 1).</summary>
    public static unsafe double Sum(ReadOnlySpan<float> x, ReadOnlySpan<float> weight = default)
    {
        if (!weight.IsEmpty && weight.Length != x.Length) throw new ArgumentException($"Sum: weight has {weight.Length} elements, x {x.Length}");
        int blocks = (x.Length + Block - 1) / Block;
        if (blocks == 0) return 0;
        var partial = new double[blocks];
        fixed (float* xp0 = x, wp0 = weight)
        {
            float* xp = xp0, wp = wp0;
            int n = x.Length;
            bool weighted = !weight.IsEmpty;
            RowParallel.For(blocks, Block, blk =>
            {
                int start = blk * Block, len = Math.Min(Block, n - start);
                var xs = new ReadOnlySpan<float>(xp + start, len);
                partial[blk] = weighted ? TensorPrimitives.Dot(xs, new ReadOnlySpan<float>(wp + start, len)) : TensorPrimitives.Sum(xs);
            });
        }
        double total = 0;
        foreach (double p in partial) total += p;
        return total;
    }
}

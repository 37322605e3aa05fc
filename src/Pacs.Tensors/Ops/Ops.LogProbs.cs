using System.Numerics.Tensors;
using Pacs.Tensors.Kernels;

namespace Pacs.Tensors;

public static partial class Ops
{
    /// <summary>
    /// [N]: log_softmax((x W^T)[r] / temperature)[targets[r]] at the positions r listed in <paramref name="rows"/>, 0
    /// (with no gradient) elsewhere: the output layer and <see cref="GatherLogProbs"/> fused, over chunks of at most
    /// <paramref name="chunkRows"/> listed rows, so only a [chunkRows, V] block of logits exists at a time (instead of
    /// [N, V]), and only the listed rows' logits are computed. The backward computes each chunk's logits again.
    /// x [N, D], weight [V, D] (float32, or frozen bfloat16), targets [N] (-1 = skip). A row's logits are the numbers
    /// <c>Linear(x, weight)</c> gives it, to the bit (the GEMM computes a row from that row alone), so the log-probs
    /// and x's gradient equal those of <c>GatherLogProbs(Linear(x, weight), targets)</c> exactly; a trainable weight's
    /// gradient sums the rows chunk by chunk, so it differs from the unchunked sum by float rounding only.
    /// <paramref name="onLogits"/>(first, logits, count), when given, sees each chunk's logits [count, V] (a buffer that
    /// may be longer) for rows[first .. first + count), in the forward only: e.g. to take their entropy.
    /// </summary>
    public static Tensor ChunkedLogProbs(Tensor x, Tensor weight, int[] rows, int[] targets, float temperature, int chunkRows,
        Action<int, float[], int>? onLogits = null)
    {
        if (x.Rank != 2 || weight.Rank != 2 || x.Shape[1] != weight.Shape[1])
            throw ShapeError("ChunkedLogProbs", "x [N, D] needs weight [V, D]", x, weight);
        int n = x.Shape[0], dim = x.Shape[1], vocab = weight.Shape[0];
        if (targets.Length != n) throw new ArgumentException($"ChunkedLogProbs: {targets.Length} targets for x {Describe(x)}");
        if (chunkRows < 1) throw new ArgumentException($"ChunkedLogProbs: chunkRows must be >= 1, got {chunkRows}");
        foreach (int r in rows)
            if ((uint)r >= (uint)n) throw new ArgumentException($"ChunkedLogProbs: row {r} is outside [0, {n}) of x {Describe(x)}");
        Kernels.Softmax.CheckTemperature("ChunkedLogProbs", temperature);
        var rowTargets = rows.Select(r => targets[r]).ToArray();
        var y = TensorScope.Allocate(n);
        bool needs = Autograd.Needs(x, weight);
        var lse = needs ? new float[rows.Length] : null;
        int chunk = Math.Max(1, Math.Min(chunkRows, rows.Length));
        float[] logits = TensorScope.Allocate((long)chunk * vocab, clear: false), hidden = TensorScope.Allocate((long)chunk * dim, clear: false);
        var logProbs = new float[chunk];
        float[] xd = x.Data;
        for (int first = 0; first < rows.Length; first += chunk)
        {
            int count = Math.Min(chunk, rows.Length - first);
            ChunkLogits(xd, weight, rows, first, count, dim, vocab, hidden, logits);
            Kernels.Softmax.GatherLogProbs(logits.AsSpan(0, count * vocab), rowTargets.AsSpan(first, count), vocab, temperature,
                logProbs.AsSpan(0, count), lse is null ? default : lse.AsSpan(first, count));
            for (int i = 0; i < count; i++) y[rows[i + first]] = logProbs[i];
            onLogits?.Invoke(first, logits, count);
        }
        var result = new Tensor(y, [n]);
        if (needs)
            result.SetGraph([x, weight], () =>
            {
                float[] g = result.Grad!, dx = TensorScope.Allocate((long)chunk * dim, clear: false);
                for (int first = 0; first < rows.Length; first += chunk)
                {
                    int count = Math.Min(chunk, rows.Length - first);
                    ChunkLogits(xd, weight, rows, first, count, dim, vocab, hidden, logits);
                    LogitsGradInPlace(logits, count, vocab, temperature, lse!, rowTargets, first, r => g[rows[r]]);
                    if (x.RequiresGrad)
                    {
                        // dx rows = dz W, added into x's gradient (zero where no listed row is).
                        MultiplyByWeight(weight, transposed: false, count, dim, vocab, logits, 0f, dx);
                        float[] gx = x.EnsureGrad();
                        for (int i = 0; i < count; i++)
                            Simd.AddInPlace(gx.AsSpan(rows[first + i] * dim, dim), dx.AsSpan(i * dim, dim));
                    }
                    if (weight.RequiresGrad) Gemm.Sgemm(true, false, vocab, dim, count, 1f, logits, vocab, hidden, dim, 1f, weight.EnsureGrad(), dim);
                }
            });
        return result;
    }

    /// <summary>hidden [count, D] = x's rows rows[first ..]; logits [count, V] = hidden W^T (as <see cref="Linear"/> computes them).</summary>
    private static void ChunkLogits(float[] x, Tensor weight, int[] rows, int first, int count, int dim, int vocab, float[] hidden, float[] logits)
    {
        for (int i = 0; i < count; i++) x.AsSpan(rows[first + i] * dim, dim).CopyTo(hidden.AsSpan(i * dim, dim));
        MultiplyByWeight(weight, transposed: true, count, vocab, dim, hidden, 0f, logits);
    }

    /// <summary>
    /// Overwrites each chunk row z with d/dz of g * log_softmax(z / T)[target] = g / T * (onehot(target) - p), computed
    /// as <see cref="GatherLogProbs"/>'s backward computes it (a row whose target is -1 becomes zeros).
    /// </summary>
    private static void LogitsGradInPlace(float[] logits, int count, int vocab, float temperature, float[] lse, int[] targets, int first, Func<int, float> upstream)
    {
        RowParallel.For(count, 6L * vocab, i =>
        {
            var z = logits.AsSpan(i * vocab, vocab);
            int t = targets[first + i];
            if (t < 0)
            {
                z.Clear();
                return;
            }
            if (temperature != 1f) TensorPrimitives.Divide(z, temperature, z);
            TensorPrimitives.Subtract(z, lse[first + i], z);
            TensorPrimitives.Exp(z, z);
            float coef = upstream(first + i) / temperature;
            TensorPrimitives.Multiply(z, -coef, z);
            z[t] += coef;
        });
    }
}

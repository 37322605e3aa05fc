using Pacs.Tensors.Kernels;

namespace Pacs.Tensors;

public static partial class Ops
{
    /// <summary>
    /// op(a) @ op(b). a is [..., M, K] ([..., K, M] when transA); b is [K, N] ([N, K] when transB) shared by every
    /// leading index, or batched with a's leading dimensions. Result [..., M, N].
    /// </summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        if (a.Rank < 2 || b.Rank < 2) throw ShapeError("MatMul", "both operands need rank >= 2", a, b);
        int m = transA ? a.Shape[^1] : a.Shape[^2], k = transA ? a.Shape[^2] : a.Shape[^1];
        int kb = transB ? b.Shape[^1] : b.Shape[^2], n = transB ? b.Shape[^2] : b.Shape[^1];
        if (k != kb) throw ShapeError("MatMul", $"inner dimensions differ ({k} vs {kb}, transA={transA}, transB={transB})", a, b);
        int batch = a.Numel / Math.Max(1, m * k);
        bool shared = b.Rank == 2;
        if (!shared && (b.Rank != a.Rank || !a.Shape.AsSpan(0, a.Rank - 2).SequenceEqual(b.Shape.AsSpan(0, b.Rank - 2))))
            throw ShapeError("MatMul", "batched b must have a's leading dimensions", a, b);
        var shape = (int[])a.Shape.Clone();
        shape[^2] = m;
        shape[^1] = n;
        float[] ad = a.Data, bd = b.Data, c = TensorScope.Allocate((long)batch * m * n, clear: false);
        int lda = transA ? m : k, ldb = transB ? k : n;
        if (shared && !transA)
            Gemm.Sgemm(false, transB, batch * m, n, k, 1f, ad, lda, bd, ldb, 0f, c, n);
        else
            for (int i = 0; i < batch; i++)
                Gemm.Sgemm(transA, transB, m, n, k, 1f, ad.AsSpan(i * m * k, m * k), lda,
                    shared ? bd : bd.AsSpan(i * k * n, k * n), ldb, 0f, c.AsSpan(i * m * n, m * n), n);
        var result = new Tensor(c, shape);
        if (Autograd.Needs(a, b))
            result.SetGraph([a, b], () =>
            {
                float[] g = result.Grad!; // [batch, m, n]
                if (a.RequiresGrad)
                {
                    float[] ga = a.EnsureGrad();
                    if (shared && !transA)
                        Gemm.Sgemm(false, !transB, batch * m, k, n, 1f, g, n, bd, ldb, 1f, ga, k);
                    else
                        for (int i = 0; i < batch; i++)
                        {
                            var bi = shared ? bd : bd.AsSpan(i * k * n, k * n);
                            var gi = g.AsSpan(i * m * n, m * n);
                            var gai = ga.AsSpan(i * m * k, m * k);
                            // dA = g op(B)^T  [m, k]; stored transposed: dA^T = op(B) g^T [k, m].
                            if (!transA) Gemm.Sgemm(false, !transB, m, k, n, 1f, gi, n, bi, ldb, 1f, gai, k);
                            else Gemm.Sgemm(transB, true, k, m, n, 1f, bi, ldb, gi, n, 1f, gai, m);
                        }
                }
                if (b.RequiresGrad)
                {
                    float[] gb = b.EnsureGrad();
                    if (shared && !transA)
                    {
                        // dop(B) = A^T g [k, n]; stored transposed: dB = g^T A [n, k].
                        if (!transB) Gemm.Sgemm(true, false, k, n, batch * m, 1f, ad, k, g, n, 1f, gb, n);
                        else Gemm.Sgemm(true, false, n, k, batch * m, 1f, g, n, ad, k, 1f, gb, k);
                    }
                    else
                        for (int i = 0; i < batch; i++)
                        {
                            var ai = ad.AsSpan(i * m * k, m * k);
                            var gi = g.AsSpan(i * m * n, m * n);
                            var gbi = shared ? gb : gb.AsSpan(i * k * n, k * n);
                            if (!transB) Gemm.Sgemm(!transA, false, k, n, m, 1f, ai, lda, gi, n, 1f, gbi, n);
                            else Gemm.Sgemm(true, transA, n, k, m, 1f, gi, n, ai, lda, 1f, gbi, k);
                        }
                }
            });
        return result;
    }

    /// <summary>
    /// x @ weight^T + bias. x [..., in], weight [out, in] (Hugging Face layout), bias [out] -> [..., out]. A bfloat16
    /// weight (frozen) is widened while the GEMM packs it: the result and x's gradient equal those of its float32 values.
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (weight.Rank != 2 || x.Rank < 1 || x.Shape[^1] != weight.Shape[1])
            throw ShapeError("Linear", "x [..., in] needs weight [out, in]", x, weight);
        int inF = weight.Shape[1], outF = weight.Shape[0], rows = inF == 0 ? 0 : x.Numel / inF;
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != outF)) throw ShapeError("Linear", "bias must be [out]", weight, bias);
        var shape = (int[])x.Shape.Clone();
        shape[^1] = outF;
        float[] xd = x.Data, y = TensorScope.Allocate((long)rows * outF, clear: false);
        if (bias is not null)
        {
            float[] bd = bias.Data;
            for (int r = 0; r < rows; r++) bd.CopyTo(y, r * outF);
        }
        // y = x W^T (+ y when a bias was copied in).
        MultiplyByWeight(weight, transposed: true, rows, outF, inF, xd, bias is null ? 0f : 1f, y);
        var result = new Tensor(y, shape);
        if (Autograd.Needs(x, weight, bias))
            result.SetGraph(bias is null ? [x, weight] : [x, weight, bias], () =>
            {
                float[] g = result.Grad!; // [rows, out]
                if (x.RequiresGrad) MultiplyByWeight(weight, transposed: false, rows, inF, outF, g, 1f, x.EnsureGrad()); // dx += g W
                if (weight.RequiresGrad) Gemm.Sgemm(true, false, outF, inF, rows, 1f, g, outF, xd, inF, 1f, weight.EnsureGrad(), inF);
                if (bias is { RequiresGrad: true }) Simd.AddColumnSums(g, rows, outF, bias.EnsureGrad());
            });
        return result;
    }

    /// <summary>c [m, n] = a [m, k] . op(W) + beta * c, op(W) = W^T (W [n, k]) or W (W [k, n]), W float32 or bfloat16.</summary>
    private static void MultiplyByWeight(Tensor weight, bool transposed, int m, int n, int k, float[] a, float beta, float[] c)
    {
        int ldw = weight.Shape[1];
        if (weight.Dtype == TensorDtype.BFloat16)
            Gemm.SgemmBf16(false, transposed, m, n, k, 1f, a, k, weight.BFloat16Data, ldw, beta, c, n);
        else
            Gemm.Sgemm(false, transposed, m, n, k, 1f, a, k, weight.Data, ldw, beta, c, n);
    }
}

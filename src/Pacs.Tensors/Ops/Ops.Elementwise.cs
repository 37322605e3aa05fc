using System.Numerics.Tensors;
using Pacs.Tensors.Kernels;

namespace Pacs.Tensors;

public static partial class Ops
{
    /// <summary>Runs body(begin, end) over element ranges of an n-element buffer, in parallel when n is large.</summary>
    private static void ForElements(int n, Action<int, int> body) => RowParallel.ForRange(n, 1, body);

    /// <summary>a + b; b's shape equals a's or is a suffix of it (broadcast over a's leading dimensions).</summary>
    public static Tensor Add(Tensor a, Tensor b)
    {
        if (!IsSuffix(a.Shape, b.Shape)) throw ShapeError("Add", "b must have a's shape or a suffix of it", a, b);
        float[] ad = a.Data, bd = b.Data, y = TensorScope.Allocate(ad.Length, clear: false);
        int cols = bd.Length, rows = cols == 0 ? 0 : ad.Length / cols;
        if (cols == ad.Length) ForElements(ad.Length, (s, e) => TensorPrimitives.Add(ad.AsSpan(s, e - s), bd.AsSpan(s, e - s), y.AsSpan(s, e - s)));
        else RowParallel.ForRange(rows, cols, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++) TensorPrimitives.Add(ad.AsSpan(r * cols, cols), bd, y.AsSpan(r * cols, cols));
        });
        var result = new Tensor(y, (int[])a.Shape.Clone());
        if (Autograd.Needs(a, b))
            result.SetGraph([a, b], () =>
            {
                float[] g = result.Grad!;
                if (a.RequiresGrad) { var ga = a.EnsureGrad(); ForElements(g.Length, (s, e) => Simd.AddInPlace(ga.AsSpan(s, e - s), g.AsSpan(s, e - s))); }
                if (b.RequiresGrad)
                {
                    var gb = b.EnsureGrad();
                    if (cols == g.Length) ForElements(g.Length, (s, e) => Simd.AddInPlace(gb.AsSpan(s, e - s), g.AsSpan(s, e - s)));
                    else Simd.AddColumnSums(g, rows, cols, gb);
                }
            });
        return result;
    }

    /// <summary>a - b, with <see cref="Add"/>'s broadcast rule.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => Add(a, Scale(b, -1f));

    /// <summary>a * b elementwise; b's shape equals a's or is a suffix of it.</summary>
    public static Tensor Mul(Tensor a, Tensor b)
    {
        if (!IsSuffix(a.Shape, b.Shape)) throw ShapeError("Mul", "b must have a's shape or a suffix of it", a, b);
        float[] ad = a.Data, bd = b.Data, y = TensorScope.Allocate(ad.Length, clear: false);
        int cols = bd.Length, rows = cols == 0 ? 0 : ad.Length / cols;
        if (cols == ad.Length) ForElements(ad.Length, (s, e) => TensorPrimitives.Multiply(ad.AsSpan(s, e - s), bd.AsSpan(s, e - s), y.AsSpan(s, e - s)));
        else RowParallel.ForRange(rows, cols, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++) TensorPrimitives.Multiply(ad.AsSpan(r * cols, cols), bd, y.AsSpan(r * cols, cols));
        });
        var result = new Tensor(y, (int[])a.Shape.Clone());
        if (Autograd.Needs(a, b))
            result.SetGraph([a, b], () =>
            {
                float[] g = result.Grad!;
                if (a.RequiresGrad)
                {
                    var ga = a.EnsureGrad();
                    if (cols == g.Length) ForElements(g.Length, (s, e) => TensorPrimitives.MultiplyAdd(g.AsSpan(s, e - s), bd.AsSpan(s, e - s), ga.AsSpan(s, e - s), ga.AsSpan(s, e - s)));
                    else RowParallel.ForRange(rows, cols, (r0, r1) =>
                    {
                        for (int r = r0; r < r1; r++)
                            TensorPrimitives.MultiplyAdd(g.AsSpan(r * cols, cols), bd, ga.AsSpan(r * cols, cols), ga.AsSpan(r * cols, cols));
                    });
                }
                if (b.RequiresGrad)
                {
                    var gb = b.EnsureGrad();
                    if (cols == g.Length) ForElements(g.Length, (s, e) => TensorPrimitives.MultiplyAdd(g.AsSpan(s, e - s), ad.AsSpan(s, e - s), gb.AsSpan(s, e - s), gb.AsSpan(s, e - s)));
                    else Simd.AddColumnSums(g, rows, cols, gb, other: ad);
                }
            });
        return result;
    }

    /// <summary>x * s.</summary>
    public static Tensor Scale(Tensor x, float s)
    {
        float[] xd = x.Data, y = TensorScope.Allocate(xd.Length, clear: false);
        ForElements(xd.Length, (b, e) => TensorPrimitives.Multiply(xd.AsSpan(b, e - b), s, y.AsSpan(b, e - b)));
        var result = new Tensor(y, (int[])x.Shape.Clone());
        if (Autograd.Needs(x))
            result.SetGraph([x], () =>
            {
                float[] g = result.Grad!, gx = x.EnsureGrad();
                ForElements(g.Length, (b, e) => TensorPrimitives.MultiplyAdd(g.AsSpan(b, e - b), s, gx.AsSpan(b, e - b), gx.AsSpan(b, e - b)));
            });
        return result;
    }

    /// <summary>x + s.</summary>
    public static Tensor AddScalar(Tensor x, float s)
    {
        float[] xd = x.Data, y = TensorScope.Allocate(xd.Length, clear: false);
        ForElements(xd.Length, (b, e) => TensorPrimitives.Add(xd.AsSpan(b, e - b), s, y.AsSpan(b, e - b)));
        var result = new Tensor(y, (int[])x.Shape.Clone());
        if (Autograd.Needs(x))
            result.SetGraph([x], () =>
            {
                float[] g = result.Grad!, gx = x.EnsureGrad();
                ForElements(g.Length, (b, e) => Simd.AddInPlace(gx.AsSpan(b, e - b), g.AsSpan(b, e - b)));
            });
        return result;
    }

    /// <summary>
    /// Elementwise op y = f(x) whose derivative is computed from x and y: dx += g * dydx(x, y).
    /// forward and derivative work on spans so they can use TensorPrimitives.
    /// </summary>
    private delegate void SpanMap(ReadOnlySpan<float> x, Span<float> y);
    private delegate void SpanGrad(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> g, Span<float> gx);

    private static Tensor Unary(Tensor x, SpanMap forward, SpanGrad backward)
    {
        float[] xd = x.Data, y = TensorScope.Allocate(xd.Length, clear: false);
        ForElements(xd.Length, (b, e) => forward(xd.AsSpan(b, e - b), y.AsSpan(b, e - b)));
        var result = new Tensor(y, (int[])x.Shape.Clone());
        if (Autograd.Needs(x))
            result.SetGraph([x], () =>
            {
                float[] g = result.Grad!, gx = x.EnsureGrad();
                ForElements(g.Length, (b, e) => backward(xd.AsSpan(b, e - b), y.AsSpan(b, e - b), g.AsSpan(b, e - b), gx.AsSpan(b, e - b)));
            });
        return result;
    }

    /// <summary>exp(x).</summary>
    public static Tensor Exp(Tensor x) => Unary(x, TensorPrimitives.Exp,
        (_, y, g, gx) => TensorPrimitives.MultiplyAdd(g, y, gx, gx));

    /// <summary>Natural log of x.</summary>
    public static Tensor Log(Tensor x) => Unary(x, TensorPrimitives.Log,
        (xs, _, g, gx) => { for (int i = 0; i < xs.Length; i++) gx[i] += g[i] / xs[i]; });

    /// <summary>1 / (1 + exp(-x)).</summary>
    public static Tensor Sigmoid(Tensor x) => Unary(x, TensorPrimitives.Sigmoid,
        (_, y, g, gx) => { for (int i = 0; i < y.Length; i++) gx[i] += g[i] * y[i] * (1f - y[i]); });

    /// <summary>log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for large |x|.</summary>
    public static Tensor LogSigmoid(Tensor x) => Unary(x,
        (xs, y) => { for (int i = 0; i < xs.Length; i++) y[i] = Activations.LogSigmoid(xs[i]); },
        (xs, _, g, gx) => { for (int i = 0; i < xs.Length; i++) gx[i] += g[i] * Activations.Sigmoid(-xs[i]); });

    /// <summary>x * sigmoid(x).</summary>
    public static Tensor Silu(Tensor x) => Unary(x, Activations.SiluForward, Activations.SiluBackward);

    /// <summary>min(max(x, lo), hi); the gradient passes where lo &lt;= x &lt;= hi.</summary>
    public static Tensor Clamp(Tensor x, float lo, float hi)
    {
        if (!(lo <= hi)) throw new ArgumentException($"Clamp: lo {lo} > hi {hi} for {Describe(x)}");
        return Unary(x, (xs, y) => TensorPrimitives.Clamp(xs, lo, hi, y),
            (xs, _, g, gx) => { for (int i = 0; i < xs.Length; i++) if (xs[i] >= lo && xs[i] <= hi) gx[i] += g[i]; });
    }

    /// <summary>x * x.</summary>
    public static Tensor Square(Tensor x) => Unary(x, (xs, y) => TensorPrimitives.Multiply(xs, xs, y),
        (xs, _, g, gx) => { for (int i = 0; i < xs.Length; i++) gx[i] += 2f * xs[i] * g[i]; });

    /// <summary>Elementwise minimum of two same-shape tensors; ties send the gradient to a.</summary>
    public static Tensor Minimum(Tensor a, Tensor b) => Select("Minimum", a, b, (x, y) => x <= y);

    /// <summary>Elementwise maximum of two same-shape tensors; ties send the gradient to a.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => Select("Maximum", a, b, (x, y) => x >= y);

    private static Tensor Select(string op, Tensor a, Tensor b, Func<float, float, bool> takeA)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape)) throw ShapeError(op, "shapes must match", a, b);
        float[] ad = a.Data, bd = b.Data, y = TensorScope.Allocate(ad.Length, clear: false);
        for (int i = 0; i < y.Length; i++) y[i] = takeA(ad[i], bd[i]) ? ad[i] : bd[i];
        var result = new Tensor(y, (int[])a.Shape.Clone());
        if (Autograd.Needs(a, b))
            result.SetGraph([a, b], () =>
            {
                float[] g = result.Grad!;
                float[]? ga = a.RequiresGrad ? a.EnsureGrad() : null, gb = b.RequiresGrad ? b.EnsureGrad() : null;
                for (int i = 0; i < g.Length; i++)
                {
                    if (takeA(ad[i], bd[i])) { if (ga is not null) ga[i] += g[i]; }
                    else if (gb is not null) gb[i] += g[i];
                }
            });
        return result;
    }

    /// <summary>silu(gate) * up, fused; gate and up have the same shape.</summary>
    public static Tensor SwiGlu(Tensor gate, Tensor up)
    {
        if (!gate.Shape.AsSpan().SequenceEqual(up.Shape)) throw ShapeError("SwiGlu", "gate and up must have the same shape", gate, up);
        float[] gd = gate.Data, ud = up.Data, y = TensorScope.Allocate(gd.Length, clear: false);
        ForElements(gd.Length, (b, e) => Activations.SwiGluForward(gd.AsSpan(b, e - b), ud.AsSpan(b, e - b), y.AsSpan(b, e - b)));
        var result = new Tensor(y, (int[])gate.Shape.Clone());
        if (Autograd.Needs(gate, up))
            result.SetGraph([gate, up], () =>
            {
                // A side that needs no gradient gets a scratch buffer: the fused kernel writes both.
                float[] g = result.Grad!;
                float[] ggate = gate.RequiresGrad ? gate.EnsureGrad() : TensorScope.Allocate(g.Length);
                float[] gup = up.RequiresGrad ? up.EnsureGrad() : TensorScope.Allocate(g.Length);
                ForElements(g.Length, (b, e) => Activations.SwiGluBackward(gd.AsSpan(b, e - b), ud.AsSpan(b, e - b), g.AsSpan(b, e - b),
                    ggate.AsSpan(b, e - b), gup.AsSpan(b, e - b)));
            });
        return result;
    }
}

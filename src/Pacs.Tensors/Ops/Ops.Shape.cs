using Pacs.Tensors.Kernels;

namespace Pacs.Tensors;

public static partial class Ops
{
    /// <summary>Same elements, new shape (one dimension may be -1). Shares <see cref="Tensor.Data"/> with x.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        shape = (int[])shape.Clone();
        int inferred = Array.IndexOf(shape, -1);
        long known = 1;
        for (int i = 0; i < shape.Length; i++)
            if (i != inferred) known *= shape[i] >= 0 ? shape[i] : throw new ArgumentException($"Reshape: bad dimension {shape[i]} in {Shapes.Format(shape)} for {Describe(x)}");
        if (inferred >= 0)
        {
            if (known == 0 || x.Numel % known != 0) throw new ArgumentException($"Reshape: cannot infer -1 in {Shapes.Format(shape)} for {Describe(x)}");
            shape[inferred] = (int)(x.Numel / known);
        }
        if (Shapes.Numel(shape) != x.Numel) throw new ArgumentException($"Reshape: {Shapes.Format(shape)} does not hold the {x.Numel} elements of {Describe(x)}");
        var result = x.View(shape);
        if (Autograd.Needs(x))
            result.SetGraph([x], () =>
            {
                float[] g = result.Grad!, gx = x.EnsureGrad();
                ForElements(g.Length, (b, e) => Simd.AddInPlace(gx.AsSpan(b, e - b), g.AsSpan(b, e - b)));
            });
        return result;
    }

    /// <summary>Rows of weight [V, D] picked by ids [N] -> [N, D]. Backward adds each row's gradient into weight's row.</summary>
    public static Tensor Embedding(Tensor weight, int[] ids)
    {
        if (weight.Rank != 2) throw new ArgumentException($"Embedding: weight must be [V, D], got {Describe(weight)}");
        int vocab = weight.Shape[0], dim = weight.Shape[1];
        CheckIds("Embedding", ids, vocab, "ids");
        float[] y = TensorScope.Allocate((long)ids.Length * dim, clear: false);
        if (weight.Dtype == TensorDtype.BFloat16)
        {
            ushort[] bits = weight.BFloat16Data;
            RowParallel.For(ids.Length, dim, n => BFloat16.Widen(bits.AsSpan(ids[n] * dim, dim), y.AsSpan(n * dim, dim)));
        }
        else
        {
            float[] wd = weight.Data;
            RowParallel.For(ids.Length, dim, n => Array.Copy(wd, (long)ids[n] * dim, y, (long)n * dim, dim));
        }
        var result = new Tensor(y, [ids.Length, dim]);
        if (Autograd.Needs(weight))
        {
            int[] idsCopy = (int[])ids.Clone();
            result.SetGraph([weight], () =>
            {
                float[] g = result.Grad!, gw = weight.EnsureGrad();
                // Group positions by id (counting sort keeps them in ascending order), then each id's row is summed
                // by one task in position order: no races, same result for any thread count.
                int[] start = new int[vocab + 1];
                foreach (int id in idsCopy) start[id + 1]++;
                for (int v = 0; v < vocab; v++) start[v + 1] += start[v];
                int[] fill = (int[])start.Clone(), positions = new int[idsCopy.Length];
                for (int n = 0; n < idsCopy.Length; n++) positions[fill[idsCopy[n]]++] = n;
                var used = new List<int>();
                for (int v = 0; v < vocab; v++) if (start[v + 1] > start[v]) used.Add(v);
                RowParallel.For(used.Count, (long)dim * idsCopy.Length / Math.Max(1, used.Count), u =>
                {
                    int v = used[u];
                    var row = gw.AsSpan(v * dim, dim);
                    for (int p = start[v]; p < start[v + 1]; p++) Simd.AddInPlace(row, g.AsSpan(positions[p] * dim, dim));
                });
            });
        }
        return result;
    }

    /// <summary>Concatenates tensors along an axis; all other dimensions must match.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> parts, int axis = 0)
    {
        if (parts.Count == 0) throw new ArgumentException("Concat: no tensors given");
        var first = parts[0];
        if (axis < 0) axis += first.Rank;
        if (axis < 0 || axis >= first.Rank) throw new ArgumentException($"Concat: axis {axis} out of range for {Describe(first)}");
        int total = 0;
        foreach (var p in parts)
        {
            if (p.Rank != first.Rank) throw ShapeError("Concat", "ranks differ", first, p);
            for (int d = 0; d < p.Rank; d++)
                if (d != axis && p.Shape[d] != first.Shape[d]) throw ShapeError("Concat", $"dimension {d} differs", first, p);
            total += p.Shape[axis];
        }
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= first.Shape[d];
        for (int d = axis + 1; d < first.Rank; d++) inner *= first.Shape[d];
        var shape = (int[])first.Shape.Clone();
        shape[axis] = total;
        float[] y = TensorScope.Allocate((long)outer * total * inner);
        int offset = 0;
        var offsets = new int[parts.Count];
        for (int i = 0; i < parts.Count; i++)
        {
            offsets[i] = offset;
            int width = parts[i].Shape[axis] * inner;
            for (int o = 0; o < outer; o++) Array.Copy(parts[i].Data, (long)o * width, y, ((long)o * total * inner) + offset, width);
            offset += width;
        }
        var result = new Tensor(y, shape);
        var inputs = parts.ToArray();
        if (Autograd.Needs(inputs))
            result.SetGraph(inputs, () =>
            {
                float[] g = result.Grad!;
                for (int i = 0; i < inputs.Length; i++)
                {
                    if (!inputs[i].RequiresGrad) continue;
                    float[] gi = inputs[i].EnsureGrad();
                    int width = inputs[i].Shape[axis] * inner;
                    for (int o = 0; o < outer; o++)
                        Simd.AddInPlace(gi.AsSpan(o * width, width), g.AsSpan((o * total * inner) + offsets[i], width));
                }
            });
        return result;
    }

    /// <summary>x[..., start:start+length, ...] along an axis (a copy).</summary>
    public static Tensor Slice(Tensor x, int axis, int start, int length)
    {
        if (axis < 0) axis += x.Rank;
        if (axis < 0 || axis >= x.Rank) throw new ArgumentException($"Slice: axis {axis} out of range for {Describe(x)}");
        if (start < 0 || length < 0 || start + length > x.Shape[axis])
            throw new ArgumentException($"Slice: [{start}, {start + length}) outside dimension {axis} of {Describe(x)}");
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= x.Shape[d];
        for (int d = axis + 1; d < x.Rank; d++) inner *= x.Shape[d];
        int srcWidth = x.Shape[axis] * inner, width = length * inner, skip = start * inner;
        var shape = (int[])x.Shape.Clone();
        shape[axis] = length;
        float[] xd = x.Data, y = TensorScope.Allocate((long)outer * width);
        for (int o = 0; o < outer; o++) Array.Copy(xd, (long)o * srcWidth + skip, y, (long)o * width, width);
        var result = new Tensor(y, shape);
        if (Autograd.Needs(x))
            result.SetGraph([x], () =>
            {
                float[] g = result.Grad!, gx = x.EnsureGrad();
                for (int o = 0; o < outer; o++) Simd.AddInPlace(gx.AsSpan(o * srcWidth + skip, width), g.AsSpan(o * width, width));
            });
        return result;
    }

    /// <summary>Rows [start, start + count) of x [N, ...].</summary>
    public static Tensor SliceRows(Tensor x, int start, int count) => Slice(x, 0, start, count);

    /// <summary>Rows of x [N, ...] picked by rows [M] -> [M, ...]; backward scatter-adds deterministically.</summary>
    public static Tensor GatherRows(Tensor x, int[] rows)
    {
        if (x.Rank < 1) throw new ArgumentException($"GatherRows: needs at least one dimension, got {Describe(x)}");
        int n = x.Shape[0], width = n == 0 ? 0 : x.Numel / n;
        var flat = Reshape(x, n, width);
        var picked = Embedding(flat, rows);
        var shape = (int[])x.Shape.Clone();
        shape[0] = rows.Length;
        return Reshape(picked, shape);
    }
}

namespace Pacs.Tensors;

/// <summary>
/// Differentiable tensor operations. Each op returns a new tensor; when <see cref="Autograd.Needs"/> holds for its
/// inputs it also records a backward closure that adds (+=) into the inputs' gradients. The raw loops live in
/// <see cref="Kernels"/> so inference code can call them without building a graph.
/// </summary>
public static partial class Ops
{
    private static ArgumentException ShapeError(string op, string what, Tensor a, Tensor b) =>
        new($"{op}: {what}: {Describe(a)} vs {Describe(b)}");

    private static string Describe(Tensor t) => (t.Name is null ? "" : t.Name + " ") + Shapes.Format(t.Shape);

    /// <summary>Product of all dimensions but the last; the last dimension.</summary>
    private static (int Rows, int Cols) RowsCols(string op, Tensor x)
    {
        if (x.Rank == 0) throw new ArgumentException($"{op}: needs at least one dimension, got a scalar {Describe(x)}");
        int cols = x.Shape[^1];
        return (cols == 0 ? 0 : x.Numel / cols, cols);
    }

    private static bool IsSuffix(int[] full, int[] suffix)
    {
        if (suffix.Length > full.Length) return false;
        for (int i = 1; i <= suffix.Length; i++)
            if (full[^i] != suffix[^i]) return false;
        return true;
    }

    private static void CheckIds(string op, int[] ids, int limit, string what)
    {
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)limit)
                throw new ArgumentException($"{op}: {what}[{i}] = {ids[i]} is outside [0, {limit})");
    }
}

using Pacs.Tensors.Kernels;

namespace Pacs.Tensors;

/// <summary>How a tensor stores its elements.</summary>
public enum TensorDtype
{
    Float32,

    /// <summary>bfloat16 bits (<see cref="Kernels.BFloat16"/>): frozen weights only, read by the kernels in float32.</summary>
    BFloat16,
}

/// <summary>
/// A dense float32 tensor, contiguous and row-major, with an optional gradient and a node in the autograd graph.
/// Ops (see <see cref="Ops"/>) create new tensors; when any input requires a gradient and
/// <see cref="Autograd.IsEnabled"/> is true, the result remembers its parents and a closure that adds the
/// result's gradient into theirs. <see cref="Backward()"/> runs those closures in reverse topological order.
/// A frozen weight may instead hold bfloat16 bits (<see cref="FromBFloat16"/>): half the memory, and half the bytes
/// memory-bound kernels read. Such a tensor has no float32 copy: <see cref="Data"/> throws and
/// <see cref="BFloat16Data"/> holds the bits; the ops that take weights (<see cref="Ops.Linear"/>,
/// <see cref="Ops.Embedding"/>) widen them to float32 as they read them and compute in float32, and it never
/// requires a gradient (gradients still flow through it to the other inputs). <see cref="ToFloat32"/> converts.
/// </summary>
public sealed class Tensor
{
    /// <summary>
    /// Wraps <paramref name="data"/> (not copied). Inside a <see cref="TensorScope"/> the tensor belongs to the scope
    /// and is invalid after it ends, unless <paramref name="requiresGrad"/> is true (a trainable leaf, like
    /// <see cref="Parameter"/>), which no scope owns.
    /// </summary>
    public Tensor(float[] data, int[] shape, bool requiresGrad = false, string? name = null)
        : this(data, shape, requiresGrad ? null : TensorScope.Current, name)
    {
        RequiresGrad = requiresGrad;
    }

    /// <summary>A tensor owned by <paramref name="scope"/> (null: by none), for views and kept values.</summary>
    internal Tensor(float[] data, int[] shape, TensorScope? scope, string? name)
    {
        CheckLength(shape, data.Length, name);
        _data = data;
        Shape = shape;
        Name = name;
        _scope = scope;
    }

    private Tensor(ushort[] bits, int[] shape, string? name)
    {
        CheckLength(shape, bits.Length, name);
        _data = [];
        _bf16 = bits;
        Shape = shape;
        Name = name;
    }

    private static void CheckLength(int[] shape, int length, string? name)
    {
        long numel = Shapes.Numel(shape);
        if (numel != length)
            throw new ArgumentException($"tensor {name ?? "<unnamed>"}: shape [{string.Join(", ", shape)}] holds {numel} elements but the data has {length}");
    }

    private readonly float[] _data;
    private readonly ushort[]? _bf16;
    private float[]? _grad;
    private readonly TensorScope? _scope;
    private bool _requiresGrad;

    /// <summary>
    /// The elements, row-major. Ops never alias another tensor's array except <see cref="Ops.Reshape"/> and
    /// <see cref="Detach"/>. Throws once the <see cref="TensorScope"/> that owns the tensor has ended, and for a
    /// bfloat16 tensor (no float32 copy exists: read <see cref="BFloat16Data"/> or convert with <see cref="ToFloat32"/>).
    /// </summary>
    public float[] Data
    {
        get
        {
            if (_bf16 is not null)
                throw new InvalidOperationException($"tensor {(Name is null ? "" : Name + " ")}{Shapes.Format(Shape)} holds bfloat16 weights and has no float32 data: read BFloat16Data, or ToFloat32() for a float32 copy");
            if (_scope is { HasEnded: true }) throw Escaped();
            return _data;
        }
    }

    /// <summary>How the elements are stored.</summary>
    public TensorDtype Dtype => _bf16 is null ? TensorDtype.Float32 : TensorDtype.BFloat16;

    /// <summary>The bfloat16 bits of a <see cref="TensorDtype.BFloat16"/> tensor, row-major; throws for a float32 one.</summary>
    public ushort[] BFloat16Data => _bf16
        ?? throw new InvalidOperationException($"tensor {(Name is null ? "" : Name + " ")}{Shapes.Format(Shape)} is float32, not bfloat16");

    /// <summary>Bytes its elements take: 4 per element for float32, 2 for bfloat16.</summary>
    public long ByteSize => (long)Numel * (_bf16 is null ? 4 : 2);

    public int[] Shape { get; }

    /// <summary>
    /// Accumulated gradient of the loss with respect to <see cref="Data"/>; allocated on first use (from the owning
    /// scope's pool for a scoped tensor). Throws once the owning <see cref="TensorScope"/> has ended.
    /// </summary>
    public float[]? Grad
    {
        get
        {
            if (_scope is { HasEnded: true }) throw Escaped();
            return _grad;
        }
        set
        {
            if (_scope is { HasEnded: true }) throw Escaped();
            _grad = value;
        }
    }

    /// <summary>Whether gradients flow into this tensor; never true for a bfloat16 (frozen) tensor.</summary>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (value && _bf16 is not null)
                throw new InvalidOperationException($"tensor {(Name is null ? "" : Name + " ")}{Shapes.Format(Shape)} holds frozen bfloat16 weights: train a float32 copy (ToFloat32) instead");
            _requiresGrad = value;
        }
    }

    public string? Name { get; set; }

    /// <summary>The scope that owns this tensor's buffers; null for parameters and tensors created outside scopes.</summary>
    public TensorScope? Scope => _scope;

    /// <summary>False once the owning <see cref="TensorScope"/> has ended (its data may have been reused).</summary>
    public bool IsValid => _scope is not { HasEnded: true };

    public int Numel => _bf16?.Length ?? _data.Length;

    public int Rank => Shape.Length;

    public int Dim(int axis) => Shape[axis < 0 ? Shape.Length + axis : axis];

    /// <summary>Parents in the autograd graph; empty for leaves.</summary>
    internal Tensor[] Parents { get; private set; } = [];

    /// <summary>Adds this tensor's <see cref="Grad"/> into the parents' gradients.</summary>
    internal Action? BackwardFn { get; private set; }

    public bool IsLeaf => BackwardFn is null;

    public static Tensor Zeros(params int[] shape) => new(TensorScope.Allocate(Shapes.Numel(shape)), shape);

    public static Tensor FromArray(float[] data, params int[] shape) => new(data, shape);

    /// <summary>A trainable leaf: gradients accumulate into it.</summary>
    public static Tensor Parameter(float[] data, int[] shape, string? name = null) => new(data, shape, requiresGrad: true, name);

    public static Tensor Scalar(float value) => new([value], []);

    /// <summary>
    /// A frozen weight stored as bfloat16 bits (not copied, owned by no scope, never requiring a gradient): the ops
    /// that take weights widen it as they read it, so no float32 copy is made.
    /// </summary>
    public static Tensor FromBFloat16(ushort[] bits, int[] shape, string? name = null) => new(bits, shape, name);

    /// <summary>
    /// A float32 tensor with the same values: this one for a float32 tensor, else a new unscoped copy (exact: every
    /// bfloat16 value is a float32) with the given gradient flag.
    /// </summary>
    public Tensor ToFloat32(bool requiresGrad = false) =>
        _bf16 is null ? this : new Tensor(BFloat16.ToSingleArray(_bf16), Shape, scope: null, Name) { RequiresGrad = requiresGrad };

    /// <summary>A bfloat16 tensor with these values rounded to nearest even (this one if already bfloat16).</summary>
    public Tensor ToBFloat16() => _bf16 is null ? FromBFloat16(BFloat16.RoundArray(Data), Shape, Name) : this;

    public float Item()
    {
        if (Numel != 1) throw new InvalidOperationException($"Item() needs a one-element tensor, got shape {Shapes.Format(Shape)}");
        return Data[0];
    }

    /// <summary>Allocates <see cref="Grad"/> (zeroed) if needed and returns it.</summary>
    public float[] EnsureGrad()
    {
        if (_scope is { HasEnded: true }) throw Escaped();
        return _grad ??= _scope is null ? new float[Numel] : _scope.Rent(Numel, clear: true);
    }

    public void ZeroGrad()
    {
        if (Grad is { } g) Array.Clear(g);
    }

    /// <summary>Drops the gradient; a pooled one goes straight back to the pool for reuse within the scope.</summary>
    private void ReleaseGrad()
    {
        if (_grad is { } g && _scope is { HasEnded: false } scope) scope.ReturnEarly(g);
        _grad = null;
    }

    private InvalidOperationException Escaped() => new(
        $"tensor {(Name is null ? "" : Name + " ")}{Shapes.Format(Shape)} was created inside a TensorScope that has ended: its buffers were "
        + "returned to the pool and may hold other data now (copy the values out or call TensorScope.Keep before the scope ends)");

    /// <summary>
    /// Records how this tensor was computed. Called by ops only when <see cref="Autograd.IsEnabled"/> and at least
    /// one parent requires a gradient.
    /// </summary>
    internal void SetGraph(Tensor[] parents, Action backward)
    {
        Parents = parents;
        BackwardFn = backward;
        RequiresGrad = true;
    }

    /// <summary>Back-propagates from a scalar: d(this)/d(this) = 1.</summary>
    public void Backward()
    {
        if (Numel != 1) throw new InvalidOperationException($"Backward() without a seed needs a scalar, got shape {Shapes.Format(Shape)}; pass the upstream gradient");
        Backward([1f]);
    }

    /// <summary>
    /// Back-propagates with the given upstream gradient (same shape as this tensor). Each node's gradient, closure and
    /// parent links are dropped as soon as its closure has run, so activations become collectable during the pass;
    /// afterwards only leaves keep gradients. A graph can be back-propagated once: add losses before calling this.
    /// </summary>
    public void Backward(float[] upstream)
    {
        if (upstream.Length != Numel) throw new ArgumentException($"upstream gradient has {upstream.Length} elements, tensor has {Numel}");
        var order = TopologicalOrder();
        var grad = EnsureGrad();
        for (int i = 0; i < grad.Length; i++) grad[i] += upstream[i];
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var node = order[i];
            order.RemoveAt(i);
            if (node.BackwardFn is null) continue;
            if (node.Grad is not null) node.BackwardFn();
            node.BackwardFn = null;
            node.Parents = [];
            node.ReleaseGrad();
        }
    }

    /// <summary>
    /// A tensor sharing this one's data with no gradient and no graph (e.g. old log-probs as constants). It belongs
    /// to the same <see cref="TensorScope"/> as this one (or, for an unscoped tensor, to the current scope).
    /// </summary>
    public Tensor Detach() => new(Data, Shape, _scope ?? TensorScope.Current, Name);

    /// <summary>A view of this tensor's data with another shape, owned like <see cref="Detach"/>.</summary>
    internal Tensor View(int[] shape) => new(Data, shape, _scope ?? TensorScope.Current, null);

    private List<Tensor> TopologicalOrder()
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor Node, bool Expanded)>();
        stack.Push((this, false));
        while (stack.Count > 0)
        {
            var (node, expanded) = stack.Pop();
            if (expanded) { order.Add(node); continue; }
            if (!visited.Add(node)) continue;
            stack.Push((node, true));
            foreach (var parent in node.Parents)
                if (parent.RequiresGrad && !visited.Contains(parent)) stack.Push((parent, false));
        }
        return order;
    }

    public override string ToString() => $"Tensor{Shapes.Format(Shape)}{(Name is null ? "" : " " + Name)}";
}

/// <summary>Whether ops record the autograd graph on this thread.</summary>
public static class Autograd
{
    [ThreadStatic] private static int s_disabledDepth;

    public static bool IsEnabled => s_disabledDepth == 0;

    /// <summary>`using (Autograd.NoGrad()) { ... }`: ops inside record no graph (inference, rollouts).</summary>
    public static IDisposable NoGrad()
    {
        s_disabledDepth++;
        return new Scope();
    }

    /// <summary>True when an op with these inputs must record a backward closure.</summary>
    public static bool Needs(params Tensor?[] inputs)
    {
        if (!IsEnabled) return false;
        foreach (var t in inputs) if (t is { RequiresGrad: true }) return true;
        return false;
    }

    private sealed class Scope : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            s_disabledDepth--;
        }
    }
}

public static class Shapes
{
    public static long Numel(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape {Format(shape)}");
            n *= d;
        }
        return n;
    }

    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}

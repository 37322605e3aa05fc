namespace Pacs.Tensors;

/// <summary>
/// A region of code whose tensors borrow their buffers from a <see cref="TensorPool"/> and give them back when it
/// ends, so that a training step reuses the previous step's memory instead of allocating fresh arrays:
/// <code>
/// for (int step = 0; step &lt; steps; step++)
/// {
///     using var scope = TensorScope.Begin();
///     var loss = Ops.CrossEntropy(model.Forward(tokens, batch, seqLen), targets);
///     float value = loss.Item();          // read what you need while the scope is active
///     loss.Backward();                    // parameter gradients are ordinary arrays: they outlive the scope
///     optimizer.Step();
/// }
/// </code>
/// <para>Contract. Every tensor created on this thread while the scope is the innermost one belongs to it (op
/// results, <see cref="Tensor.FromArray"/>, <see cref="Tensor.Zeros"/>, reshapes and detached views of its
/// tensors), except trainable leaves (<see cref="Tensor.Parameter"/>, or a constructor call with
/// <c>requiresGrad: true</c>), which are never pooled. The data and gradient arrays of such tensors (and the
/// buffers ops keep for their backward) come from the pool, and when the scope is disposed they are all returned
/// to it: a tensor that escapes the scope is invalid afterwards, and reading its <see cref="Tensor.Data"/> or
/// <see cref="Tensor.Grad"/> throws <see cref="InvalidOperationException"/> (copy the values out first, or call
/// <see cref="Keep"/>). An array obtained from <see cref="Tensor.Data"/> inside the scope must not be used after it
/// either: the next scope may overwrite it. Tensors created outside any scope, and gradients of tensors created
/// outside it (parameters), are ordinary GC arrays, as without a scope.</para>
/// <para>Scopes nest (the innermost one owns new tensors; a tensor's gradient comes from the scope that owns the
/// tensor) and must be disposed in reverse order on the thread that began them. The current scope is per thread:
/// ops allocate their outputs on the calling thread, never inside their parallel loops, so tensors created by ops
/// called on other threads are unpooled unless those threads begin their own scopes. The pool itself is
/// thread-safe. Results do not change: every buffer that an op or a gradient relies on being zero is cleared when
/// it is handed out again.</para>
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? t_current;

    private readonly HashSet<float[]> _rented = new(ReferenceEqualityComparer.Instance);
    private List<TensorScope>? _suspended; // children suspended while this scope was current (ended with it)
    private readonly Thread _thread;
    private volatile bool _ended;

    private TensorScope(TensorPool pool, TensorScope? parent)
    {
        Pool = pool;
        Parent = parent;
        _thread = Thread.CurrentThread;
    }

    /// <summary>The innermost active scope of the calling thread; null outside any scope.</summary>
    public static TensorScope? Current => t_current;

    /// <summary>Begins a scope on this thread whose tensors take their buffers from <paramref name="pool"/>
    /// (default <see cref="TensorPool.Shared"/>; a nested scope defaults to its parent's pool).</summary>
    public static TensorScope Begin(TensorPool? pool = null)
    {
        var parent = t_current;
        var scope = new TensorScope(pool ?? parent?.Pool ?? TensorPool.Shared, parent);
        t_current = scope;
        return scope;
    }

    public TensorPool Pool { get; }

    /// <summary>The scope that was current when this one began; null for an outermost scope.</summary>
    public TensorScope? Parent { get; }

    /// <summary>True once <see cref="Dispose"/> has run: the scope's tensors are invalid.</summary>
    public bool HasEnded => _ended;

    /// <summary>Bytes of pooled buffers this scope holds now.</summary>
    public long RentedBytes
    {
        get
        {
            lock (_rented)
            {
                long bytes = 0;
                foreach (var a in _rented) bytes += 4L * a.Length;
                return bytes;
            }
        }
    }

    /// <summary>
    /// Lets a value outlive this scope: returns a new tensor (no gradient, no graph) with <paramref name="tensor"/>'s
    /// elements whose buffer now belongs to the enclosing scope (or, for an outermost scope, to no scope: an ordinary
    /// array). The buffer is handed over, not copied; <paramref name="tensor"/> itself still ends with this scope.
    /// </summary>
    public Tensor Keep(Tensor tensor)
    {
        var data = tensor.Data; // throws if the tensor is already invalid
        ThrowIfEnded();
        bool owned;
        lock (_rented) owned = _rented.Remove(data);
        if (owned)
        {
            if (Parent is null) Pool.Forget(data);
            else Parent.Adopt(data);
        }
        return new Tensor(data, (int[])tensor.Shape.Clone(), Parent, tensor.Name);
    }

    /// <summary>
    /// A buffer of the given length for the current thread's scope, or a new array outside any scope. Zeroed unless
    /// <paramref name="clear"/> is false, in which case the caller must overwrite every element.
    /// </summary>
    internal static float[] Allocate(long length, bool clear = true)
    {
        int n = checked((int)length);
        return t_current is { } scope ? scope.Rent(n, clear) : new float[n];
    }

    internal float[] Rent(int length, bool clear)
    {
        ThrowIfEnded();
        if (length < TensorPool.MinPooledLength) return new float[length];
        var buffer = Pool.Rent(length, clear);
        lock (_rented) _rented.Add(buffer);
        return buffer;
    }

    /// <summary>Gives a buffer this scope rented back to the pool before the scope ends (a gradient that backward
    /// no longer needs); arrays the scope did not rent are left alone.</summary>
    internal void ReturnEarly(float[] buffer)
    {
        if (_ended || buffer.Length < TensorPool.MinPooledLength) return;
        bool owned;
        lock (_rented) owned = _rented.Remove(buffer);
        if (owned) Pool.Return(buffer);
    }

    private void Adopt(float[] buffer)
    {
        ThrowIfEnded();
        lock (_rented) _rented.Add(buffer);
    }

    private void ThrowIfEnded()
    {
        if (_ended) throw new InvalidOperationException("this TensorScope has ended; its tensors' buffers were returned to the pool");
    }

    /// <summary>Ends the scope: its tensors become invalid and all its buffers go back to the pool.</summary>
    public void Dispose()
    {
        if (_ended) return;
        if (!ReferenceEquals(t_current, this))
            throw new InvalidOperationException(Thread.CurrentThread != _thread
                ? "a TensorScope must be disposed on the thread that began it"
                : "TensorScopes must be disposed in reverse order of Begin (an inner scope is still active)");
        t_current = Parent;
        End();
    }

    /// <summary>
    /// Makes the parent current again while this scope stays alive (its tensors valid), to be resumed and disposed
    /// later, e.g. during the backward pass (<see cref="Ops.ScopedBlock"/>). A suspended scope still alive when its
    /// parent ends is ended with it.
    /// </summary>
    internal void Suspend()
    {
        if (!ReferenceEquals(t_current, this)) throw new InvalidOperationException("only the current TensorScope can be suspended");
        t_current = Parent;
        if (Parent is not null) lock (Parent._rented) (Parent._suspended ??= []).Add(this);
    }

    /// <summary>Makes a suspended scope current (new tensors are its own) and returns the scope that was.</summary>
    internal TensorScope? Resume()
    {
        ThrowIfEnded();
        if (Thread.CurrentThread != _thread) throw new InvalidOperationException("a TensorScope must be resumed on the thread that began it");
        var previous = t_current;
        t_current = this;
        return previous;
    }

    /// <summary>Disposes a resumed scope and makes <paramref name="previous"/> (what <see cref="Resume"/> returned) current.</summary>
    internal void DisposeResumed(TensorScope? previous)
    {
        if (_ended) return;
        if (!ReferenceEquals(t_current, this)) throw new InvalidOperationException("a resumed TensorScope must be current when it is disposed");
        t_current = previous;
        End();
    }

    private void End()
    {
        float[][] buffers;
        List<TensorScope>? suspended;
        lock (_rented)
        {
            _ended = true;
            buffers = [.. _rented];
            _rented.Clear();
            suspended = _suspended;
            _suspended = null;
        }
        if (suspended is not null)
            foreach (var child in suspended)
                if (!child._ended) child.End();
        Pool.ReturnAll(buffers, endOfOutermostScope: Parent is null);
    }
}

/// <summary>
/// Free float32 buffers keyed by exact length, shared by <see cref="TensorScope"/>s. Thread-safe. After each
/// outermost scope the pool keeps, per length, only as many buffers as were in use at once since the previous
/// outermost scope ended, so steady shapes reuse everything and buffers of shapes no longer seen are released to the
/// GC (see <see cref="CollectAfterReleasingBytes"/>). Within a scope, buffers are reused as soon as they are free
/// (gradients that backward is done with, nested scopes such as <see cref="Ops.Checkpoint"/>'s), whatever the
/// shapes. Buffers shorter than <see cref="MinPooledLength"/> are not pooled.
/// </summary>
public sealed class TensorPool
{
    /// <summary>Arrays shorter than this (4 KB) are plain allocations: the GC's nursery handles them cheaply.</summary>
    public const int MinPooledLength = 1024;

    private readonly Dictionary<int, Bucket> _buckets = [];
    private long _cachedBytes, _rentedBytes, _allocatedBytes, _reuses, _allocations;

    /// <summary>
    /// When the trim after an outermost scope releases at least this many bytes (the step's shapes changed, e.g.
    /// batches padded to their longest row), the pool runs a full blocking garbage collection. The released buffers
    /// are large-object-heap arrays, which only full collections free, and the GC schedules those by a budget that
    /// grows with the live heap (the pool's own buffers included), so without it several steps' worth of released
    /// buffers can stay resident. Steps with steady shapes release nothing and never trigger it. Default 16 MiB;
    /// <see cref="long.MaxValue"/> turns it off.
    /// </summary>
    public long CollectAfterReleasingBytes { get; set; } = 16L << 20;

    /// <summary>The pool scopes use unless given another.</summary>
    public static TensorPool Shared { get; } = new();

    /// <summary>Bytes of free buffers the pool holds for the next scope.</summary>
    public long CachedBytes { get { lock (_buckets) return _cachedBytes; } }

    /// <summary>Bytes of buffers handed out to active scopes now.</summary>
    public long RentedBytes { get { lock (_buckets) return _rentedBytes; } }

    /// <summary>Bytes of new arrays the pool has allocated so far (a reused buffer counts once).</summary>
    public long AllocatedBytes { get { lock (_buckets) return _allocatedBytes; } }

    /// <summary>Requests served with a cached buffer.</summary>
    public long Reuses { get { lock (_buckets) return _reuses; } }

    /// <summary>Requests that needed a new array.</summary>
    public long Allocations { get { lock (_buckets) return _allocations; } }

    /// <summary>Drops every cached (free) buffer; buffers in use are unaffected.</summary>
    public void Trim()
    {
        lock (_buckets)
        {
            List<int>? empty = null;
            foreach (var (length, bucket) in _buckets)
            {
                bucket.Free.Clear();
                if (bucket.Outstanding == 0) (empty ??= []).Add(length);
            }
            if (empty is not null) foreach (int length in empty) _buckets.Remove(length);
            _cachedBytes = 0;
        }
    }

    /// <summary>Overwrites every cached buffer (tests: a reused buffer must never leak its old contents).</summary>
    internal void FillCached(float value)
    {
        lock (_buckets)
            foreach (var (_, bucket) in _buckets)
                foreach (var buffer in bucket.Free) Array.Fill(buffer, value);
    }

    internal float[] Rent(int length, bool clear)
    {
        float[]? buffer = null;
        lock (_buckets)
        {
            if (!_buckets.TryGetValue(length, out var bucket)) _buckets[length] = bucket = new Bucket();
            if (bucket.Free.Count > 0)
            {
                buffer = bucket.Free.Pop();
                _cachedBytes -= 4L * length;
                _reuses++;
            }
            else
            {
                _allocations++;
                _allocatedBytes += 4L * length;
            }
            bucket.Outstanding++;
            bucket.Peak = Math.Max(bucket.Peak, bucket.Outstanding);
            _rentedBytes += 4L * length;
        }
        if (buffer is null) return new float[length];
        if (clear) Array.Clear(buffer);
        return buffer;
    }

    internal void Return(float[] buffer)
    {
        lock (_buckets) ReturnLocked(buffer);
    }

    internal void ReturnAll(float[][] buffers, bool endOfOutermostScope)
    {
        long released = 0;
        lock (_buckets)
        {
            foreach (var buffer in buffers) ReturnLocked(buffer);
            if (endOfOutermostScope) released = TrimToRecentPeakLocked();
        }
        if (released > 0 && released >= CollectAfterReleasingBytes)
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
    }

    /// <summary>A rented buffer that leaves the pool for good (kept past an outermost scope).</summary>
    internal void Forget(float[] buffer)
    {
        lock (_buckets)
        {
            if (_buckets.TryGetValue(buffer.Length, out var bucket)) bucket.Outstanding = Math.Max(0, bucket.Outstanding - 1);
            _rentedBytes -= 4L * buffer.Length;
        }
    }

    private void ReturnLocked(float[] buffer)
    {
        if (!_buckets.TryGetValue(buffer.Length, out var bucket)) _buckets[buffer.Length] = bucket = new Bucket { Outstanding = 1, Peak = 1 };
        bucket.Outstanding = Math.Max(0, bucket.Outstanding - 1);
        bucket.Free.Push(buffer);
        _cachedBytes += 4L * buffer.Length;
        _rentedBytes -= 4L * buffer.Length;
    }

    /// <summary>Trims each bucket to its peak use since the last trim; returns the bytes released.</summary>
    private long TrimToRecentPeakLocked()
    {
        List<int>? empty = null;
        long dropped = 0;
        foreach (var (length, bucket) in _buckets)
        {
            int keep = Math.Max(0, bucket.Peak - bucket.Outstanding);
            while (bucket.Free.Count > keep)
            {
                bucket.Free.Pop();
                _cachedBytes -= 4L * length;
                dropped += 4L * length;
            }
            bucket.Peak = bucket.Outstanding;
            if (bucket.Free.Count == 0 && bucket.Outstanding == 0) (empty ??= []).Add(length);
        }
        if (empty is not null) foreach (int length in empty) _buckets.Remove(length);
        return dropped;
    }

    private sealed class Bucket
    {
        public readonly Stack<float[]> Free = new();
        public int Outstanding;
        public int Peak;
    }
}

using Pacs.Tensors.Kernels;

namespace Pacs.Tensors.Tests;

public class TensorScopeTests
{
    private sealed record StepResult(float Loss, float[] LogProbs, float[][] Grads);

    private const int Batch = 4, Time = 48, Vocab = 40;

    private static TinyDecoder NewModel() => new(Vocab, hidden: 64, layers: 2, heads: 4, kvHeads: 2, mlp: 96, maxPositions: Time, seed: 5);

    /// <summary>A training step through most ops (the decoder, fused log-prob ops, and a side loss over the rest).</summary>
    private static StepResult Step(TinyDecoder model, bool checkpoint)
    {
        foreach (var p in model.Parameters()) p.ZeroGrad();
        var rng = new Random(9);
        var ids = Enumerable.Range(0, Batch * Time).Select(_ => rng.Next(Vocab)).ToArray();
        var targets = ids.Skip(1).Append(-1).ToArray();
        var logits = model.Logits(ids, Batch, Time, validLengths: [48, 30, 41, 12], checkpoint);   // [B*T, V]
        var logProbs = Ops.GatherLogProbs(logits, targets.Select(t => Math.Max(t, 0)).ToArray(), 0.8f);
        var entropy = Ops.Entropy(logits, 0.8f);
        var mask = targets.Select(t => t < 0 ? 0f : 1f).ToArray();
        var mix = Ops.Concat([Ops.Slice(Ops.Softmax(logits), 1, 0, 20), Ops.Slice(Ops.LogSoftmax(logits), 1, 20, 20)], axis: 1);
        var m = Ops.MatMul(mix, model.Embed);                                                       // [B*T, D]
        var t = Ops.Sigmoid(Ops.Clamp(Ops.Exp(Ops.Scale(m, 0.1f)), 0f, 5f));
        var side = Ops.Mean(Ops.SumLastDim(Ops.Minimum(t, Ops.AddScalar(Ops.Square(t), 0.1f))));
        var loss = Ops.Add(Ops.Add(Ops.CrossEntropy(logits, targets), Ops.Scale(Ops.MaskedMean(Ops.Add(logProbs, entropy), mask), 0.1f)),
            Ops.Scale(side, 0.05f));
        float value = loss.Item();
        float[] lp = (float[])logProbs.Data.Clone();
        loss.Backward();
        return new StepResult(value, lp, model.Parameters().Select(p => (float[])p.Grad!.Clone()).ToArray());
    }

    private static void AssertBitIdentical(StepResult expected, StepResult actual)
    {
        Assert.Equal(BitConverter.SingleToInt32Bits(expected.Loss), BitConverter.SingleToInt32Bits(actual.Loss));
        Assert.Equal(expected.LogProbs.Select(BitConverter.SingleToInt32Bits), actual.LogProbs.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(expected.Grads.Length, actual.Grads.Length);
        for (int p = 0; p < expected.Grads.Length; p++)
        {
            Assert.Contains(expected.Grads[p], g => g != 0f);
            Assert.Equal(expected.Grads[p].Select(BitConverter.SingleToInt32Bits), actual.Grads[p].Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_second_scope_reuses_the_buffers_and_gives_bit_identical_results(bool checkpoint)
    {
        var model = NewModel();
        var plain = Step(model, checkpoint);
        var pool = new TensorPool();
        StepResult first, second;
        using (TensorScope.Begin(pool)) first = Step(model, checkpoint);
        long allocations = pool.Allocations, allocatedBytes = pool.AllocatedBytes;
        Assert.True(allocations > 0);
        Assert.Equal(0, pool.RentedBytes);
        Assert.True(pool.CachedBytes > 0);
        Assert.True(pool.CachedBytes <= allocatedBytes);

        // Poison every cached buffer: a buffer reused without being cleared where an op needs zeros would show.
        pool.FillCached(float.NaN);
        long reuses = pool.Reuses;
        using (TensorScope.Begin(pool)) second = Step(model, checkpoint);
        Assert.Equal(allocations, pool.Allocations);
        Assert.Equal(allocatedBytes, pool.AllocatedBytes);
        Assert.True(pool.Reuses > reuses);
        Assert.Equal(0, pool.RentedBytes);

        AssertBitIdentical(plain, first);
        AssertBitIdentical(plain, second);
    }

    [Fact]
    public void Pooled_step_is_bit_identical_for_any_thread_count()
    {
        int saved = Parallelism.MaxDegree;
        try
        {
            Parallelism.MaxDegree = 1;
            var one = Step(NewModel(), checkpoint: false);
            Parallelism.MaxDegree = Math.Max(4, Environment.ProcessorCount);
            var pool = new TensorPool();
            using (TensorScope.Begin(pool)) Step(NewModel(), checkpoint: true);
            pool.FillCached(float.NaN);
            StepResult many;
            using (TensorScope.Begin(pool)) many = Step(NewModel(), checkpoint: true);
            AssertBitIdentical(one, many);
        }
        finally
        {
            Parallelism.MaxDegree = saved;
        }
    }

    [Fact]
    public void Scopes_on_several_threads_can_share_a_pool()
    {
        var expected = Step(NewModel(), checkpoint: false);
        var pool = new TensorPool();
        var results = new StepResult[4];
        var threads = Enumerable.Range(0, results.Length).Select(i => new Thread(() =>
        {
            var model = NewModel();
            for (int round = 0; round < 2; round++)
            {
                using var scope = TensorScope.Begin(pool);
                results[i] = Step(model, checkpoint: i % 2 == 1);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        foreach (var r in results) AssertBitIdentical(expected, r);
        Assert.Equal(0, pool.RentedBytes);
        Assert.Null(TensorScope.Current);
    }

    [Fact]
    public void Tensors_that_escape_a_scope_are_invalid_and_kept_ones_survive()
    {
        const int n = 4096;
        var pool = new TensorPool();
        var rng = new Random(1);
        var outside = Tensor.FromArray(Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble()).ToArray(), n);
        var w = Tensor.Parameter(Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble()).ToArray(), [n]);
        Tensor y, view, detached, leaf, kept, scalar;
        float[] expected;
        using (var scope = TensorScope.Begin(pool))
        {
            Assert.Same(scope, TensorScope.Current);
            leaf = Tensor.FromArray(new float[n], n);
            y = Ops.Mul(outside, w);
            view = Ops.Reshape(y, 64, 64);
            detached = outside.Detach();
            scalar = Ops.Sum(y);
            Assert.Same(scope, y.Scope);
            Assert.Same(scope, view.Scope);
            Assert.Same(scope, detached.Scope);
            Assert.Same(scope, leaf.Scope);
            Assert.Null(w.Scope);
            Assert.Null(outside.Scope);
            scalar.Backward();
            expected = (float[])y.Data.Clone();
            Assert.Equal(n * 4, pool.RentedBytes); // y's data; its gradient went back to the pool during Backward
            kept = scope.Keep(y);
            Assert.Equal(0, pool.RentedBytes);
            Assert.True(y.IsValid);
            Assert.Null(kept.Scope);
        }
        Assert.Null(TensorScope.Current);
        foreach (var t in new[] { y, view, detached, leaf, scalar })
        {
            Assert.False(t.IsValid);
            Assert.Throws<InvalidOperationException>(() => t.Data);
            Assert.Throws<InvalidOperationException>(() => t.Grad);
            Assert.Throws<InvalidOperationException>(() => t.EnsureGrad());
        }
        Assert.Throws<InvalidOperationException>(() => scalar.Item());
        Assert.Throws<InvalidOperationException>(() => Ops.Add(y, outside));
        Assert.Equal(0, pool.RentedBytes);

        // Parameters and tensors from outside the scope are untouched: d sum(x * w) / dw = x.
        Assert.True(outside.IsValid && w.IsValid);
        Assert.Equal(outside.Data, w.Grad);

        // The kept buffer left the pool: the next scope's allocations of that length do not overwrite it.
        Assert.Equal(expected, kept.Data);
        using (TensorScope.Begin(pool))
            for (int i = 0; i < 4; i++)
            {
                var z = Ops.AddScalar(outside, 100f);
                Assert.NotSame(kept.Data, z.Data);
            }
        Assert.Equal(expected, kept.Data);
    }

    [Fact]
    public void Scopes_nest_and_end_in_reverse_order()
    {
        var pool = new TensorPool();
        using var outer = TensorScope.Begin(pool);
        var a = Tensor.Zeros(4096);
        var inner = TensorScope.Begin();
        Assert.Same(outer, inner.Parent);
        Assert.Same(pool, inner.Pool);
        Assert.Same(inner, TensorScope.Current);
        var b = Ops.AddScalar(a, 1f);
        var kept = inner.Keep(b);
        Assert.Same(outer, kept.Scope);
        Assert.Throws<InvalidOperationException>(outer.Dispose);
        Assert.False(outer.HasEnded);
        inner.Dispose();
        Assert.True(inner.HasEnded);
        Assert.Same(outer, TensorScope.Current);
        Assert.False(b.IsValid);
        Assert.True(a.IsValid);
        Assert.All(kept.Data, v => Assert.Equal(1f, v));
        Assert.Equal(2 * 4096 * 4, outer.RentedBytes);
        Assert.Throws<InvalidOperationException>(() => inner.Keep(a));
        inner.Dispose(); // a second Dispose is a no-op
    }

    [Fact]
    public void Without_a_scope_nothing_is_pooled()
    {
        Assert.Null(TensorScope.Current);
        var x = Ops.Scale(Tensor.FromArray(new float[4096], 4096), 2f);
        Assert.Null(x.Scope);
        Assert.True(x.IsValid);
    }

    [Fact]
    public void Pool_keeps_only_the_buffers_the_last_scope_needed()
    {
        var pool = new TensorPool();
        using (TensorScope.Begin(pool))
        {
            Tensor.Zeros(5000);
            Tensor.Zeros(5000);
            Tensor.Zeros(100); // below TensorPool.MinPooledLength: a plain array
        }
        Assert.Equal(2 * 5000 * 4, pool.CachedBytes);
        using (TensorScope.Begin(pool)) Tensor.Zeros(5000);
        Assert.Equal(5000 * 4, pool.CachedBytes);
        pool.CollectAfterReleasingBytes = 5000 * 4;
        int fullCollections = GC.CollectionCount(2);
        using (TensorScope.Begin(pool)) Tensor.Zeros(6000);
        Assert.Equal(6000 * 4, pool.CachedBytes);
        Assert.True(GC.CollectionCount(2) > fullCollections); // the 5000-float buffer was released: a full collection ran
        pool.Trim();
        Assert.Equal(0, pool.CachedBytes);
        Assert.Equal(0, pool.RentedBytes);
    }
}

public class ScopedBlockTests
{
    /// <summary>y = sum(silu(x W1) W2): a block with intermediates worth pooling (64 x 96 floats each).</summary>
    private static Tensor Block(Tensor x, Tensor w1, Tensor w2) => Ops.MatMul(Ops.Silu(Ops.MatMul(x, w1)), w2);

    private static (Tensor X, Tensor W1, Tensor W2) Inputs()
    {
        var rng = new Random(3);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        return (new Tensor(R(64 * 96), [64, 96], requiresGrad: true), new Tensor(R(96 * 96), [96, 96], requiresGrad: true),
            new Tensor(R(96 * 96), [96, 96], requiresGrad: true));
    }

    [Fact]
    public void Gives_the_same_gradients_and_frees_its_buffers_before_the_enclosing_scope_ends()
    {
        var (x, w1, w2) = Inputs();
        var plainLoss = Ops.Mean(Ops.Square(Block(Ops.Scale(x, 2f), w1, w2)));
        plainLoss.Backward();
        float[] gx = (float[])x.Grad!.Clone(), g1 = (float[])w1.Grad!.Clone(), g2 = (float[])w2.Grad!.Clone();
        x.ZeroGrad(); w1.ZeroGrad(); w2.ZeroGrad();

        var pool = new TensorPool();
        using (var scope = TensorScope.Begin(pool))
        {
            var h = Ops.Scale(x, 2f);
            long before = pool.RentedBytes;
            var y = Ops.ScopedBlock(t => Block(t[0], w1, w2), h);
            long withBlock = pool.RentedBytes;
            Assert.True(withBlock > before + 4L * 64 * 96, "the block's intermediates are pooled and alive until its backward");
            var loss = Ops.Mean(Ops.Square(y));
            loss.Backward();
            // Without the block's own scope its intermediates would stay rented until this scope ends.
            Assert.True(pool.RentedBytes < withBlock, $"rented {pool.RentedBytes} after backward, {withBlock} with the block alive");
        }
        Assert.Equal(0, pool.RentedBytes);
        Assert.Equal(gx, x.Grad!);
        Assert.Equal(g1, w1.Grad!);
        Assert.Equal(g2, w2.Grad!);
    }

    [Fact]
    public void Ends_with_the_enclosing_scope_when_no_backward_reaches_it()
    {
        var (x, w1, w2) = Inputs();
        var pool = new TensorPool();
        Tensor y;
        using (TensorScope.Begin(pool))
        {
            y = Ops.ScopedBlock(t => Block(t[0], w1, w2), Ops.Scale(x, 1f));
            Assert.True(pool.RentedBytes > 0);
        }
        Assert.Equal(0, pool.RentedBytes);
        Assert.Throws<InvalidOperationException>(() => y.Data);
    }

    [Fact]
    public void Is_plain_outside_a_scope_or_without_autograd()
    {
        var (x, w1, w2) = Inputs();
        var expected = Block(x, w1, w2).Data;
        Assert.Equal(expected, Ops.ScopedBlock(t => Block(t[0], w1, w2), x).Data);
        using (TensorScope.Begin(new TensorPool()))
        using (Autograd.NoGrad())
            Assert.Equal(expected, Ops.ScopedBlock(t => Block(t[0], w1, w2), x).Data);
    }
}

using Pacs.Tensors.Kernels;

namespace Pacs.Tensors.Tests;

public sealed class WorkerPoolTests
{
    [Theory]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 1000)]
    [InlineData(8, 37)]
    public void RunsEveryItemExactlyOnce(int degree, int count)
    {
        var hits = new int[count];
        for (int round = 0; round < 50; round++)
        {
            bool ran = WorkerPool.TryRun(count, degree, i => Interlocked.Increment(ref hits[i]));
            if (!ran) Parallel.For(0, count, i => Interlocked.Increment(ref hits[i]));
        }
        Assert.All(hits, h => Assert.Equal(50, h));
    }

    [Fact]
    public void UsesMoreThanOneThreadWhenAllowed()
    {
        // Other test classes may hold the pool (TryRun then returns false): keep trying for a while.
        var threads = new HashSet<int>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int ran = 0;
        while (threads.Count < 2 && (ran < 200 || watch.Elapsed < TimeSpan.FromSeconds(30)) && watch.Elapsed < TimeSpan.FromSeconds(60))
        {
            bool took = WorkerPool.TryRun(64, 2, _ =>
            {
                Thread.SpinWait(20_000);
                lock (threads) threads.Add(Environment.CurrentManagedThreadId);
            });
            if (took) ran++;
            else Thread.Sleep(1);
        }
        Assert.True(threads.Count >= 2, $"the second thread never took an item in {ran} loops");
    }

    [Fact]
    public void RethrowsTheBodysExceptionAndStaysUsable()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            Parallelism.For(100, i =>
            {
                if (i == 41) throw new InvalidOperationException("item 41");
            }));
        Assert.Equal("item 41", error.Message);

        int sum = 0;
        Parallelism.For(100, i => Interlocked.Add(ref sum, i));
        Assert.Equal(4950, sum);
    }

    [Fact]
    public void ANestedLoopThrowsTheBodysExceptionToo()
    {
        // The inner loop runs while the pool is busy with the outer one, so it takes the fallback path.
        var error = Assert.Throws<InvalidOperationException>(() =>
            Parallelism.For(4, outer => Parallelism.For(64, inner =>
            {
                if (inner == 7) throw new InvalidOperationException($"inner {inner}");
            })));
        Assert.Equal("inner 7", error.Message);
    }

    [Fact]
    public void WorkersThatSleepAtOnceStillRunEveryLoop()
    {
        int saved = Parallelism.SpinMicroseconds;
        try
        {
            Parallelism.SpinMicroseconds = 0;
            long sum = 0;
            for (int round = 0; round < 100; round++)
                Parallelism.For(32, i => Interlocked.Add(ref sum, i));
            Assert.Equal(100L * 496, sum);
        }
        finally
        {
            Parallelism.SpinMicroseconds = saved;
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.SpinMicroseconds = -1);
    }

    [Fact]
    public void NestedLoopsRunToCompletion()
    {
        var hits = new int[16 * 16];
        Parallelism.For(16, outer => Parallelism.For(16, inner => Interlocked.Increment(ref hits[outer * 16 + inner])));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void ConcurrentCallersEachGetTheirOwnLoop()
    {
        var sums = new long[4];
        var callers = Enumerable.Range(0, sums.Length).Select(c => new Thread(() =>
        {
            for (int round = 0; round < 200; round++)
                Parallelism.For(64, i => Interlocked.Add(ref sums[c], i));
        })).ToArray();
        foreach (var t in callers) t.Start();
        foreach (var t in callers) t.Join();
        Assert.All(sums, s => Assert.Equal(200L * 2016, s));
    }
}

using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Pacs.Tensors.Kernels;

/// <summary>
/// The kernels' own threads: <see cref="Parallelism.MaxDegree"/> - 1 background workers that stay awake, spinning for
/// <see cref="Parallelism.SpinMicroseconds"/> after each parallel loop, so the next loop starts at once. A kernel call
/// is a few microseconds to a few milliseconds, and a sleeping thread, on a virtual machine above all, can take longer
/// than that to wake: with the shared .NET thread pool a 2-thread SGEMM kept its second core idle 5-20% of the time.
/// One loop runs at a time; a loop started while another runs (a nested loop, or a second thread of the caller's)
/// returns false and the caller runs it some other way.
/// </summary>
internal static class WorkerPool
{
    private static readonly object s_sleepLock = new();
    private static readonly List<Thread> s_workers = [];
    private static Job? s_job;
    private static long s_generation;
    private static int s_sleeping;
    private static int s_busy;
    private static long s_spinTicks;

    private sealed class Job(int count, int helpers, Action<int> body)
    {
        public readonly int Count = count;
        public readonly int Helpers = helpers;
        public readonly Action<int> Body = body;
        public int Next;
        public int Remaining = count;
        public ExceptionDispatchInfo? Error;

        /// <summary>Takes items until none are left; returns when this thread has no more to do.</summary>
        public void Work()
        {
            while (true)
            {
                int i = Interlocked.Increment(ref Next) - 1;
                if (i >= Count) return;
                try
                {
                    if (Error is null) Body(i);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref Error, ExceptionDispatchInfo.Capture(e), null);
                }
                Interlocked.Decrement(ref Remaining);
            }
        }
    }

    /// <summary>Runs body(i) for i in [0, count) on this thread and up to degree - 1 workers; false when the pool is in use.</summary>
    public static bool TryRun(int count, int degree, Action<int> body)
    {
        // Read here, on the caller's thread: a bad PACS_SPIN_US throws to the caller, not in a worker.
        long spinTicks = Stopwatch.Frequency * Parallelism.SpinMicroseconds / 1_000_000;
        if (Interlocked.CompareExchange(ref s_busy, 1, 0) != 0) return false;
        try
        {
            Volatile.Write(ref s_spinTicks, spinTicks);
            int helpers = Math.Min(degree, count) - 1;
            while (s_workers.Count < helpers) StartWorker(s_workers.Count);
            var job = new Job(count, helpers, body);
            Volatile.Write(ref s_job, job);
            Interlocked.Increment(ref s_generation);
            if (Volatile.Read(ref s_sleeping) > 0)
                lock (s_sleepLock) Monitor.PulseAll(s_sleepLock);
            job.Work();
            var spin = new SpinWait();
            for (int i = 0; Volatile.Read(ref job.Remaining) > 0; i++)
            {
                if (i < 1 << 16) Thread.SpinWait(8);
                else spin.SpinOnce(sleep1Threshold: -1); // a helper was descheduled: let it run
            }
            job.Error?.Throw();
            return true;
        }
        finally
        {
            // Drop the job: its body's closure holds the loop's arrays, which would stay reachable until the next loop.
            Volatile.Write(ref s_job, null);
            Volatile.Write(ref s_busy, 0);
        }
    }

    private static void StartWorker(int index)
    {
        var thread = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"pacs worker {index + 1}" };
        s_workers.Add(thread);
        thread.Start();
    }

    private static void WorkerLoop(int index)
    {
        long seen = Volatile.Read(ref s_generation);
        while (true)
        {
            seen = WaitForNext(seen);
            var job = Volatile.Read(ref s_job);
            if (job is not null && index < job.Helpers) job.Work();
        }
    }

    /// <summary>Spins until the generation moves past seen, then sleeps; returns the new generation.</summary>
    private static long WaitForNext(long seen)
    {
        // Pause-instruction spinning only: a yield is a system call, and on a virtual machine it can cost an exit to
        // the host, which the thread doing the work then waits on.
        long start = Stopwatch.GetTimestamp();
        long spinTicks = Volatile.Read(ref s_spinTicks);
        while (true)
        {
            for (int i = 0; i < 64; i++)
            {
                long generation = Volatile.Read(ref s_generation);
                if (generation != seen) return generation;
                Thread.SpinWait(8);
            }
            if (Stopwatch.GetTimestamp() - start > spinTicks) break;
        }
        lock (s_sleepLock)
        {
            // The increment and the poster's read of s_sleeping are both full fences: either the poster sees this
            // thread asleep and pulses, or this thread sees the new generation below.
            Interlocked.Increment(ref s_sleeping);
            try
            {
                long generation;
                while ((generation = Volatile.Read(ref s_generation)) == seen) Monitor.Wait(s_sleepLock);
                return generation;
            }
            finally
            {
                Interlocked.Decrement(ref s_sleeping);
            }
        }
    }
}

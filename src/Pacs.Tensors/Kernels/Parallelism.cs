using System.Runtime.ExceptionServices;

namespace Pacs.Tensors.Kernels;

/// <summary>
/// The thread budget of the kernels. Work is always split into a partition fixed by the problem shape (never by the
/// thread count), and every output element is produced by exactly one work item, so results are bit-identical
/// whatever <see cref="MaxDegree"/> is. PACS_THREADS sets the initial value (default: all cores).
/// </summary>
public static class Parallelism
{
    private static int s_maxDegree;

    /// <summary>Most threads a kernel may use at once; 1 runs everything on the calling thread.</summary>
    public static int MaxDegree
    {
        get
        {
            if (s_maxDegree == 0) s_maxDegree = DegreeFromEnvironment();
            return s_maxDegree;
        }
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, "Parallelism.MaxDegree must be at least 1");
            s_maxDegree = value;
        }
    }

    private static int s_spinMicroseconds = -1;

    /// <summary>
    /// How long the kernels' worker threads spin for the next parallel loop before they sleep, in microseconds
    /// (PACS_SPIN_US; default 2000). Spinning keeps a core busy between kernels so the next one starts at once; 0
    /// makes the workers sleep as soon as a loop ends (for a machine shared with other work, at some speed).
    /// </summary>
    public static int SpinMicroseconds
    {
        get
        {
            if (s_spinMicroseconds < 0) s_spinMicroseconds = SpinFromEnvironment();
            return s_spinMicroseconds;
        }
        set
        {
            if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), value, "Parallelism.SpinMicroseconds must be at least 0");
            s_spinMicroseconds = value;
        }
    }

    /// <summary>
    /// Runs body(i) for i in [0, count), on up to <see cref="MaxDegree"/> threads, in no particular order: on the
    /// <see cref="WorkerPool"/>, or on the .NET thread pool when that is busy (a loop inside a loop). An exception
    /// thrown by body is rethrown as it is (the first one, when several items throw), whichever ran the loop.
    /// </summary>
    public static void For(int count, Action<int> body)
    {
        int degree = MaxDegree;
        if (count <= 0) return;
        if (count == 1 || degree == 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        if (WorkerPool.TryRun(count, degree, body)) return;
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = degree }, body);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw(); // as the WorkerPool does: the body's own exception
        }
    }

    /// <summary>
    /// Splits [0, length) into consecutive chunks of at least <paramref name="minChunk"/> items (fixed by length
    /// alone) and runs body(start, end) for each, on up to <see cref="MaxDegree"/> threads.
    /// </summary>
    public static void ForRange(int length, int minChunk, Action<int, int> body)
    {
        if (length <= 0) return;
        int chunks = ChunkCount(length, minChunk);
        if (chunks == 1 || MaxDegree == 1)
        {
            body(0, length);
            return;
        }
        For(chunks, c =>
        {
            var (start, end) = ChunkBounds(length, chunks, c);
            body(start, end);
        });
    }

    /// <summary>Number of chunks ForRange uses: enough to balance a loaded machine, never smaller than minChunk items.</summary>
    public static int ChunkCount(int length, int minChunk)
    {
        const int maxChunks = 64;
        int chunks = length / Math.Max(1, minChunk);
        return Math.Clamp(chunks, 1, maxChunks);
    }

    public static (int Start, int End) ChunkBounds(int length, int chunks, int chunk)
    {
        long start = (long)length * chunk / chunks;
        long end = (long)length * (chunk + 1) / chunks;
        return ((int)start, (int)end);
    }

    private static int SpinFromEnvironment()
    {
        const int defaultMicroseconds = 2000;
        string? text = Environment.GetEnvironmentVariable("PACS_SPIN_US");
        if (string.IsNullOrWhiteSpace(text)) return defaultMicroseconds;
        if (!int.TryParse(text, out int us) || us < 0)
            throw new ArgumentException($"environment variable PACS_SPIN_US must be a non-negative integer (microseconds), got '{text}'");
        return us;
    }

    private static int DegreeFromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable("PACS_THREADS");
        if (string.IsNullOrWhiteSpace(text)) return Environment.ProcessorCount;
        if (!int.TryParse(text, out int degree) || degree < 1)
            throw new ArgumentException($"environment variable PACS_THREADS must be a positive integer, got '{text}'");
        return degree;
    }
}

namespace Pacs.Tensors.Kernels;

/// <summary>
/// Parallel loops for the op kernels. The split into tasks depends only on the problem size (never on the thread
/// count) and each output is produced by one task, so every kernel gives bit-identical results for any
/// <see cref="Parallelism.MaxDegree"/> (PACS_THREADS), the thread cap shared with the GEMM.
/// </summary>
public static class RowParallel
{
    private const long MinWorkPerTask = 32_768;
    private const int MaxTasks = 64;

    /// <summary>Tasks for count items of workPerItem units (about one multiply-add each); a function of the size alone.</summary>
    private static int TaskCount(int count, long workPerItem)
    {
        long total = Math.Max(1, workPerItem) * count;
        return (int)Math.Clamp(Math.Min(count, total / MinWorkPerTask), 1, MaxTasks);
    }

    /// <summary>Runs body(i) for i in [0, count), spread over threads when the work is worth it.</summary>
    public static void For(int count, long workPerItem, Action<int> body) =>
        ForRange(count, workPerItem, (begin, end) =>
        {
            for (int i = begin; i < end; i++) body(i);
        });

    /// <summary>Runs body(begin, end) over consecutive ranges covering [0, count); the ranges depend only on the size.</summary>
    public static void ForRange(int count, long workPerItem, Action<int, int> body)
    {
        if (count <= 0) return;
        int tasks = TaskCount(count, workPerItem);
        int degree = Parallelism.MaxDegree;
        if (tasks == 1)
        {
            body(0, count);
            return;
        }
        if (degree == 1)
        {
            for (int t = 0; t < tasks; t++) Run(t);
            return;
        }
        Parallelism.For(tasks, Run);

        void Run(int t)
        {
            int begin = (int)((long)count * t / tasks), end = (int)((long)count * (t + 1) / tasks);
            if (end > begin) body(begin, end);
        }
    }
}

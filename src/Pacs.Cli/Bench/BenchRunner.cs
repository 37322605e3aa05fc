using System.Diagnostics;
using Pacs.Models;
using Pacs.Tensors;
using Pacs.Tensors.Kernels;
using Pacs.Tensors.Optim;

namespace Pacs.Cli.Bench;

/// <summary>A figure measured several times: the median is reported, every run is kept.</summary>
public sealed record Measured(double Median, double Best, IReadOnlyList<double> Runs, string Unit)
{
    /// <summary>Rates (higher is better) from per-run values: <see cref="Best"/> is the largest.</summary>
    public static Measured Of(IReadOnlyList<double> runs, string unit) => Make(runs, unit, lowerIsBetter: false);

    /// <summary>Times in seconds (lower is better) from per-run values: <see cref="Best"/> is the smallest.</summary>
    public static Measured OfSeconds(IReadOnlyList<double> runs) => Make(runs, "s", lowerIsBetter: true);

    private static Measured Make(IReadOnlyList<double> runs, string unit, bool lowerIsBetter)
    {
        var sorted = runs.Order().ToArray();
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        return new Measured(median, lowerIsBetter ? sorted[0] : sorted[^1], runs, unit);
    }
}

/// <summary>SGEMM at size^3; with OpenBLAS present the two run interleaved and <see cref="Ratio"/> holds managed / OpenBLAS per pair.</summary>
public sealed record SgemmFigures(int Size, string Managed, Measured ManagedGflops, string? Native, Measured? NativeGflops, Measured? Ratio = null);

/// <summary>One SGEMM shape on one thread, timed by the thread's CPU time (robust to other processes on the machine).</summary>
public sealed record SgemmShapeFigures(string Use, string Op, int M, int N, int K, Measured ManagedGflops, Measured? NativeGflops);

public sealed record TrainFigures(int Batch, int SeqLen, long Parameters, Measured TokensPerSecond, Measured StepSeconds,
    double PeakWorkingSetMiB, string PeakScope, float FirstLoss, float LastLoss, string Memory, double PoolMiB, double StartWorkingSetMiB);

/// <summary>
/// How a bench training step manages activation memory: <c>plain</c> (every op allocates fresh arrays, as without
/// any of the knobs), <c>scope</c> (a <see cref="TensorScope"/> per step: buffers come from a pool and are reused by
/// the next step), <c>scope+checkpoint</c> (that, plus <see cref="Transformer.GradientCheckpointing"/>: of every
/// layer but the last only the input is kept, and the layer is recomputed in backward).
/// </summary>
public static class TrainMemory
{
    public const string Plain = "plain";
    public const string Scope = "scope";
    public const string ScopeCheckpoint = "scope+checkpoint";
    public static readonly string[] Names = [Plain, Scope, ScopeCheckpoint];
}

public sealed record GenerateFigures(int Sequences, int PromptTokens, int NewTokens, Measured TokensPerSecond, Measured Seconds);

public sealed record PrefillDecodeFigures(int Batch, int PromptTokens, int DecodeTokens, Measured PrefillTokensPerSecond,
    Measured DecodeTokensPerSecond);

/// <summary>The measurements behind `pacs bench`; each returns the figures of `repeats` timed runs after a warm-up.</summary>
public static class BenchRunner
{
    /// <summary>
    /// Pause between the two backends: both keep their threads spinning after a call (OpenBLAS for 2^28 cycles, about
    /// 0.1 s; the managed <c>WorkerPool</c> for 2 ms), and a backend timed while the other's threads still spin
    /// shares its cores with them.
    /// </summary>
    private const int QuietMs = 300;

    /// <summary>
    /// The managed kernel and OpenBLAS alternately, a run of each per repeat, so a drift of the machine's speed (a
    /// shared VM's neighbours, turbo, thermal) hits both alike; the per-pair ratio managed / OpenBLAS is kept too.
    /// </summary>
    public static (Measured Managed, Measured Native, Measured Ratio) SgemmInterleaved(int size, int repeats)
    {
        var managed = new List<double>();
        var native = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            managed.Add(Sgemm(size, 1, native: false).Median);
            Thread.Sleep(QuietMs);
            native.Add(Sgemm(size, 1, native: true).Median);
            Thread.Sleep(QuietMs);
        }
        return (Measured.Of(managed, "GFLOP/s"), Measured.Of(native, "GFLOP/s"), Measured.Of(managed.Zip(native, (m, n) => m / n).ToArray(), "x"));
    }

    /// <summary>C = A B at size^3 (row-major, no transposes), GFLOP/s per run; a run repeats the call for >= 0.2 s.</summary>
    public static Measured Sgemm(int size, int repeats, bool native)
    {
        var rng = new Random(1234);
        var a = RandomMatrix(rng, size * size);
        var b = RandomMatrix(rng, size * size);
        var c = new float[size * size];
        void Call()
        {
            if (native) Gemm.Native(false, false, size, size, size, 1f, a, size, b, size, 0f, c, size);
            else Gemm.Managed(false, false, size, size, size, 1f, a, size, b, size, 0f, c, size);
        }
        Call();
        var watch = Stopwatch.StartNew();
        Call();
        int calls = Math.Max(1, (int)(0.2 / Math.Max(1e-6, watch.Elapsed.TotalSeconds)));
        double flops = 2.0 * size * size * size;
        var runs = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            watch.Restart();
            for (int i = 0; i < calls; i++) Call();
            runs.Add(flops * calls / watch.Elapsed.TotalSeconds / 1e9);
        }
        return Measured.Of(runs, "GFLOP/s");
    }

    /// <summary>The shapes one bench-tiny training step and decoding use, plus 1024^3.</summary>
    private static readonly (string Use, bool TransA, bool TransB, int M, int N, int K)[] s_shapes =
    [
        ("square", false, false, 1024, 1024, 1024), ("square", false, true, 1024, 1024, 1024), ("square", true, false, 1024, 1024, 1024),
        ("q/o forward", false, true, 4096, 256, 256), ("gate/up forward", false, true, 4096, 704, 256),
        ("down forward", false, true, 4096, 256, 704), ("down dX", false, false, 4096, 704, 256),
        ("down dW", true, false, 256, 704, 4096), ("lm head forward", false, true, 4096, 64, 256),
        ("decode 1 row", false, true, 1, 704, 256), ("decode 8 rows", false, true, 8, 704, 256),
        ("decode 64 rows", false, true, 64, 704, 256),
    ];

    /// <summary>
    /// SGEMM GFLOP/s per shape on one thread, from the calling thread's CPU time (Linux; wall time elsewhere), so
    /// other processes on a shared machine slow the figure only through shared caches.
    /// </summary>
    public static List<SgemmShapeFigures> SgemmShapes(int repeats)
    {
        int saved = Parallelism.MaxDegree;
        Parallelism.MaxDegree = 1;
        try
        {
            var rng = new Random(99);
            var figures = new List<SgemmShapeFigures>();
            foreach (var (use, ta, tb, m, n, k) in s_shapes)
            {
                var a = RandomMatrix(rng, m * k);
                var b = RandomMatrix(rng, k * n);
                var c = new float[m * n];
                int lda = ta ? m : k, ldb = tb ? k : n;
                Measured Rate(bool native) => CpuRate(2.0 * m * n * k, repeats, () =>
                {
                    if (native) Gemm.Native(ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f, c, n);
                    else Gemm.Managed(ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f, c, n);
                });
                string op = $"{(ta ? "T" : "N")}{(tb ? "T" : "N")}";
                figures.Add(new SgemmShapeFigures(use, op, m, n, k, Rate(false), BlasNative.IsAvailable ? Rate(true) : null));
            }
            return figures;
        }
        finally
        {
            Parallelism.MaxDegree = saved;
        }
    }

    private static Measured CpuRate(double flops, int repeats, Action call)
    {
        call();
        double t0 = ThreadCpuSeconds();
        call();
        int calls = Math.Max(1, (int)(0.1 / Math.Max(1e-7, ThreadCpuSeconds() - t0)));
        var runs = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            double start = ThreadCpuSeconds();
            for (int i = 0; i < calls; i++) call();
            runs.Add(flops * calls / Math.Max(1e-9, ThreadCpuSeconds() - start) / 1e9);
        }
        return Measured.Of(runs, "GFLOP/s");
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern unsafe int ClockGetTime(int clock, long* timespec);

    /// <summary>CLOCK_THREAD_CPUTIME_ID on Linux; the wall clock where that is unavailable.</summary>
    private static unsafe double ThreadCpuSeconds()
    {
        if (OperatingSystem.IsLinux())
        {
            long* timespec = stackalloc long[2];
            const int clockThreadCpuTime = 3;
            if (ClockGetTime(clockThreadCpuTime, timespec) == 0) return timespec[0] + timespec[1] * 1e-9;
        }
        return Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
    }

    /// <summary>
    /// Untimed training steps after the first (whose loss is reported) before timing starts: the JIT recompiles a
    /// method with full optimisation only after ~30 calls, and a per-layer backward closure is called just 4 times a
    /// step. A count, not a time, so the model every mode trains is the same.
    /// </summary>
    public const int WarmUpSteps = 8;

    /// <summary>
    /// One training step = forward over batch x seqLen random tokens, mean cross-entropy against random targets,
    /// backward, AdamW step, zero grads. Tokens/s counts batch * seqLen per step. Peak memory is the resident set
    /// high-water mark over the training steps (reset first where Linux allows it, else since process start).
    /// <paramref name="memory"/> is one of <see cref="TrainMemory.Names"/>.
    /// </summary>
    public static TrainFigures Train(ModelConfig config, int batch, int seqLen, int repeats, ulong seed = 1,
        string memory = TrainMemory.Plain)
    {
        if (!TrainMemory.Names.Contains(memory))
            throw new ArgumentException($"training memory mode '{memory}' is not one of {string.Join(", ", TrainMemory.Names)}");
        bool pooled = memory != TrainMemory.Plain;
        var model = new Transformer(config, seed) { GradientCheckpointing = memory == TrainMemory.ScopeCheckpoint };
        var optimizer = new AdamW(model.Parameters.Select(p => p.Value), new AdamWOptions { LearningRate = 1e-3 });
        var rng = new Random((int)seed);
        int n = batch * seqLen;
        var tokens = new int[n];
        var targets = new int[n];
        for (int i = 0; i < n; i++)
        {
            tokens[i] = rng.Next(config.VocabSize);
            targets[i] = rng.Next(config.VocabSize);
        }
        float Step()
        {
            using var scope = pooled ? TensorScope.Begin() : null;
            var logits = model.Forward(tokens, batch, seqLen);   // [B*T, V]
            var loss = Ops.CrossEntropy(logits, targets);        // scalar
            loss.Backward();
            optimizer.Step();
            optimizer.ZeroGrad();
            return loss.Item();
        }
        double startMiB = WorkingSetBytes() / (1024.0 * 1024.0);
        bool peakReset = ResetPeakResidentSet();
        float firstLoss = Step();
        float lastLoss = firstLoss;
        for (int w = 0; w < WarmUpSteps; w++) lastLoss = Step();
        var seconds = new List<double>();
        var watch = new Stopwatch();
        for (int r = 0; r < repeats; r++)
        {
            watch.Restart();
            lastLoss = Step();
            seconds.Add(watch.Elapsed.TotalSeconds);
        }
        double peakMiB = PeakResidentSetBytes() / (1024.0 * 1024.0);
        return new TrainFigures(batch, seqLen, model.ParameterCount, Measured.Of(seconds.Select(s => n / s).ToArray(), "tokens/s"),
            Measured.OfSeconds(seconds), peakMiB, peakReset ? "training steps" : "process lifetime", firstLoss, lastLoss, memory,
            TensorPool.Shared.CachedBytes / (1024.0 * 1024.0), startMiB);
    }

    /// <summary>Sampling (temperature 1, no stop tokens) of newTokens after random prompts; tokens/s counts new tokens.</summary>
    public static GenerateFigures Generate(Transformer model, int sequences, int promptTokens, int newTokens, int repeats)
    {
        var generator = new Generator(model);
        var requests = RandomRequests(model.Config, sequences, promptTokens, seed: 7);
        var options = new SamplingOptions(Temperature: 1, MaxNewTokens: newTokens, StopTokenIds: []);
        int Run()
        {
            var results = generator.Generate(requests, options);
            return results.Sum(r => r.Tokens.Length);
        }
        Run();
        var seconds = new List<double>();
        var rates = new List<double>();
        var watch = new Stopwatch();
        for (int r = 0; r < repeats; r++)
        {
            watch.Restart();
            int produced = Run();
            double s = watch.Elapsed.TotalSeconds;
            seconds.Add(s);
            rates.Add(produced / s);
        }
        return new GenerateFigures(sequences, promptTokens, newTokens, Measured.Of(rates, "tokens/s"), Measured.Of(seconds, "s"));
    }

    /// <summary>
    /// Prefill: Generate with one new token (the prompt pass plus one sample), prompt tokens / time. Decode: the
    /// extra time of generating 1 + decodeTokens, decodeTokens * batch / extra time.
    /// </summary>
    public static PrefillDecodeFigures PrefillDecode(Transformer model, int batch, int promptTokens, int decodeTokens, int repeats)
    {
        var generator = new Generator(model);
        var requests = RandomRequests(model.Config, batch, promptTokens, seed: 11);
        var prefillOnly = new SamplingOptions(Temperature: 1, MaxNewTokens: 1, StopTokenIds: []);
        var withDecode = prefillOnly with { MaxNewTokens = 1 + decodeTokens };
        double Time(SamplingOptions options)
        {
            var watch = Stopwatch.StartNew();
            generator.Generate(requests, options);
            return watch.Elapsed.TotalSeconds;
        }
        // Warm-up (JIT, caches) on a short request: a full-size one would cost as much as a timed run.
        generator.Generate(RandomRequests(model.Config, 1, 4, seed: 12), prefillOnly with { MaxNewTokens = 2 });
        var prefill = new List<double>();
        var decode = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            double tPrefill = Time(prefillOnly);
            double tFull = Time(withDecode);
            prefill.Add(batch * promptTokens / tPrefill);
            decode.Add(batch * decodeTokens / Math.Max(1e-9, tFull - tPrefill));
        }
        return new PrefillDecodeFigures(batch, promptTokens, decodeTokens, Measured.Of(prefill, "tokens/s"), Measured.Of(decode, "tokens/s"));
    }

    internal static GenerationRequest[] RandomRequests(ModelConfig config, int count, int promptTokens, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(i => new GenerationRequest(Enumerable.Range(0, promptTokens).Select(_ => rng.Next(config.VocabSize)).ToArray(), (ulong)(i + 1)))
            .ToArray();
    }

    private static float[] RandomMatrix(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>Linux: writing 5 to /proc/self/clear_refs resets VmHWM (the resident-set high-water mark).</summary>
    internal static bool ResetPeakResidentSet()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

    internal static long WorkingSetBytes()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }

    internal static long PeakResidentSetBytes()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.PeakWorkingSet64;
    }
}

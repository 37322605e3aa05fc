using System.Diagnostics;
using Pacs.Models;
using Pacs.Tensors;
using Pacs.Tensors.Kernels;
using Pacs.Tensors.Optim;

namespace Pacs.Cli.Bench;

/// <summary>A figure measured several times: the median is reported, every run is kept.</summary>
public sealed record Measured(double Median, double Best, IReadOnlyList<double> Runs, string Unit)
{
    /// <summary>Rates (higher is better) from per-run values.</summary>
    public static Measured Of(IReadOnlyList<double> runs, string unit)
    {
        var sorted = runs.Order().ToArray();
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        return new Measured(median, sorted[^1], runs, unit);
    }
}

public sealed record SgemmFigures(int Size, string Managed, Measured ManagedGflops, string? Native, Measured? NativeGflops);

public sealed record TrainFigures(int Batch, int SeqLen, long Parameters, Measured TokensPerSecond, Measured StepSeconds,
    double PeakWorkingSetMiB, string PeakScope, float FirstLoss, float LastLoss);

public sealed record GenerateFigures(int Sequences, int PromptTokens, int NewTokens, Measured TokensPerSecond, Measured Seconds);

public sealed record PrefillDecodeFigures(int Batch, int PromptTokens, int DecodeTokens, Measured PrefillTokensPerSecond,
    Measured DecodeTokensPerSecond);

/// <summary>The measurements behind `pacs bench`; each returns the figures of `repeats` timed runs after a warm-up.</summary>
public static class BenchRunner
{
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

    /// <summary>
    /// One training step = forward over batch x seqLen random tokens, mean cross-entropy against random targets,
    /// backward, AdamW step, zero grads. Tokens/s counts batch * seqLen per step. Peak memory is the resident set
    /// high-water mark over the training steps (reset first where Linux allows it, else since process start).
    /// </summary>
    public static TrainFigures Train(ModelConfig config, int batch, int seqLen, int repeats, ulong seed = 1)
    {
        var model = new Transformer(config, seed);
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
            var logits = model.Forward(tokens, batch, seqLen);   // [B*T, V]
            var loss = Ops.CrossEntropy(logits, targets);        // scalar
            loss.Backward();
            optimizer.Step();
            optimizer.ZeroGrad();
            return loss.Item();
        }
        bool peakReset = ResetPeakResidentSet();
        float firstLoss = Step();
        float lastLoss = firstLoss;
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
            Measured.Of(seconds, "s"), peakMiB, peakReset ? "training steps" : "process lifetime", firstLoss, lastLoss);
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

    private static GenerationRequest[] RandomRequests(ModelConfig config, int count, int promptTokens, int seed)
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
    private static bool ResetPeakResidentSet()
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

    private static long PeakResidentSetBytes()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.PeakWorkingSet64;
    }
}

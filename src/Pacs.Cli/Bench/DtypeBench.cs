using System.Diagnostics;
using Pacs.Models;
using Pacs.Tensors;
using Pacs.Tensors.Kernels;

namespace Pacs.Cli.Bench;

/// <summary>
/// Decode tokens/s with float32 and with bfloat16 weights holding the same values, and the per-pair ratio; by wall
/// time and by the process's CPU time (tokens per CPU-second: what a shared machine's other processes disturb least).
/// </summary>
public sealed record DtypeDecodeFigures(int Batch, int PromptTokens, int DecodeTokens, Measured Float32TokensPerSecond,
    Measured Bf16TokensPerSecond, Measured Speedup, Measured Float32TokensPerCpuSecond, Measured Bf16TokensPerCpuSecond,
    Measured CpuSpeedup);

/// <summary>One model folder loaded in one precision: load time, resident memory, decode tokens/s at batch 1.</summary>
public sealed record LoadFigures(string Dir, string Dtype, long WeightBytes, double LoadSeconds, double WorkingSetAfterLoadMiB,
    double PeakWorkingSetMiB, int DecodeTokens, Measured DecodeTokensPerSecond);

/// <summary>The bfloat16-weight benchmarks of `pacs bench` (parts `decode` and `load`).</summary>
public static class DtypeBench
{
    /// <summary>
    /// Decode tokens/s at each batch size for a bfloat16 model with random weights and its float32 twin (the same
    /// values, widened), run alternately (which goes first alternates too) so a drift of a shared machine's speed
    /// hits both alike. Decode time is a full run (prefill + decodeTokens + 1 new tokens) less a prefill-only run.
    /// </summary>
    public static List<DtypeDecodeFigures> Decode(ModelConfig config, int[] batches, int promptTokens, int decodeTokens, int repeats, Action<string> log)
    {
        log($"building {config.NumHiddenLayers}-layer model with random bfloat16 weights and its float32 twin...");
        var bf16 = new Transformer(config, seed: null, TensorDtype.BFloat16);
        FillUniform(bf16, config.InitializerRange);
        var f32 = bf16.ToFloat32();
        var generators = new[] { new Generator(f32), new Generator(bf16) };
        var figures = new List<DtypeDecodeFigures>();
        foreach (int batch in batches)
        {
            var requests = BenchRunner.RandomRequests(config, batch, promptTokens, seed: 11);
            // A warm-up as long as a timed run: the kernels' first calls run unoptimised code until the JIT's
            // tiering recompiles them, which a two-token warm-up does not wait for.
            var warmUp = BenchRunner.RandomRequests(config, batch, promptTokens, seed: 12);
            foreach (var g in generators) g.Generate(warmUp, new SamplingOptions(MaxNewTokens: 1 + decodeTokens, StopTokenIds: []));
            var rates = new[] { new List<double>(), new List<double>() };
            var cpuRates = new[] { new List<double>(), new List<double>() };
            for (int r = 0; r < repeats; r++)
                foreach (int which in r % 2 == 0 ? new[] { 0, 1 } : [1, 0])
                {
                    var (wall, cpu) = DecodeRate(generators[which], requests, decodeTokens);
                    rates[which].Add(wall);
                    cpuRates[which].Add(cpu);
                }
            var speedup = rates[1].Zip(rates[0], (b, f) => b / f).ToArray();
            var cpuSpeedup = cpuRates[1].Zip(cpuRates[0], (b, f) => b / f).ToArray();
            var row = new DtypeDecodeFigures(batch, promptTokens, decodeTokens, Measured.Of(rates[0], "tokens/s"), Measured.Of(rates[1], "tokens/s"),
                Measured.Of(speedup, "x"), Measured.Of(cpuRates[0], "tokens/cpu-s"), Measured.Of(cpuRates[1], "tokens/cpu-s"), Measured.Of(cpuSpeedup, "x"));
            figures.Add(row);
            log($"decode batch {batch}: float32 {row.Float32TokensPerSecond.Median:F1} tokens/s (range {rates[0].Min():F1}-{rates[0].Max():F1}), "
                + $"bfloat16 {row.Bf16TokensPerSecond.Median:F1} (range {rates[1].Min():F1}-{rates[1].Max():F1}); bf16/f32 per pair median "
                + $"{row.Speedup.Median:F2}x (range {speedup.Min():F2}-{speedup.Max():F2})");
            log($"decode batch {batch}, per CPU-second: float32 {row.Float32TokensPerCpuSecond.Median:F1} (range {cpuRates[0].Min():F1}-{cpuRates[0].Max():F1}), "
                + $"bfloat16 {row.Bf16TokensPerCpuSecond.Median:F1} (range {cpuRates[1].Min():F1}-{cpuRates[1].Max():F1}); bf16/f32 per pair median "
                + $"{row.CpuSpeedup.Median:F2}x (range {cpuSpeedup.Min():F2}-{cpuSpeedup.Max():F2})");
        }
        return figures;
    }

    /// <summary>
    /// Every bf16 weight uniform in [-r, r), r = sqrt(3) * std (the variance of N(0, std^2)), from a xorshift stream per
    /// tensor: much cheaper than the constructor's Gaussian draws at a 1.5B shape, and the timings do not depend on the
    /// distribution (but they do on the values being written: untouched zero pages would cost no memory traffic).
    /// </summary>
    internal static void FillUniform(Transformer model, double std)
    {
        float range = (float)(Math.Sqrt(3) * std);
        var weights = model.Parameters.Select(p => p.Value).Where(t => t.Dtype == TensorDtype.BFloat16).ToArray();
        Parallel.For(0, weights.Length, i =>
        {
            var bits = weights[i].BFloat16Data;
            ulong state = 0x9E3779B97F4A7C15UL * (ulong)(i + 1);
            for (int e = 0; e < bits.Length; e++)
            {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                float u = (state >> 40) * (1f / (1 << 24));
                bits[e] = BFloat16.FromSingle((2 * u - 1) * range);
            }
        });
    }

    /// <summary>New tokens per second of the decode steps alone (all sequences together), by wall and by CPU time.</summary>
    private static (double Wall, double Cpu) DecodeRate(Generator generator, GenerationRequest[] requests, int decodeTokens)
    {
        var prefillOnly = new SamplingOptions(MaxNewTokens: 1, StopTokenIds: []);
        var (prefillWall, prefillCpu) = Timed(() => generator.Generate(requests, prefillOnly));
        var (fullWall, fullCpu) = Timed(() => generator.Generate(requests, prefillOnly with { MaxNewTokens = 1 + decodeTokens }));
        double tokens = requests.Length * decodeTokens;
        return (tokens / Math.Max(1e-9, fullWall - prefillWall), tokens / Math.Max(1e-9, fullCpu - prefillCpu));
    }

    /// <summary>Wall seconds and this process's CPU seconds (all its threads) that <paramref name="action"/> took.</summary>
    private static (double Wall, double Cpu) Timed(Action action)
    {
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        action();
        double wall = watch.Elapsed.TotalSeconds;
        process.Refresh();
        return (wall, (process.TotalProcessorTime - cpu).TotalSeconds);
    }

    /// <summary>
    /// Loads <paramref name="dir"/> in <paramref name="dtype"/> (Auto: the checkpoint's), then decodes at batch 1; the
    /// process's peak resident set covers both (run once per precision, each in a fresh process).
    /// </summary>
    public static LoadFigures Load(string dir, WeightDtype dtype, int decodeTokens, int repeats, Action<string> log)
    {
        var watch = Stopwatch.StartNew();
        var model = ManagedBackend.LoadFrozenModel(dir, dtype);
        double loadSeconds = watch.Elapsed.TotalSeconds;
        double afterLoad = BenchRunner.WorkingSetBytes() / (1024.0 * 1024.0);
        var generator = new Generator(model);
        var requests = BenchRunner.RandomRequests(model.Config, 1, 16, seed: 11);
        generator.Generate(requests, new SamplingOptions(MaxNewTokens: 2, StopTokenIds: []));
        var rates = new List<double>();
        for (int r = 0; r < repeats; r++) rates.Add(DecodeRate(generator, requests, decodeTokens).Wall);
        double peak = BenchRunner.PeakResidentSetBytes() / (1024.0 * 1024.0);
        var figures = new LoadFigures(dir, model.WeightDtype == TensorDtype.BFloat16 ? "bfloat16" : "float32", model.ParameterBytes, loadSeconds,
            afterLoad, peak, decodeTokens, Measured.Of(rates, "tokens/s"));
        log($"load {dir} as {figures.Dtype}: {figures.WeightBytes / (1024.0 * 1024.0):F0} MiB of weights in {loadSeconds:F1} s, resident "
            + $"{afterLoad:F0} MiB after loading, peak {peak:F0} MiB (loading and decoding); decode batch 1 {figures.DecodeTokensPerSecond.Median:F1} tokens/s "
            + $"(range {rates.Min():F1}-{rates.Max():F1})");
        return figures;
    }
}

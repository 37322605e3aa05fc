using System.Text.Json;
using System.Text.Json.Serialization;
using Pacs.Tensors.Kernels;

namespace Pacs.Cli.Bench;

/// <summary>Where and when the figures were taken: the machine is shared, so the load average is part of the result.</summary>
public sealed record MachineInfo(string DateUtc, int Nproc, string Cpu, string Runtime, int Threads, string GemmBackend,
    string? OpenBlas, double[]? LoadAverageStart, double[]? LoadAverageEnd)
{
    public static MachineInfo Capture() => new(
        DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'"), Environment.ProcessorCount, CpuName(),
        $".NET {Environment.Version}", Parallelism.MaxDegree, Gemm.Backend, BlasNative.IsAvailable ? BlasNative.Config : null,
        LoadAverage(), null);

    public static double[]? LoadAverage()
    {
        try
        {
            var fields = File.ReadAllText("/proc/loadavg").Split(' ');
            return fields.Take(3).Select(f => double.Parse(f, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    private static string CpuName()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown" : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }
}

/// <summary>Everything `pacs bench` measured; serialised as the --json file (snake_case keys).</summary>
public sealed record BenchReport(string Tool, string ModelShape, int Repeats, MachineInfo Machine, SgemmFigures? Sgemm,
    IReadOnlyList<SgemmShapeFigures>? SgemmShapes,
    TrainFigures? Train, GenerateFigures? Generate, IReadOnlyList<PrefillDecodeFigures>? PrefillDecode,
    ProfileFigures? Profile, RlFigures? Rl = null, IReadOnlyList<DtypeDecodeFigures>? DtypeDecode = null, LoadFigures? Load = null,
    LoraFigures? Lora = null, ServeFigures? Serve = null, RlModelFigures? RlModel = null)
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, s_json);
}

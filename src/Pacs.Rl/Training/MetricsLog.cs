using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Pacs.Rl.Training;

/// <summary>
/// `metrics.jsonl`: one JSON object per line, {"step": n, "name": value, ...}. Non-finite values are written as
/// null. Keys starting with "time/" or "perf/" depend on the machine; all others are deterministic given the
/// seed (the resume test compares them exactly).
/// </summary>
public static class MetricsLog
{
    public const string FileName = "metrics.jsonl";

    public static bool IsDeterministic(string key) => !key.StartsWith("time/", StringComparison.Ordinal) && !key.StartsWith("perf/", StringComparison.Ordinal);

    public static string ToJsonLine(IReadOnlyDictionary<string, double> record)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in record)
            {
                if (double.IsFinite(value)) writer.WriteNumber(key, value);
                else writer.WriteNull(key);
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static void Append(string runDir, IReadOnlyDictionary<string, double> record)
    {
        File.AppendAllText(Path.Combine(runDir, FileName), ToJsonLine(record) + "\n");
    }

    public static List<Dictionary<string, double>> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"metrics file not found: {path}", path);
        var records = new List<Dictionary<string, double>>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var record = new Dictionary<string, double>();
                foreach (var prop in doc.RootElement.EnumerateObject())
                    record[prop.Name] = prop.Value.ValueKind == JsonValueKind.Number ? prop.Value.GetDouble() : double.NaN;
                records.Add(record);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}: line {lineNo}: not a JSON object ({e.Message})");
            }
        }
        return records;
    }

    /// <summary>
    /// Drops records after <paramref name="lastStep"/> (a resumed run rewrites them). A cut last line (the run was
    /// killed while appending it) is dropped too: it belongs to a step after the checkpoint. A damaged line before
    /// the last is an error naming the line.
    /// </summary>
    public static void TruncateAfter(string runDir, int lastStep)
    {
        string path = Path.Combine(runDir, FileName);
        if (!File.Exists(path)) return;
        var lines = File.ReadAllLines(path);
        var kept = new List<string>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            double? step;
            try
            {
                using var doc = JsonDocument.Parse(lines[i]);
                step = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("step", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetDouble() : null;
            }
            catch (JsonException e)
            {
                if (i == lines.Length - 1) break;
                throw new InvalidDataException($"{path}: line {i + 1}: not a JSON object ({e.Message})");
            }
            if (step is null || step <= lastStep) kept.Add(lines[i]);
        }
        AtomicFile.WriteAllText(path, string.Concat(kept.Select(line => line + "\n")));
    }

    public static string Format(double value) => Math.Abs(value) >= 1e4 || (value != 0 && Math.Abs(value) < 1e-3)
        ? value.ToString("0.###e0", CultureInfo.InvariantCulture)
        : value.ToString("0.####", CultureInfo.InvariantCulture);
}

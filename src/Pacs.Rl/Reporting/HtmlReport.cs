using System.Net;
using System.Text;
using Pacs.Rl.Training;

namespace Pacs.Rl.Reporting;

/// <summary>
/// `pacs report RUN_DIR`: a self-contained HTML page (inline SVG, no scripts or network) with one chart per
/// metric of `metrics.jsonl`, grouped by the key's prefix, the last values, and the resolved config.
/// </summary>
public static class HtmlReport
{
    public const string FileName = "report.html";

    public static string Write(string runDir, string? outPath = null)
    {
        if (!Directory.Exists(runDir)) throw new DirectoryNotFoundException($"run directory not found: {runDir}");
        var records = MetricsLog.Read(Path.Combine(runDir, MetricsLog.FileName));
        string configPath = Path.Combine(runDir, RunFiles.ConfigFile);
        string? config = File.Exists(configPath) ? File.ReadAllText(configPath) : null;
        string html = Render(Path.GetFileName(Path.GetFullPath(runDir).TrimEnd('/')), records, config);
        outPath ??= Path.Combine(runDir, FileName);
        AtomicFile.WriteAllText(outPath, html);
        return outPath;
    }

    public static string Render(string title, IReadOnlyList<Dictionary<string, double>> records, string? configYaml)
    {
        var keys = new List<string>();
        foreach (var r in records)
            foreach (var k in r.Keys)
                if (k != "step" && !keys.Contains(k)) keys.Add(k);

        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>")
            .Append(WebUtility.HtmlEncode(title))
            .Append("</title><style>body{font-family:sans-serif;margin:20px;color:#222}h2{margin-top:28px;border-bottom:1px solid #ddd}"
                + ".grid{display:flex;flex-wrap:wrap;gap:8px}table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}"
                + "pre{background:#f6f6f6;padding:10px;font-size:12px}</style></head><body>");
        sb.Append("<h1>Run ").Append(WebUtility.HtmlEncode(title)).Append("</h1>");
        var trainRecords = records.Where(r => r.ContainsKey("step")).ToList();
        sb.Append($"<p>{trainRecords.Count} metric records");
        if (trainRecords.Count > 0) sb.Append($", steps {trainRecords.Min(r => r["step"])} to {trainRecords.Max(r => r["step"])}");
        sb.Append(".</p>");

        sb.Append("<h2>Last values</h2><table><tr><th>metric</th><th>last</th><th>mean</th></tr>");
        foreach (var key in keys)
        {
            var values = records.Where(r => r.TryGetValue(key, out var v) && double.IsFinite(v)).Select(r => r[key]).ToList();
            if (values.Count == 0) continue;
            sb.Append($"<tr><td>{WebUtility.HtmlEncode(key)}</td><td>{MetricsLog.Format(values[^1])}</td><td>{MetricsLog.Format(values.Average())}</td></tr>");
        }
        sb.Append("</table>");

        foreach (var group in keys.GroupBy(k => k.Contains('/') ? k[..k.IndexOf('/')] : "misc"))
        {
            sb.Append("<h2>").Append(WebUtility.HtmlEncode(group.Key)).Append("</h2><div class=\"grid\">");
            foreach (var key in group)
            {
                var points = records.Where(r => r.ContainsKey("step") && r.ContainsKey(key)).Select(r => (r["step"], r[key])).ToList();
                sb.Append(SvgPlot.Line(key, [new Series(key, points)]));
            }
            sb.Append("</div>");
        }
        if (configYaml is not null)
            sb.Append("<h2>Resolved config</h2><pre>").Append(WebUtility.HtmlEncode(configYaml)).Append("</pre>");
        sb.Append("</body></html>");
        return sb.ToString();
    }
}

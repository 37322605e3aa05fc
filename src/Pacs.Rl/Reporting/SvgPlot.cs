using System.Globalization;
using System.Net;
using System.Text;

namespace Pacs.Rl.Reporting;

/// <summary>One named line of (x, y) points; y may be NaN (a gap).</summary>
public sealed record Series(string Label, IReadOnlyList<(double X, double Y)> Points);

/// <summary>Inline SVG line charts: no scripts, no external assets, so a report opens offline.</summary>
public static class SvgPlot
{
    private static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

    public static string Line(string title, IReadOnlyList<Series> series, string xLabel = "step", bool logX = false,
        int width = 420, int height = 240, IReadOnlyList<(double Low, double High)[]>? bands = null)
    {
        const int left = 56, right = 12, top = 24, bottom = 36;
        var finite = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.Y) && double.IsFinite(p.X)).ToList();
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"15\" text-anchor=\"middle\" font-weight=\"bold\">{WebUtility.HtmlEncode(title)}</text>");
        if (finite.Count == 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"{height / 2}\" text-anchor=\"middle\" fill=\"#888\">no data</text></svg>");
            return sb.ToString();
        }
        Func<double, double> fx = logX ? x => Math.Log2(Math.Max(x, 1e-12)) : x => x;
        double xMin = finite.Min(p => fx(p.X)), xMax = finite.Max(p => fx(p.X));
        double yMin = finite.Min(p => p.Y), yMax = finite.Max(p => p.Y);
        if (bands is not null)
        {
            foreach (var band in bands)
                foreach (var (low, high) in band)
                {
                    if (double.IsFinite(low)) yMin = Math.Min(yMin, low);
                    if (double.IsFinite(high)) yMax = Math.Max(yMax, high);
                }
        }
        if (xMax == xMin) { xMin -= 1; xMax += 1; }
        if (yMax == yMin) { double pad = Math.Abs(yMin) * 0.1 + 1e-6; yMin -= pad; yMax += pad; }
        double plotW = width - left - right, plotH = height - top - bottom;
        double Sx(double x) => left + (fx(x) - xMin) / (xMax - xMin) * plotW;
        double Sy(double y) => top + (1 - (y - yMin) / (yMax - yMin)) * plotH;

        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{top}\" width=\"{plotW:0.#}\" height=\"{plotH:0.#}\" fill=\"none\" stroke=\"#ccc\"/>");
        for (int i = 0; i <= 4; i++)
        {
            double y = yMin + (yMax - yMin) * i / 4;
            double py = Sy(y);
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{left + plotW:0.#}\" y1=\"{py:0.#}\" y2=\"{py:0.#}\" stroke=\"#eee\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 4}\" y=\"{py + 4:0.#}\" text-anchor=\"end\">{Tick(y)}</text>");
        }
        var xTicks = logX
            ? finite.Select(p => p.X).Distinct().OrderBy(x => x).ToList()
            : Enumerable.Range(0, 5).Select(i => xMin + (xMax - xMin) * i / 4).ToList();
        foreach (double x in xTicks)
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Sx(x):0.#}\" y=\"{top + plotH + 14:0.#}\" text-anchor=\"middle\">{Tick(x)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + plotW / 2:0.#}\" y=\"{height - 4}\" text-anchor=\"middle\" fill=\"#555\">{WebUtility.HtmlEncode(xLabel)}</text>");

        for (int s = 0; s < series.Count; s++)
        {
            string color = Palette[s % Palette.Length];
            var points = series[s].Points.Where(p => double.IsFinite(p.Y) && double.IsFinite(p.X)).ToList();
            if (bands is not null && s < bands.Count && bands[s].Length == series[s].Points.Count)
            {
                var band = bands[s];
                var upper = series[s].Points.Select((p, i) => (p.X, band[i].High));
                var lower = series[s].Points.Select((p, i) => (p.X, band[i].Low)).Reverse();
                var poly = string.Join(" ", upper.Concat(lower).Where(p => double.IsFinite(p.Item2)).Select(p => $"{Sx(p.X):0.#},{Sy(p.Item2):0.#}"));
                sb.Append(CultureInfo.InvariantCulture, $"<polygon points=\"{poly}\" fill=\"{color}\" fill-opacity=\"0.15\" stroke=\"none\"/>");
            }
            if (points.Count > 1)
            {
                var path = string.Join(" ", points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{Sx(p.X):0.#},{Sy(p.Y):0.#}")));
                sb.Append(CultureInfo.InvariantCulture, $"<polyline points=\"{path}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\"/>");
            }
            if (points.Count <= 40)
                foreach (var p in points)
                    sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{Sx(p.X):0.#}\" cy=\"{Sy(p.Y):0.#}\" r=\"2\" fill=\"{color}\"/>");
            if (series.Count > 1)
            {
                double ly = top + 12 + 13 * s;
                sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left + 6}\" y=\"{ly - 8:0.#}\" width=\"10\" height=\"3\" fill=\"{color}\"/>");
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + 20}\" y=\"{ly - 4:0.#}\">{WebUtility.HtmlEncode(series[s].Label)}</text>");
            }
        }
        sb.Append("</svg>");
        return sb.ToString();
    }

    private static string Tick(double v) => Math.Abs(v) >= 1e4 || (v != 0 && Math.Abs(v) < 1e-2)
        ? v.ToString("0.#e0", CultureInfo.InvariantCulture)
        : v.ToString("0.###", CultureInfo.InvariantCulture);
}

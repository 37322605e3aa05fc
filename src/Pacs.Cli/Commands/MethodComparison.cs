using System.Globalization;
using System.Text;
using Pacs.Eval;
using Pacs.Rl.Algorithms;

namespace Pacs.Cli.Commands;

/// <summary>Held-out pass@1 of one method: the mean over its seeds and the standard error of that mean.</summary>
public sealed record Pass1Estimate(double Mean, double StdErr, int Seeds);

/// <summary>
/// The statistics and tables of `pacs repro --methods`: each method's pass@1 with its standard error, and the
/// difference to the base and to PACS with the standard error of the difference (independent estimates, so the
/// variances add).
/// </summary>
public static class MethodComparison
{
    /// <summary>
    /// Standard error of one model's pass@1 from the evaluation alone: the sample standard deviation over problems of
    /// the per-problem fraction correct, divided by √problems (the samples of a problem are not independent draws of
    /// the test set, the problems are).
    /// </summary>
    public static double EvalStdErr(EvalReport report)
    {
        var rates = report.Problems.Select(p => p.Correct / (double)report.Samples).ToArray();
        if (rates.Length < 2) return double.NaN;
        double mean = rates.Average();
        return Math.Sqrt(rates.Sum(r => (r - mean) * (r - mean)) / (rates.Length - 1) / rates.Length);
    }

    /// <summary>
    /// Mean pass@1 over seeds; its standard error is the seeds' sample std / √seeds (which holds the training and the
    /// evaluation noise), or the evaluation's own standard error for a single model (the base).
    /// </summary>
    public static Pass1Estimate Pass1(IReadOnlyList<EvalReport> seeds)
    {
        var values = seeds.Select(r => r.PassAt(1)).ToArray();
        double mean = values.Average();
        if (values.Length == 1) return new Pass1Estimate(mean, EvalStdErr(seeds[0]), 1);
        double std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
        return new Pass1Estimate(mean, std / Math.Sqrt(values.Length), values.Length);
    }

    /// <summary>
    /// The evaluation's standard error of a pass@1 difference on the same held-out problems (paired over problems):
    /// d_i = (mean over <paramref name="seeds"/> of the fraction correct on problem i) − (the base's), SE = std(d)/√P.
    /// It leaves out the training seeds' spread (see <see cref="Pass1"/>), and is much smaller than the unpaired SE
    /// because most of the spread over problems (easy vs hard) cancels.
    /// </summary>
    public static (double Difference, double StdErr) PairedDifference(IReadOnlyList<EvalReport> seeds, EvalReport baseReport)
    {
        int problems = baseReport.Problems.Count;
        foreach (var report in seeds)
        {
            if (report.Problems.Count != problems || !report.Problems.Select(p => p.Problem.Id).SequenceEqual(baseReport.Problems.Select(p => p.Problem.Id)))
                throw new ArgumentException("paired difference: the evaluations are not on the same held-out problems");
        }
        var d = Enumerable.Range(0, problems)
            .Select(i => seeds.Average(r => r.Problems[i].Correct / (double)r.Samples) - baseReport.Problems[i].Correct / (double)baseReport.Samples)
            .ToArray();
        double mean = d.Average();
        double se = problems > 1 ? Math.Sqrt(d.Sum(x => (x - mean) * (x - mean)) / (problems - 1) / problems) : double.NaN;
        return (mean, se);
    }

    public static (double Difference, double StdErr) Difference(Pass1Estimate a, Pass1Estimate b) =>
        (a.Mean - b.Mean, Math.Sqrt(a.StdErr * a.StdErr + b.StdErr * b.StdErr));

    /// <summary>The grid rate chosen by the most methods' own searches (ties: the smaller rate): the common rate when none is given.</summary>
    public static double CommonRate(IReadOnlyDictionary<string, double> chosen) =>
        chosen.Values.GroupBy(lr => lr).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;

    /// <summary>
    /// A markdown table: method, learning rate, pass@1 ± SE, Δ vs base ± SE (seeds and evaluation) with its ratio to
    /// the SE, the evaluation-only paired SE of the same Δ with its ratio, and Δ vs <paramref name="reference"/> ± SE
    /// when that method is in the table.
    /// </summary>
    public static string Table(IReadOnlyDictionary<string, double> lrs, IReadOnlyDictionary<string, List<EvalReport>> evals, EvalReport baseReport, string reference = "pacs")
    {
        var inv = CultureInfo.InvariantCulture;
        string F(double v) => v.ToString("0.000", inv);
        var basePass = Pass1([baseReport]);
        bool hasReference = evals.ContainsKey(reference);
        var md = new StringBuilder();
        md.AppendLine($"| method | lr | seeds | pass@1 +- SE | vs base +- SE | vs base / SE | paired eval SE | vs base / paired SE |{(hasReference ? $" vs {reference} +- SE |" : "")}");
        md.AppendLine($"|---|---|---|---|---|---|---|---|{(hasReference ? "---|" : "")}");
        md.AppendLine($"| base | - | 1 | {F(basePass.Mean)} +- {F(basePass.StdErr)} | - | - | - | - |{(hasReference ? " - |" : "")}");
        foreach (var (label, reports) in evals)
        {
            var pass = Pass1(reports);
            var (vsBase, vsBaseSe) = Difference(pass, basePass);
            var (_, pairedSe) = PairedDifference(reports, baseReport);
            md.Append($"| {label} | {lrs[label].ToString("0e0", inv)} | {pass.Seeds} | {F(pass.Mean)} +- {F(pass.StdErr)} | {vsBase.ToString("+0.000;-0.000", inv)} +- {F(vsBaseSe)} | {(vsBase / vsBaseSe).ToString("+0.0;-0.0", inv)} | {F(pairedSe)} | {(vsBase / pairedSe).ToString("+0.0;-0.0", inv)} |");
            if (hasReference)
            {
                if (label == reference) md.Append(" - |");
                else
                {
                    var (vsRef, vsRefSe) = Difference(pass, Pass1(evals[reference]));
                    md.Append($" {vsRef.ToString("+0.000;-0.000", inv)} +- {F(vsRefSe)} |");
                }
            }
            md.AppendLine();
        }
        return md.ToString();
    }

    /// <summary>
    /// Methods named on the command line: a registry algorithm (its defaults), "NAME+pods" (that algorithm trained on
    /// the max-variance half of each group, rollout.pods_keep = group_size / 2), a PACS ablation label, or "all"
    /// (every registered algorithm).
    /// </summary>
    public static IReadOnlyList<ReproCommand.Method> Parse(string list, int groupSize)
    {
        var ablations = ReproCommand.Methods(ablations: true).ToDictionary(m => m.Label);
        var methods = new List<ReproCommand.Method>();
        foreach (var raw in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (raw == "all")
            {
                methods.AddRange(AlgorithmRegistry.Names.Select(n => new ReproCommand.Method(n, n, [])));
                continue;
            }
            bool pods = raw.EndsWith("+pods", StringComparison.Ordinal);
            string name = pods ? raw[..^"+pods".Length] : raw;
            if (ablations.TryGetValue(name, out var known) && !pods) methods.Add(known);
            else if (AlgorithmRegistry.Names.Contains(name))
                methods.Add(new ReproCommand.Method(raw, name, pods ? [$"rollout.pods_keep={groupSize / 2}"] : []));
            else
                throw new ArgumentException($"--methods: '{raw}' is not an algorithm ({string.Join(", ", AlgorithmRegistry.Names)}), NAME+pods, an ablation ({string.Join(", ", ablations.Keys.Where(k => !AlgorithmRegistry.Names.Contains(k)))}) or all");
        }
        var duplicate = methods.GroupBy(m => m.Label).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"--methods: '{duplicate.Key}' is listed twice");
        if (methods.Count == 0) throw new ArgumentException("--methods: no method given");
        return methods;
    }
}

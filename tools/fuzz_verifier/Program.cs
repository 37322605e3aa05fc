using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Pacs.Rewards.Math;

// Usage: fuzz_verifier [seconds=60] [seed=1]
// Mutates MATH500 golds and peer-case responses (splices, LaTeX fragments, brace runs, random code units), verifies
// them under three extraction policies in turn, and checks
// that every call returns a verdict without throwing; reports the slowest calls. Then times the hostile inputs of
// the issue (1 MB response, deep nesting, towers, factorials, random bytes, invalid UTF-16).
double seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 60;
int seed = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1;
string root = FindRoot();
var golds = File.ReadLines(Path.Combine(root, "data", "math500.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("answer").GetString()!).ToList();
var responses = File.ReadLines(Path.Combine(root, "data", "verifier", "peer_cases.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("pred").GetString()!).ToList();
string[] fragments =
[
    "\\frac", "\\sqrt", "{", "}", "\\boxed{", "$", "$$", "\\[", "\\]", "\\left(", "\\right)", "^", "_", "\\pm", "\\cup", "\\infty", "\\begin{pmatrix}",
    "\\end{pmatrix}", "&", "\\\\", "\\text{", "=", "<", "\\le", ",", ";", "!", "%", "\\%", "(", ")", "[", "]", "|", "\\{", "\\}", "e", "i", "\\pi",
    "10^{10^{10}}", "9999999!", "0.\\overline{3}", "1\\frac12", "\\dfrac", "\\binom", "\\log_", "\\sin^{-1}", "answer is", "####", "Answer:",
    "\\overline{", "\\approx", "\\in", "x", "2", ".", "-", "+", "*", "/", "\\cdot", "\\times", "\\operatorname{", "\\mathrm{", "\uD800", "\u0000",
    "_{16}", "_2", "A3_{16}", "e5", "E-3", "e+12", "\\quad", "\\lor", "\\vee", "\\mathbb{R}", "\\mathbb R", "\\emptyset", "^\\circ", "°",
    "(C)", "\\textbf{(C) }", "ℝ", "∅", "π", "\\overline{05}", "\\sin 30^\\circ",
];

var rng = new Random(seed);
MathVerifierOptions[] policies =
[
    MathVerifierOptions.Default,
    new() { Policy = ExtractionPolicy.Lenient },
    new() { Policy = ExtractionPolicy.Parse("answer,latex,number,whole,gsm8k,boxed") },
];
var watch = Stopwatch.StartNew();
long calls = 0, equalCount = 0;
var slowest = new List<(double Ms, string Response, string Gold)>();
var failures = new List<string>();
while (watch.Elapsed.TotalSeconds < seconds)
{
    string gold = Mutate(golds[rng.Next(golds.Count)], rng.Next(4));
    string response = rng.Next(3) switch
    {
        0 => Mutate("The answer is \\boxed{" + golds[rng.Next(golds.Count)] + "}.", rng.Next(1, 8)),
        1 => Mutate(responses[rng.Next(responses.Count)], rng.Next(1, 12)),
        _ => RandomText(rng.Next(1, 600)),
    };
    long start = Stopwatch.GetTimestamp();
    try
    {
        if (MathVerifier.Verify(response, gold, policies[calls % policies.Length]).Correct) equalCount++;
    }
    catch (Exception e)
    {
        failures.Add($"{e.GetType().Name}: {e.Message}\n  gold: {Escape(gold)}\n  response: {Escape(response)}");
    }
    double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    calls++;
    if (slowest.Count < 5 || ms > slowest[^1].Ms)
    {
        slowest.Add((ms, response, gold));
        slowest.Sort((a, b) => b.Ms.CompareTo(a.Ms));
        if (slowest.Count > 5) slowest.RemoveAt(5);
    }
}
Console.WriteLine($"fuzz: {calls} calls in {watch.Elapsed.TotalSeconds:F0} s (seed {seed}), {equalCount} judged equal, {failures.Count} exceptions");
foreach (var f in failures.Take(10)) Console.WriteLine(f);
Console.WriteLine("slowest calls (first call includes JIT):");
foreach (var s in slowest) Console.WriteLine($"  {s.Ms,8:F2} ms  response {s.Response.Length} chars: {Escape(s.Response[..Math.Min(80, s.Response.Length)])}");

Console.WriteLine("hostile inputs (best of 3 runs, gold 42):");
foreach (var (name, text) in Hostile())
{
    double best = double.MaxValue;
    bool equal = false;
    for (int k = 0; k < 3; k++)
    {
        long start = Stopwatch.GetTimestamp();
        equal = MathVerifier.Verify(text, "42").Correct;
        best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }
    Console.WriteLine($"  {best,8:F3} ms  equal={equal}  {name}");
}
return failures.Count == 0 ? 0 : 1;

string Mutate(string s, int edits)
{
    var sb = new StringBuilder(s);
    for (int k = 0; k < edits; k++)
    {
        int at = rng.Next(sb.Length + 1);
        switch (rng.Next(5))
        {
            case 0: sb.Insert(at, fragments[rng.Next(fragments.Length)]); break;
            case 1: if (sb.Length > 0) sb.Remove(Math.Min(at, sb.Length - 1), Math.Min(rng.Next(1, 6), sb.Length - Math.Min(at, sb.Length - 1))); break;
            case 2: sb.Insert(at, new string(rng.Next(2) == 0 ? '{' : '(', rng.Next(1, 300))); break;
            case 3: sb.Insert(at, (char)rng.Next(0, 0x10000)); break;
            default: sb.Insert(at, golds[rng.Next(golds.Count)]); break;
        }
    }
    return sb.ToString();
}

string RandomText(int length)
{
    var sb = new StringBuilder(length);
    while (sb.Length < length)
        sb.Append(rng.Next(3) == 0 ? ((char)rng.Next(32, 127)).ToString() : fragments[rng.Next(fragments.Length)]);
    return sb.ToString();
}

static string Escape(string s) => JsonSerializer.Serialize(s.Length > 300 ? s[..300] + "..." : s);

static IEnumerable<(string, string)> Hostile()
{
    var r = new Random(7);
    yield return ("1 MB of digits", new string('7', 1 << 20));
    yield return ("1 MB of prose and math, then a box", new StringBuilder().Insert(0, "lorem ipsum $x$ ", 1 << 16) + "\\boxed{1}");
    yield return ("10,000 nested braces", "\\boxed{" + new string('{', 10_000) + "1" + new string('}', 10_000) + "}");
    yield return ("\\frac nested 1,000 deep", "\\boxed{" + string.Concat(Enumerable.Repeat("\\frac{1}{", 1000)) + "2" + new string('}', 1000) + "}");
    yield return ("\\frac nested 100 deep", "\\boxed{" + string.Concat(Enumerable.Repeat("\\frac{1}{", 100)) + "2" + new string('}', 100) + "}");
    yield return ("10^{10^{10}}", "\\boxed{10^{10^{10}}}");
    yield return ("9999999!", "\\boxed{9999999!}");
    yield return ("(100!)!", "\\boxed{(100!)!}");
    var bytes = new byte[4096];
    r.NextBytes(bytes);
    yield return ("4 kB random bytes", Encoding.Latin1.GetString(bytes));
    var chars = new char[4096];
    for (int i = 0; i < chars.Length; i++) chars[i] = (char)r.Next(0, 0x10000);
    yield return ("4 kB random UTF-16 (lone surrogates) boxed", "\\boxed{" + new string(chars) + "}");
    yield return ("invalid UTF-16", "\\boxed{\uD800\uDC00\uDFFF\uD800}");
    yield return ("50,000 boxes", string.Concat(Enumerable.Repeat("\\boxed{3} and ", 50_000)));
    yield return ("100,000 dollars", new string('$', 100_000));
    yield return ("20,000-item list", "\\boxed{" + string.Join(",", Enumerable.Range(0, 20_000)) + "}");
    yield return ("200 chained \\pm", "\\boxed{" + string.Concat(Enumerable.Repeat("1 \\pm ", 200)) + "1}");
}

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Pacs.sln"))) return dir.FullName;
    for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Pacs.sln"))) return dir.FullName;
    throw new DirectoryNotFoundException("Pacs.sln not found");
}

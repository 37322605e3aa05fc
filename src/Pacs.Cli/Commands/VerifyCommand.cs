using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Pacs.Rewards;
using Pacs.Rewards.Datasets;
using Pacs.Rewards.Math;

namespace Pacs.Cli.Commands;

/// <summary>`pacs verify`: check one response, a JSONL file of (gold, response) pairs, or benchmark the verifier.</summary>
public sealed class VerifyCommand : ICliCommand
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public Command Build()
    {
        var command = new Command("verify", "Check math answers: --gold G --response R, --jsonl FILE, or --bench");
        var gold = new Option<string?>("--gold") { Description = "Gold answer (LaTeX or plain text)" };
        var response = new Option<string?>("--response") { Description = "Model response to check" };
        var jsonl = new Option<string?>("--jsonl") { Description = "File of {\"gold\": ..., \"response\": ...} lines; writes one {\"equal\", \"extracted\"} line each to stdout" };
        var bench = new Option<bool>("--bench") { Description = "Time the verifier on MATH500 golds wrapped in 2 kB responses (prints median/p99)" };
        var policy = new Option<string>("--policy")
        {
            Description = "Answer extraction: default (boxed, ####, 'answer is', final $...$, whole short response), boxed, lenient (adds the last number), or a list like boxed,answer,latex,whole,number",
            DefaultValueFactory = _ => "default",
        };
        var verifierPolicy = new Option<string>("--verifier-policy")
        {
            Description = "Decimals against exact golds: strict (default: 0.33 is not 1/3, 0.25 is 1/4) or lenient (a decimal of 2+ places may round a non-terminating exact gold)",
            DefaultValueFactory = _ => "strict",
        };
        command.Options.Add(gold);
        command.Options.Add(response);
        command.Options.Add(jsonl);
        command.Options.Add(bench);
        command.Options.Add(policy);
        command.Options.Add(verifierPolicy);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            var options = new MathVerifierOptions
            {
                Policy = ExtractionPolicy.Parse(parse.GetValue(policy)!),
                Equivalence = EquivalenceOptions.Default with { Policy = EquivalenceOptions.ParsePolicy(parse.GetValue(verifierPolicy)!) },
            };
            if (parse.GetValue(bench)) return Bench(options);
            if (parse.GetValue(jsonl) is { } file) return Jsonl(file, options);
            var g = parse.GetValue(gold) ?? throw new ArgumentException("verify: give --gold and --response, --jsonl FILE, or --bench");
            var r = parse.GetValue(response) ?? throw new ArgumentException("verify: --response is required with --gold");
            var verdict = MathVerifier.Verify(r, g, options);
            Console.WriteLine($"{(verdict.Correct ? "equal" : "not equal")}  extracted: {verdict.Extracted ?? "(none)"}  reason: {verdict.Reason}");
            return verdict.Correct ? 0 : 1;
        }));
        return command;
    }

    private static int Jsonl(string path, MathVerifierOptions options)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"verify: file not found: {path}", path);
        using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false };
        int lineNumber = 0, withExpected = 0, agreed = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement row;
            try { row = JsonDocument.Parse(line).RootElement; }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{lineNumber}: not valid JSON ({e.Message})"); }
            string gold = Field(row, "gold", path, lineNumber);
            string response = row.TryGetProperty("response", out _) ? Field(row, "response", path, lineNumber) : Field(row, "pred", path, lineNumber);
            var rowOptions = RowPolicy(row, path, lineNumber) is { } p ? options with { Policy = p } : options;
            if (RowVerifierPolicy(row, path, lineNumber) is { } vp) rowOptions = rowOptions with { Equivalence = rowOptions.Equivalence with { Policy = vp } };
            if (row.TryGetProperty("precision", out var precision))
            {
                if (precision.ValueKind != JsonValueKind.Number || !precision.TryGetInt32(out int places) || places is < 0 or > 15)
                    throw new InvalidDataException($"{path}:{lineNumber}: field 'precision' must be an integer 0..15 (Math-Verify's float_rounding)");
                rowOptions = rowOptions with { Equivalence = rowOptions.Equivalence with { FloatRounding = places } };
            }
            var verdict = MathVerifier.Verify(response, gold, rowOptions);
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["equal"] = verdict.Correct,
                ["extracted"] = verdict.Extracted,
                ["reason"] = verdict.Reason,
            }, Json));
            if (row.TryGetProperty("expected", out var expected) && expected.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                withExpected++;
                if (expected.GetBoolean() == verdict.Correct) agreed++;
            }
        }
        stdout.Flush();
        if (withExpected > 0) Console.Error.WriteLine($"agreement with \"expected\": {agreed}/{withExpected} ({100.0 * agreed / withExpected:F1}%)");
        return 0;
    }

    private static string Field(JsonElement row, string name, string path, int lineNumber)
    {
        if (!row.TryGetProperty(name, out var v)) throw new InvalidDataException($"{path}:{lineNumber}: missing field '{name}'");
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString()!,
            JsonValueKind.Number => v.GetRawText(),
            _ => throw new InvalidDataException($"{path}:{lineNumber}: field '{name}' must be a string"),
        };
    }

    /// <summary>A per-line "policy", or Math-Verify's "match_types" (["latex"], ["expr"], both) mapped to ours.</summary>
    private static ExtractionPolicy? RowPolicy(JsonElement row, string path, int lineNumber)
    {
        if (row.TryGetProperty("policy", out var p) && p.ValueKind == JsonValueKind.String)
        {
            try { return ExtractionPolicy.Parse(p.GetString()!); }
            catch (ArgumentException e) { throw new InvalidDataException($"{path}:{lineNumber}: {e.Message}"); }
        }
        if (!row.TryGetProperty("match_types", out var m) || m.ValueKind != JsonValueKind.Array) return null;
        return ExtractionPolicy.ForMathVerifyTargets(m.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.String ? t.GetString() : null));
    }

    /// <summary>A per-line "verifier_policy" (strict or lenient).</summary>
    private static VerifierPolicy? RowVerifierPolicy(JsonElement row, string path, int lineNumber)
    {
        if (!row.TryGetProperty("verifier_policy", out var p)) return null;
        try { return EquivalenceOptions.ParsePolicy(p.ValueKind == JsonValueKind.String ? p.GetString()! : p.GetRawText()); }
        catch (ArgumentException e) { throw new InvalidDataException($"{path}:{lineNumber}: {e.Message}"); }
    }

    private static int Bench(MathVerifierOptions options)
    {
        var task = MathDatasets.Open("math500");
        int n = (int)task.Count(Split.Test);
        var golds = Enumerable.Range(0, n).Select(i => task.Get(Split.Test, i).Answer).ToArray();
        var responses = new string[n];
        for (int i = 0; i < n; i++)
        {
            // 2 kB of reasoning with inline math, ending in the boxed answer: every other response is wrong
            var answer = i % 2 == 0 ? golds[i] : golds[(i + 7) % n];
            responses[i] = Filler(i, 2048) + $" Therefore the answer is $\\boxed{{{answer}}}$.";
        }
        for (int i = 0; i < n; i++) MathVerifier.Verify(responses[i], golds[i], options); // warm-up (JIT)
        const int rounds = 5;
        var micros = new List<double>(n * rounds);
        int equal = 0;
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < n; i++)
            {
                long start = Stopwatch.GetTimestamp();
                var verdict = MathVerifier.Verify(responses[i], golds[i], options);
                micros.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                if (round == 0 && verdict.Correct) equal++;
            }
        }
        micros.Sort();
        double Pct(double q) => micros[System.Math.Min(micros.Count - 1, (int)(q * micros.Count))];
        Console.WriteLine($"verify bench: {micros.Count} calls ({n} MATH500 golds x {rounds}), responses ~{responses.Average(r => r.Length):F0} chars");
        Console.WriteLine($"median {Pct(0.5):F1} us  p90 {Pct(0.9):F1} us  p99 {Pct(0.99):F1} us  max {micros[^1]:F1} us");
        Console.WriteLine($"equal on {equal}/{n} (expected {(n + 1) / 2} boxed golds plus any wrong answer equal to its gold)");
        return 0;
    }

    private static string Filler(int seed, int length)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder(length + 64);
        string[] sentences =
        [
            "Let us first rewrite the condition in a simpler form.",
            "Substituting $x = {0}$ gives $f({0}) = {1}$, which we keep for later.",
            "By the quadratic formula, $t = \\frac{{-b \\pm \\sqrt{{b^2 - 4ac}}}}{{2a}}$ where $a = {0}$.",
            "We check that ${0}^2 + {1}^2 = {2}$ holds, so the triangle is right.",
            "Hence the sum telescopes to $\\frac{{{0}}}{{{1}}}$ after cancelling terms.",
            "Since {0} and {1} are coprime, the fraction is already in lowest terms.",
        ];
        while (sb.Length < length)
        {
            int a = rng.Next(1, 50), b = rng.Next(1, 50);
            sb.Append(string.Format(sentences[rng.Next(sentences.Length)], a, b, a * a + b * b)).Append(' ');
        }
        return sb.ToString();
    }
}

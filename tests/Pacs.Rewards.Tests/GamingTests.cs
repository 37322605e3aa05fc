using System.Globalization;
using Pacs.Rewards.Math;

namespace Pacs.Rewards.Tests;

/// <summary>
/// The gaming suite: for every MATH500 gold, responses that try to collect the reward without committing to the
/// answer (several values, hedges, candidate sets, asides, a later different box, decimal approximations, near
/// misses, empty boxes). Each class is a property over all 500 golds: not one response may be judged equal, under
/// either verifier policy and either extraction policy (decimal approximations: strict only, as lenient accepts
/// them by design).
/// </summary>
public class GamingTests
{
    private static readonly List<string> Golds = VerifierTableTests.Golds("math500.jsonl").Select(g => g.Answer).ToList();

    private static readonly MathVerifierOptions[] AllPolicies =
    [
        MathVerifierOptions.Default,
        MathVerifierOptions.ForPolicy(VerifierPolicy.Lenient),
        new() { Policy = ExtractionPolicy.Lenient },
    ];

    private static readonly string[] Reasoning =
    [
        "Let me work through this carefully, checking each case. ",
        "We simplify step by step and double-check the arithmetic. ",
    ];

    /// <summary>A gold of another problem that the verifier tells apart from <paramref name="gold"/> both ways.</summary>
    private static string Wrong(int index, int skip = 1)
    {
        var gold = Golds[index];
        for (int k = skip; k < Golds.Count; k++)
        {
            var other = Golds[(index + k) % Golds.Count];
            if (!MathVerifier.CompareAnswers(gold, other).Equal && !MathVerifier.CompareAnswers(other, gold).Equal) return other;
        }
        throw new InvalidOperationException($"no different gold for {gold}");
    }

    private static Node? Parsed(string gold) => Parser.Parse(Normalization.ForParsing(MathVerifier.GoldAnswer(gold)));

    /// <summary>A gold that is one expression (a number or a formula), not a list, tuple, relation or text.</summary>
    private static bool IsScalar(string gold) => Parsed(gold) is { } node && Evaluator.IsScalar(node);

    /// <summary>Runs every response of a class against its MATH500 gold and fails listing any judged equal.</summary>
    private static void NoneEqual(Func<int, string, IEnumerable<string>> responses, MathVerifierOptions[] policies, int atLeast) =>
        NoneEqual(Golds, responses, policies, atLeast);

    private static void NoneEqual(IReadOnlyList<string> golds, Func<int, string, IEnumerable<string>> responses, MathVerifierOptions[] policies, int atLeast)
    {
        int count = 0;
        var accepted = new List<string>();
        foreach (var options in policies)
        {
            for (int i = 0; i < golds.Count; i++)
            {
                foreach (var body in responses(i, golds[i]))
                {
                    var response = Reasoning[i % Reasoning.Length] + body;
                    count++;
                    var verdict = MathVerifier.Verify(response, golds[i], options);
                    if (verdict.Correct) accepted.Add($"gold [{golds[i]}] response [{body}] ({verdict.Reason}, {options.Equivalence.Policy}, {options.Policy})");
                }
            }
        }
        Assert.True(count >= atLeast, $"only {count} responses generated");
        Assert.True(accepted.Count == 0, $"{accepted.Count} of {count} gaming responses judged equal:\n" + string.Join("\n", accepted.Take(30)));
    }

    [Fact]
    public void SeveralValuesInOneBox() => NoneEqual((i, g) =>
    {
        var w = Wrong(i);
        var x = Wrong(i, 7);
        return
        [
            $"\\boxed{{{g}, {w}}}", $"\\boxed{{{w}, {g}}}", $"\\boxed{{{g}; {w}}}", $"\\boxed{{{g} \\text{{ and }} {w}}}",
            $"\\boxed{{{g} \\quad {w}}}", $"\\boxed{{{g}, {w}, {x}}}", $"\\boxed{{{g}}} and \\boxed{{{w}}}",
        ];
    }, AllPolicies, atLeast: 10_000);

    [Fact]
    public void OrAndPlusMinusHedges() => NoneEqual((i, g) =>
    {
        var w = Wrong(i);
        var hedges = new List<string>
        {
            $"\\boxed{{{g} \\text{{ or }} {w}}}", $"\\boxed{{{w} \\text{{ or }} {g}}}", $"\\boxed{{{g} \\lor {w}}}", $"\\boxed{{{g} \\vee {w}}}",
            $"\\boxed{{{g} or {w}}}", $"\\boxed{{{g}}} or \\boxed{{{w}}}", $"The answer is {g} or {w}.",
        };
        // ±g covers g and -g: a hedge unless the two are the same (a gold of 0, or a gold that already holds ±)
        if (IsScalar(g) && !MathVerifier.CompareAnswers(g, $"-\\left({g}\\right)").Equal)
            hedges.AddRange([$"\\boxed{{\\pm {g}}}", $"\\boxed{{\\pm \\left({g}\\right)}}", $"\\boxed{{{g} \\text{{ or }} -{g}}}"]);
        return hedges;
    }, AllPolicies, atLeast: 12_000);

    [Fact]
    public void SetOfCandidates() => NoneEqual((i, g) =>
    {
        var w = Wrong(i);
        var x = Wrong(i, 11);
        return
        [
            $"\\boxed{{\\{{{g}, {w}\\}}}}", $"\\boxed{{\\{{{w}, {g}\\}}}}", $"\\boxed{{\\{{{g}, {w}, {x}\\}}}}",
            $"\\boxed{{\\{{{g}\\}} \\cup \\{{{w}\\}}}}", $"\\boxed{{x \\in \\{{{g}, {w}\\}}}}",
        ];
    }, AllPolicies, atLeast: 7_000);

    [Fact]
    public void TextAsideInsideTheBox() => NoneEqual((i, g) =>
    {
        var w = Wrong(i);
        return
        [
            $"\\boxed{{{g} \\text{{ (or }} {w} \\text{{)}}}}", $"\\boxed{{{g} \\text{{ if }} n \\text{{ is even, }} {w} \\text{{ otherwise}}}}",
            $"\\boxed{{{g}\\text{{, but possibly }}{w}}}", $"\\boxed{{\\text{{either }} {g} \\text{{ or }} {w}}}",
            $"\\boxed{{{g} \\text{{ (or maybe {w} if I made an error)}}}}", $"\\boxed{{{w} \\text{{ (the answer key may say {g})}}}}",
        ];
    }, AllPolicies, atLeast: 9_000);

    [Fact]
    public void CorrectBoxFollowedByADifferentFinalBox() => NoneEqual((i, g) =>
    {
        var w = Wrong(i);
        return
        [
            $"So \\boxed{{{g}}}. Hmm, on reflection the answer should be \\boxed{{{w}}}.",
            $"First guess: \\boxed{{{g}}}.\nRechecking the last step gives a different value.\n\nFinal: \\boxed{{{w}}}",
            $"\\boxed{{{g}}}\n\nThe final answer is ${w}$. I hope it is correct.",
        ];
    }, AllPolicies, atLeast: 4_500);

    [Fact]
    public void DecimalApproximationsOfExactGolds() => NoneEqual((i, g) =>
    {
        // golds with an exact value whose decimal expansion does not end (1/3, √2, 288π, e^{-10}): any decimal is wrong
        if (g.Contains('.') || Parsed(g) is not { } node || !Evaluator.IsScalar(node)) return [];
        var symbols = new HashSet<string>();
        Evaluator.CollectSymbols(node, symbols);
        if (symbols.Count > 0 || Evaluator.Exact(node) is { Terminates: true }) return [];
        var value = Evaluator.Numeric(node, new Dictionary<string, System.Numerics.Complex>());
        if (value.Imaginary != 0 || !double.IsFinite(value.Real)) return [];
        var responses = new List<string>();
        // up to 12 significant digits: a decimal that long is a rounding, not the number (docs/verifier.md)
        int leading = System.Math.Max(1, (int)System.Math.Floor(System.Math.Log10(System.Math.Abs(value.Real) + 1e-300)) + 1);
        for (int places = 1; places <= System.Math.Min(10, 12 - leading); places++)
        {
            var rounded = value.Real.ToString("F" + places, CultureInfo.InvariantCulture);
            var truncated = (System.Math.Truncate(value.Real * System.Math.Pow(10, places)) / System.Math.Pow(10, places)).ToString("F" + places, CultureInfo.InvariantCulture);
            responses.AddRange([$"\\boxed{{{rounded}}}", $"\\boxed{{{truncated}}}", $"\\boxed{{x \\approx {rounded}}}", $"The answer is ${rounded}$."]);
            if (node is PercentNode) responses.Add($"\\boxed{{{(value.Real * 100).ToString("F" + places, CultureInfo.InvariantCulture)}\\%}}");
        }
        responses.Add("\\boxed{0.00}");
        responses.Add("\\boxed{0}");
        return responses;
    }, [MathVerifierOptions.Default, new() { Policy = ExtractionPolicy.Lenient }], atLeast: 3_000);

    /// <summary>1/n, -1/n, e^{-k} and π/(10n): 0.00 rounds each of them and says nothing about it.</summary>
    private static readonly List<string> TinyGolds = Enumerable.Range(201, 500)
        .SelectMany(n => new[] { $"\\frac{{1}}{{{n}}}", $"-\\frac{{1}}{{{n}}}", $"e^{{-{6 + n % 20}}}", $"\\frac{{\\pi}}{{{n * 10}}}" }).ToList();

    [Fact]
    public void SmallExactGoldsAreNotAnsweredByZeroPointZeroZero() =>
        NoneEqual(TinyGolds, (i, g) => ["\\boxed{0.00}", "\\boxed{0.000}", "\\boxed{-0.00}", "\\boxed{0}"], AllPolicies, atLeast: 20_000);

    [Fact]
    public void NearMisses() => NoneEqual((i, g) =>
    {
        if (!IsScalar(g)) return [];
        var responses = new List<string>
        {
            $"\\boxed{{\\left({g}\\right) + 0.0001}}", $"\\boxed{{\\left({g}\\right) - 0.0001}}", $"\\boxed{{\\left({g}\\right) + \\frac{{1}}{{10000}}}}",
        };
        if (!MathVerifier.CompareAnswers(g, "0").Equal) responses.Add($"\\boxed{{1.00001 \\left({g}\\right)}}"); // a 0.001% nudge, unless g is 0
        if (Parsed(g) is { } node && Evaluator.Exact(node) is { Terminates: true } exact && exact.Num.GetBitLength() < 90 && exact.Den.GetBitLength() < 60)
        {
            // the gold's exact decimal, nudged in its fourth and seventh places: 5.0001, 4.9999, 0.2500001
            var d = (decimal)exact.Num / (decimal)exact.Den;
            foreach (var nudge in new[] { 0.0001m, -0.0001m, 0.0000001m })
                responses.Add($"\\boxed{{{(d + nudge).ToString(CultureInfo.InvariantCulture)}}}");
        }
        return responses;
    }, AllPolicies, atLeast: 5_000);

    [Fact]
    public void EmptyAndPlaceholderBoxes() => NoneEqual((i, g) =>
    [
        $"The value is ${g}$. \\boxed{{}}", $"We get {g}. \\boxed{{ }}", $"\\boxed{{\\,}}", $"\\boxed{{\\text{{}}}}", $"\\boxed{{\\quad}}",
        $"\\boxed{{?}}", $"\\boxed{{\\ldots}}", $"\\boxed{{\\text{{see above}}}}", $"\\boxed{{\\text{{answer}}}}", $"\\boxed{{\\text{{final answer}}}}",
    ], AllPolicies, atLeast: 15_000);
}

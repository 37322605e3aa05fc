using System.Text;
using Pacs.Rewards.Math;

namespace Pacs.Rewards.Tests;

/// <summary>What a model may write must never crash or hang the verifier: each input gets a verdict (not equal).
/// Timing is measured by `pacs verify --bench` and tools/fuzz_verifier, not asserted here.</summary>
public class HostileInputTests
{
    public static IEnumerable<object[]> Inputs()
    {
        yield return ["one megabyte of digits", new string('7', 1 << 20)];
        yield return ["one megabyte of prose then a box", new StringBuilder().Insert(0, "lorem ipsum $x$ ", 1 << 16) + "\\boxed{1}"];
        yield return ["10,000 nested braces", "\\boxed{" + new string('{', 10_000) + "1" + new string('}', 10_000) + "}"];
        yield return ["10,000 unclosed braces", "\\boxed{" + new string('{', 10_000)];
        yield return ["frac nested 1,000 deep", "\\boxed{" + string.Concat(Enumerable.Repeat("\\frac{1}{", 1000)) + "2" + new string('}', 1000) + "}"];
        yield return ["frac nested 100 deep", "\\boxed{" + string.Concat(Enumerable.Repeat("\\frac{1}{", 100)) + "2" + new string('}', 100) + "}"];
        yield return ["parentheses nested 5,000 deep", "\\boxed{" + new string('(', 5000) + "1" + new string(')', 5000) + "}"];
        yield return ["tower of powers", "\\boxed{10^{10^{10}}}"];
        yield return ["tower 2^2^2^2^2^2", "\\boxed{2^{2^{2^{2^{2^{2}}}}}}"];
        yield return ["huge factorial", "\\boxed{9999999!}"];
        yield return ["factorial of factorial", "\\boxed{(100!)!}"];
        yield return ["huge binomial", "\\boxed{\\binom{10^{9}}{500000}}"];
        yield return ["long number", "\\boxed{" + new string('9', 3000) + "}"];
        yield return ["long decimal", "\\boxed{0." + new string('3', 3000) + "}"];
        yield return ["huge exponent", "\\boxed{2^{99999999999999999999}}"];
        yield return ["invalid UTF-16", "\\boxed{\uD800\uDC00\uDFFF\uD800}"];
        yield return ["lone surrogates in prose", "answer is \uDC00\uD800 $\uD83D$"];
        yield return ["control characters", "\\boxed{\u0000\u0001\u0007\f\v}"];
        yield return ["unterminated environments", "\\boxed{\\begin{pmatrix}1 & 2 \\\\ 3"];
        yield return ["thousands of list items", "\\boxed{" + string.Join(",", Enumerable.Range(0, 20_000)) + "}"];
        yield return ["many boxes", string.Concat(Enumerable.Repeat("\\boxed{3} and ", 50_000))];
        yield return ["many dollars", new string('$', 100_000)];
        yield return ["many backslashes", new string('\\', 100_000)];
        yield return ["many answer markers", string.Concat(Enumerable.Repeat("answer answer: ", 50_000))];
        yield return ["plus-minus chain", "\\boxed{" + string.Concat(Enumerable.Repeat("1 \\pm ", 200)) + "1}"];
        yield return ["division by zero", "\\boxed{\\frac{1}{0} + \\frac{0}{0}}"];
        yield return ["log of zero", "\\boxed{\\log 0 + \\ln(0)}"];
    }

    public static IEnumerable<object[]> RandomBytes()
    {
        var rng = new Random(7);
        for (int k = 0; k < 20; k++)
        {
            var bytes = new byte[rng.Next(1, 4096)];
            rng.NextBytes(bytes);
            yield return [$"random bytes #{k}", Encoding.Latin1.GetString(bytes)];
            var chars = new char[rng.Next(1, 4096)];
            for (int i = 0; i < chars.Length; i++) chars[i] = (char)rng.Next(0, 0x10000);
            yield return [$"random UTF-16 #{k}", "\\boxed{" + new string(chars) + "}"];
        }
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    [MemberData(nameof(RandomBytes))]
    public void ReturnsNotEqualWithoutThrowing(string what, string response)
    {
        foreach (var gold in new[] { "42", "\\frac{1}{3}", "(1, 2)", "x^2+1" })
        {
            var verdict = MathVerifier.Verify(response, gold);
            Assert.False(verdict.Correct, $"{what} vs {gold}: {verdict}");
            Assert.False(string.IsNullOrEmpty(verdict.Reason));
        }
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void HostileGoldDoesNotThrow(string what, string gold)
    {
        var verdict = MathVerifier.Verify("The answer is \\boxed{42}.", gold);
        Assert.False(verdict.Correct, what);
    }

    [Fact]
    public void DeepNestingIsRejectedByTheDepthBudget() =>
        Assert.Null(Parser.Parse(string.Concat(Enumerable.Repeat("\\frac{1}{", 500)) + "2" + new string('}', 500)));

    [Fact]
    public void LargePowersAreRefusedExactly() =>
        Assert.Null(Evaluator.Exact(Parser.Parse("10^{10^{10}}")!));
}

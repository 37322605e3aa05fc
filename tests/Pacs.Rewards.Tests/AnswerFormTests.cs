using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using Pacs.Rewards.Math;

namespace Pacs.Rewards.Tests;

/// <summary>Answer forms that used to get a wrong "not equal", each class tested from its rule over generated values,
/// and the documented decisions (3 vs 3%, x+1 vs x+1.0000001, (1,2) vs 1&lt;x&lt;2).</summary>
public class AnswerFormTests
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(200);

    private static bool Equal(string gold, string answer) => MathVerifier.Verify($"so \\boxed{{{answer}}}", gold).Correct;

    private static bool BothWays(string a, string b) => Equal(a, b) && Equal(b, a);

    private static string InBase(int n, int radix)
    {
        const string digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        var s = "";
        do { s = digits[n % radix] + s; n /= radix; } while (n > 0);
        return s;
    }

    [Fact]
    public void NumberInAnotherBaseEqualsItsDigitsWithOrWithoutTheSubscript() => Check.One(Runs, Prop.ForAll(
        Arb.From(Gen.Choose(2, 100_000)), Arb.From(Gen.Choose(2, 36)), (int n, int radix) =>
        {
            if (n < radix) n += radix; // two digits at least: a lone letter with a subscript is a name (a_{12})
            string digits = InBase(n, radix), lower = digits.ToLowerInvariant();
            bool same = BothWays($"{digits}_{radix}", $"{digits}_{{{radix}}}") && BothWays($"{digits}_{{{radix}}}", lower + $"_{{{radix}}}")
                && BothWays($"{digits}_{{{radix}}}", digits) && BothWays($"{digits}_{{{radix}}}", lower);
            // the value in base ten, the next number, or another base is a different answer
            bool different = !Equal($"{digits}_{{{radix}}}", InBase(n + 1, radix)) && !Equal($"{digits}_{{{radix}}}", $"{digits}_{{{radix + 1}}}")
                && (digits == n.ToString(CultureInfo.InvariantCulture) || !Equal($"{digits}_{{{radix}}}", n.ToString(CultureInfo.InvariantCulture)));
            return same && different;
        }));

    [Fact]
    public void ScientificNotationEqualsThePlainNumber() => Check.One(Runs, Prop.ForAll(
        Arb.From(Gen.Choose(1000, 9999)), Arb.From(Gen.Choose(-6, 8)), (int mantissaDigits, int exponent) =>
        {
            decimal mantissa = mantissaDigits / 1000m;
            decimal value = mantissa * (decimal)System.Math.Pow(10, exponent);
            string m = mantissa.ToString(CultureInfo.InvariantCulture), plain = value.ToString(CultureInfo.InvariantCulture);
            string[] forms = [$"{m}e{exponent}", $"{m}E{exponent}", $"{m} \\times 10^{{{exponent}}}", $"{m}\\cdot10^{{{exponent}}}"];
            string nudged = (mantissa + 0.001m).ToString(CultureInfo.InvariantCulture) + $"e{exponent}";
            return forms.All(f => BothWays(plain, f)) && BothWays(forms[0], forms[2]) && !Equal(plain, nudged);
        }));

    [Fact]
    public void MultipleChoiceLetterWithOrWithoutItsValue() => Check.One(Runs, Prop.ForAll(
        Arb.From(Gen.Elements('A', 'B', 'C', 'D', 'E')), Arb.From(Gen.Choose(-500, 500)), (char letter, int value) =>
        {
            char other = letter == 'E' ? 'A' : (char)(letter + 1);
            string gold = $"\\textbf{{({letter}) }}{value}";
            bool same = new[] { $"{letter}", $"({letter})", $"\\text{{({letter})}}", $"\\textbf{{({letter})}}", $"({letter})\\ {value}", $"{value}" }
                .All(answer => Equal(gold, answer))
                && Equal($"\\text{{({letter})}}", $"\\textbf{{({letter}) }}{value}") && Equal($"{letter}", $"({letter}) {value}");
            bool different = new[] { $"{other}", $"({other})", $"({other}) {value}", $"({letter}) {value + 1}", $"({letter}) \\text{{ or }} ({other})", $"({letter}), ({other})" }
                .All(answer => !Equal(gold, answer)) && !Equal($"\\text{{({letter})}}", $"({other})");
            return same && different;
        }));

    [Fact]
    public void RealsAndEmptySetInTheirNotations()
    {
        string[] reals = ["\\mathbb{R}", "\\mathbb R", "(-\\infty,\\infty)", "(-\\infty, \\infty)", "ℝ", "\\text{all real numbers}"];
        string[] empty = ["\\emptyset", "\\varnothing", "\\{\\}", "∅"];
        foreach (var a in reals)
            foreach (var b in reals) Assert.True(Equal(a, b), $"{a} vs {b}");
        foreach (var a in empty)
            foreach (var b in empty) Assert.True(Equal(a, b), $"{a} vs {b}");
        foreach (var wrong in new[] { "[0,\\infty)", "\\mathbb{Z}", "(0, \\infty)", "\\emptyset" }) Assert.False(Equal("\\mathbb{R}", wrong), wrong);
        foreach (var wrong in new[] { "0", "\\{0\\}", "\\mathbb{R}" }) Assert.False(Equal("\\varnothing", wrong), wrong);
    }

    [Fact]
    public void SetOfOneEqualsItsElement() => Check.One(Runs, Prop.ForAll(Arb.From(Gen.Choose(-1000, 1000)), (int v) =>
        Equal($"\\{{{v}\\}}", $"{v}") && Equal($"\\{{{v}\\}}", $"x = {v}") && !Equal($"\\{{{v}\\}}", $"{v + 1}")
        && !Equal($"\\{{{v}\\}}", $"\\{{{v}, {v + 1}\\}}") && !Equal($"\\{{{v}, {v + 1}\\}}", $"{v}")));

    private static string Pmatrix(IEnumerable<string> row1, IEnumerable<string> row2) =>
        $"\\begin{{pmatrix}} {string.Join(" & ", row1)} \\\\ {string.Join(" & ", row2)} \\end{{pmatrix}}";

    private static string Fraction(int p, int q)
    {
        int g = (int)System.Numerics.BigInteger.GreatestCommonDivisor(p, q);
        (p, q) = (p / g, q / g);
        return q == 1 ? p.ToString(CultureInfo.InvariantCulture) : p < 0 ? $"-\\frac{{{-p}}}{{{q}}}" : $"\\frac{{{p}}}{{{q}}}";
    }

    [Fact]
    public void ScalarTimesMatrixEqualsTheMultipliedOutMatrix() => Check.One(Runs, Prop.ForAll(
        Arb.From(Gen.ArrayOf(Gen.Choose(-9, 9), 4)), Arb.From(Gen.Choose(1, 9)), Arb.From(Gen.Choose(1, 7)), (int[] m, int p, int q) =>
        {
            string scaled = $"\\frac{{{p}}}{{{q}}}" + Pmatrix(m[..2].Select(x => x.ToString(CultureInfo.InvariantCulture)), m[2..].Select(x => x.ToString(CultureInfo.InvariantCulture)));
            string negated = $"-\\frac{{{p}}}{{{q}}}" + Pmatrix(m[..2].Select(x => (-x).ToString(CultureInfo.InvariantCulture)), m[2..].Select(x => (-x).ToString(CultureInfo.InvariantCulture)));
            string product = Pmatrix(m[..2].Select(x => Fraction(p * x, q)), m[2..].Select(x => Fraction(p * x, q)));
            string wrong = Pmatrix(m[..2].Select(x => Fraction(p * x, q)), [Fraction(p * m[2] + 1, q), Fraction(p * m[3], q)]);
            string column = $"{p}\\begin{{pmatrix}} {m[0]} \\\\ {m[1]} \\end{{pmatrix}}";
            string otherScalar = $"\\frac{{{p + q}}}{{{q}}}" + scaled[scaled.IndexOf("\\begin", StringComparison.Ordinal)..];
            return BothWays(scaled, product) && BothWays(negated, product) && (m.All(x => x == 0) || !Equal(product, otherScalar))
                && !Equal(scaled, wrong) && BothWays(column, $"({p * m[0]}, {p * m[1]})");
        }));

    /// <summary>cos and sin of the multiples of 30° and 45° in their exact forms.</summary>
    private static readonly Dictionary<int, (string Cos, string Sin)> ExactTrig = new()
    {
        [0] = ("1", "0"),
        [30] = ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}"),
        [45] = ("\\frac{\\sqrt{2}}{2}", "\\frac{\\sqrt{2}}{2}"),
        [60] = ("\\frac{1}{2}", "\\frac{\\sqrt{3}}{2}"),
        [90] = ("0", "1"),
        [120] = ("-\\frac{1}{2}", "\\frac{\\sqrt{3}}{2}"),
        [135] = ("-\\frac{\\sqrt{2}}{2}", "\\frac{\\sqrt{2}}{2}"),
        [150] = ("-\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}"),
        [180] = ("-1", "0"),
        [225] = ("-\\frac{\\sqrt{2}}{2}", "-\\frac{\\sqrt{2}}{2}"),
        [300] = ("\\frac{1}{2}", "-\\frac{\\sqrt{3}}{2}"),
    };

    [Fact]
    public void RotationMatricesWithExactTrigonometricEntries()
    {
        foreach (var (degrees, (cos, sin)) in ExactTrig)
        {
            string exact = Pmatrix([cos, $"-\\left({sin}\\right)"], [sin, cos]);
            string inDegrees = Pmatrix([$"\\cos {degrees}^\\circ", $"-\\sin {degrees}^\\circ"], [$"\\sin {degrees}^{{\\circ}}", $"\\cos {degrees}^\\circ"]);
            string inRadians = Pmatrix([$"\\cos \\frac{{{degrees}\\pi}}{{180}}", $"-\\sin \\frac{{{degrees}\\pi}}{{180}}"], [$"\\sin \\frac{{{degrees}\\pi}}{{180}}", $"\\cos \\frac{{{degrees}\\pi}}{{180}}"]);
            double c = System.Math.Cos(degrees * System.Math.PI / 180), s = System.Math.Sin(degrees * System.Math.PI / 180);
            string rounded = Pmatrix([c.ToString("F3", CultureInfo.InvariantCulture), (-s).ToString("F3", CultureInfo.InvariantCulture)],
                [s.ToString("F3", CultureInfo.InvariantCulture), c.ToString("F3", CultureInfo.InvariantCulture)]);
            Assert.True(BothWays(exact, inDegrees), $"{degrees}°: {inDegrees}");
            Assert.True(BothWays(exact, inRadians), $"{degrees}°: {inRadians}");
            bool roundedIsExact = degrees % 90 == 0;
            Assert.Equal(roundedIsExact, Equal(exact, rounded));
        }
        // a degree mark outside a trigonometric function is a unit: 60° is 60
        Assert.True(Equal("60", "60^\\circ"));
    }

    [Fact]
    public void PercentWrittenInWords() => Check.One(Runs, Prop.ForAll(Arb.From(Gen.Choose(0, 1000)), (int n) =>
        new[] { $"{n} \\text{{ percent}}", $"{n} percent", $"{n}\\text{{percent}}", $"{n} \\textrm{{ percent}}", $"{n} \\text{{ per cent}}" }
            .All(answer => Equal($"{n}\\%", answer) && Equal($"{n}", answer))
        && !Equal($"{n}\\%", $"{n + 1} \\text{{ percent}}")));

    [Fact]
    public void DecisionThreeAndThreePercentAreEqual()
    {
        // a percent sign is the unit of a "what percent" answer, dropped as MATH graders drop it
        Assert.True(Equal("3", "3\\%"));
        Assert.True(Equal("3\\%", "3"));
        Assert.True(Equal("0.03", "3\\%"));
        Assert.False(Equal("3", "4\\%"));
    }

    [Fact]
    public void DecisionADecimalCoefficientIsReadExactly()
    {
        var lenient = MathVerifierOptions.ForPolicy(VerifierPolicy.Lenient);
        Assert.False(Equal("x+1", "x+1.0000001"));
        Assert.False(MathVerifier.Verify("\\boxed{x+1.0000001}", "x+1", lenient).Correct);
        Assert.True(Equal("x+1", "x+1.0"));
        Assert.True(Equal("\\frac{x+1}{2}", "0.5x+0.5"));
    }

    [Fact]
    public void DecisionAPointIsNotAnInequality()
    {
        // (1, 2) may be a point: an inequality answers it only where the gold is an inequality or an interval that
        // cannot be a point (a closed end or an infinite one)
        Assert.False(Equal("(1,2)", "1<x<2"));
        Assert.True(Equal("1<x<2", "(1,2)"));
        Assert.True(Equal("[1,2)", "1 \\le x < 2"));
        Assert.True(Equal("(-\\infty, 3)", "x < 3"));
        Assert.True(Equal("(1,2)", "(1,2)"));
    }
}

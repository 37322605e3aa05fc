using System.Globalization;
using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using Pacs.Rewards.Math;

namespace Pacs.Rewards.Tests;

/// <summary>The strict and lenient policies, written from their rules: under strict, a decimal equals an exact gold only
/// when it is the same number; a decimal gold is met at its own precision; lenient adds rounded decimals.</summary>
public class VerifierPolicyTests
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(200);
    private static readonly MathVerifierOptions Lenient = MathVerifierOptions.ForPolicy(VerifierPolicy.Lenient);

    private static bool Strict(string gold, string answer) => MathVerifier.Verify($"so \\boxed{{{answer}}}", gold).Correct;

    private static bool Loose(string gold, string answer) => MathVerifier.Verify($"so \\boxed{{{answer}}}", gold, Lenient).Correct;

    private static string Decimal(double value, int places) => value.ToString("F" + places, CultureInfo.InvariantCulture);

    /// <summary>The exact decimal of p/q rounded half away from zero to <paramref name="places"/>.</summary>
    private static string Rounded(int p, int q, int places)
    {
        var r = new Rational(p, q).RoundTo(places);
        var scaled = BigInteger.Abs(r.Num * BigInteger.Pow(10, places) / r.Den).ToString().PadLeft(places + 1, '0');
        return (r.Sign < 0 ? "-" : "") + scaled[..^places] + "." + scaled[^places..];
    }

    private static bool Terminates(int q)
    {
        while (q % 2 == 0) q /= 2;
        while (q % 5 == 0) q /= 5;
        return q == 1;
    }

    private static Gen<(int P, int Q)> NonTerminatingFractions =>
        from p in Gen.Choose(-999, 999)
        from q in Gen.Choose(3, 97)
        where p != 0 && !Terminates(q / (int)BigInteger.GreatestCommonDivisor(p, q))
        select (p, q);

    [Fact]
    public void RoundedDecimalOfANonTerminatingFractionIsEqualOnlyUnderLenient() => Check.One(Runs, Prop.ForAll(
        Arb.From(NonTerminatingFractions), Arb.From(Gen.Choose(1, 8)), ((int P, int Q) f, int places) =>
        {
            string gold = $"\\frac{{{f.P}}}{{{f.Q}}}", answer = Rounded(f.P, f.Q, places);
            bool twoSignificant = BigInteger.Abs(new Rational(f.P, f.Q).RoundTo(places).Num * BigInteger.Pow(10, places) / new Rational(f.P, f.Q).RoundTo(places).Den) >= 10;
            return !Strict(gold, answer) && Loose(gold, answer) == (places >= 2 && twoSignificant);
        }));

    [Fact]
    public void TerminatingFractionEqualsItsExactDecimalUnderBothPolicies() => Check.One(Runs, Prop.ForAll(
        Arb.From(Gen.Choose(-999, 999)), Arb.From(Gen.Elements(2, 4, 5, 8, 16, 20, 25, 40, 125)), (int p, int q) =>
        {
            string gold = $"\\frac{{{p}}}{{{q}}}", exact = Rounded(p, q, 8).TrimEnd('0').TrimEnd('.');
            return Strict(gold, exact) && Loose(gold, exact) && !Strict(gold, Rounded(p, q, 1) + "1");
        }));

    [Fact]
    public void RepeatingDecimalEqualsItsFraction() => Check.One(Runs, Prop.ForAll(Arb.From(Gen.Choose(1, 98)), (int a) =>
        Strict($"\\frac{{{a}}}{{99}}", $"0.\\overline{{{a:D2}}}") && Strict($"\\frac{{{a % 9 + 1}}}{{9}}", $"0.\\overline{{{a % 9 + 1}}}")
        && !Strict($"\\frac{{{a}}}{{99}}", $"0.{a:D2}{a:D2}")));

    [Fact]
    public void DecimalOfARadicalOrAMultipleOfPiIsNeverEqualUnderStrict() => Check.One(Runs, Prop.ForAll(
        Arb.From(Gen.Choose(2, 500)), Arb.From(Gen.Choose(1, 9)), Arb.From(Gen.Choose(1, 9)), (int n, int k, int places) =>
        {
            if ((int)System.Math.Sqrt(n) * (int)System.Math.Sqrt(n) == n) return true;
            string radical = $"{k}\\sqrt{{{n}}}", pi = $"{k}\\pi";
            string radicalDecimal = Decimal(k * System.Math.Sqrt(n), places), piDecimal = Decimal(k * System.Math.PI, places);
            // lenient accepts them from two places on, the rounding rule it keeps
            return !Strict(radical, radicalDecimal) && !Strict(pi, piDecimal)
                && Loose(radical, radicalDecimal) == (places >= 2) && Loose(pi, piDecimal) == (places >= 2);
        }));

    [Fact]
    public void RepeatingPercentageRoundedIsNotEqualUnderStrict() => Check.One(Runs, Prop.ForAll(
        Arb.From(NonTerminatingFractions), Arb.From(Gen.Choose(1, 4)), ((int P, int Q) f, int places) =>
            !Strict($"\\frac{{{100 * f.P}}}{{{f.Q}}}\\%", Rounded(100 * f.P, f.Q, places) + "\\%")
            && Strict($"\\frac{{{100 * f.P}}}{{{f.Q}}}\\%", $"\\frac{{{100 * f.P}}}{{{f.Q}}}\\%")));

    [Fact]
    public void DecimalGoldIsMetAtItsOwnPrecision() => Check.One(Runs, Prop.ForAll(
        Arb.From(NonTerminatingFractions), Arb.From(Gen.Choose(2, 6)), ((int P, int Q) f, int places) =>
        {
            // "to the nearest hundredth": the gold 0.33 is met by 1/3 and by 0.33, not by a neighbour or a longer rounding
            string gold = Rounded(f.P, f.Q, places);
            var next = (new Rational(f.P, f.Q).RoundTo(places) + new Rational(1, BigInteger.Pow(10, places)))!.Value;
            string neighbour = Rounded((int)(next.Num * 1), (int)next.Den, places);
            bool twoSignificant = gold.TrimStart('-').TrimStart('0', '.').Length >= 2;
            return Strict(gold, $"\\frac{{{f.P}}}{{{f.Q}}}") == twoSignificant && Strict(gold, gold) && !Strict(gold, neighbour)
                && !Strict(gold, Rounded(f.P, f.Q, places + 2));
        }));

    [Fact]
    public void SmallExactGoldIsNotZeroUnderEitherPolicy() => Check.One(Runs, Prop.ForAll(Arb.From(Gen.Choose(201, 100_000)), (int n) =>
        !Strict($"\\frac{{1}}{{{n}}}", "0.00") && !Loose($"\\frac{{1}}{{{n}}}", "0.00") && !Loose($"-\\frac{{1}}{{{n}}}", "0.00")
        && !Strict($"e^{{-{n % 25 + 6}}}", "0.00") && !Strict($"e^{{-{n % 25 + 6}}}", "0")));

    [Fact]
    public void PolicyNamesParse()
    {
        Assert.Equal(VerifierPolicy.Strict, EquivalenceOptions.ParsePolicy("strict"));
        Assert.Equal(VerifierPolicy.Lenient, EquivalenceOptions.ParsePolicy(" Lenient "));
        Assert.Contains("strict or lenient", Assert.Throws<ArgumentException>(() => EquivalenceOptions.ParsePolicy("loose")).Message);
        Assert.Equal(VerifierPolicy.Strict, MathVerifierOptions.Default.Equivalence.Policy);
    }

    [Fact]
    public void MathDatasetTasksTakeThePolicy()
    {
        var strict = Pacs.Rewards.Tasks.TaskRegistry.Create("math500");
        var lenient = Pacs.Rewards.Tasks.TaskRegistry.Create("math500", verifierPolicy: VerifierPolicy.Lenient);
        var problem = new Problem("t", "p", "\\frac{1}{3}");
        Assert.False(strict.Verify(problem, "\\boxed{0.33}").Correct);
        Assert.True(lenient.Verify(problem, "\\boxed{0.33}").Correct);
    }

    [Fact]
    public void FloatRoundingReproducesMathVerifyPrecision()
    {
        static bool At(int places, string gold, string answer) =>
            MathVerifier.CompareAnswers(gold, answer, EquivalenceOptions.Default with { FloatRounding = places }).Equal;
        Assert.True(At(3, "1/3", "0.333"));
        Assert.False(At(4, "1/3", "0.333"));
        Assert.True(At(4, "1/3", "0.3333"));
        Assert.True(At(2, "\\frac{8}{3}", "2.6667"));
        Assert.False(At(6, "\\sqrt{2}", "1.41"));
    }
}

using FsCheck;
using FsCheck.Fluent;
using Pacs.Rewards.Math;

namespace Pacs.Rewards.Tests;

/// <summary>FsCheck properties: a value written in two equivalent forms is equal; perturbing a number makes it unequal.</summary>
public class PropertyTests
{
    private static bool Equal(string gold, string answer) => MathVerifier.Verify($"so \\boxed{{{answer}}}", gold).Correct;

    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(200);

    [Fact]
    public void IntegerEqualsItsOtherSpellings() => Check.One(Runs, Prop.ForAll(Arb.From(Gen.Choose(-100000, 100000)), (int n) =>
        Equal(n.ToString(), $"{n}.0") && Equal(n.ToString(), $"\\frac{{{2L * n}}}{{2}}") && Equal(n.ToString(), $"{n} + 0")
        && Equal(n.ToString(), n >= 0 ? $"\\sqrt{{{(long)n * n}}}" : $"-\\sqrt{{{(long)n * n}}}")
        && Equal(n.ToString(), System.Math.Abs(n) >= 1000 ? n.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : n.ToString())));

    [Fact]
    public void FractionEqualsReducedAndDecimalForms() => Check.One(Runs, Prop.ForAll(
        Arb.From(Gen.Choose(-500, 500)), Arb.From(Gen.Choose(1, 64)), (int p, int q) =>
        {
            int k = 3;
            bool ok = Equal($"\\frac{{{p}}}{{{q}}}", $"\\dfrac{{{p * k}}}{{{q * k}}}") && Equal($"\\frac{{{p}}}{{{q}}}", $"{p}/{q}");
            // a terminating fraction also equals its exact decimal
            if (64 % q == 0) ok &= Equal($"\\frac{{{p}}}{{{q}}}", ((decimal)p / q).ToString(System.Globalization.CultureInfo.InvariantCulture));
            return ok;
        }));

    [Fact]
    public void PerturbedIntegerIsUnequal() => Check.One(Runs, Prop.ForAll(
        Arb.From(Gen.Choose(-100000, 100000)), Arb.From(Gen.Choose(1, 1000)), (int n, int delta) =>
            !Equal(n.ToString(), (n + delta).ToString()) && !Equal(n.ToString(), (n - delta).ToString())));

    [Fact]
    public void PerturbedFractionIsUnequal() => Check.One(Runs, Prop.ForAll(
        Arb.From(Gen.Choose(-500, 500)), Arb.From(Gen.Choose(2, 64)), (int p, int q) =>
            !Equal($"\\frac{{{p}}}{{{q}}}", $"\\frac{{{p + 1}}}{{{q}}}") && !Equal($"\\frac{{{p}}}{{{q}}}", $"\\frac{{{p}}}{{{q + 1}}}")
            || (long)p * (q + 1) == (long)p * q));

    [Fact]
    public void PerturbedDecimalIsUnequal() => Check.One(Runs, Prop.ForAll(
        Arb.From(Gen.Choose(1, 10_000_000)), (int cents) =>
        {
            var value = (cents / 1000m).ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);
            var bumped = ((cents + 1) / 1000m).ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);
            return Equal(value, value) && !Equal(value, bumped);
        }));

    [Fact]
    public void PolynomialEqualsItsExpandedForm() => Check.One(Runs, Prop.ForAll(
        Arb.From(Gen.Choose(-9, 9)), Arb.From(Gen.Choose(-9, 9)), (int a, int b) =>
        {
            // (x + a)(x + b) = x^2 + (a+b)x + ab
            string factored = $"(x + ({a}))(x + ({b}))";
            string expanded = $"x^2 + ({a + b})x + ({a * b})";
            string wrong = $"x^2 + ({a + b + 1})x + ({a * b})";
            return Equal(factored, expanded) && !Equal(factored, wrong);
        }));

    [Fact]
    public void ListIsEqualUnderPermutation() => Check.One(Runs, Prop.ForAll(
        Arb.From(Gen.Choose(-50, 50)), Arb.From(Gen.Choose(51, 100)), Arb.From(Gen.Choose(101, 150)), (int a, int b, int c) =>
            Equal($"{a}, {b}, {c}", $"{c}, {a}, {b}") && !Equal($"{a}, {b}, {c}", $"{a}, {b}, {c + 1}")));
}
